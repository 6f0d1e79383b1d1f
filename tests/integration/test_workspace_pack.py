"""workspace_pack through real Ansible on a copy of the sample workspace, with the real pnpm.

One cold run (module fixture) builds and packs the sample; every other test works on its own
copy of that result. pnpm is called through a wrapper that logs each call, which proves
which builds and packs ran (none on a no-op run)."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time

import pytest
import yaml

from ansible_collections.bytelyst.deploy.plugins.module_utils import _tarball_manifest
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._workspace_pack import pack_workspace

pytestmark = pytest.mark.integration

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SAMPLE = os.path.join(REPO, "examples", "common_plat")
ALL = ["@bytelyst/errors", "@bytelyst/config", "@bytelyst/auth", "@bytelyst/format", "@bytelyst/logger",
       "@bytelyst/http", "@bytelyst/ui"]
WRAPPER = """#!/bin/sh
echo "$(basename "$PWD") $*" >> "$(dirname "$0")/calls.log"
exec %s "$@"
"""


def run_module(args, check=False, diff=False):
    """Run the module through ansible-playbook; return its registered result, as a playbook user gets it."""
    sys.path.insert(0, os.path.dirname(HERE))
    from ansible_runner_helper import run_module as run

    return run("workspace_pack", args, check=check, diff=diff, timeout=1200)[0]


def run_core(args):
    """The module's core in process (for the bad inputs: the same messages, without Ansible's start-up)."""
    kwargs = dict(args)
    kwargs["package_filter"] = kwargs.pop("filter", "@bytelyst/*")
    try:
        return pack_workspace(**kwargs)
    except DeployError as err:
        return dict(err.result(), failed=True, msg=str(err))


class Copy(object):
    """A workspace copy with its output and pnpm wrapper, under one directory."""

    def __init__(self, base):
        self.base = base
        self.ws = os.path.join(base, "ws")
        self.out = os.path.join(base, "out")
        self.pnpm = os.path.join(base, "bin", "pnpm")
        self.log = os.path.join(base, "bin", "calls.log")

    def args(self, **extra):
        args = {"workspace": self.ws, "output": self.out, "pnpm": self.pnpm}
        args.update(extra)
        return args

    def calls(self):
        """The pnpm calls as '<package dir> <arguments>'; a recursive build (one pnpm start for several
        packages) counts as '<package dir> run build' for each package it was asked to build."""
        if not os.path.exists(self.log):
            return []
        with open(self.log) as handle:
            lines = [line.strip() for line in handle]
        out = []
        for line in lines:
            words = line.split()
            if "--recursive" in words and words[-2:] == ["run", "build"]:
                out += ["%s run build" % w.split("/")[-1] for w in words if w.startswith("--filter=")]
            else:
                out.append(line)
        return out

    def actions(self):
        """The pnpm calls other than the version check, as '<package dir> <arguments>'."""
        return [c for c in self.calls() if not c.endswith(" --version")]

    def pkg(self, name, *parts):
        return os.path.join(self.ws, "packages", name, *parts)

    def edit_json(self, name, change):
        path = self.pkg(name, "package.json")
        with open(path) as handle:
            data = json.load(handle)
        change(data)
        with open(path, "w") as handle:
            json.dump(data, handle, indent=2)

    def append(self, name, text, rel="src/index.ts"):
        with open(self.pkg(name, rel), "a") as handle:
            handle.write(text)


def snapshot(directory):
    """Every file under directory: (sha256, size, mtime_ns); proves it is byte-identical and untouched."""
    out = {}
    if os.path.isfile(directory):
        with open(directory, "rb") as handle:
            return {".": hashlib.sha256(handle.read()).hexdigest()}
    for current, dummy, files in os.walk(directory):
        for name in files:
            path = os.path.join(current, name)
            with open(path, "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
            stat = os.stat(path)
            out[os.path.relpath(path, directory)] = (digest, stat.st_size, stat.st_mtime_ns)
    return out


def dist_mtimes(copy):
    return dict((n, os.stat(copy.pkg(n, "dist", "index.js")).st_mtime_ns)
                for n in os.listdir(os.path.join(copy.ws, "packages")))


def leftovers(copy):
    return [n for n in os.listdir(copy.base) if ".staging-" in n or ".old-" in n]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The sample workspace copied, installed, and packed once (the cold run)."""
    base = str(tmp_path_factory.mktemp("workspace-pack"))
    copy = Copy(base)
    shutil.copytree(SAMPLE, copy.ws, ignore=shutil.ignore_patterns("node_modules", "dist", "*.tgz", "*.tsbuildinfo"))
    os.makedirs(os.path.dirname(copy.pnpm))
    real = shutil.which("pnpm")
    with open(copy.pnpm, "w") as handle:
        handle.write(WRAPPER % real)
    os.chmod(copy.pnpm, 0o755)
    subprocess.run([real, "install", "--frozen-lockfile"], cwd=copy.ws, check=True, capture_output=True, timeout=300)
    result = run_module(copy.args())
    return copy, result


