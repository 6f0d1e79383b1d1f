"""The core of workspace_pack (_workspace_pack.py): what to rebuild and why, and the atomic output
(a tiny workspace on disk, pnpm faked by a command runner; no Node, no pnpm)."""

import json
import os
import threading

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils import _tarball_manifest
from ansible_collections.bytelyst.deploy.plugins.module_utils import _workspace_pack
from ansible_collections.bytelyst.deploy.plugins.module_utils import _workspace as ws
from ansible_collections.bytelyst.deploy.plugins.module_utils._command import Result
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from fakes.commands import FakePnpm


def package(root, rel, name, deps=(), build=True, version="1.0.0"):
    path = root / rel
    (path / "src").mkdir(parents=True)
    data = {"name": name, "version": version, "dependencies": dict((d, "workspace:^") for d in deps)}
    if build:
        data["scripts"] = {"build": "tsc"}
    (path / "package.json").write_text(json.dumps(data))
    (path / "src" / "index.js").write_text("module.exports = %r;\n" % name)


@pytest.fixture
def space(tmp_path):
    """errors <- config <- auth; format alone (no build script); a tool outside the filter."""
    root = tmp_path / "ws"
    root.mkdir()
    (root / "pnpm-workspace.yaml").write_text("packages:\n  - 'packages/*'\n  - 'tools/*'\n")
    (root / "tsconfig.base.json").write_text("{}\n")
    package(root, "packages/errors", "@s/errors")
    package(root, "packages/config", "@s/config", deps=["@s/errors"])
    package(root, "packages/auth", "@s/auth", deps=["@s/config", "@s/errors"])
    package(root, "packages/format", "@s/format", build=False)
    package(root, "tools/gen", "gen")
    return root


def pack(space, out, pnpm, **kw):
    kw.setdefault("package_filter", "@s/*")
    return _workspace_pack.pack_workspace(str(space), str(out), pnpm="pnpm", runner=pnpm, **kw)


def reasons(result):
    return dict((p["name"], p["reasons"]) for p in result["packages"])


def test_cold_run_builds_and_packs_everything_in_dependency_order(space, tmp_path):
    pnpm, out = FakePnpm(), tmp_path / "out"
    result = pack(space, out, pnpm, jobs=1)
    assert result["changed"] and result["pnpm_version"] == "10.6.5"
    assert result["order"] == ["@s/errors", "@s/config", "@s/auth", "@s/format"]
    assert result["rebuilt"] == result["order"]
    assert set(map(tuple, reasons(result).values())) == {("new",)}
    assert pnpm.calls[0] == "--version"
    # One pnpm start builds the three packages with a build script (format has none), in dependency
    # order; then every package is packed (several at once: in any order).
    assert pnpm.builds() == ["errors build", "config build", "auth build"]
    assert pnpm.actions()[3:] and all(c.endswith(" pack") for c in pnpm.actions()[3:])
    assert pnpm.packs() == ["auth pack", "config pack", "errors pack", "format pack"]
    recursive = pnpm.pnpm_starts()[0]
    assert recursive.cwd == str(space) and recursive.argv[-2:] == ["run", "build"]
    assert [a for a in recursive.argv if a.startswith("--filter=")] == [
        "--filter=@s/errors", "--filter=@s/config", "--filter=@s/auth", "--filter=@s/format"]
    assert "--workspace-concurrency=1" in recursive.argv
    assert len(pnpm.pnpm_starts()) == 1 + 4  # one build, four packs
    manifest = _tarball_manifest.load(str(out))
    assert manifest["order"] == result["order"] and manifest["filter"] == "@s/*"
    assert _tarball_manifest.verify(manifest)
    assert sorted(os.listdir(str(out))) == ["bytelyst-manifest.json", "s-auth-1.0.0.tgz", "s-config-1.0.0.tgz",
                                            "s-errors-1.0.0.tgz", "s-format-1.0.0.tgz"]
    auth = manifest["packages"]["@s/auth"]
    assert auth["dependencies"]["internal"] == {"@s/config": "workspace:^", "@s/errors": "workspace:^"}
    assert set(auth["inputs"]["dependencies"]) == {"@s/config", "@s/errors"}
    assert "dist/index.js" in auth["inputs"]["files"]  # fingerprinted after its build
    assert [p["sha256"] for p in result["packages"]] == [manifest["packages"][n]["sha256"] for n in result["order"]]
    assert "staging" not in " ".join(os.listdir(str(tmp_path)))


