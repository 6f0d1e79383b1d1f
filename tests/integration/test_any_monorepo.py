"""A monorepo that is not the sample: examples/acme (scopes @acme/* and @acme-ui/*, ESM and
CJS packages, an executable, peer and optional dependencies, a chain of four internal
packages, nested folders) packed, built into bases and the shop product in both modes,
through real Ansible, the real engine, BuildKit and pnpm; and the lockfile's versions:
the workspace locks ms at 2.0.0 (its range ^2.0.0 and the npm registry serve 2.1.3), the
product locks bytes at 3.0.0 (^3.0.0; the registry serves 3.1.2).

Every image is named below a unique prefix, labelled dev.bytelyst.test=1 and removed at the end.
"""

import json
import os
import shutil
import subprocess
import uuid

import pytest

import image_contents
from engine_listing import remove_tags_under
import packed_workspace
from engine_listing import tags_under as listed_tags

pytestmark = pytest.mark.integration

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ACME = os.path.join(REPO, "examples", "acme")
IGNORE = shutil.ignore_patterns("node_modules", "dist", "vendor", "*.tgz")
TEST_LABELS = {"dev.bytelyst.test": "1"}
CHAIN = ["@acme/service", "@acme/store", "@acme/util", "@acme/errors"]
SHARED = CHAIN + ["@acme-ui/widgets"]
PORT = 4030


class Env(object):
    pass


def ca_args():
    ca = os.environ.get("BYTELYST_CA_BUNDLE")
    return {"ca_bundle": ca} if ca else {}


def edit_json(path, change):
    with open(path) as handle:
        data = json.load(handle)
    change(data)
    with open(path, "w") as handle:
        json.dump(data, handle, indent=2)