def _link_node_modules(src, dst):
    # node_modules is never written by builds: hard links make each copy cheap.
    if os.sep + "node_modules" + os.sep in src:
        os.link(src, dst)
    else:
        shutil.copy2(src, dst)


@pytest.fixture
def copy(built, tmp_path):
    original, result = built
    assert not result.get("failed"), result.get("msg")
    new = Copy(str(tmp_path / "c"))
    shutil.copytree(original.base, new.base, symlinks=True, copy_function=_link_node_modules)
    with open(new.pnpm, "w") as handle:
        handle.write(WRAPPER % shutil.which("pnpm"))
    os.remove(new.log)
    return new


def test_cold_run_builds_and_packs_everything_in_dependency_order(built):
    copy, result = built
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert result["rebuilt"] == ALL == result["order"]
    assert all(p["reasons"] == ["new"] for p in result["packages"])
    builds = [c for c in copy.calls() if c.endswith(" run build")]
    assert sorted(builds) == sorted("%s run build" % n.split("/")[1] for n in ALL)
    manifest = _tarball_manifest.load(copy.out)
    assert _tarball_manifest.verify(manifest)
    assert manifest["order"] == ALL and manifest["filter"] == "@bytelyst/*"
    assert result["manifest"] == os.path.join(copy.out, "bytelyst-manifest.json")
    assert sorted(os.listdir(copy.out)) == sorted(
        ["bytelyst-manifest.json"] + [p["tarball"] for p in manifest["packages"].values()])
    auth = manifest["packages"]["@bytelyst/auth"]
    assert (auth["version"], auth["dir"], auth["tarball"]) == ("0.7.3", "packages/auth", "bytelyst-auth-0.7.3.tgz")
    assert auth["kinds"] == auth["targets"] == ["backend"]  # targets: the deprecated name, still written
    assert auth["dependencies"] == {"internal": {"@bytelyst/config": "workspace:^", "@bytelyst/errors": "workspace:*"},
                                    "external": {"jose": "^5.9.6"}}
    assert auth["dev_dependencies"] == {"@types/node": "22.20.5", "typescript": "5.9.3"}
    assert len(auth["fingerprint"]) == 64 and len(auth["sha256"]) == 64
    assert manifest["packages"]["@bytelyst/ui"]["peer_dependencies"] == {"react": "^18.2.0 || ^19.0.0"}
    assert _tarball_manifest.packages_for(manifest, "web") == [
        "@bytelyst/errors", "@bytelyst/config", "@bytelyst/format", "@bytelyst/logger", "@bytelyst/ui"]
    # pnpm pack turned the workspace: ranges into real versions.
    with tarfile.open(os.path.join(copy.out, auth["tarball"])) as tar:
        packed = json.load(tar.extractfile("package/package.json"))
        assert "package/dist/index.js" in tar.getnames()
    assert packed["dependencies"] == {"@bytelyst/config": "^2.0.0", "@bytelyst/errors": "1.2.0", "jose": "^5.9.6"}
    assert result["duration"] > 0 and int(result["pnpm_version"].split(".")[0]) >= 9


def test_noop_run_changes_nothing_and_builds_nothing(copy):
    before, dists = snapshot(copy.out), dist_mtimes(copy)
    result = run_module(copy.args())
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    assert result["rebuilt"] == []
    assert all(p["reasons"] == [] and not p["rebuilt"] for p in result["packages"])
    assert copy.actions() == [] and len(copy.calls()) == 1
    assert snapshot(copy.out) == before
    assert dist_mtimes(copy) == dists


