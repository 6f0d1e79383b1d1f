import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.bytelyst.deploy.plugins.filter.running_products import FilterModule

running_products = FilterModule().filters()["running_products"]


def line(labels):
    """A line as docker ps --format '{{json .Labels}}' prints it."""
    return json.dumps(",".join("%s=%s" % item for item in labels))


def test_each_container_gives_its_product_kind_and_base_version_sorted():
    lines = [
        line([("com.docker.compose.project", "notes"), ("dev.bytelyst.product", "notes"),
              ("dev.bytelyst.kind", "web"), ("dev.bytelyst.base.version", "1.2.0"),
              ("dev.bytelyst.base.provides", '{"@bytelyst/a":"1.0.0","@bytelyst/b":"2.0.0"}')]),
        line([("dev.bytelyst.kind", "backend"), ("dev.bytelyst.product", "clock")]),
        "",
    ]
    assert running_products(lines) == [
        {"product": "clock", "kind": "backend", "base_version": None},
        {"product": "notes", "kind": "web", "base_version": "1.2.0"},
    ]


def test_a_value_holding_commas_does_not_leak_into_the_next_label():
    rows = running_products([line([("dev.bytelyst.note", "a,b,c"), ("dev.bytelyst.product", "notes")])])
    assert rows == [{"product": "notes", "kind": None, "base_version": None}]


def test_a_line_that_is_not_docker_s_json_is_named():
    with pytest.raises(AnsibleFilterError) as info:
        running_products(["dev.bytelyst.product=notes"])
    assert "'dev.bytelyst.product=notes' is not what docker ps" in str(info.value)
