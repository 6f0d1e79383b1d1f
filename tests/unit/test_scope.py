"""Unit tests of the shared packages' scope (_scope.py) and of every place that used to know
only `@bytelyst/`: compatibility requirements, product rewrites, base package.json and
product planning, on a workspace of two other scopes (`@acme/*`, `@acme-ui/*`)."""

import json
import os
import shutil

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils import _base_image, _compat, _tarball_manifest, _product
from ansible_collections.bytelyst.deploy.plugins.module_utils import _product_image
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._scope import Shared, scope_of
from fakes.engine import FakeClient, FakeImage

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")
SHOP = os.path.join(EXAMPLES, "acme", "products", "shop")


def entry(name, version, internal=None, external=None, peers=None):
    tarball = "%s-%s.tgz" % (name.lstrip("@").replace("/", "-"), version)
    return {"name": name, "version": version, "dir": "packages/x", "tarball": tarball, "sha256": None,
            "fingerprint": "f", "targets": ["backend", "web"],
            "dependencies": {"internal": internal or {}, "external": external or {}},
            "peer_dependencies": peers or {}, "dev_dependencies": {}}


@pytest.fixture
def manifest(tmp_path):
    packages = {
        "@acme/errors": entry("@acme/errors", "1.0.0"),
        "@acme/util": entry("@acme/util", "1.1.0", {"@acme/errors": "workspace:^"}, {"ms": "^2.0.0"}),
        "@acme/store": entry("@acme/store", "2.0.0", {"@acme/util": "workspace:~"}),
        "@acme/service": entry("@acme/service", "0.3.0", {"@acme/store": "workspace:2.0.0"},
                               peers={"@acme/errors": "^1.0.0"}),
        "@acme-ui/widgets": entry("@acme-ui/widgets", "0.1.0", external={"is-number": "7.0.0"},
                                  peers={"@acme/errors": "^1.0.0", "left-pad": "^1.3.0"}),
        "tools": entry("tools", "0.0.1"),
    }
    order = ["@acme/errors", "@acme/util", "@acme/store", "@acme/service", "@acme-ui/widgets", "tools"]
    for data in packages.values():
        (tmp_path / data["tarball"]).write_bytes(data["name"].encode())
        data["sha256"] = _tarball_manifest.sha256_file(str(tmp_path / data["tarball"]))
    _tarball_manifest.write(str(tmp_path), packages, order, "@acme*/*")
    return _tarball_manifest.load(str(tmp_path))


def test_shared_are_the_manifest_packages_and_their_scopes(manifest):
    shared = Shared.of_manifest(manifest)
    assert "@acme/errors" in shared and "@acme-ui/widgets" in shared and "tools" in shared
    assert "@acme/not-packed-yet" in shared  # a scope of the workspace is the workspace's
    assert "@bytelyst/config" not in shared and "tool" not in shared and "ms" not in shared
    assert "@acme" not in shared  # a bare scope name is no package
    assert shared.describe() == "@acme/*, @acme-ui/*, tools"
    assert scope_of("@acme-ui/widgets") == "@acme-ui" and scope_of("ms") is None
    assert not Shared() and Shared().describe() == "none"
    assert "@acme/x" in Shared().union({"@acme/errors": "1.0.0"})


def test_requirements_and_third_party_follow_the_workspace_scopes(manifest):
    package = {"dependencies": {"@acme/service": "workspace:^", "@acme-ui/widgets": "workspace:*",
                                "@bytelyst/config": "^2.0.0", "bytes": "^3.0.0", "tools": "0.0.1"}}
    shared = Shared.of_manifest(manifest)
    versions = dict((n, e["version"]) for n, e in manifest["packages"].items())
    assert _compat.shared_requirements(package, shared, versions) == [
        ("@acme-ui/widgets", "workspace:*", "*"), ("@acme/service", "workspace:^", "^0.3.0"),
        ("tools", "0.0.1", "0.0.1")]
    # another team's scope is a third-party dependency here
    assert _compat.third_party_ranges(package, ("dependencies",), shared) == {
        "@bytelyst/config": "^2.0.0", "bytes": "^3.0.0"}


def test_product_rewrites_honour_any_scope(manifest):
    shared = Shared.of_manifest(manifest)
    package = {"name": "shop-backend", "dependencies": {
        "@acme/service": "workspace:^", "@acme-ui/widgets": "workspace:*", "bytes": "^3.0.0"}}
    assert _product.rewrite_for_base(package, set(), shared)["dependencies"] == {"bytes": "^3.0.0"}
    vendor = {"@acme/service": "acme-service-0.3.0.tgz", "@acme-ui/widgets": "acme-ui-widgets-0.1.0.tgz"}
    out = _product.rewrite_for_tarball(package, vendor, shared)
    assert out["dependencies"] == {"@acme-ui/widgets": "file:./vendor/acme-ui-widgets-0.1.0.tgz",
                                   "@acme/service": "file:./vendor/acme-service-0.3.0.tgz", "bytes": "^3.0.0"}
    assert sorted(out["pnpm"]["overrides"]) == ["@acme-ui/widgets", "@acme/service"]
    del vendor["@acme-ui/widgets"]
    with pytest.raises(DeployError, match="@acme-ui/widgets"):
        _product.rewrite_for_tarball(package, vendor, shared)