def test_one_file_change_rebuilds_that_package_and_its_dependents_only(copy):
    before = _tarball_manifest.load(copy.out)
    copy.append("logger", "\nexport const loggerRevision = 2;\n")
    result = run_module(copy.args(), diff=True)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert result["rebuilt"] == ["@bytelyst/logger", "@bytelyst/http"]
    reasons = dict((p["name"], p["reasons"]) for p in result["packages"])
    assert reasons["@bytelyst/logger"] == ["source changed: src/index.ts"]
    assert reasons["@bytelyst/http"] == ["dependency @bytelyst/logger changed"]
    calls = copy.calls()
    assert sorted(c for c in calls if c.endswith(" run build")) == ["http run build", "logger run build"]
    assert sorted(c.split()[0] for c in calls if " pack " in c) == ["http", "logger"]
    after = _tarball_manifest.load(copy.out)
    _tarball_manifest.verify(after)
    for name in ALL:
        # Packages not rebuilt keep their very tarball; logger's changes. (http is repacked: whether
        # its tarball is byte-identical is up to pnpm pack, so it is not asserted.)
        if name not in result["rebuilt"]:
            assert after["packages"][name]["sha256"] == before["packages"][name]["sha256"], name
        assert (after["packages"]["@bytelyst/logger"]["sha256"] != before["packages"]["@bytelyst/logger"]["sha256"])
        assert (after["packages"][name]["fingerprint"] == before["packages"][name]["fingerprint"]) is (
            name not in result["rebuilt"]), name
    logger = after["packages"]["@bytelyst/logger"]
    assert "%s sha256:%s" % (logger["tarball"], logger["sha256"][:16]) in result["diff"]["after"]
    assert "sha256:%s" % before["packages"]["@bytelyst/logger"]["sha256"][:16] in result["diff"]["before"]
    assert leftovers(copy) == []
    # And the next run is a no-op again.
    again = run_core(copy.args())
    assert again["changed"] is False and again["rebuilt"] == []


def test_check_mode_reports_reasons_and_touches_nothing(copy):
    copy.append("errors", "\nexport const errorsRevision = 2;\n")
    before, dists = snapshot(copy.out), dist_mtimes(copy)
    result = run_module(copy.args(), check=True, diff=True)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert result["rebuilt"] == ["@bytelyst/errors", "@bytelyst/config", "@bytelyst/auth", "@bytelyst/http"]
    reasons = dict((p["name"], p["reasons"]) for p in result["packages"])
    assert reasons["@bytelyst/errors"] == ["source changed: src/index.ts"]
    assert reasons["@bytelyst/auth"] == ["dependency @bytelyst/config changed", "dependency @bytelyst/errors changed"]
    assert reasons["@bytelyst/ui"] == []
    assert "@bytelyst/errors 1.2.0 bytelyst-errors-1.2.0.tgz (rebuilt)" in result["diff"]["after"]
    assert "@bytelyst/ui 0.2.0 bytelyst-ui-0.2.0.tgz sha256:" in result["diff"]["after"]
    assert copy.actions() == [] and len(copy.calls()) == 1
    assert snapshot(copy.out) == before
    assert dist_mtimes(copy) == dists
    assert leftovers(copy) == []


def test_narrower_filter_drops_packages_without_building(copy):
    result = run_module(copy.args(filter="@bytelyst/u*"))
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert result["order"] == ["@bytelyst/format", "@bytelyst/ui"]  # ui needs format
    assert result["rebuilt"] == []
    assert result["removed"] == ["@bytelyst/auth", "@bytelyst/config", "@bytelyst/errors", "@bytelyst/http",
                                 "@bytelyst/logger"]
    assert copy.actions() == []
    assert sorted(os.listdir(copy.out)) == ["bytelyst-format-0.9.5.tgz", "bytelyst-manifest.json", "bytelyst-ui-0.2.0.tgz"]
    assert _tarball_manifest.verify(_tarball_manifest.load(copy.out))


def _no_workspace_file(copy):
    os.remove(os.path.join(copy.ws, "pnpm-workspace.yaml"))
    return {}, "has no pnpm-workspace.yaml, so it is not a pnpm workspace root"


