"""A packed copy of examples/common_plat for tests: tarballs + manifest in a directory.

pack(dest) copies the sample workspace to a scratch directory and packs it, through
bytelyst.deploy.workspace_pack when that module exists, otherwise with pnpm directly
(install --frozen-lockfile, build, pack per package) and _manifest.write.
changed_copy(src, dest, name) makes a second manifest directory in which one package's
tarball has different content (the quick way to test "one package changed").
"""

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

from ansible_collections.bytelyst.deploy.plugins.module_utils import _manifest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(REPO, "examples", "common_plat")
INTERNAL = "@bytelyst/"


# tests/ansible_runner_helper.py asks for an ansible.builtin.json stdout callback, which
# ansible-core 2.19 does not ship; until that is fixed there, runner() hands it this one,
# which prints the shape the helper parses ({"plays": [{"tasks": [{"hosts": {...}}]}]}).
RESULT_CALLBACK = """
import json
from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "stdout"
    CALLBACK_NAME = "bytelyst_result_json"

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.tasks = []

    def _store(self, result, failed):
        data = json.loads(self._dump_results(result._result))
        if failed:
            data["failed"] = True
        self.tasks.append({"hosts": {result._host.get_name(): data}})

    def v2_runner_on_ok(self, result):
        self._store(result, False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._store(result, True)

    def v2_playbook_on_stats(self, stats):
        print(json.dumps({"plays": [{"tasks": self.tasks}]}))
"""


def _callback_env():
    plugins = tempfile.mkdtemp(prefix="bytelyst-callbacks-")
    with open(os.path.join(plugins, "bytelyst_result_json.py"), "w") as handle:
        handle.write(RESULT_CALLBACK)
    return {"ANSIBLE_CALLBACK_PLUGINS": plugins, "ANSIBLE_STDOUT_CALLBACK": "bytelyst_result_json"}


def runner():
    """run(module, args, check=False) -> (result, raw): a module through real ansible-playbook."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from ansible_runner_helper import run_module

    env = _callback_env()

    def run(module, args, check=False):
        return run_module(module, args, check=check, env=env)
    return run


def run_many(module, many_args, timeout=900):
    """Run the module once per args dict in ONE playbook (errors ignored); return (results, raw)."""
    import yaml

    name = module if "." in module else "bytelyst.deploy." + module
    tasks = [{"name": "case %d" % i, name: args, "ignore_errors": True} for i, args in enumerate(many_args)]
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}]
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", **_callback_env())
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "play.yml")
        with open(path, "w") as handle:
            yaml.safe_dump(play, handle)
        proc = subprocess.run(["ansible-playbook", "-i", "localhost,", path], capture_output=True, text=True,
                              env=env, timeout=timeout, check=False)
    try:
        results = [t["hosts"]["localhost"] for t in json.loads(proc.stdout)["plays"][0]["tasks"]]
    except (ValueError, KeyError, IndexError):
        raise AssertionError("ansible-playbook gave no result:\n%s\n%s" % (proc.stdout[-3000:], proc.stderr[-3000:]))
    assert len(results) == len(many_args), proc.stdout[-3000:]
    return results, proc.stdout + proc.stderr


def _sh(argv, cwd):
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        raise AssertionError("%s failed in %s:\n%s\n%s" % (" ".join(argv), cwd, proc.stdout[-2000:], proc.stderr[-2000:]))
    return proc.stdout


def copy_sample(dest):
    shutil.copytree(SAMPLE, dest, ignore=shutil.ignore_patterns("node_modules", "dist", "*.tsbuildinfo"))
    return dest


def _with_module(workspace, out):
    """Pack through the workspace_pack module; None when it is not there or fails."""
    if not os.path.exists(os.path.join(REPO, "plugins", "modules", "workspace_pack.py")):
        return None
    result, raw = runner()("workspace_pack", {"workspace": workspace, "output": out})
    if result.get("failed") or not os.path.exists(os.path.join(out, _manifest.MANIFEST_NAME)):
        return None  # not usable (yet): pack directly
    return os.path.join(out, _manifest.MANIFEST_NAME)


def _with_pnpm(workspace, out):
    _sh(["pnpm", "-r", "--filter", "./packages/*", "build"], workspace)
    entries = {}
    for rel in sorted(os.listdir(os.path.join(workspace, "packages"))):
        pkg_dir = os.path.join(workspace, "packages", rel)
        with open(os.path.join(pkg_dir, "package.json")) as handle:
            data = json.load(handle)
        before = set(os.listdir(out))
        _sh(["pnpm", "pack", "--pack-destination", out], pkg_dir)
        tarball = sorted(set(os.listdir(out)) - before)[0]
        deps = data.get("dependencies") or {}
        digest = _manifest.sha256_file(os.path.join(out, tarball))
        entries[data["name"]] = {
            "name": data["name"], "version": data["version"], "dir": "packages/" + rel, "tarball": tarball,
            "sha256": digest, "fingerprint": digest,
            "targets": (data.get("bytelyst") or {}).get("targets") or list(_manifest.TARGETS),
            "dependencies": {"internal": {k: v for k, v in deps.items() if k.startswith(INTERNAL)},
                             "external": {k: v for k, v in deps.items() if not k.startswith(INTERNAL)}},
            "peer_dependencies": data.get("peerDependencies") or {},
            "dev_dependencies": data.get("devDependencies") or {},
        }
    return _manifest.write(out, entries, _order(entries), INTERNAL + "*")


def _order(entries):
    done, order = set(), []

    def visit(name):
        if name in done:
            return
        done.add(name)
        for dep in sorted(entries[name]["dependencies"]["internal"]):
            visit(dep)
        order.append(name)

    for name in sorted(entries):
        visit(name)
    return order


def pack(dest):
    """Pack a fresh copy of the sample workspace; return the output directory (manifest + tarballs)."""
    workspace = copy_sample(os.path.join(dest, "workspace"))
    out = os.path.join(dest, "packed")
    _sh(["pnpm", "install", "--frozen-lockfile"], workspace)
    if _with_module(workspace, out) is None:
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        _with_pnpm(workspace, out)
    return out


def changed_copy(src, dest, name, files=None, raw=None):
    """Copy src's tarballs and manifest to dest, changing package `name`'s tarball; return dest.

    files: {path inside the tarball (package/...): text} to add or replace (default: one extra file);
    raw: bytes that replace the whole tarball (a tarball that cannot install).
    The manifest records the new digest, so it is not stale.
    """
    shutil.copytree(src, dest)
    manifest = _manifest.load(dest)
    entry = manifest["packages"][name]
    path = os.path.join(dest, entry["tarball"])
    if raw is not None:
        with open(path, "wb") as handle:
            handle.write(raw)
    else:
        files = files or {"package/dist/changed.js": "module.exports = 'changed';\n"}
        with tarfile.open(path, "r:gz") as old:
            members = [(m, old.extractfile(m).read() if m.isfile() else None) for m in old.getmembers()
                       if m.name not in files]
        with tarfile.open(path, "w:gz") as new:
            for member, data in members:
                new.addfile(member, io.BytesIO(data) if data is not None else None)
            for member_name, text in sorted(files.items()):
                body = text.encode("utf-8")
                info = tarfile.TarInfo(member_name)
                info.size = len(body)
                info.mode = 0o644
                new.addfile(info, io.BytesIO(body))
    entry["sha256"] = entry["fingerprint"] = _manifest.sha256_file(path)
    manifest.pop("path")
    _manifest.write(dest, manifest["packages"], manifest["order"], manifest.get("filter"))
    return dest
