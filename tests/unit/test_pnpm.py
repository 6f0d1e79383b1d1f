import os
import threading
import time

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils import _pnpm
from ansible_collections.bytelyst.deploy.plugins.module_utils._command import Result
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError


def fake_runner(rc=0, stdout="", error=None):
    calls = []

    def runner(command, check=True, what=None):
        calls.append(command)
        if error:
            raise error
        return Result(command, rc, stdout, "")
    runner.calls = calls
    return runner


def test_commands_are_built_as_expected():
    assert _pnpm.version_command("/opt/pnpm").argv == ["/opt/pnpm", "--version"]
    build = _pnpm.build_command("pnpm", "/w/packages/a", timeout=60)
    assert (build.argv, build.cwd, build.timeout) == (["pnpm", "run", "build"], "/w/packages/a", 60)
    assert build.env["CI"] == "true"
    pack = _pnpm.pack_command("pnpm", "/w/packages/a", "/out/.staging")
    assert (pack.argv, pack.cwd) == (["pnpm", "pack", "--pack-destination", "/out/.staging"], "/w/packages/a")


@pytest.mark.parametrize("text,version", [
    ("10.6.5\n", (10, 6, 5)),
    ("v9.0.0", (9, 0, 0)),
    ("! Corepack is about to download\n9.15.4\n", (9, 15, 4)),
    ("10.0.0-rc.1", (10, 0, 0)),
    ("", None),
    ("command not found", None),
])
def test_parse_version(text, version):
    assert _pnpm.parse_version(text) == version


def test_check_version_accepts_9_and_newer():
    assert _pnpm.check_version("pnpm", fake_runner(stdout="9.0.0\n")) == "9.0.0"
    assert _pnpm.check_version("pnpm", fake_runner(stdout="10.6.5\n")) == "10.6.5"


def test_check_version_rejects_old_pnpm():
    with pytest.raises(DeployError) as info:
        _pnpm.check_version("/opt/old/pnpm", fake_runner(stdout="8.15.9\n"))
    assert "'/opt/old/pnpm' is pnpm 8.15.9; workspace_pack needs pnpm 9 or newer." in str(info.value)


def test_check_version_rejects_missing_and_broken_pnpm():
    with pytest.raises(DeployError) as info:
        _pnpm.check_version("nopnpm", fake_runner(error=DeployError("Could not run nopnpm: No such file.")))
    assert "pnpm could not be run as 'nopnpm'" in str(info.value)
    with pytest.raises(DeployError) as info:
        _pnpm.check_version("pnpm", fake_runner(rc=1, stdout="boom"))
    assert "did not report a pnpm version (exit code 1)" in str(info.value)
    assert "boom" in str(info.value)


def test_tarball_name():
    assert _pnpm.tarball_name("@bytelyst/config", "1.2.0") == "bytelyst-config-1.2.0.tgz"
    assert _pnpm.tarball_name("plain", "0.1.0") == "plain-0.1.0.tgz"


class FakePackage(object):
    name = "@b/a"
    dir = "/w/packages/a"


def test_pack_moves_the_one_tarball_into_staging(tmp_path):
    def runner(command, check=True, what=None):
        dest = command.argv[-1]
        with open(os.path.join(dest, "b-a-1.0.0.tgz"), "wb") as handle:
            handle.write(b"tgz")
        return Result(command, 0, "", "")
    assert _pnpm.pack("pnpm", FakePackage(), str(tmp_path), runner=runner) == "b-a-1.0.0.tgz"
    assert os.listdir(str(tmp_path)) == ["b-a-1.0.0.tgz"]


def test_pack_without_a_tarball_fails_and_cleans_up(tmp_path):
    with pytest.raises(DeployError) as info:
        _pnpm.pack("pnpm", FakePackage(), str(tmp_path), runner=fake_runner())
    assert "pnpm pack of @b/a left 0 tarballs" in str(info.value)
    assert os.listdir(str(tmp_path)) == []


