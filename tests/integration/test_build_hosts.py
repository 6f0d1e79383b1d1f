"""Several build hosts and the main job from a repository, through real ansible-playbook.

The spread itself (bases on the first build host, each product on its own, deploys from the
host that built it) runs for real in the Molecule fleet scenario; here: the refusal of several
build hosts without a registry (nothing built, nothing written), and where the checkout of
bytelyst_repo_url sits in the pipeline.
"""

import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOKS = os.path.join(ROOT, "playbooks")


def run(args):
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_FORCE_COLOR="false")
    return subprocess.run(["ansible-playbook"] + args, capture_output=True, text=True, env=env, timeout=300,
                          check=False)


def two_build_hosts(tmp_path, **extra):
    inventory = tmp_path / "inventory.yml"
    host_vars = "".join("      %s: %s\n" % item for item in sorted(extra.items()))
    inventory.write_text(
        "all:\n"
        "  vars:\n"
        "    ansible_connection: local\n"
        "    bytelyst_tarball_dir: %s\n"
        "    bytelyst_build_log_dir: %s\n"
        "    bytelyst_deploy_root: %s\n"
        "  children:\n"
        "    build_host:\n"
        "      hosts:\n"
        "        build1:\n"
        "        build2:\n"
        "      vars:\n%s"
        "    products:\n"
        "      children:\n"
        "        notes: {hosts: {deploy1: }}\n"
        "        clock: {hosts: {deploy1: }}\n"
        "        trading: {hosts: {deploy1: }}\n"
        % (tmp_path / "tarballs", tmp_path / "logs", tmp_path / "deploy", host_vars or "        {}\n"))
    return str(inventory)


def test_several_build_hosts_without_a_registry_are_refused_before_anything_is_built(tmp_path):
    inventory = two_build_hosts(tmp_path)
    done = run(["-i", inventory, os.path.join(PLAYBOOKS, "pipeline.yml")])
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "The build_host group has 2 hosts (build1, build2) but bytelyst_registry is empty" in out
    assert "Set bytelyst_registry, or keep one host in build_host" in out
    # It stopped at the first play's checks: no install, no pack, no build, nothing written.
    assert "Pack the shared packages" not in out and "Build the images of" not in out
    # No task changed anything on any host (the engine is shared with other test lanes, so its image
    # list is no witness here; the play recap is).
    assert re.search(r"failed=[1-9]", out) and not re.search(r"changed=[1-9]", out), out[-3000:]
    assert sorted(os.listdir(str(tmp_path))) == ["inventory.yml"]


def test_tarball_mode_on_several_build_hosts_is_refused(tmp_path):
    inventory = two_build_hosts(tmp_path)
    done = run(["-i", inventory, os.path.join(PLAYBOOKS, "product.yml"), "-e", "bytelyst_registry=registry.invalid/x",
                "-e", "bytelyst_product_mode=tarball"])
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert "bytelyst_product_mode tarball builds products from the tarballs" in out and "(build1, build2)" in out
    assert "Build the images of" not in out
    assert sorted(os.listdir(str(tmp_path))) == ["inventory.yml"]


def listed(args):
    done = run([os.path.join(PLAYBOOKS, "pipeline.yml"), "--list-tasks"] + args)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return [re.match(r"\s+play #\d+ \((.*?)\): (.*?)\t", line).groups()
            for line in done.stdout.splitlines() if re.match(r"\s+play #\d+ ", line)]


def test_the_checkout_of_bytelyst_repo_url_comes_first_on_every_build_host_and_belongs_to_prep(tmp_path):
    inventory = two_build_hosts(tmp_path)
    plays = listed(["-i", inventory, "--tags", "prep"])
    assert plays[0] == ("build_host", "Prepare the build host")
    assert plays[1] == ("build_host[0]", "Build, verify and push the shared base images")
    done = run([os.path.join(PLAYBOOKS, "pipeline.yml"), "-i", inventory, "--list-tasks", "--tags", "prep"])
    first_play = done.stdout.split("play #2")[0]
    assert "Check out the monorepo" in first_play and "Install the workspace's dependencies" in first_play