def test_nothing_changed_builds_nothing(space, tmp_path):
    out = tmp_path / "out"
    pack(space, out, FakePnpm())
    before = (out / "bytelyst-manifest.json").read_text()
    pnpm = FakePnpm()
    result = pack(space, out, pnpm)
    assert not result["changed"] and result["rebuilt"] == [] and result["removed"] == []
    assert pnpm.actions() == []
    assert all(p["reasons"] == [] and not p["rebuilt"] for p in result["packages"])
    assert (out / "bytelyst-manifest.json").read_text() == before


def test_a_changed_source_rebuilds_the_package_and_its_dependents_only(space, tmp_path):
    out = tmp_path / "out"
    pack(space, out, FakePnpm())
    kept_inode = os.stat(str(out / "s-format-1.0.0.tgz")).st_ino
    (space / "packages" / "config" / "src" / "index.js").write_text("module.exports = 'changed';\n")
    pnpm = FakePnpm()
    result = pack(space, out, pnpm)
    assert result["changed"] and result["rebuilt"] == ["@s/config", "@s/auth"]
    why = reasons(result)
    assert why["@s/config"] == ["source changed: src/index.js"]
    assert why["@s/auth"] == ["dependency @s/config changed"]
    assert why["@s/errors"] == [] and why["@s/format"] == []
    assert pnpm.builds() == ["config build", "auth build"] and pnpm.packs() == ["auth pack", "config pack"]
    assert os.stat(str(out / "s-format-1.0.0.tgz")).st_ino == kept_inode  # kept tarballs are hard links
    assert _tarball_manifest.verify(_tarball_manifest.load(str(out)))


def test_shared_inputs_and_tool_changes_rebuild_everything(space, tmp_path):
    out = tmp_path / "out"
    pack(space, out, FakePnpm())
    (space / "tsconfig.base.json").write_text('{"strict": true}\n')
    result = pack(space, out, FakePnpm(), check_mode=True)
    assert set(result["rebuilt"]) == {"@s/errors", "@s/config", "@s/auth", "@s/format"}
    assert "shared input changed: tsconfig.base.json" in reasons(result)["@s/errors"]
    pack(space, out, FakePnpm())
    result = pack(space, out, FakePnpm(version="10.7.0"), check_mode=True)
    assert reasons(result)["@s/format"] == ["pnpm changed: 10.6.5 -> 10.7.0"]
    result = pack(space, out, FakePnpm(), build=False, check_mode=True)
    assert "build changed: True -> False" in reasons(result)["@s/errors"]


def test_a_missing_or_altered_tarball_is_rebuilt(space, tmp_path):
    out = tmp_path / "out"
    pack(space, out, FakePnpm())
    (out / "s-errors-1.0.0.tgz").unlink()
    (out / "s-format-1.0.0.tgz").write_text("tampered")
    result = pack(space, out, FakePnpm(), check_mode=True)
    assert reasons(result)["@s/errors"] == ["tarball missing from the output directory"]
    assert reasons(result)["@s/format"] == ["tarball in the output directory does not match the manifest"]
    assert result["rebuilt"] == ["@s/errors", "@s/format"]  # a repack alone does not change the dependents' inputs
    pack(space, out, FakePnpm())
    assert _tarball_manifest.verify(_tarball_manifest.load(str(out)))


def test_check_mode_reports_and_touches_nothing(space, tmp_path):
    out = tmp_path / "out"
    pnpm = FakePnpm()
    result = pack(space, out, pnpm, check_mode=True, force=True)
    assert result["changed"] and not out.exists()
    assert pnpm.actions() == [] and not (space / "packages" / "errors" / "dist").exists()
    assert all(p["sha256"] is None and p["rebuilt"] and p["reasons"] == ["forced"] for p in result["packages"])
    assert result["diff"]["before"] == ""
    assert "@s/errors 1.0.0 s-errors-1.0.0.tgz (rebuilt)\n" in result["diff"]["after"]


