"""Unit tests of bases sized to the products (_base_sizing.py and the base_sizing filters), on the
sample's shared packages (examples/common_plat) and products (examples/products)."""

import base64
import json
import os
import shutil
import subprocess

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.bytelyst.deploy.plugins.filter.base_sizing import FilterModule
from ansible_collections.bytelyst.deploy.plugins.module_utils import _base_sizing, _compat
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._scope import Shared

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "examples")
PRODUCTS_ROOT = os.path.join(ROOT, "products")
SERVICES = {"backend": {"kind": "backend"}, "web": {"kind": "web"}}
PRODUCTS = {"notes": {"services": SERVICES}, "clock": {"services": SERVICES}, "trading": {"services": SERVICES}}

filters = FilterModule().filters()


def read(path):
    with open(path) as handle:
        return json.load(handle)


def sample_manifest():
    """What workspace_pack records of the sample's packages (name, version, kinds, internal deps)."""
    packages = {}
    top = os.path.join(ROOT, "common_plat", "packages")
    for folder in sorted(os.listdir(top)):
        pkg = read(os.path.join(top, folder, "package.json"))
        internal = dict((n, s) for n, s in (pkg.get("dependencies") or {}).items() if n.startswith("@bytelyst/"))
        packages[pkg["name"]] = {"name": pkg["name"], "version": pkg["version"],
                                 "kinds": pkg["bytelyst"]["targets"], "dependencies": {"internal": internal}}
    return {"format": 1, "packages": packages, "path": "tarballs/bytelyst-manifest.json"}


def package_jsons(selected, products=None):
    files = _base_sizing.package_files(products or PRODUCTS, selected, PRODUCTS_ROOT)
    return [dict(f, package=read(f["path"])) for f in files]


def slurped(entry):
    """What ansible.builtin.slurp returns for a file (the loop item kept, as Ansible does)."""
    with open(entry["path"], "rb") as handle:
        return {"item": entry, "content": base64.b64encode(handle.read()).decode(), "source": entry["path"]}


def test_package_files_name_each_kind_of_each_selected_product_with_dir_and_kind_dirs():
    products = dict(PRODUCTS, shop={"dir": "apps/shop", "kind_dirs": {"backend": "api"},
                                    "services": {"api": {"kind": "backend"}, "worker": {"kind": "backend"}}})
    files = _base_sizing.package_files(products, ["shop", "clock", "clock"], "/srv/products")
    assert files == [
        {"product": "clock", "kind": "backend", "path": "/srv/products/clock/backend/package.json"},
        {"product": "clock", "kind": "web", "path": "/srv/products/clock/web/package.json"},
        {"product": "shop", "kind": "backend", "path": "/srv/products/apps/shop/api/package.json"}]


def test_an_unknown_product_or_kind_is_named():
    with pytest.raises(AnsibleFilterError, match="The selected product shop is not one of bytelyst_products "
                                                 r"\(clock, notes, trading\)"):
        filters["base_sizing_files"](PRODUCTS, ["clock", "shop"], "/srv")
    with pytest.raises(DeployError, match="has kind 'worker'"):
        _base_sizing.package_files({"x": {"services": {"w": {"kind": "worker"}}}}, ["x"], "/srv")


def test_one_product_sizes_each_kind_to_its_shared_closure_and_says_what_is_left_out():
    sized = _base_sizing.size(sample_manifest(), package_jsons(["clock"]))
    # clock's web names config and format; config needs errors (its internal closure)
    assert sized["packages"] == {
        "backend": ["@bytelyst/config", "@bytelyst/errors", "@bytelyst/format", "@bytelyst/http", "@bytelyst/logger"],
        "web": ["@bytelyst/config", "@bytelyst/errors", "@bytelyst/format"]}
    assert sized["left_out"] == {"backend": ["@bytelyst/auth"], "web": ["@bytelyst/logger", "@bytelyst/ui"]}
    assert sized["unsized"] == [] and "dev" not in sized["packages"]


def test_the_union_over_products_per_kind():
    sized = _base_sizing.size(sample_manifest(), package_jsons(["clock", "notes", "trading"]))
    assert sized["left_out"] == {"backend": [], "web": ["@bytelyst/logger"]}  # no web uses logger
    assert "@bytelyst/ui" in sized["packages"]["web"] and "@bytelyst/auth" in sized["packages"]["backend"]