def install(workspace):
    env = dict(os.environ)
    if os.environ.get("BYTELYST_CA_BUNDLE"):
        env.update(NODE_EXTRA_CA_CERTS=os.environ["BYTELYST_CA_BUNDLE"], npm_config_cafile=os.environ["BYTELYST_CA_BUNDLE"])
    proc = subprocess.run(["pnpm", "install", "--frozen-lockfile"], cwd=workspace, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def tags_under(client, prefix):
    return sorted(listed_tags(client, prefix))  # one listing request: other lanes remove images meanwhile


@pytest.fixture(scope="module")
def env(tmp_path_factory, docker_client, standin_image):
    """examples/acme copied, packed (filter @acme*/*), a dev and a backend base (1.0.0)."""
    work = tmp_path_factory.mktemp("acme")
    state = Env()
    state.client, state.standin, state.work = docker_client, standin_image, str(work)
    state.run = packed_workspace.runner()
    state.prefix = "bytelyst-test-%s" % uuid.uuid4().hex[:8]
    shutil.copytree(ACME, str(work / "acme"), ignore=IGNORE)
    state.root = str(work / "acme")
    state.packed = str(work / "packed")
    install(os.path.join(state.root, "workspace"))  # as a team does before packing (pnpm pack needs it)
    try:
        state.pack, raw = state.run("workspace_pack", {"workspace": os.path.join(state.root, "workspace"),
                                                       "output": state.packed, "filter": "@acme*/*"})
        assert not state.pack.get("failed"), raw[-3000:]
        many = [dict(ca_args(), manifest=state.packed, kind=kind, runtime_image=standin_image, version="1.0.0",
                     name="%s/acme-base-%s" % (state.prefix, kind), date_tag="false", labels=TEST_LABELS)
                for kind in ("dev", "backend")]
        results, raw = packed_workspace.run_many("base_image", many)
        for result in results:
            assert not result.get("failed"), raw[-4000:]
        state.bases = dict(zip(("dev", "backend"), results))
        yield state
    finally:
        remove_tags_under(docker_client, state.prefix + "/")


def product_args(env, product_dir, mode, name):
    args = dict(ca_args(), product_dir=product_dir, kind="backend", port=PORT, manifest=env.packed,
                name="%s/%s" % (env.prefix, name), labels=TEST_LABELS)
    if mode == "base":
        args.update(base_image=env.bases["backend"]["tags"][0], dev_base_image=env.bases["dev"]["tags"][0])
    else:
        args.update(mode="tarball", runtime_image=env.standin)
    return args


def run_in(env, image, argv, workdir="/app"):
    out = env.client.containers.run(image, argv, entrypoint=[], working_dir=workdir, remove=True,
                                    network_disabled=True, labels=TEST_LABELS)
    return out.decode("utf-8")


def installed_version(env, image, package, workdir):
    script = "console.log(require(%r).version)" % ("%s/package.json" % package)
    return run_in(env, image, ["node", "-e", script], workdir).strip()


def test_manifest_records_both_scopes_the_filter_and_the_lockfile(env):
    manifest = json.load(open(os.path.join(env.packed, "bytelyst-manifest.json")))
    assert manifest["filter"] == "@acme*/*"
    assert sorted(manifest["packages"]) == sorted(SHARED)
    assert manifest["order"].index("@acme/errors") < manifest["order"].index("@acme/util") < \
        manifest["order"].index("@acme/store") < manifest["order"].index("@acme/service")
    assert manifest["packages"]["@acme/service"]["dir"] == "packages/core/service"
    assert sorted(manifest["lockfile"]["packages"]) == ["is-number@7.0.0", "ms@2.0.0"]


def test_bases_provide_every_scope_at_the_lockfile_versions(env):
    for kind, result in env.bases.items():
        assert sorted(result["packages"]) == sorted(SHARED), kind
        image = env.client.images.get(result["image_id"])
        provides = json.loads(image.attrs["Config"]["Labels"]["dev.bytelyst.base.provides"])
        assert provides["@acme-ui/widgets"] == "0.1.0" and provides["@acme/service"] == "0.3.0"
        # the workspace lockfile's ms, not the registry's newest 2.x
        assert result["third_party"]["ms"] == "2.0.0"
        assert installed_version(env, result["image_id"], "ms", "/app") == "2.0.0"
    # the executable of @acme/service runs through the chain in the dev base
    out = run_in(env, env.bases["dev"]["image_id"], ["/app/node_modules/.bin/acme-service"])
    assert [item["package"] for item in json.loads(out)] == CHAIN


@pytest.fixture(scope="module")
def products(env):
    """The shop backend built in base mode and in tarball mode (one Ansible start-up)."""
    shop = os.path.join(env.root, "products", "shop")
    many = [product_args(env, shop, "base", "shop-backend"), product_args(env, shop, "tarball", "shop-backend-tb")]
    results, raw = packed_workspace.run_many("product_image", many)
    for result in results:
        assert not result.get("failed"), raw[-4000:]
    return dict(zip(("base", "tarball"), results))


@pytest.mark.parametrize("mode", ["base", "tarball"])
def test_product_answers_through_the_whole_chain(env, products, mode):
    result = products[mode]
    image = env.client.images.get(result["image_id"])
    labels = image.attrs["Config"]["Labels"]
    assert (labels["dev.bytelyst.mode"], labels["dev.bytelyst.product"]) == (mode, "shop")
    assert image.attrs["Config"]["User"] == "node"
    answer = image_contents.serve(env.client, image.id, PORT, "/health")
    health = json.loads(answer["body"])
    assert (health["status"], health["service"], health["version"]) == ("ok", "shop-backend", "1.0.0")
    assert [item["package"] for item in health["chain"]] == CHAIN
    assert [item["format"] for item in health["chain"]] == ["esm", "esm", "esm", "cjs"]
    assert health["chain"][2]["ms"] == "2.0.0" and health["badge"] == "[items: 3]"
    # the product's lockfile version of bytes, not the registry's newest 3.x
    assert health["bytes"] == "3.0.0" and result["plan"]["locked"]["bytes"] == ["3.0.0"]
    # in tarball mode the shared packages' third-party dependencies are installed at the workspace's versions
    assert result["plan"]["locked"] == ({"bytes": ["3.0.0"]} if mode == "base" else
                                        {"bytes": ["3.0.0"], "is-number": ["7.0.0"], "ms": ["2.0.0"]})
    assert all(p["uid"] == 1000 for p in answer["procs"])


def test_a_product_range_the_workspace_cannot_satisfy_is_refused_before_any_build(env, tmp_path):
    shop = os.path.join(str(tmp_path), "shop")
    shutil.copytree(os.path.join(env.root, "products", "shop"), shop)
    edit_json(os.path.join(shop, "backend", "package.json"),
              lambda data: data["dependencies"].update({"@acme-ui/widgets": "^0.2.0"}))
    before = tags_under(env.client, env.prefix)
    many = [product_args(env, shop, "base", "shop-refused"), product_args(env, shop, "tarball", "shop-refused-tb")]
    results, raw = packed_workspace.run_many("product_image", many)
    for result in results:
        assert result.get("failed"), raw[-2000:]
        assert "@acme-ui/widgets ^0.2.0" in result["msg"] and "0.1.0" in result["msg"], result["msg"]
        assert "plan" not in result
    assert tags_under(env.client, env.prefix) == before


def test_a_lockfile_that_disagrees_with_package_json_is_refused(env, tmp_path):
    shop = os.path.join(str(tmp_path), "shop")
    shutil.copytree(os.path.join(env.root, "products", "shop"), shop)
    edit_json(os.path.join(shop, "backend", "package.json"),
              lambda data: data["dependencies"].update({"bytes": "^3.1.0"}))
    before = tags_under(env.client, env.prefix)
    result, raw = env.run("product_image", product_args(env, shop, "base", "shop-stale-lock"))
    assert result.get("failed"), raw[-2000:]
    assert "The lockfile does not match" in result["msg"], result["msg"]
    assert "bytes: package.json asks ^3.1.0, the lockfile was written for ^3.0.0" in result["msg"]
    assert tags_under(env.client, env.prefix) == before


def test_a_workspace_lockfile_that_disagrees_is_refused_at_pack_time(env, tmp_path):
    workspace = os.path.join(str(tmp_path), "workspace")
    shutil.copytree(os.path.join(env.root, "workspace"), workspace, symlinks=True)
    edit_json(os.path.join(workspace, "packages", "core", "util", "package.json"),
              lambda data: data["dependencies"].update({"ms": "^2.1.0"}))
    output = os.path.join(str(tmp_path), "packed")
    result, raw = env.run("workspace_pack", {"workspace": workspace, "output": output, "filter": "@acme*/*"})
    assert result.get("failed"), raw[-2000:]
    assert "ms: package.json asks ^2.1.0, the lockfile was written for ^2.0.0" in result["msg"], result["msg"]
    assert not os.path.exists(output)


def test_a_base_whose_lockfile_versions_cannot_be_installed_fails_naming_the_package(env, tmp_path):
    """The build-time guard: a manifest whose lockfile holds an ms that ^2.0.0 does not accept
    makes pnpm resolve another one; the build fails naming ms, nothing is tagged."""
    packed = os.path.join(str(tmp_path), "packed")
    shutil.copytree(env.packed, packed)
    path = os.path.join(packed, "bytelyst-manifest.json")

    def stale(data):
        lock = data["lockfile"]
        lock["packages"]["ms@1.0.0"] = lock["packages"].pop("ms@2.0.0")
        lock["snapshots"]["ms@1.0.0"] = lock["snapshots"].pop("ms@2.0.0")
    edit_json(path, stale)
    before = tags_under(env.client, env.prefix)
    result, raw = env.run("base_image", dict(ca_args(), manifest=packed, kind="backend", version="1.0.1",
                                             runtime_image=env.standin, date_tag="false", labels=TEST_LABELS,
                                             name="%s/acme-base-stale" % env.prefix, packages=["@acme/util"]))
    assert result.get("failed"), raw[-2000:]
    assert "ERR_BYTELYST_LOCKFILE" in result["msg"] and "ms 2.1.3 (the lockfile has 1.0.0)" in result["msg"], \
        result["msg"]
    assert tags_under(env.client, env.prefix) == before
