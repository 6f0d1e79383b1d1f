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