def test_a_product_without_shared_dependencies_adds_nothing_and_alone_leaves_its_kind_unsized(tmp_path):
    for kind in ("backend", "web"):
        (tmp_path / "plain" / kind).mkdir(parents=True)
        text = '{"name": "plain-%s", "dependencies": {"zod": "^3"}}' % kind
        (tmp_path / "plain" / kind / "package.json").write_text(text)
    products = dict(PRODUCTS, plain={"services": SERVICES})
    files = _base_sizing.package_files(products, ["plain"], str(tmp_path))
    alone = _base_sizing.size(sample_manifest(), [dict(f, package=read(f["path"])) for f in files])
    assert alone == {"packages": {}, "left_out": {}, "unsized": ["backend", "web"]}  # the role's defaults apply
    web_only = [dict(f, package=read(f["path"])) for f in files] + [
        e for e in package_jsons(["notes"]) if e["kind"] == "web"]
    both = _base_sizing.size(sample_manifest(), web_only)
    assert both["packages"] == {"web": ["@bytelyst/format", "@bytelyst/ui"]} and both["unsized"] == ["backend"]


def test_the_filter_reads_slurped_files_and_names_an_unknown_product_dir():
    manifest = sample_manifest()
    manifest_slurp = {"content": base64.b64encode(json.dumps(manifest).encode()).decode(), "source": manifest["path"]}
    files = filters["base_sizing_files"](PRODUCTS, ["clock"], PRODUCTS_ROOT)
    got = filters["base_sizing"](manifest_slurp, [slurped(f) for f in files])
    assert got["left_out"]["backend"] == ["@bytelyst/auth"]
    # a product dir that is not there: slurp failed (failed_when false), the filter names the file
    missing = filters["base_sizing_files"](dict(PRODUCTS, gone={"services": SERVICES}), ["gone"], PRODUCTS_ROOT)
    failed = [{"item": f, "failed": True, "msg": "file not found: %s" % f["path"]} for f in missing]
    with pytest.raises(AnsibleFilterError) as err:
        filters["base_sizing"](manifest_slurp, failed)
    text = str(err.value)
    assert "The package.json of the product gone's backend" in text and "gone/backend/package.json" in text
    assert "check bytelyst_products_root and the product's dir and kind_dirs" in text and "file not found" in text
    with pytest.raises(AnsibleFilterError, match="The tarball manifest .* could not be read: file not found"):
        filters["base_sizing"]({"failed": True, "msg": "file not found", "source": "t/m.json"}, [])


def test_a_product_outside_the_sizing_fails_the_compatibility_check_on_the_sized_base():
    """A base sized to clock lacks @bytelyst/auth: trading's backend, built on it, is refused by the
    compatibility check (the in-image script, run by the host's node) with its message, before any build."""
    node = shutil.which("node")
    semver_js = os.environ.get("BYTELYST_SEMVER_JS")
    if not node or not semver_js:
        pytest.skip("needs node and BYTELYST_SEMVER_JS (source env.sh)")
    manifest = sample_manifest()
    versions = dict((n, e["version"]) for n, e in manifest["packages"].items())
    trading = read(os.path.join(PRODUCTS_ROOT, "trading", "backend", "package.json"))
    requirements = _compat.shared_requirements(trading, Shared.of_manifest(manifest), versions)

    def check(base_packages):
        provides = {"packages": dict((n, versions[n]) for n in base_packages), "third_party": {}}
        proc = subprocess.run([node, "-e", _compat.CHECK_SCRIPT, json.dumps(_compat.check_payload(requirements,
                              provides=provides))], capture_output=True, text=True, check=True,
                              env=dict(os.environ, BYTELYST_SEMVER_JS=semver_js))
        return _compat.verdict(_compat.parse_answer(proc.stdout, "base"), "bytelyst-common-base-backend:1.0.0")

    check(versions)  # the whole base satisfies trading
    sized = _base_sizing.size(manifest, package_jsons(["clock"]))["packages"]["backend"]
    with pytest.raises(DeployError) as err:
        check(sized)
    text = str(err.value)
    assert "@bytelyst/auth" in text and "no version of it" in text and "bytelyst-common-base-backend:1.0.0" in text
    assert [c["name"] for c in err.value.result()["incompatible"]] == ["@bytelyst/auth"]
