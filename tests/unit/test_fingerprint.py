import hashlib
import os

from ansible_collections.bytelyst.deploy.plugins.module_utils import _fingerprint as fp

LOCK = {
    "lockfileVersion": "9.0",
    "settings": {"autoInstallPeers": True},
    "importers": {
        ".": {"devDependencies": {"typescript": {"specifier": "5.9.3", "version": "5.9.3"}}},
        "packages/auth": {
            "dependencies": {
                "@b/config": {"specifier": "workspace:^", "version": "link:../config"},
                "jose": {"specifier": "^5.9.6", "version": "5.10.0"},
                "ui-kit": {"specifier": "^1", "version": "1.0.0(react@19.1.1)"},
                "strw": {"specifier": "npm:string-width@4", "version": "string-width@4.2.3"},
            },
        },
        "packages/errors": {"devDependencies": {"typescript": {"specifier": "5.9.3", "version": "5.9.3"}}},
    },
    "packages": {
        "jose@5.10.0": {"resolution": {"integrity": "sha512-jose"}},
        "ui-kit@1.0.0": {"resolution": {"integrity": "sha512-ui"}},
        "react@19.1.1": {"resolution": {"integrity": "sha512-react"}},
        "string-width@4.2.3": {"resolution": {"integrity": "sha512-sw"}},
        "typescript@5.9.3": {"resolution": {"integrity": "sha512-ts"}},
    },
    "snapshots": {
        "jose@5.10.0": {},
        "ui-kit@1.0.0(react@19.1.1)": {"dependencies": {"react": "19.1.1"}},
        "react@19.1.1": {},
        "string-width@4.2.3": {},
        "typescript@5.9.3": {},
    },
}


def test_digests(tmp_path):
    (tmp_path / "f").write_bytes(b"abc")
    assert fp.digest_file(str(tmp_path / "f")) == hashlib.sha256(b"abc").hexdigest()
    assert fp.digest_json({"b": 1, "a": [1, 2]}) == fp.digest_json({"a": [1, 2], "b": 1})
    assert fp.digest_json({"a": 1}) != fp.digest_json({"a": 2})


def test_tree_digests_skip_node_modules_and_nested_packages(tmp_path):
    for rel in ("src/index.ts", "package.json", "dist/index.js", "node_modules/x/index.js", "sub/pkg/package.json",
                ".DS_Store"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)
    os.symlink("src", str(tmp_path / "link"))
    digests = fp.tree_digests(str(tmp_path), skip_paths=["sub/pkg"])
    assert sorted(digests) == ["dist/index.js", "link", "package.json", "src/index.ts"]
    assert digests["link"] == fp.digest_bytes(b"symlink:src")


def test_glob_digests_only_matching_files_in_root(tmp_path):
    for name in ("tsconfig.base.json", "tsconfig.json", "README.md", ".npmrc"):
        (tmp_path / name).write_text(name)
    (tmp_path / "tsconfig.dir.json").mkdir()
    assert sorted(fp.glob_digests(str(tmp_path), ["tsconfig*.json", ".npmrc"])) == [
        ".npmrc", "tsconfig.base.json", "tsconfig.json"]
    assert fp.glob_digests(str(tmp_path / "missing"), ["*"]) == {}


def test_diff_digests():
    assert fp.diff_digests({"a": "1", "b": "2", "c": "3"}, {"a": "1", "b": "x", "d": "4"}) == (["d"], ["c"], ["b"])
    assert fp.diff_digests(None, {"a": "1"}) == (["a"], [], [])


def test_lockfile_entries_follow_snapshots_skip_links_handle_peers_and_aliases():
    entries = fp.lockfile_entries(LOCK, "packages/auth")
    assert sorted(entries["reached"]) == ["jose@5.10.0", "react@19.1.1", "string-width@4.2.3", "ui-kit@1.0.0(react@19.1.1)"]
    assert entries["reached"]["ui-kit@1.0.0(react@19.1.1)"]["package"] == {"resolution": {"integrity": "sha512-ui"}}
    assert entries["importer"] is LOCK["importers"]["packages/auth"]
    assert fp.lockfile_entries(None, "packages/auth") is None
    assert fp.lockfile_entries(LOCK, "packages/none") == {"importer": None, "reached": {}}