def _not_json(copy):
    with open(copy.pkg("logger", "package.json"), "a") as handle:
        handle.write("}{")
    return {}, "packages/logger/package.json is not valid JSON"


def _no_name(copy):
    copy.edit_json("logger", lambda data: data.pop("name"))
    return {}, 'packages/logger/package.json has no "name"'


def _no_version(copy):
    copy.edit_json("logger", lambda data: data.pop("version"))
    return {}, '@bytelyst/logger (%s) has no "version"' % copy.pkg("logger", "package.json")


def _duplicate_name(copy):
    shutil.copytree(copy.pkg("format"), copy.pkg("format-copy"), symlinks=True)
    return {}, "Two workspace packages are named @bytelyst/format: packages/format and packages/format-copy"


def _cycle(copy):
    copy.edit_json("errors", lambda data: data.setdefault("dependencies", {}).update({"@bytelyst/http": "workspace:*"}))
    return {}, "cycle: @bytelyst/errors -> @bytelyst/http -> @bytelyst/errors"


def _filter_matches_nothing(copy):
    return {"filter": "@nope/*"}, "The filter '@nope/*' matches none of the 7 workspace packages"


def _build_fails(copy):
    copy.append("logger", "\nexport const broken: number = 'not a number';\n")
    return {}, "The build of @bytelyst/logger in packages/logger failed (exit code"


def _pnpm_missing(copy):
    return {"pnpm": os.path.join(copy.base, "no-such-pnpm")}, "pnpm could not be run as '%s'" % os.path.join(
        copy.base, "no-such-pnpm")


def _pnpm_too_old(copy):
    old = os.path.join(copy.base, "bin", "old-pnpm")
    with open(old, "w") as handle:
        handle.write("#!/bin/sh\necho 8.15.9\n")
    os.chmod(old, 0o755)
    return {"pnpm": old}, "is pnpm 8.15.9; workspace_pack needs pnpm 9 or newer"


def _output_is_a_file(copy):
    target = os.path.join(copy.base, "a-file")
    with open(target, "w") as handle:
        handle.write("x")
    return {"output": target}, "exists and is not a directory"


def _output_not_ours(copy):
    foreign = os.path.join(copy.base, "foreign")
    os.makedirs(foreign)
    with open(os.path.join(foreign, "keep.txt"), "w") as handle:
        handle.write("precious")
    return {"output": foreign}, "holds files but no bytelyst-manifest.json"


# Through Ansible: the failures that run pnpm (fail_json carries the command and its output tail).
THROUGH_ANSIBLE = [_build_fails, _pnpm_too_old]
# In process: the same messages, without Ansible's start-up for each.
IN_PROCESS = [_no_workspace_file, _not_json, _no_name, _no_version, _duplicate_name, _cycle, _filter_matches_nothing,
              _pnpm_missing, _output_is_a_file, _output_not_ours]


def check_bad_input(copy, bad_input, runner):
    extra, message = bad_input(copy)
    protected = [copy.out] + ([extra["output"]] if "output" in extra else [])
    before = [snapshot(p) for p in protected]
    result = runner(copy.args(**extra))
    assert result.get("failed"), result
    assert message in result["msg"]
    assert [snapshot(p) for p in protected] == before
    assert leftovers(copy) == []
    return result


@pytest.mark.parametrize("bad_input", THROUGH_ANSIBLE, ids=[f.__name__.strip("_") for f in THROUGH_ANSIBLE])
def test_bad_input_through_ansible_fails_clearly_and_changes_nothing(copy, bad_input):
    dists = dist_mtimes(copy)
    result = check_bad_input(copy, bad_input, run_module)
    if bad_input is _build_fails:
        assert "error TS2322" in result["msg"] and "error TS2322" in result["output_tail"]
        # One pnpm start builds logger and its dependent http (the command a user can rerun).
        assert result["command"].startswith("%s --recursive " % copy.pnpm)
        assert result["command"].endswith(" run build") and "--filter=@bytelyst/logger" in result["command"]
        assert result["package"] == "@bytelyst/logger"
        assert dist_mtimes(copy)["http"] == dists["http"]  # its dependent never started
    else:
        assert copy.actions() == []


@pytest.mark.parametrize("bad_input", IN_PROCESS, ids=[f.__name__.strip("_") for f in IN_PROCESS])
def test_bad_input_fails_clearly_and_changes_nothing(copy, bad_input):
    check_bad_input(copy, bad_input, run_core)
    assert copy.actions() == []