def test_run_jobs_respects_dependencies_and_the_limit():
    edges = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"], "e": []}
    started, finished, lock = [], [], threading.Lock()
    running = [0, 0]  # now, max

    def job(name):
        with lock:
            started.append(name)
            running[0] += 1
            running[1] = max(running[1], running[0])
            for dep in edges[name]:
                assert dep in finished, "%s started before %s finished" % (name, dep)
        time.sleep(0.05)
        with lock:
            running[0] -= 1
            finished.append(name)
        return name.upper()

    results = _pnpm.run_jobs(sorted(edges), edges, job, jobs=2)
    assert results == {"a": "A", "b": "B", "c": "C", "d": "D", "e": "E"}
    assert running[1] == 2
    assert started.index("d") > max(started.index("b"), started.index("c"))


def test_run_jobs_stops_after_a_failure_and_names_the_package():
    edges = {"a": [], "b": ["a"], "c": ["b"]}
    ran = []

    def job(name):
        ran.append(name)
        if name == "b":
            raise DeployError("The build of b failed (exit code 2).", output="error TS2307")
        return name

    with pytest.raises(DeployError) as info:
        _pnpm.run_jobs(["a", "b", "c"], edges, job, jobs=4)
    assert ran == ["a", "b"]
    assert "The build of b failed" in str(info.value)
    assert info.value.details["package"] == "b"


def test_run_jobs_wraps_unexpected_errors():
    def job(name):
        raise OSError("disk full")
    with pytest.raises(DeployError, match="Preparing a failed: disk full"):
        _pnpm.run_jobs(["a"], {}, job, jobs=1)


def test_run_jobs_detects_jobs_that_can_never_start():
    with pytest.raises(DeployError, match="could never start"):
        _pnpm.run_jobs(["a", "b"], {"a": ["b"], "b": ["a"]}, lambda n: n, jobs=2)


def test_recursive_build_command_filters_each_package_and_bounds_concurrency():
    command = _pnpm.recursive_build_command("/opt/pnpm", "/w", ["@b/errors", "@b/config"], jobs=3, timeout=90)
    assert command.argv == ["/opt/pnpm", "--recursive", "--reporter=append-only", "--workspace-concurrency=3",
                            "--filter=@b/errors", "--filter=@b/config", "run", "build"]
    assert (command.cwd, command.timeout, command.env["CI"]) == ("/w", 90, "true")
    assert "--workspace-concurrency=1" in _pnpm.recursive_build_command("pnpm", "/w", ["@b/a", "@b/b"], 0).argv


# The tail of pnpm 10.6.5's append-only output for a recursive build whose second package fails.
FAILED_OUTPUT = """Scope: 3 of 9 workspace projects
packages/errors build$ tsc -p tsconfig.json
packages/errors build: Done
packages/logger build$ tsc -p tsconfig.json
packages/logger build: src/index.ts(12,14): error TS2322: Type 'string' is not assignable to type 'number'.
packages/logger build: Failed
/w/packages/logger:
 ERR_PNPM_RECURSIVE_RUN_FIRST_FAIL  @bytelyst/logger@0.3.1 build: `tsc -p tsconfig.json`
Exit status 2
"""
DIRS = {"packages/errors": "@bytelyst/errors", "packages/logger": "@bytelyst/logger",
        "libraries/very-long-group-name/the-http-client": "@bytelyst/http"}


def test_failed_package_reads_the_reporter_line_then_the_summary():
    assert _pnpm.failed_package(FAILED_OUTPUT, DIRS) == "@bytelyst/logger"
    summary_only = FAILED_OUTPUT.replace("packages/logger build: Failed\n", "")
    assert _pnpm.failed_package(summary_only, DIRS) == "@bytelyst/logger"
    shortened = u"\u2026roup-name/the-http-client build: Failed\n"  # pnpm shortens prefixes over 40 characters
    assert _pnpm.failed_package(shortened, DIRS) == "@bytelyst/http"
    assert _pnpm.failed_package("Killed\n", DIRS) is None
    assert _pnpm.failed_package(" ERR_PNPM_RECURSIVE_RUN_FIRST_FAIL  @other/pkg@1.0.0 build: `x`", DIRS) is None
