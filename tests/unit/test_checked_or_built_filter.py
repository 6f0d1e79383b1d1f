"""The checked_or_built filter: one result per image from the roles' check loop and build loop."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.bytelyst.deploy.plugins.filter.checked_or_built import checked_or_built


def test_the_build_result_replaces_the_check_only_where_the_build_ran():
    checks = {"results": [{"kind": "backend", "changed": False, "tags": ["b:1"]},
                          {"kind": "web", "changed": True, "tags": ["w:1"], "image_id": None}]}
    builds = {"results": [{"kind": "backend", "skipped": True, "changed": False},
                          {"kind": "web", "changed": True, "tags": ["w:1"], "image_id": "sha256:ab"}]}
    merged = checked_or_built(checks, builds)
    assert [r["kind"] for r in merged] == ["backend", "web"]
    assert merged[0] is checks["results"][0]
    assert merged[1]["image_id"] == "sha256:ab"


def test_lists_are_read_as_well_as_registered_results():
    assert checked_or_built([{"a": 1}], [{"skipped": True}]) == [{"a": 1}]


def test_loops_of_different_lengths_are_refused_naming_both_counts():
    with pytest.raises(AnsibleFilterError, match="2 checks and 1 builds"):
        checked_or_built({"results": [{}, {}]}, {"results": [{"skipped": True}]})
