"""The playbooks' tags and the default of bytelyst_triggered_by, through real ansible-playbook.

`--list-tasks --tags X` shows what a run with those tags would start, play by play, without
running anything; the default chain of bytelyst_triggered_by is read on four hosts (an AWX
job, an older Tower job, a Semaphore task, neither) in one run.
"""

import json
import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOKS = os.path.join(ROOT, "playbooks")


def playbook(args, cwd=None):
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_FORCE_COLOR="false")
    done = subprocess.run(["ansible-playbook"] + args, capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def listed(tags, name="pipeline.yml"):
    """{play name: [task names]} of --list-tasks --tags tags; the bytelyst role's own checks left out."""
    text = playbook(["-i", os.path.join(PLAYBOOKS, "inventory", "local.yml"), os.path.join(PLAYBOOKS, name),
                     "--list-tasks", "--tags", tags])
    plays, play = {}, None
    for line in text.splitlines():
        found = re.match(r"\s+play #\d+ \(.*?\): (.*?)\tTAGS", line)
        if found:
            play = plays.setdefault(found.group(1), [])
        elif play is not None and "\tTAGS: [" in line and "bytelyst.deploy.bytelyst :" not in line:
            play.append(line.strip().split("\t")[0])
    return plays


def test_prep_runs_only_the_workspace_steps_and_the_summary():
    plays = listed("prep")
    assert plays["Build, verify and push the shared base images"] == [
        "See whether the workspace was installed before", "Install the workspace's dependencies from its lockfile",
        "Pack the shared packages that changed"]
    assert plays["Publish the shared packages to the npm registry"] == []
    assert plays["Build and push the product images"] == []
    assert plays["Deploy the products behind their health gates"] == []
    # the summary is always printed
    assert plays["Summarise what runs and what it costs on disk"] == [
        "Measure the product images this run built", "Measure the runtime image", "Print the summary"]


def test_deploy_runs_the_product_builds_it_needs_and_the_deploys_not_the_bases():
    plays = listed("deploy")
    assert plays["Build, verify and push the shared base images"] == []
    assert plays["Publish the shared packages to the npm registry"] == []
    # the deploy needs the images' references: the product build runs (a no-op when up to date)
    assert plays["Build and push the product images"] == ["Build the product images"]
    assert plays["Deploy the products behind their health gates"] == ["Deploy each product this host runs"]


def test_base_and_push_of_the_base_playbook():
    plays = listed("push", "base.yml")
    assert plays["Build, verify and push the shared base images"] == [
        # bases sized to the products (bytelyst_base_size_to_products; skipped unless it is on)
        "Check that the bases to size come from tarballs", "Read the tarball manifest (bases sized to the products)",
        "Read the selected products' package.json files (bases sized to the products)",
        "Size the backend and web bases to the products of the run", "Say which packages the sized bases leave out",
        "Build and verify the base images", "Push the base images (version and date tags)",
        "Push the common base the stacked bases are built on (version and date tags)"]


def test_triggered_by_defaults_to_awx_then_semaphore_then_the_remote_user(tmp_path):
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = {"all": {"hosts": {
        "awx": dict(local, awx_job_id=4242, awx_user_name="alice", tower_job_id=4242, tower_user_name="alice"),
        "tower": dict(local, tower_job_id=17, tower_user_name="bob"),
        "semaphore": dict(local, semaphore_vars={"task_details": {"id": 31, "username": "carol"}}),
        "plain": local,
    }}}
    (tmp_path / "inventory.json").write_text(json.dumps(inventory))
    (tmp_path / "play.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  roles: [bytelyst.deploy.bytelyst]\n  tasks:\n"
        "    - ansible.builtin.debug:\n        msg: 'who={{ inventory_hostname }}={{ bytelyst_triggered_by }}='\n")
    text = playbook(["-i", "inventory.json", "play.yml"], cwd=str(tmp_path))
    found = dict(re.findall(r'"who=(\w+)=(.*?)="', text))
    assert found == {"awx": "awx job 4242 (alice)", "tower": "awx job 17 (bob)",
                     "semaphore": "semaphore task 31 (carol)", "plain": ""}


def canary_inventory(tmp_path, canary):
    """Deploy hosts of a workspace without the sample's notes (shop on edge-a and edge-b); the canary
    product is set in the inventory, where a team keeps it (group_vars), not with -e."""
    inventory = {"all": {
        "vars": {"ansible_connection": "local",
                 "bytelyst_products": {"shop": {"services": {"backend": {"kind": "backend", "port": 3000}}},
                                       "cart": {"services": {"backend": {"kind": "backend", "port": 3001}}}},
                 "bytelyst_selected_products": ["shop", "cart"], "bytelyst_canary_product": canary},
        "children": {"build_host": {"hosts": {"builder": {}}},
                     "products": {"children": {"shop": {"hosts": {"edge-a": {}, "edge-b": {}}}}}}}}
    path = tmp_path / "inventory.json"
    path.write_text(json.dumps(inventory))
    return str(path)


def plays_and_hosts(text):
    """{play name: [hosts that ran a task of it]} from the default callback's output."""
    plays, play = {}, None
    for line in text.splitlines():
        found = re.match(r"PLAY \[(.*)\] \*+", line)
        if found:
            play = plays.setdefault(found.group(1), [])
        found = re.match(r"(?:ok|changed|skipping): \[([^\]]+)\]", line)
        if found and play is not None and found.group(1) not in play:
            play.append(found.group(1))
    return plays


def test_the_canary_product_set_in_the_inventory_picks_the_canary_host(tmp_path):
    # Only the always-tagged steps run: the checks, and the canary host's naming.
    out = playbook(["-i", canary_inventory(tmp_path, "shop"), os.path.join(PLAYBOOKS, "rollout_base.yml"),
                    "--tags", "always", "-e", "bytelyst_base_version=9.9.9"])
    plays = plays_and_hosts(out)
    assert plays["Canary (one product on one host)"] == ["edge-a"], plays
    assert sorted(plays["Roll out in batches"]) == ["edge-a", "edge-b"], plays


def test_a_canary_product_without_deploy_hosts_is_refused_before_anything_runs(tmp_path):
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_FORCE_COLOR="false")
    done = subprocess.run(["ansible-playbook", "-i", canary_inventory(tmp_path, "cart"),
                           os.path.join(PLAYBOOKS, "rollout_base.yml"), "-e", "bytelyst_base_version=9.9.9"],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode != 0
    assert "The canary product cart has no host in the inventory (no group cart with a host)" in done.stdout, \
        done.stdout[-3000:]
    assert "Add its deploy hosts to a group named cart" in done.stdout
    # Refused on the build host's first checks: no install, no build, no other play.
    assert "Install the workspace's dependencies" not in done.stdout and "PLAY [Canary" not in done.stdout
    assert sorted(os.listdir(str(tmp_path))) == ["inventory.json"]
