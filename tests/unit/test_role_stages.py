"""The build roles' tasks as data: every task names its pipeline stage (a tag), and the long
ones (pack, build, scan) run as async tasks polled at the role's interval, so --tags selects
parts of the pipeline and AWX sees progress. The playbooks' tags are checked through
ansible-playbook --list-tasks in tests/integration/test_playbook_tags.py."""

import os

import pytest
import yaml

ROLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "roles")
STAGES = {"prep", "base", "product", "scan", "push", "publish", "deploy"}
LONG = {"bytelyst.deploy.workspace_pack", "bytelyst.deploy.base_image", "bytelyst.deploy.product_image",
        "bytelyst.deploy.image_scan"}


def tasks(role):
    with open(os.path.join(ROLES, role, "tasks", "main.yml")) as handle:
        return yaml.safe_load(handle)


@pytest.mark.parametrize("role, stage", [("tarball_prep", "prep"), ("base_image", "base"),
                                         ("product_image", "product")])
def test_every_task_names_its_stage_and_long_ones_are_async(role, stage):
    found = tasks(role)
    assert found
    for task in found:
        assert task.get("tags") and set(task["tags"]) <= STAGES, task["name"]
        module = [key for key in task if key.startswith("bytelyst.deploy.")]
        # the promote re-run (when: the scan passed) and the check-mode pass (is it up to date?)
        # build nothing; the build is async
        if module and module[0] in LONG and "promote_now" not in str(task.get("vars")) \
                and task.get("check_mode") is not True:
            assert task["async"] == "{{ %s_async_timeout }}" % role, task["name"]
            assert task["poll"] == "{{ %s_poll_interval }}" % role, task["name"]
    assert any(stage in task["tags"] for task in found)


@pytest.mark.parametrize("role, loop_var", [("base_image", "base_image_kind"), ("product_image", "product_image_kind")])
def test_the_log_path_is_printed_before_the_build_that_writes_it(role, loop_var):
    found = tasks(role)
    names = [task["name"] for task in found]
    say = names.index("Say where each build's progress goes")
    build = [i for i, task in enumerate(found) if "bytelyst.deploy.%s" % role in task][0]
    assert say < build
    assert "tail -f {{ %s_build_log }}" % role in found[say]["ansible.builtin.debug"]["msg"]
    assert found[build]["bytelyst.deploy.%s" % role]["build_log"] == "{{ %s_build_log }}" % role
    assert found[say]["loop"] == found[build]["loop"] and found[say]["loop_control"]["loop_var"] == loop_var


def _yaml(*parts):
    with open(os.path.join(os.path.dirname(ROLES), *parts)) as handle:
        return yaml.safe_load(handle)


def test_registry_sources_reach_the_modules():
    """bytelyst_product_mode registry and bytelyst_base_source registry are accepted by the role's
    argument spec and passed, with the shared registry's token (no_log), to product_image and base_image."""
    spec = _yaml("roles", "bytelyst", "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert "registry" in spec["bytelyst_product_mode"]["choices"]
    assert spec["bytelyst_base_source"]["choices"] == ["tarballs", "registry"]
    assert spec["bytelyst_shared_registry_token"]["no_log"] is True
    build = [t for t in _yaml("playbooks", "tasks", "build_product.yml") if "bytelyst.deploy.product_image" in t][0]
    args = build["bytelyst.deploy.product_image"]
    assert "bytelyst_shared_registry" in args["shared_registry"] and "bytelyst_shared_registry_token" in args["npm_token"]
    assert "bytelyst_shared_registry_allow_http" in args["shared_registry_allow_http"]
    bases = [t for t in _yaml("playbooks", "tasks", "build_bases.yml") if "base_image" in str(t.get("ansible.builtin.include_role"))][0]
    assert bases["vars"]["base_image_source"] == "{{ bytelyst_base_source }}"
    assert "bytelyst_shared_registry_token" in bases["vars"]["base_image_npm_token"]
    role = [t for t in tasks("base_image") if "bytelyst.deploy.base_image" in t and t.get("register")][0]
    assert set(role["bytelyst.deploy.base_image"]) >= {"source", "shared_registry", "shared_registry_allow_http"}
    base_spec = _yaml("roles", "base_image", "meta", "argument_specs.yml")["argument_specs"]["main"]["options"]
    assert base_spec["base_image_npm_token"]["no_log"] is True and "registry" in base_spec["base_image_source"]["choices"]
    product = [t for t in tasks("product_image") if "bytelyst.deploy.product_image" in t and t.get("register")][0]
    assert set(product["bytelyst.deploy.product_image"]) >= {"shared_registry", "shared_registry_allow_http",
                                                             "shared_scopes"}
