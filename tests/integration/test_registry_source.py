"""bytelyst.deploy.product_image mode=registry through real Ansible: the packed sample's packages
published (real @bytelyst scope) to a Verdaccio of this module's own, a product built from that
registry with BuildKit and pnpm on the stand-in runtime image, run, and its health check answered.

The shared registry of scripts/setup.sh is untouched (it must not hold the sample's real scope).
This Verdaccio listens on the Docker bridge's gateway address, the host as the engine's build
containers reach it (a registry on loopback is out of their reach), on a free port.
"""

import json
import os
import subprocess
import uuid

import pytest

import image_contents
from engine_listing import remove_tags_under
from npm_registry_fixtures import Verdaccio, login
from packed_workspace import packed_once, run_many, runner
from product_fixtures import copy_product
from engine_listing import tags_under as listed_tags

from ansible_collections.bytelyst.deploy.plugins.module_utils import _tarball_manifest

pytestmark = pytest.mark.integration

TEST_LABELS = {"dev.bytelyst.test": "1"}
PORT = 4016


def bridge_gateway(client):
    """The address of the host on Docker's default bridge (what build containers reach it by)."""
    config = client.networks.get("bridge").attrs["IPAM"]["Config"]
    gateways = [c.get("Gateway") for c in config if c.get("Gateway")]
    if gateways:
        return gateways[0]
    subnet = config[0]["Subnet"].split("/")[0].split(".")
    return ".".join(subnet[:3] + ["1"])


class BridgeVerdaccio(Verdaccio):
    """A Verdaccio of the test's own, configured as the shared one, on <bridge gateway>:<free port>."""

    def __init__(self, root, host):
        super(BridgeVerdaccio, self).__init__(root)
        import yaml
        with open(self.config) as handle:
            config = yaml.safe_load(handle)
        config["listen"] = "%s:%d" % (host, self.port)
        with open(self.config, "w") as handle:
            yaml.safe_dump(config, handle)
        self.url = "http://%s:%d/" % (host, self.port)


class Env(object):
    pass


@pytest.fixture(scope="module")
def env(tmp_path_factory, docker_client, standin_image):
    """The sample published to a registry of our own; notes backend built from it once."""
    work = tmp_path_factory.mktemp("registry-source")
    state = Env()
    state.client, state.standin, state.run = docker_client, standin_image, runner()
    state.prefix = "bytelyst-test-%s" % uuid.uuid4().hex[:8]
    state.registry = BridgeVerdaccio(work / "verdaccio", bridge_gateway(docker_client)).start()
    try:
        from ansible_collections.bytelyst.deploy.plugins.module_utils._npm_publish import Publisher
        from ansible_collections.bytelyst.deploy.plugins.module_utils._npm_registry import NpmRegistry
        state.token = login(state.registry.url, "registry-source", "registry-source-test-pass")
        state.packed = packed_once()
        Publisher(NpmRegistry(state.registry.url, state.token, allow_http=True), state.packed).publish()
        state.products = str(work / "products")
        os.makedirs(state.products)
        state.product = copy_product("notes", state.products)
        state.result, state.raw = state.run("product_image", args(state, state.product, "notes-backend"))
        yield state
    finally:
        state.registry.close()
        remove_tags_under(docker_client, state.prefix + "/")


def args(env, product, repo, **change):
    out = {"product_dir": product, "kind": "backend", "mode": "registry", "runtime_image": env.standin,
           "shared_registry": env.registry.url, "shared_registry_allow_http": True, "npm_token": env.token,
           "shared_scopes": ["@bytelyst"], "port": PORT, "name": "%s/%s" % (env.prefix, repo), "labels": TEST_LABELS}
    if os.environ.get("BYTELYST_CA_BUNDLE"):
        out["ca_bundle"] = os.environ["BYTELYST_CA_BUNDLE"]  # third-party packages: the default registry
    out.update(change)
    return out


def repo_tags(client, prefix):
    return sorted(listed_tags(client, prefix + "/"))  # one listing request: other lanes remove images meanwhile


