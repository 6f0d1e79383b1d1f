"""Role arguments through real ansible-playbook, before anything runs: a typo in a nested
variable fails the role's argument validation, and a deprecated variable name is still honoured
with a warning. No engine is needed (none is reached: the roles stop first)."""

import os
import re
import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.integration

PLAYBOOKS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "playbooks")


def run(tmp_path, *plays):
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump([dict({"hosts": "localhost", "gather_facts": False}, **play) for play in plays]))
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_FORCE_COLOR="false", ANSIBLE_NOCOLOR="true")
    done = subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", str(path)], capture_output=True,
                          text=True, env=env, timeout=300, check=False)
    return done.returncode, done.stdout + done.stderr


def test_typos_in_deploy_services_and_deploy_proxy_fail_the_validation_and_create_nothing(tmp_path):
    project_dir = tmp_path / "project"
    code, out = run(tmp_path, {"roles": [{"role": "bytelyst.deploy.deploy", "vars": {
        "deploy_project": "typo-check", "deploy_project_dir": str(project_dir),
        "deploy_history_dir": str(tmp_path / "history"), "deploy_strategy": "proxy",
        "deploy_services": [{"name": "web", "image": "nginx:1.27", "helth_url": "http://127.0.0.1/"}],
        "deploy_proxy": {"imgae": "nginx:1.27", "ports": ["8080:8080"]},
    }}]})
    assert code != 0, out
    assert "Validating arguments against arg spec" in out, out
    assert "helth_url" in out and "imgae" in out, out   # both typos named, in one message
    assert not project_dir.exists() and not (tmp_path / "history").exists()


def test_the_deprecated_base_image_flavours_is_honoured_with_a_warning(tmp_path):
    code, out = run(tmp_path, {"roles": [{"role": "bytelyst.deploy.base_image", "vars": {
        "base_image_flavours": ["dev"], "base_image_version": "1.0.0", "base_image_manifest": str(tmp_path),
        "base_image_name_prefix": "typo-check-base", "base_image_build_log_dir": str(tmp_path / "logs"),
        "base_image_docker_host": "unix://%s" % (tmp_path / "no-engine.sock"),
    }}]})
    assert "[DEPRECATED] base_image_flavours is renamed base_image_kinds" in out, out
    # the loop runs over the old variable's kinds, and names the image after the prefix
    assert "dev: follow the build on localhost with tail -f %s/typo-check-base-dev-" % (tmp_path / "logs") in out, out
    assert "web:" not in out and "backend:" not in out, out
    # the module then finds no engine: the role stops, nothing is built
    assert code != 0 and "no-engine.sock does not answer" in out, out
    assert not (tmp_path / "logs").exists()


def test_the_deprecated_bytelyst_base_flavours_is_honoured_with_a_warning(tmp_path):
    show = {"name": "Show the kinds", "ansible.builtin.debug": {"msg": "kinds={{ bytelyst_base_kinds | join(',') }}"}}
    code, out = run(tmp_path,
                    {"name": "old", "roles": ["bytelyst.deploy.bytelyst"],
                     "vars": {"bytelyst_base_flavours": ["backend", "dev"]}, "tasks": [show]},
                    {"name": "new", "roles": ["bytelyst.deploy.bytelyst"], "tasks": [show]})
    assert code == 0, out
    old, new = out.split("PLAY [new]")
    assert "[DEPRECATED] bytelyst_base_flavours is renamed bytelyst_base_kinds" in old and "kinds=backend,dev" in old, out
    assert "[DEPRECATED]" not in new and "kinds=backend,web,dev" in new, out


def test_a_typo_in_bytelyst_products_stops_the_pipeline_before_anything_is_built(tmp_path):
    # bytelyst_products has free names, so no argument spec lists its keys: the bytelyst role's first
    # check (the product_problems filter) names the typo at the start of the main job.
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable,
                 "bytelyst_tarball_dir": str(tmp_path / "tarballs"), "bytelyst_build_log_dir": str(tmp_path / "logs"),
                 "bytelyst_deploy_root": str(tmp_path / "deploy"),
                 "bytelyst_products": {"notes": {"services": {
                     "backend": {"kind": "backend", "port": 4016, "host_port": 4016, "helth_path": "/health"}}}}},
        "children": {"build_host": {"hosts": {"build1": None}},
                     "products": {"children": {"notes": {"hosts": {"deploy1": None}}}}}}}))
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_FORCE_COLOR="false", ANSIBLE_NOCOLOR="true")
    done = subprocess.run(["ansible-playbook", "-i", str(inventory), os.path.join(PLAYBOOKS, "pipeline.yml")],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    out = done.stdout + done.stderr
    assert done.returncode != 0, out[-3000:]
    assert ('bytelyst_products.notes.services.backend has the unknown key "helth_path": did you mean health_path? '
            'Rename it to health_path.') in out, out[-3000:]
    # It stopped at the first play's checks: no pack, no build, nothing written, nothing changed.
    assert "Pack the shared packages" not in out and "Build the" not in out
    assert re.search(r"failed=[1-9]", out) and not re.search(r"changed=[1-9]", out), out[-3000:]
    assert sorted(os.listdir(str(tmp_path))) == ["inventory.yml"]