def test_force_rebuilds_what_is_up_to_date(space, tmp_path):
    out = tmp_path / "out"
    pack(space, out, FakePnpm())
    pnpm = FakePnpm()
    result = pack(space, out, pnpm, force=True)
    assert result["rebuilt"] == result["order"] and len(pnpm.actions()) == 7
    assert len(pnpm.pnpm_starts()) == 5


def test_a_failed_build_names_the_package_and_keeps_the_previous_output(space, tmp_path):
    out = tmp_path / "out"
    pack(space, out, FakePnpm())
    before = dict((f, (out / f).read_bytes()) for f in os.listdir(str(out)))
    (space / "packages" / "errors" / "src" / "index.js").write_text("broken\n")
    pnpm = FakePnpm(failing_builds=["errors"])
    with pytest.raises(DeployError) as err:
        pack(space, out, pnpm)
    assert err.value.details["package"] == "@s/errors"
    assert "The build of @s/errors in packages/errors failed (exit code 2)" in str(err.value)
    assert "run 'pnpm run build' in packages/errors" in str(err.value)
    assert "previous tarballs and manifest are unchanged" in str(err.value)
    assert "error TS2322" in err.value.output and "--filter=@s/errors" in err.value.command
    assert pnpm.actions() == ["errors build"]  # its dependents never start, nothing is packed
    assert dict((f, (out / f).read_bytes()) for f in os.listdir(str(out))) == before
    assert sorted(os.listdir(str(tmp_path))) == ["out", "ws"]  # no staging directory left


def test_a_narrower_filter_removes_packages_from_the_output(space, tmp_path):
    out = tmp_path / "out"
    pack(space, out, FakePnpm())
    pnpm = FakePnpm()
    result = pack(space, out, pnpm, package_filter="@s/config")
    assert result["order"] == ["@s/errors", "@s/config"]  # its dependency comes along
    assert result["removed"] == ["@s/auth", "@s/format"] and result["rebuilt"] == [] and result["changed"]
    assert pnpm.actions() == []
    assert sorted(os.listdir(str(out))) == ["bytelyst-manifest.json", "s-config-1.0.0.tgz", "s-errors-1.0.0.tgz"]


