"""The second sample workspace (examples/acme: scopes @acme/* and @acme-ui/*) through the main job,
bytelyst.deploy.pipeline, with its own inventory (examples/acme/inventory.yml) and nothing else
changed: pack, bases, the shop product in base mode, push, deploy, health; then the same product in
tarball mode (its own tag: version tags are immutable); then that run again, which changes nothing.
The commands are the ones docs/your-own-monorepo.md walks through.

Real ansible-playbook, engine, BuildKit, pnpm, loopback registry and Compose. Each run gets its own
registry namespace, Compose project prefix and host port; its images are labelled dev.bytelyst.test=1
(bytelyst_image_labels) and removed, the deployed project taken down, at the end.
"""

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

from engine_listing import remove_tags_under, tags_under
from awx_fixtures import compose_down, free_port_block
import playbook_runs
from playbook_runs import Run, playbook, recap
import registry_fixtures

pytestmark = pytest.mark.integration

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ACME = os.path.join(REPO, "examples", "acme")
TEST_LABELS = {"dev.bytelyst.test": "1"}
CHAIN = ["@acme/service", "@acme/store", "@acme/util", "@acme/errors"]
SHARED = sorted(CHAIN + ["@acme-ui/widgets"])
PORT = 4030  # shop's host_port in the inventory


def pipeline(state, **extra):
    """ansible-playbook -i <copy of examples/acme>/inventory.yml bytelyst.deploy.pipeline -e ..."""
    return playbook(state, ["-i", os.path.join(state.root, "inventory.yml"), "bytelyst.deploy.pipeline"],
                    dict(state.extravars, **extra), timeout=1200)


def deployed(state):
    """What answers on the deploy host now: the health body and the image of shop's container."""
    return playbook_runs.deployed(state, "shop", PORT)


@pytest.fixture(scope="module")
def acme(tmp_path_factory, docker_client, registry_addr, standin_image):
    """Base mode, tarball mode, tarball mode again; what was deployed after each run."""
    state = Run(docker_client, str(tmp_path_factory.mktemp("acme-pipeline")))
    state.root = os.path.join(state.work, "acme")
    # A copy: the job installs the workspace's node_modules (the checkout stays as committed, and
    # lanes running at once do not share one).
    shutil.copytree(ACME, state.root, ignore=shutil.ignore_patterns("node_modules", "dist", "vendor", "*.tgz"))
    run = uuid.uuid4().hex[:8]
    state.namespace = "bytelyst-test/acme-%s" % run
    state.registry = "%s/%s" % (registry_addr, state.namespace)
    state.registry_url = "http://" + registry_addr
    state.extravars = {
        "bytelyst_registry": state.registry,
        "bytelyst_runtime_image": standin_image,
        "bytelyst_image_labels": TEST_LABELS,
        "bytelyst_project_prefix": "bytelyst-acme-%s-" % run,
        # below the kernel's ephemeral ports (32768 and up), which any outgoing connection may take
        "bytelyst_port_offset": free_port_block(1, start=20000, stop=32000) - PORT,
        "bytelyst_tarball_dir": os.path.join(state.work, "tarballs"),
        "bytelyst_deploy_root": os.path.join(state.work, "deploy"),
        "bytelyst_build_log_dir": os.path.join(state.work, "builds"),
    }
    if os.environ.get("BYTELYST_CA_BUNDLE"):
        state.extravars["bytelyst_ca_bundle"] = os.environ["BYTELYST_CA_BUNDLE"]
    try:
        for mode in ("base", "tarball", "tarball"):
            extra = {} if mode == "base" else {"bytelyst_product_mode": "tarball",
                                               "bytelyst_product_version_suffix": "-tarball"}
            done = pipeline(state, **extra)
            assert done.returncode == 0, (done.stdout[-5000:] + done.stderr[-3000:])
            state.after.append(deployed(state))
        yield state
    finally:
        compose_down(state.extravars["bytelyst_project_prefix"] + "shop",
                     os.path.join(state.extravars["bytelyst_deploy_root"], "shop"))
        remove_tags_under(docker_client, state.registry + "/")
        for repository in ("shop-backend", "acme-base-backend", "acme-base-dev"):
            registry_fixtures.delete_repository(state.registry_url, "%s/%s" % (state.namespace, repository))


def labels_of(state, reference):
    return state.client.api.inspect_image(reference)["Config"]["Labels"]


def test_the_bases_carry_both_scopes_of_the_workspace(acme):
    tags = tags_under(acme.client, acme.registry + "/")
    for kind in ("backend", "dev"):
        reference = "%s/acme-base-%s:1.0.0" % (acme.registry, kind)
        assert reference in tags, sorted(tags)
        labels = labels_of(acme, reference)
        assert labels["dev.bytelyst.test"] == "1"
        assert sorted(json.loads(labels["dev.bytelyst.base.provides"])) == SHARED
    # the inventory asked for no web base
    assert not [tag for tag in tags if "/acme-base-web:" in tag]


