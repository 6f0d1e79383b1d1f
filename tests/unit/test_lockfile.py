"""Unit tests of the lockfile's versions (_lockfile.py): the importer check, the closure of
what a lockfile resolves, the seed written into builds, and the Dockerfile steps that use
them. The real installs are in tests/integration/test_any_monorepo.py."""

import json
import os
import shutil
import subprocess

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils import _base_image, _dockerfile, _lockfile
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._scope import Shared

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")
WORKSPACE_LOCK = os.path.join(EXAMPLES, "acme", "workspace", "pnpm-lock.yaml")
SHOP = os.path.join(EXAMPLES, "acme", "products", "shop")


def package(path):
    with open(path) as handle:
        return json.load(handle)


def test_importer_ids():
    assert _lockfile.importer_id("/w/pnpm-lock.yaml", "/w/backend") == "backend"
    assert _lockfile.importer_id("/w/backend/pnpm-lock.yaml", "/w/backend") == "."
    assert _lockfile.importer_id("/w/pnpm-lock.yaml", "/w/packages/core/util") == "packages/core/util"


def test_names_and_versions_of_keys():
    assert _lockfile.name_of("@acme/x@1.0.0(react@19.1.1)") == "@acme/x"
    assert _lockfile.version_of("@acme/x@1.0.0(react@19.1.1)") == "1.0.0"
    assert (_lockfile.name_of("ms@2.0.0"), _lockfile.version_of("ms@2.0.0")) == ("ms", "2.0.0")


def test_the_samples_lockfiles_match_their_package_json():
    lock = _lockfile.load(WORKSPACE_LOCK)
    util = package(os.path.join(EXAMPLES, "acme", "workspace", "packages", "core", "util", "package.json"))
    _lockfile.check_importer(lock, "packages/core/util", util, Shared(["@acme/errors"]), "util")
    shop = _lockfile.load(os.path.join(SHOP, "pnpm-lock.yaml"))
    backend = package(os.path.join(SHOP, "backend", "package.json"))
    _lockfile.check_importer(shop, "backend", backend, Shared(["@acme/errors"]), "shop")


@pytest.mark.parametrize("change,message", [
    ({"ms": "^2.1.0"}, "ms: package.json asks ^2.1.0, the lockfile was written for ^2.0.0"),
    ({"left-pad": "^1.3.0"}, "left-pad ^1.3.0 is in package.json but not in the lockfile"),
])
def test_a_package_json_the_lockfile_was_not_written_for_is_refused(change, message):
    lock = _lockfile.load(WORKSPACE_LOCK)
    util = package(os.path.join(EXAMPLES, "acme", "workspace", "packages", "core", "util", "package.json"))
    util["dependencies"].update(change)
    with pytest.raises(DeployError) as info:
        _lockfile.check_importer(lock, "packages/core/util", util, Shared(["@acme/errors"]), "util/package.json")
    assert message in str(info.value) and "util/package.json" in str(info.value)
    assert "pnpm install" in info.value.hint


def test_missing_importer_and_overrides():
    lock = {"importers": {"backend": {"dependencies": {"x": {"specifier": "1.0.0", "version": "1.0.0"}}}},
            "overrides": {"x": "1.0.0"}}
    # an override is what pnpm records as the specifier
    _lockfile.check_importer(lock, "backend", {"dependencies": {"x": "^0.9.0"}}, Shared(), "b")
    with pytest.raises(DeployError, match="no importer 'web'"):
        _lockfile.check_importer(lock, "web", {}, Shared(), "w")