def test_lockfile_entries_change_only_for_the_packages_that_use_them():
    import copy
    lock = copy.deepcopy(LOCK)
    lock["packages"]["react@19.1.1"]["resolution"]["integrity"] = "sha512-other"
    assert fp.digest_json(fp.lockfile_entries(lock, "packages/auth")) != fp.digest_json(fp.lockfile_entries(LOCK, "packages/auth"))
    assert fp.digest_json(fp.lockfile_entries(lock, "packages/errors")) == fp.digest_json(fp.lockfile_entries(LOCK, "packages/errors"))


def test_shared_inputs_cover_root_importer_and_settings(tmp_path):
    import copy
    lock = copy.deepcopy(LOCK)
    base = fp.shared_inputs(str(tmp_path), [], LOCK)
    lock["importers"]["."]["devDependencies"]["typescript"]["version"] = "5.9.4"
    assert fp.shared_inputs(str(tmp_path), [], lock)["lockfile"] != base["lockfile"]
    lock = copy.deepcopy(LOCK)
    lock["settings"]["autoInstallPeers"] = False
    assert fp.shared_inputs(str(tmp_path), [], lock)["lockfile"] != base["lockfile"]


def inputs(files=None, lock=None, shared_files=None, tool=None, deps=None):
    shared = {"files": shared_files or {"tsconfig.base.json": "t1"}, "lockfile": "L"}
    return fp.package_inputs(files or {"src/index.ts": "s1", "package.json": "p1"}, lock or {"importer": {}},
                             shared, tool or {"pnpm": "10.6.5", "build": True}, deps or {"@b/errors": "e1"})


def test_fingerprint_changes_with_every_input():
    base = fp.fingerprint(inputs())
    assert fp.fingerprint(inputs()) == base
    for changed in (inputs(files={"src/index.ts": "s2", "package.json": "p1"}), inputs(lock={"importer": {"x": 1}}),
                    inputs(shared_files={"tsconfig.base.json": "t2"}), inputs(tool={"pnpm": "10.7.0", "build": True}),
                    inputs(deps={"@b/errors": "e2"})):
        assert fp.fingerprint(changed) != base


def test_reasons():
    assert fp.reasons(None, inputs()) == ["new"]
    assert fp.reasons(inputs(), inputs()) == []
    assert fp.reasons(inputs(), inputs(files={"src/index.ts": "s2", "package.json": "p1", "src/new.ts": "n"})) == [
        "source changed: src/index.ts", "file added: src/new.ts"]
    assert fp.reasons(inputs(), inputs(files={"src/index.ts": "s1"})) == ["file removed: package.json"]
    assert fp.reasons(inputs(), inputs(deps={"@b/errors": "e2", "@b/log": "l"})) == [
        "dependency @b/errors changed", "dependency @b/log added"]
    assert fp.reasons(inputs(), inputs(lock={"importer": {"x": 1}})) == ["lockfile entries changed"]
    assert fp.reasons(inputs(), inputs(shared_files={"tsconfig.base.json": "t2"})) == [
        "shared input changed: tsconfig.base.json"]
    assert fp.reasons(inputs(), inputs(tool={"pnpm": "10.7.0", "build": True})) == ["pnpm changed: 10.6.5 -> 10.7.0"]


def test_reasons_list_at_most_a_few_files():
    old = inputs(files=dict(("src/f%02d.ts" % i, "a") for i in range(9)))
    new = inputs(files=dict(("src/f%02d.ts" % i, "b") for i in range(9)))
    out = fp.reasons(old, new)
    assert len(out) == fp.MAX_LISTED + 1
    assert out[-1] == "source changed: ... and 4 more"
