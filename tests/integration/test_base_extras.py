"""A base with an extra third-party package (fastify) against the real engine, BuildKit, pnpm
and the npm registry: the base holds fastify at the version the products' lockfiles lock, a
product locking that version installs none of it (its own layers hold no fastify) and answers
its health check, a second run changes nothing, and a product whose lockfile pins another
fastify installs its own and says so.

Products are copies of the sample's clock backend in a scratch directory; images are named
below a unique prefix, labelled dev.bytelyst.test=1 and removed at the end.
"""

import json
import os
import shutil
import subprocess
import uuid

import pytest
import yaml

import image_contents
import packed_workspace
from engine_listing import remove_tags_under
from product_fixtures import copy_product

from ansible_collections.bytelyst.deploy.plugins.module_utils._verify import read_json

pytestmark = pytest.mark.integration

TEST_LABELS = {"dev.bytelyst.test": "1"}
PINNED = "5.6.0"  # the other fastify one product locks


def pin_fastify(product, version, scratch):
    """Make product's backend depend on fastify <version> exactly, with a lockfile pnpm wrote for it:
    the closure pnpm resolves for a one-dependency project is spliced into the product's lockfile."""
    os.makedirs(scratch)
    with open(os.path.join(scratch, "package.json"), "w") as handle:
        json.dump({"name": "pin", "version": "1.0.0", "dependencies": {"fastify": version}}, handle)
    subprocess.run(["pnpm", "install", "--lockfile-only"], cwd=scratch, check=True, capture_output=True, timeout=300)
    with open(os.path.join(scratch, "pnpm-lock.yaml")) as handle:
        pin = yaml.safe_load(handle)
    lock_path = os.path.join(product, "pnpm-lock.yaml")
    with open(lock_path) as handle:
        lock = yaml.safe_load(handle)
    lock["importers"]["backend"]["dependencies"]["fastify"] = {"specifier": version, "version": version}
    lock["packages"].update(pin["packages"])
    lock["snapshots"].update(pin["snapshots"])
    with open(lock_path, "w") as handle:
        yaml.safe_dump(lock, handle, sort_keys=False)
    package_path = os.path.join(product, "backend", "package.json")
    with open(package_path) as handle:
        package = json.load(handle)
    package["dependencies"]["fastify"] = version
    with open(package_path, "w") as handle:
        json.dump(package, handle, indent=2)


class Env(object):
    pass


@pytest.fixture(scope="module")
def env(tmp_path_factory, docker_client, standin_image):
    """Products clock, notes (its lockfile only) and clockpin (fastify pinned to another version);
    a dev base and a backend base with fastify as an extra package."""
    work = tmp_path_factory.mktemp("base-extras")
    state = Env()
    state.client, state.run = docker_client, packed_workspace.runner()
    state.prefix = "bytelyst-test-%s" % uuid.uuid4().hex[:8]
    state.ca = os.environ.get("BYTELYST_CA_BUNDLE")
    state.products = str(work / "products")
    os.makedirs(state.products)
    try:
        state.clock = copy_product("clock", state.products)
        copy_product("notes", state.products)
        state.clockpin = os.path.join(state.products, "clockpin")
        shutil.copytree(state.clock, state.clockpin)
        pin_fastify(state.clockpin, PINNED, str(work / "pin"))
        state.packed = packed_workspace.packed_once()
        state.base_args = {"manifest": state.packed, "kind": "backend", "runtime_image": standin_image,
                           "version": "1.0.0", "name": "%s/base-backend" % state.prefix, "date_tag": "false",
                           "labels": TEST_LABELS, "extra_packages": ["fastify"],
                           "extra_packages_from": [state.products]}
        dev_args = dict(state.base_args, kind="dev", name="%s/base-dev" % state.prefix)
        del dev_args["extra_packages"], dev_args["extra_packages_from"]
        if state.ca:
            state.base_args["ca_bundle"] = dev_args["ca_bundle"] = state.ca
        (state.base, dev), raw = packed_workspace.run_many("base_image", [state.base_args, dev_args])
        assert not state.base.get("failed") and not dev.get("failed"), raw[-4000:]
        state.bases = {"backend": state.base["tags"][0], "dev": dev["tags"][0]}
        yield state
    finally:
        remove_tags_under(docker_client, state.prefix + "/")