def test_an_output_that_is_not_ours_is_refused(space, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    pnpm = FakePnpm()
    with pytest.raises(DeployError) as err:
        pack(space, out, pnpm)
    assert "holds files but no bytelyst-manifest.json" in str(err.value)
    assert pnpm.actions() == [] and (out / "notes.txt").read_text() == "mine"
    (tmp_path / "file").write_text("x")
    with pytest.raises(DeployError) as err:
        pack(space, tmp_path / "file", FakePnpm())
    assert "exists and is not a directory" in str(err.value)


def test_an_unreadable_manifest_rebuilds_everything(space, tmp_path):
    out = tmp_path / "out"
    pack(space, out, FakePnpm())
    (out / "bytelyst-manifest.json").write_text("{not json")
    result = pack(space, out, FakePnpm())
    assert result["rebuilt"] == result["order"] and reasons(result)["@s/errors"] == ["new"]
    assert _tarball_manifest.verify(_tarball_manifest.load(str(out)))


def test_rebuild_reasons_force_inputs_then_tarball(tmp_path):
    inputs = {"files": {"a": "1"}, "lockfile": None, "shared": {"files": {}, "lockfile": None},
              "tool": {"pnpm": "10"}, "dependencies": {}}
    (tmp_path / "a.tgz").write_text("x")
    good = {"inputs": inputs, "tarball": "a.tgz", "sha256": _tarball_manifest.sha256_file(str(tmp_path / "a.tgz"))}
    assert _workspace_pack.rebuild_reasons(good, inputs, str(tmp_path)) == []
    assert _workspace_pack.rebuild_reasons(good, inputs, str(tmp_path), force=True) == ["forced"]
    assert _workspace_pack.rebuild_reasons(None, inputs, str(tmp_path)) == ["new"]
    assert _workspace_pack.rebuild_reasons(dict(good, sha256="0"), inputs, str(tmp_path)) == [
        "tarball in the output directory does not match the manifest"]
    changed = dict(inputs, files={"a": "2"})
    assert _workspace_pack.rebuild_reasons(dict(good, sha256="0"), changed, str(tmp_path)) == ["source changed: a"]


def test_nested_packages_are_fingerprinted_on_their_own(tmp_path):
    root = tmp_path / "w"
    root.mkdir()
    (root / "pnpm-workspace.yaml").write_text("packages:\n  - 'packages/**'\n")
    package(root, "packages/app", "@s/app")
    package(root, "packages/app/plugins/x", "@s/x")
    space = ws.discover(str(root))
    assert _workspace_pack.nested_dirs(space, ["@s/app", "@s/x"]) == {"@s/app": ["plugins/x"], "@s/x": []}


def test_swap_replaces_the_output_and_keeps_it_on_failure(tmp_path):
    out, staging = tmp_path / "out", tmp_path / "staging"
    out.mkdir()
    (out / "old").write_text("1")
    staging.mkdir()
    (staging / "new").write_text("2")
    _workspace_pack.swap(str(staging), str(out))
    assert os.listdir(str(out)) == ["new"] and sorted(os.listdir(str(tmp_path))) == [".out.previous", "out"]
    assert os.listdir(str(tmp_path / ".out.previous")) == ["old"]  # kept for readers until the next swap
    with pytest.raises(OSError):
        _workspace_pack.swap(str(tmp_path / "gone"), str(out))
    assert os.listdir(str(out)) == ["new"] and sorted(os.listdir(str(tmp_path))) == [".out.previous", "out"]


def test_diff_text_marks_pending_packages():
    packages = {"@s/a": {"version": "1.0.0", "tarball": "s-a-1.0.0.tgz", "sha256": "ab" * 32},
                "@s/b": {"version": "2.0.0", "tarball": "s-b-2.0.0.tgz", "sha256": None}}
    assert _workspace_pack.diff_text(packages, ["@s/a", "@s/b"], pending=["@s/b"]) == (
        "@s/a 1.0.0 s-a-1.0.0.tgz sha256:abababababababab\n@s/b 2.0.0 s-b-2.0.0.tgz (rebuilt)\n")


# -- the output swap: never a moment without a complete output ---------------------------------

def complete_dir(path, generation):
    os.mkdir(str(path))
    (path / "bytelyst-manifest.json").write_text(json.dumps({"generation": generation}))
    (path / ("pkg-%d.tgz" % generation)).write_text("x" * 100)


def read_output(out):
    """What a reader does first: open output's manifest (fails when there is no output)."""
    with open(os.path.join(out, "bytelyst-manifest.json")) as handle:
        return json.load(handle)["generation"]


@pytest.mark.parametrize("exchange_available", [True, False], ids=["exchange", "two-renames"])
def test_at_every_step_of_a_swap_a_complete_directory_exists(tmp_path, monkeypatch, exchange_available):
    out = tmp_path / "out"
    complete_dir(out, 1)
    complete_dir(tmp_path / ".out.staging-x", 2)
    steps = []
    real_rename, real_exchange, real_rmtree = os.rename, _workspace_pack.exchange, _workspace_pack.shutil.rmtree

    def where_complete():
        """Directories that hold a complete generation right now (output first)."""
        found = []
        for name in ["out"] + sorted(os.listdir(str(tmp_path))):
            path = os.path.join(str(tmp_path), name)
            if os.path.isfile(os.path.join(path, "bytelyst-manifest.json")) and path not in found:
                found.append(path)
        return found

    def rename(src, dst):
        real_rename(src, dst)
        steps.append(("rename", where_complete()))

    def exchange(first, second):
        done = real_exchange(first, second) if exchange_available else False
        steps.append(("exchange", where_complete()))
        return done

    def rmtree(path, *a, **kw):
        steps.append(("rmtree-before", where_complete()))
        real_rmtree(path, *a, **kw)

    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(_workspace_pack, "exchange", exchange)
    monkeypatch.setattr(_workspace_pack.shutil, "rmtree", rmtree)
    _workspace_pack.swap(str(tmp_path / ".out.staging-x"), str(out))
    assert steps
    if exchange_available:
        # output is complete after every step: the old or the new generation, never nothing
        assert all(found and found[0] == str(out) for dummy, found in steps), steps
    else:
        # a complete generation exists somewhere at every step (the old one is kept until the new is in place)
        assert all(found for dummy, found in steps), steps
    assert json.loads((out / "bytelyst-manifest.json").read_text()) == {"generation": 2}
    assert sorted(os.listdir(str(tmp_path))) == [".out.previous", "out"]
    assert json.loads((tmp_path / ".out.previous" / "bytelyst-manifest.json").read_text()) == {"generation": 1}


def test_a_reader_polling_the_output_during_swaps_always_finds_it(tmp_path):
    out = tmp_path / "out"
    complete_dir(out, 0)
    missing, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                read_output(str(out))
            except (IOError, OSError, ValueError, KeyError) as exc:
                missing.append(repr(exc))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for generation in range(1, 150):
            staging = tmp_path / (".out.staging-%d" % generation)
            complete_dir(staging, generation)
            _workspace_pack.swap(str(staging), str(out))
    finally:
        stop.set()
        thread.join()
    assert missing == []
    assert json.loads((out / "bytelyst-manifest.json").read_text()) == {"generation": 149}


def test_exchange_swaps_two_directories(tmp_path):
    complete_dir(tmp_path / "a", 1)
    complete_dir(tmp_path / "b", 2)
    if not _workspace_pack.exchange(str(tmp_path / "a"), str(tmp_path / "b")):
        pytest.skip("this file system cannot exchange two paths")
    assert json.loads((tmp_path / "a" / "bytelyst-manifest.json").read_text()) == {"generation": 2}
    assert json.loads((tmp_path / "b" / "bytelyst-manifest.json").read_text()) == {"generation": 1}


def test_the_next_run_cleans_what_a_killed_run_left(space, tmp_path):
    pnpm, out = FakePnpm(), tmp_path / "out"
    pack(space, out, pnpm, jobs=1)
    before = dict((f, (out / f).read_bytes()) for f in os.listdir(str(out)))
    # A run killed while building (its staging directory), and one killed in a fallback swap's gap.
    complete_dir(tmp_path / ".out.staging-killed", 7)
    complete_dir(tmp_path / ".out.old-killed", 8)
    complete_dir(tmp_path / ".other.staging-alive", 9)  # another output's: not ours to touch
    planned = pack(space, out, FakePnpm(), check_mode=True)
    assert planned["cleaned"] == [str(tmp_path / ".out.old-killed"), str(tmp_path / ".out.staging-killed")]
    assert (tmp_path / ".out.staging-killed").is_dir()  # check mode removes nothing
    result = pack(space, out, FakePnpm())
    assert result["changed"] is False and sorted(result["cleaned"]) == sorted(planned["cleaned"])
    assert sorted(os.listdir(str(tmp_path))) == [".other.staging-alive", "out", "ws"]  # no swap: no .previous
    assert dict((f, (out / f).read_bytes()) for f in os.listdir(str(out))) == before


def test_a_run_killed_between_the_fallback_renames_gets_its_output_back(tmp_path):
    out = tmp_path / "out"
    complete_dir(tmp_path / ".out.old-abc", 3)
    complete_dir(tmp_path / ".out.staging-def", 4)
    cleaned = _workspace_pack.clean_leftovers(str(out))
    assert json.loads((out / "bytelyst-manifest.json").read_text()) == {"generation": 3}
    assert cleaned == [str(tmp_path / ".out.staging-def")]
    assert sorted(os.listdir(str(tmp_path))) == ["out"]


def test_a_second_writer_waits_for_the_lock_then_says_who_blocks_it(tmp_path):
    out = str(tmp_path / "out")
    ticks = iter(range(0, 100, 1))
    with _workspace_pack.OutputLock(out, timeout=30):
        with pytest.raises(DeployError) as err:
            with _workspace_pack.OutputLock(out, timeout=3, clock=lambda: next(ticks), sleep=lambda s: None):
                pass
    assert "Timed out after 3s waiting for another workspace_pack run writing beside %s" % out in str(err.value)
    with _workspace_pack.OutputLock(out, timeout=0):  # released: taken at once
        pass


def test_one_package_to_build_runs_its_own_build_and_a_failure_names_it(space, tmp_path):
    out = tmp_path / "out"
    pack(space, out, FakePnpm())
    (space / "packages" / "auth" / "src" / "index.js").write_text("module.exports = 'auth 2';\n")
    pnpm = FakePnpm()
    result = pack(space, out, pnpm)
    assert result["rebuilt"] == ["@s/auth"] and pnpm.actions() == ["auth build", "auth pack"]
    build = pnpm.pnpm_starts()[0]
    assert (build.argv, build.cwd) == (["pnpm", "run", "build"], str(space / "packages" / "auth"))
    (space / "packages" / "auth" / "src" / "index.js").write_text("broken\n")
    before = dict((f, (out / f).read_bytes()) for f in os.listdir(str(out)))
    with pytest.raises(DeployError) as err:
        pack(space, out, FakePnpm(failing_builds=["auth"]))
    assert err.value.details["package"] == "@s/auth"
    assert "The build of @s/auth in packages/auth failed (exit code 2)." in str(err.value)
    assert "run 'pnpm run build' in packages/auth" in str(err.value)
    assert dict((f, (out / f).read_bytes()) for f in os.listdir(str(out))) == before


def test_without_build_nothing_is_built_and_everything_is_packed(space, tmp_path):
    pnpm = FakePnpm()
    result = pack(space, tmp_path / "out", pnpm, build=False)
    assert pnpm.builds() == [] and len(pnpm.packs()) == 4 and result["rebuilt"] == result["order"]
    assert not (space / "packages" / "errors" / "dist").exists()


def test_a_recursive_build_failure_pnpm_does_not_attribute_lists_the_packages(space, tmp_path):
    out = tmp_path / "out"

    def runner(command, check=True, what=None):
        if command.argv[1:] == ["--version"]:
            return Result(command, 0, "10.6.5\n", "")
        assert command.argv[1] == "--recursive", command.argv
        return Result(command, 137, "", "Killed\n")
    with pytest.raises(DeployError) as err:
        _workspace_pack.pack_workspace(str(space), str(out), "@s/*", runner=runner)
    assert "The build of @s/errors, @s/config, @s/auth failed (exit code 137)." in str(err.value)
    assert "Killed" in err.value.output and "package" not in err.value.details
    assert not out.exists() and sorted(os.listdir(str(tmp_path))) == ["ws"]


def test_the_kinds_a_package_json_names_reach_the_manifest_under_both_names(space, tmp_path):
    """bytelyst.kinds (or its deprecated name bytelyst.targets) becomes the entry's kinds, and its
    targets too, for readers older than 0.2.0; base_image reads either."""
    for rel, field in (("packages/auth", "kinds"), ("packages/format", "targets")):
        path = space / rel / "package.json"
        data = json.loads(path.read_text())
        data["bytelyst"] = {field: ["backend"] if rel.endswith("auth") else ["web"]}
        path.write_text(json.dumps(data))
    result = pack(space, tmp_path / "out", FakePnpm())
    manifest = _tarball_manifest.load(str(tmp_path / "out"))
    entries = manifest["packages"]
    assert (entries["@s/auth"]["kinds"], entries["@s/auth"]["targets"]) == (["backend"], ["backend"])
    assert (entries["@s/format"]["kinds"], entries["@s/format"]["targets"]) == (["web"], ["web"])
    assert entries["@s/errors"]["kinds"] == ["backend", "web"]
    assert [p["kinds"] for p in result["packages"]] == [e["kinds"] for e in (entries[n] for n in result["order"])]
    assert _tarball_manifest.packages_for(manifest, "web") == ["@s/errors", "@s/config", "@s/format"]


def test_ensure_refuses_jobs_below_one_before_touching_the_workspace(tmp_path):
    out = tmp_path / "packed"
    opts = dict(workspace=str(tmp_path / "ws"), output=str(out), filter="@acme/*", build=True, pnpm="pnpm",
                jobs=0, force=False, shared_inputs=[], timeout=60)
    with pytest.raises(DeployError) as info:
        _workspace_pack.ensure(None, opts)
    assert str(info.value) == "jobs must be 1 or more, got 0."
    assert not out.exists()