def test_both_modes_are_built_from_acmes_packages_and_labelled_so(acme):
    base = labels_of(acme, "%s/shop-backend:1.0.0" % acme.registry)
    tarball = labels_of(acme, "%s/shop-backend:1.0.0-tarball" % acme.registry)
    assert (base["dev.bytelyst.mode"], tarball["dev.bytelyst.mode"]) == ("base", "tarball")
    assert base["dev.bytelyst.product"] == tarball["dev.bytelyst.product"] == "shop"
    assert base["dev.bytelyst.test"] == tarball["dev.bytelyst.test"] == "1"
    # on the acme base just built, which provides every shared package of both scopes
    assert base["dev.bytelyst.base.ref"] == "%s/acme-base-backend:1.0.0" % acme.registry
    assert sorted(json.loads(base["dev.bytelyst.base.provides"])) == SHARED


def test_every_image_is_in_the_registry_as_the_engine_has_it(acme):
    for repository, tag in (("acme-base-backend", "1.0.0"), ("acme-base-dev", "1.0.0"),
                            ("shop-backend", "1.0.0"), ("shop-backend", "1.0.0-tarball")):
        name = "%s/%s" % (acme.registry, repository)
        digest = registry_fixtures.tag_digest(acme.registry_url, "%s/%s" % (acme.namespace, repository), tag)
        assert digest, "%s:%s is not in the registry" % (name, tag)
        assert "%s@%s" % (name, digest) in acme.client.api.inspect_image("%s:%s" % (name, tag))["RepoDigests"]
    assert registry_fixtures.tag_list(acme.registry_url, acme.namespace + "/shop-backend") == ["1.0.0", "1.0.0-tarball"]


@pytest.mark.parametrize("run, tag", [(0, "1.0.0"), (1, "1.0.0-tarball")], ids=["base", "tarball"])
def test_the_deployed_product_answers_through_the_whole_chain(acme, run, tag):
    after = acme.after[run]
    assert after["status"] == 200, after
    health = after["health"]
    assert [link["package"] for link in health["chain"]] == CHAIN
    assert [link["package"] for link in health["widgets"]] == ["@acme-ui/widgets"]
    # the lockfiles' versions: the workspace's ms, the product's bytes
    assert health["chain"][2]["ms"] == "2.0.0" and health["bytes"] == "3.0.0"
    # by the digest the registry holds for the run's tag
    digest = registry_fixtures.tag_digest(acme.registry_url, acme.namespace + "/shop-backend", tag)
    assert [image for dummy, image in after["containers"]] == ["%s/shop-backend@%s" % (acme.registry, digest)]


def test_the_second_run_of_the_same_inputs_changes_nothing(acme):
    first, again = acme.runs[1], acme.runs[2]
    assert recap(first)["changed"] > 0  # the tarball-mode build, push and deploy
    assert recap(again)["changed"] == 0 and recap(again)["failed"] == 0, again.stdout[-5000:]
    # the same container goes on answering: nothing was recreated
    assert acme.after[2] == acme.after[1]


def test_a_base_rollout_without_a_canary_of_this_workspace_is_refused_before_anything_is_built(tmp_path):
    """rollout_base.yml's canary defaults to the sample's notes, which acme's inventory does not have."""
    # Paths of its own, the workspace one that does not exist: were the check gone, the run would fail
    # at the install instead of working in the checkout.
    extravars = {"bytelyst_tarball_dir": str(tmp_path / "tarballs"), "bytelyst_deploy_root": str(tmp_path / "deploy"),
                 "bytelyst_build_log_dir": str(tmp_path / "builds"), "bytelyst_workspace": str(tmp_path / "workspace")}
    (tmp_path / "extravars.json").write_text(json.dumps(extravars))
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_FORCE_COLOR="false",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    done = subprocess.run(["ansible-playbook", "-i", os.path.join(ACME, "inventory.yml"),
                           os.path.join(REPO, "playbooks", "rollout_base.yml"),
                           "-e", "@%s" % (tmp_path / "extravars.json")],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    out = done.stdout + done.stderr
    assert done.returncode != 0, out[-3000:]
    assert "bytelyst_canary_product is notes, which is not one of this run's products (shop)" in out, out[-3000:]
    assert "Set bytelyst_canary_product to one of them" in out
    assert "Install the workspace's dependencies" not in out and "Build the images of" not in out
    assert recap(done)["changed"] == 0
    assert sorted(os.listdir(str(tmp_path))) == ["extravars.json"]