def product_args(env, product_dir, port):
    args = {"product_dir": product_dir, "kind": "backend", "base_image": env.bases["backend"],
            "dev_base_image": env.bases["dev"], "manifest": env.packed, "port": port,
            "name": "%s/%s-backend" % (env.prefix, os.path.basename(product_dir)), "labels": TEST_LABELS}
    if env.ca:
        args["ca_bundle"] = env.ca
    return args


def test_the_base_holds_fastify_at_the_version_most_lockfiles_lock(env):
    result = env.base
    assert result["changed"] and result["extras"] == {"fastify": "5.12.8"}
    # clock and notes lock 5.12.8, clockpin 5.6.0: the result names the one that installs its own
    assert result["extras_notes"] == [
        "fastify 5.12.8: locked by 2 of 3 lockfiles; %s (%s); the products locking those install their own."
        % (PINNED, os.path.join(env.products, "clockpin", "pnpm-lock.yaml"))]
    image = env.client.images.get(result["image_id"])
    labels = image.attrs["Config"]["Labels"]
    assert json.loads(labels["dev.bytelyst.base.extras"]) == {"fastify": "5.12.8"}
    assert "fastify" not in json.loads(labels["dev.bytelyst.base.provides"])  # the shared packages only
    provides = read_json(env.client, image.id, "/app/.bytelyst/provides.json")
    assert provides["extras"] == {"fastify": "5.12.8"} and provides["third_party"]["fastify"] == "5.12.8"
    assert read_json(env.client, image.id, "/app/node_modules/fastify/package.json")["version"] == "5.12.8"
    # a second run builds nothing
    again, raw = env.run("base_image", env.base_args)
    assert not again.get("failed"), raw[-3000:]
    assert (again["changed"], again["image_id"], again["extras"]) == (False, result["image_id"], {"fastify": "5.12.8"})


def test_a_product_locking_the_bases_fastify_stores_none(env, tmp_path):
    result, raw = env.run("product_image", product_args(env, env.clock, 4017))
    assert not result.get("failed"), raw[-4000:]
    assert result["changed"] and result["verify"]["status"] == 200
    assert result["base_extras"] == {"from_base": {"fastify": "5.12.8"}, "own": {}}
    assert "fastify" not in (result["plan"]["runtime_package"].get("dependencies") or {})
    # the layers the product adds on its base hold no file of fastify (nor of its dependencies' folder)
    base_layers = env.client.images.get(env.bases["backend"]).attrs["RootFS"]["Layers"]
    saved = image_contents.save(env.client, result["image_id"], tmp_path / "clock.tar")
    found = image_contents.layer_names(saved)
    own = found[len(base_layers):]
    assert own and any("app/backend/dist/" in name for layer, names in own for name in names)
    assert [name for layer, names in own for name in names if "fastify" in name] == []
    # a second run is a no-op
    again, raw = env.run("product_image", product_args(env, env.clock, 4017))
    assert not again.get("failed"), raw[-3000:]
    assert (again["changed"], again["image_id"]) == (False, result["image_id"])


def test_a_product_pinning_another_fastify_installs_its_own_and_says_so(env):
    result, raw = env.run("product_image", product_args(env, env.clockpin, 4018))
    assert not result.get("failed"), raw[-4000:]
    assert result["verify"]["status"] == 200
    why = "the base holds fastify 5.12.8, the product's lockfile resolves %s" % PINNED
    assert result["base_extras"] == {"from_base": {}, "own": {"fastify": why}}
    assert result["plan"]["runtime_package"]["dependencies"]["fastify"] == PINNED
    assert any("installs its own fastify: %s" % why in warning for warning in result.get("warnings") or [])
    image = result["image_id"]
    assert read_json(env.client, image, "/app/backend/node_modules/fastify/package.json")["version"] == PINNED