def test_tarball_closure_crosses_scopes(manifest):
    assert _product.tarball_closure(manifest, ["@acme/service", "@acme-ui/widgets"]) == [
        "@acme/errors", "@acme/util", "@acme/store", "@acme/service", "@acme-ui/widgets"]


def test_base_package_json_installs_no_shared_peer_from_a_registry(manifest):
    names = _base_image.select_packages(manifest, "backend", ["@acme/service", "@acme-ui/widgets"])
    assert names == ["@acme/errors", "@acme/util", "@acme/store", "@acme/service", "@acme-ui/widgets"]
    data = json.loads(_base_image.package_json(manifest, "backend", names, "1.0.0"))
    # the shared peer comes from its tarball; the third-party peer from the registry
    assert data["dependencies"]["@acme/errors"] == "file:./tarballs/acme-errors-1.0.0.tgz"
    assert data["dependencies"]["left-pad"] == "^1.3.0"
    assert sorted(data["pnpm"]["overrides"]) == sorted(names)


def test_provides_script_tells_shared_packages_by_the_overrides_not_by_a_scope():
    script = _base_image.PROVIDES_SCRIPT
    assert "@bytelyst" not in script and "overrides" in script


def compat(ref, payload, what, name=None):
    checks = [dict(c, ok=True, valid=True, version="1.0.0") for c in payload["checks"]]
    return {"version": "1.0.0"}, set(), checks


def plan_opts(product_dir, manifest, **change):
    data = dict(product_dir=product_dir, kind="backend", mode="tarball", base_image=None, dev_base_image=None,
                runtime_image="node:22-slim", manifest=manifest["path"], name=None, version=None, revision=None,
                registry=None, port=4030, health_path=None, promote=False, force=False, npm_token=None,
                ca_bundle=None, verify=True, verify_timeout=90, pnpm_version="10.6.5", labels={}, docker_cli=None,
                docker_host=None)
    data.update(change)
    return data


@pytest.fixture
def shop(tmp_path):
    target = tmp_path / "shop"
    shutil.copytree(SHOP, str(target), ignore=shutil.ignore_patterns("node_modules", "dist"))
    return str(target)


def test_tarball_mode_vendors_every_scope(shop, manifest):
    engine = FakeClient({"node:22-slim": FakeImage("sha256:runtime")})
    plan = _product_image.plan(plan_opts(shop, manifest), engine, compat, revision_of=lambda path: None)
    assert [os.path.basename(p) for p in plan.vendor_files] == [
        "acme-errors-1.0.0.tgz", "acme-util-1.1.0.tgz", "acme-store-2.0.0.tgz", "acme-service-0.3.0.tgz",
        "acme-ui-widgets-0.1.0.tgz"]
    assert "COPY vendor/ ./vendor/" in plan.dockerfile
    assert plan.runtime_package["dependencies"]["@acme/service"] == "file:./vendor/acme-service-0.3.0.tgz"


def test_tarball_mode_without_shared_dependencies_copies_no_vendor_folder(shop, manifest):
    path = os.path.join(shop, "backend", "package.json")
    with open(path) as handle:
        data = json.load(handle)
    data["dependencies"] = {"bytes": "^3.0.0"}
    with open(path, "w") as handle:
        json.dump(data, handle)
    engine = FakeClient({"node:22-slim": FakeImage("sha256:runtime")})
    plan = _product_image.plan(plan_opts(shop, manifest), engine, compat, revision_of=lambda path: None)
    assert plan.vendor_files == [] and "vendor" not in plan.dockerfile


def test_base_mode_without_manifest_takes_the_scopes_from_the_bases(shop):
    provides = json.dumps({"@acme/service": "0.3.0", "@acme-ui/widgets": "0.1.0", "@acme/errors": "1.0.0"})
    engine = FakeClient({"b:1": FakeImage("sha256:b", {"dev.bytelyst.base.provides": provides}),
                         "d:1": FakeImage("sha256:d", {"dev.bytelyst.base.provides": provides})})
    opts = dict(plan_opts(shop, {"path": None}), mode="base", manifest=None, base_image="b:1", dev_base_image="d:1")
    plan = _product_image.plan(opts, engine, compat, revision_of=lambda path: None)
    assert plan.runtime_package["dependencies"] == {"bytes": "^3.0.0"}
    assert [c["name"] for c in plan.compatibility if c["from"] == "packages"] == [
        "@acme-ui/widgets", "@acme/errors", "@acme/service"] * 2