def test_closure_follows_snapshots_and_skips_links():
    lock = {"lockfileVersion": "9.0", "importers": {
        "a": {"dependencies": {"x": {"specifier": "^1", "version": "1.1.0(p@2.0.0)"},
                               "@s/l": {"specifier": "workspace:*", "version": "link:../l"}}},
        "b": {"devDependencies": {"unrelated": {"specifier": "1", "version": "1.0.0"}}}},
        "packages": {"x@1.1.0": {"resolution": {"integrity": "i-x"}}, "y@3.0.0": {"resolution": {"integrity": "i-y"}},
                     "p@2.0.0": {"resolution": {"integrity": "i-p"}}, "unrelated@1.0.0": {}},
        "snapshots": {"x@1.1.0(p@2.0.0)": {"dependencies": {"y": "3.0.0", "p": "2.0.0"}}, "y@3.0.0": {},
                      "p@2.0.0": {}, "unrelated@1.0.0": {}}}
    out = _lockfile.closure(lock, ["a"])
    assert sorted(out["packages"]) == ["p@2.0.0", "x@1.1.0", "y@3.0.0"]
    assert sorted(out["snapshots"]) == ["p@2.0.0", "x@1.1.0(p@2.0.0)", "y@3.0.0"]
    assert _lockfile.locked_versions(out) == {"p": ["2.0.0"], "x": ["1.1.0"], "y": ["3.0.0"]}
    both = _lockfile.merge(out, _lockfile.closure(lock, ["b"]))
    assert "unrelated" in _lockfile.locked_versions(both) and _lockfile.merge(None, out) == out


def test_seed_is_json_with_the_installs_settings_and_no_importer():
    out = _lockfile.closure(_lockfile.load(WORKSPACE_LOCK), ["packages/core/util"])
    seed = json.loads(_lockfile.seed_text(out, auto_install_peers=False))
    assert seed["settings"] == {"autoInstallPeers": False, "excludeLinksFromLockfile": False}
    assert seed["importers"] == {".": {}} and list(seed["packages"]) == ["ms@2.0.0"]
    assert seed["lockfileVersion"] == "9.0"


def test_install_step_checks_the_installed_versions_only_with_a_lockfile():
    plain = _dockerfile.install_step(True, "1000", False)
    assert "bytelyst-locked" not in plain and "ERR_BYTELYST" not in plain
    checked = _dockerfile.install_step(True, "1000", False, lockfile=True)
    assert "--mount=type=bind,source=bytelyst/locked.json,target=/tmp/bytelyst-locked.json" in checked
    assert checked.rstrip().endswith("/tmp/bytelyst-locked.json node_modules")


def test_base_dockerfile_copies_the_seed_and_checks_after_the_install():
    plain = _base_image.dockerfile("node:22-slim", "backend", "1.0.0", "10.6.5")
    assert "COPY package.json .npmrc /app/" in plain and "locked" not in plain
    text = _base_image.dockerfile("node:22-slim", "backend", "1.0.0", "10.6.5", lockfile=True)
    assert "COPY package.json .npmrc pnpm-lock.yaml /app/" in text
    assert "source=locked.json,target=/tmp/bytelyst-locked.json" in text
    assert text.index("pnpm install") < text.index("/tmp/bytelyst-locked.json /app/node_modules")


@pytest.mark.skipif(shutil.which("node") is None, reason="node not on PATH")
def test_lock_check_script_names_a_package_at_a_version_the_lockfile_does_not_hold(tmp_path):
    for name, version in (("ms", "2.1.3"), ("@s/a", "1.0.0"), ("@s/a/node_modules/ms", "2.0.0")):
        folder = tmp_path / "node_modules" / name
        folder.mkdir(parents=True)
        (folder / "package.json").write_text(json.dumps({"name": name.rsplit("/node_modules/", maxsplit=1)[-1],
                                                         "version": version}))
    locked = tmp_path / "locked.json"
    locked.write_text(json.dumps({"ms": ["2.0.0"]}))
    proc = subprocess.run(["node", "-e", _dockerfile.LOCK_CHECK_SCRIPT, str(locked), str(tmp_path / "node_modules")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "ERR_BYTELYST_LOCKFILE" in proc.stderr and "ms 2.1.3 (the lockfile has 2.0.0)" in proc.stderr
    assert "ms 2.0.0" not in proc.stderr  # the nested ms is the locked one
    locked.write_text(json.dumps({"ms": ["2.0.0", "2.1.3"]}))
    proc = subprocess.run(["node", "-e", _dockerfile.LOCK_CHECK_SCRIPT, str(locked), str(tmp_path / "node_modules")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