def test_product_built_from_the_registry_serves_its_health_check(env):
    result, raw = env.result, env.raw
    assert not result.get("failed"), raw[-4000:]
    assert result["changed"] and result["tags"] == ["%s/notes-backend:1.4.0" % env.prefix]
    assert result["verify"]["status"] == 200
    answer = image_contents.serve(env.client, result["image_id"], PORT, "/health")
    health = json.loads(answer["body"])
    assert (health["status"], health["service"]) == ("ok", "notes-backend")
    assert all(p["uid"] == 1000 for p in answer["procs"]), answer["procs"]
    labels = env.client.images.get(result["image_id"]).attrs["Config"]["Labels"]
    assert labels["dev.bytelyst.mode"] == "registry" and labels["dev.bytelyst.base.ref"] == env.standin
    # the check ran against the registry's versions: what the sample published
    manifest = _tarball_manifest.load(env.packed)
    checked = dict((c["name"], c["versions"]) for c in result["plan"]["compatibility"])
    assert checked["@bytelyst/config"] == [manifest["packages"]["@bytelyst/config"]["version"]]
    # ... and the image holds those very versions, installed from the registry (not from tarballs)
    listing = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "node", result["image_id"], "-e",
         "for (const n of ['config','http','errors','logger']) { const p = require('/app/backend/node_modules/@bytelyst/'"
         " + n + '/package.json'); console.log(p.name + ' ' + p.version); }"],
        capture_output=True, text=True, timeout=120, check=False)
    assert listing.returncode == 0, listing.stderr
    for line in listing.stdout.split("\n"):
        if line:
            name, version = line.split(" ")
            assert manifest["packages"][name]["version"] == version, line
    # a second run changes nothing (same registry versions, same fingerprint)
    again, raw = env.run("product_image", args(env, env.product, "notes-backend"))
    assert not again.get("failed") and again["changed"] is False, raw[-3000:]


def test_token_in_no_layer_no_history_no_output(env, tmp_path):
    assert not env.result.get("failed"), env.raw[-3000:]
    assert env.token not in env.raw
    saved = image_contents.save(env.client, env.result["image_id"], tmp_path / "image.tar")
    hits, read = image_contents.find_bytes(saved, [env.token, env.registry.url.split("//")[1]])
    assert read > 3 and hits[env.token.encode()] == [], hits
    history = subprocess.run(["docker", "history", "--no-trunc", env.result["image_id"]], capture_output=True,
                             text=True, timeout=60, check=True).stdout
    assert "node_modules" in history and env.token not in history
    with open(env.result["build_log"]) as handle:
        assert env.token not in handle.read()


def test_range_the_registry_cannot_satisfy_is_refused_before_any_build(env, tmp_path):
    product = copy_product("notes", str(tmp_path))
    path = os.path.join(product, "backend", "package.json")
    with open(path) as handle:
        package = json.load(handle)
    package["dependencies"]["@bytelyst/config"] = "^9.0.0"
    with open(path, "w") as handle:
        json.dump(package, handle)
    before = repo_tags(env.client, env.prefix)
    result, raw = env.run("product_image", args(env, product, "notes-unsatisfiable"))
    assert result.get("failed"), raw[-3000:]
    version = _tarball_manifest.load(env.packed)["packages"]["@bytelyst/config"]["version"]
    assert "@bytelyst/config ^9.0.0 (declared '^9.0.0') but the registry has %s" % version in result["msg"]
    assert result["incompatible"][0]["registry_versions"] == [version]
    assert "build_log" not in result  # refused before any build
    assert repo_tags(env.client, env.prefix) == before


def test_wrong_token_fails_clearly_and_tags_nothing(env):
    before = repo_tags(env.client, env.prefix)
    result, raw = env.run("product_image", args(env, env.product, "notes-wrong-token", npm_token="not-a-valid-token"))
    assert result.get("failed"), raw[-3000:]
    assert "refused the token given" in result["msg"] and "401" in result["msg"], result["msg"]
    assert "not-a-valid-token" not in raw
    assert repo_tags(env.client, env.prefix) == before