def test_output_not_writable_fails_clearly_and_changes_nothing(copy):
    copy.append("format", "\nexport const formatRevision = 2;\n")
    before = snapshot(copy.out)
    locked = ["chattr", "+i", copy.base] if os.geteuid() == 0 else ["chmod", "a-w", copy.base]
    subprocess.run(locked, check=True)
    try:
        result = run_module(copy.args())
    finally:
        subprocess.run(["chattr", "-i", copy.base] if os.geteuid() == 0 else ["chmod", "u+w", copy.base], check=True)
    assert result.get("failed"), result
    assert "The output directory %s is not writable" % copy.out in result["msg"]
    assert snapshot(copy.out) == before
    assert not any(c.endswith("run build") for c in copy.calls())  # it failed before building


def test_role_tarball_prep_reports_a_noop(copy, tmp_path):
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": [
        {"ansible.builtin.include_role": {"name": "bytelyst.deploy.tarball_prep"},
         "vars": {"tarball_prep_workspace": copy.ws, "tarball_prep_output": copy.out, "tarball_prep_pnpm": copy.pnpm}},
        {"ansible.builtin.assert": {"that": ["not tarball_prep_result.changed", "tarball_prep_result.rebuilt == []",
                                             "tarball_prep_result.order | length == 7"]}},
    ]}]
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump(play))
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    proc = subprocess.run(["ansible-playbook", "-i", "localhost,", str(path)], capture_output=True, text=True, env=env,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "changed=0" in proc.stdout
    assert copy.actions() == []


def test_a_killed_run_leaves_the_output_whole_and_the_next_run_cleans_up(copy, tmp_path):
    """A run killed while it builds (SIGKILL to ansible-playbook and the module) leaves the old
    output complete and a staging directory; the next run removes it and replaces the output."""
    copy.append("format", "\nexport const formatRevision = 3;\n")
    before = snapshot(copy.out)
    marker = os.path.join(copy.base, "building")
    # The wrapper holds the build of the changed package until the test has killed the run.
    with open(copy.pnpm, "w") as handle:
        handle.write('#!/bin/sh\ncase "$*" in *"run build") echo $PPID $$ > %s; exec sleep 120;; esac\n%s' % (
            marker, WRAPPER.split("\n", 1)[1] % shutil.which("pnpm")))
    play = tmp_path / "killed.yml"
    play.write_text(yaml.safe_dump([{"hosts": "localhost", "connection": "local", "gather_facts": False,
                                     "tasks": [{"bytelyst.deploy.workspace_pack": copy.args()}]}]))
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING="false")
    proc = subprocess.Popen(["ansible-playbook", "-i", "localhost,", str(play)], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for dummy in range(1200):
            if os.path.exists(marker) or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert os.path.exists(marker), "the run never reached its build"
        assert leftovers(copy), "a run that builds has a staging directory"
        time.sleep(0.2)
        with open(marker) as handle:
            # the module's process, which started the build, and the build (now a sleep)
            module_pid, build_pid = [int(pid) for pid in handle.read().split()]
        os.kill(module_pid, signal.SIGKILL)
        os.kill(build_pid, signal.SIGKILL)
        for dummy in range(100):
            if not os.path.exists("/proc/%d" % module_pid):
                break
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert snapshot(copy.out) == before  # the killed run changed nothing in the output
    killed = leftovers(copy)
    assert killed and all(".out.staging-" in name for name in killed)
    with open(copy.pnpm, "w") as handle:
        handle.write(WRAPPER % shutil.which("pnpm"))
    result = run_module(copy.args())
    assert not result.get("failed"), result.get("msg")
    assert result["cleaned"] == [os.path.join(copy.base, name) for name in killed]
    assert result["rebuilt"] == ["@bytelyst/format", "@bytelyst/ui"] or "@bytelyst/format" in result["rebuilt"]
    assert leftovers(copy) == []
    assert _tarball_manifest.verify(_tarball_manifest.load(copy.out))
    # The replaced output stays beside the new one until the next swap, for readers part-way through it.
    assert os.path.isfile(os.path.join(copy.base, ".out.previous", "bytelyst-manifest.json"))