# --- base_image source=registry: bases for packages another team published -----------------------

def base_args(env, kind, packages):
    out = {"source": "registry", "kind": kind, "packages": packages, "runtime_image": env.standin,
           "shared_registry": env.registry.url, "shared_registry_allow_http": True, "npm_token": env.token,
           "version": "1.0.0", "name": "%s/registry-base-%s" % (env.prefix, kind), "date_tag": "false",
           "labels": TEST_LABELS}
    if os.environ.get("BYTELYST_CA_BUNDLE"):
        out["ca_bundle"] = os.environ["BYTELYST_CA_BUNDLE"]
    return out


@pytest.fixture(scope="module")
def registry_bases(env):
    """The dev and backend bases built from the registry, and a base asking for a version it lacks, in one play."""
    manifest = _tarball_manifest.load(env.packed)
    backend = dict((n, "^" + manifest["packages"][n]["version"]) for n in _tarball_manifest.packages_for(manifest, "backend"))
    dev = dict((n, manifest["packages"][n]["version"]) for n in manifest["packages"])
    env.before_bases = repo_tags(env.client, env.prefix)
    missing = base_args(env, "backend", dict(backend, **{"@bytelyst/config": "9.9.9"}))
    missing["name"] = "%s/registry-base-missing" % env.prefix
    results, raw = run_many("base_image", [base_args(env, "dev", dev), base_args(env, "backend", backend), missing])
    return manifest, results, raw


def test_base_built_from_the_registry_carries_a_product_that_answers_its_health_check(env, registry_bases):
    manifest, (dev, backend, dummy), raw = registry_bases
    assert not dev.get("failed") and not backend.get("failed"), raw[-4000:]
    # the base records the registry's versions exactly as a tarball-built base records the manifest's
    expected = dict((n, manifest["packages"][n]["version"]) for n in backend["packages"])
    assert backend["packages"] == expected and set(_tarball_manifest.packages_for(manifest, "backend")) <= set(expected)
    labels = env.client.images.get(backend["image_id"]).attrs["Config"]["Labels"]
    assert json.loads(labels["dev.bytelyst.base.provides"]) == expected
    assert env.token not in raw
    product = copy_product("notes", str(env.products + "-on-registry-base"))
    result, raw = env.run("product_image", {
        "product_dir": product, "kind": "backend", "mode": "base", "base_image": backend["tags"][0],
        "dev_base_image": dev["tags"][0], "port": PORT, "name": "%s/notes-on-registry-base" % env.prefix,
        "labels": TEST_LABELS, **({"ca_bundle": os.environ["BYTELYST_CA_BUNDLE"]}
                                  if os.environ.get("BYTELYST_CA_BUNDLE") else {})})
    assert not result.get("failed"), raw[-4000:]
    assert result["verify"]["status"] == 200
    answer = image_contents.serve(env.client, result["image_id"], PORT, "/health")
    assert json.loads(answer["body"])["status"] == "ok"
    assert all(p["uid"] == 1000 for p in answer["procs"]), answer["procs"]
    # the product's compatibility check read the registry base's versions
    checked = dict((c["name"], c["version"]) for c in result["plan"]["compatibility"] if c.get("from") == "packages")
    assert checked["@bytelyst/config"] == manifest["packages"]["@bytelyst/config"]["version"]


def test_base_version_the_registry_lacks_is_refused_before_any_build(env, registry_bases):
    manifest, (dummy, dummy, missing), raw = registry_bases
    assert missing.get("failed"), raw[-3000:]
    assert ("cannot serve the shared packages the base image asks for: @bytelyst/config 9.9.9 (declared '9.9.9') "
            "but the registry has %s" % manifest["packages"]["@bytelyst/config"]["version"]) in missing["msg"]
    assert "build_log" not in missing  # refused before any build
    tags = repo_tags(env.client, env.prefix)
    assert not [t for t in tags if "/registry-base-missing:" in t] and set(env.before_bases) <= set(tags)
