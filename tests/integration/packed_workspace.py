"""A packed copy of examples/common_plat for tests: tarballs + manifest in a directory.

pack(dest) copies the sample workspace to a scratch directory and packs it, through
bytelyst.deploy.workspace_pack when that module exists, otherwise with pnpm directly
(install --frozen-lockfile, build, pack per package) and _tarball_manifest.write.
changed_copy(src, dest, name) makes a second manifest directory in which one package's
tarball has different content (the quick way to test "one package changed").
packed_once() packs once per content: the result is kept under $BYTELYST_DEV_HOME, keyed on
the sample's sources, the collection's plugins and pnpm's version, for later processes and runs.
"""

import hashlib
import gzip
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

from ansible_collections.bytelyst.deploy.plugins.module_utils import _tarball_manifest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE = os.path.join(REPO, "examples", "common_plat")
INTERNAL = "@bytelyst/"


def _helper():
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import ansible_runner_helper

    return ansible_runner_helper


def runner():
    """run(module, args, check=False) -> (result, raw): a module through real ansible-playbook."""
    run_module = _helper().run_module

    def run(module, args, check=False):
        return run_module(module, args, check=check)
    return run


def run_many(module, many_args, timeout=900):
    """Run the module once per args dict in ONE playbook (errors ignored); return (results, raw)."""
    results, raw = _helper().run_module_many(module, many_args, timeout=timeout)
    assert len(results) == len(many_args), raw[-3000:]
    return results, raw


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
    if result.get("failed") or not os.path.exists(os.path.join(out, _tarball_manifest.MANIFEST_NAME)):
        return None  # not usable (yet): pack directly
    return os.path.join(out, _tarball_manifest.MANIFEST_NAME)


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
        digest = _tarball_manifest.sha256_file(os.path.join(out, tarball))
        entries[data["name"]] = {
            "name": data["name"], "version": data["version"], "dir": "packages/" + rel, "tarball": tarball,
            "sha256": digest, "fingerprint": digest,
            "kinds": (data.get("bytelyst") or {}).get("targets") or ["backend", "web"],  # the sample keeps the old field
            "dependencies": {"internal": {k: v for k, v in deps.items() if k.startswith(INTERNAL)},
                             "external": {k: v for k, v in deps.items() if not k.startswith(INTERNAL)}},
            "peer_dependencies": data.get("peerDependencies") or {},
            "dev_dependencies": data.get("devDependencies") or {},
        }
    return _tarball_manifest.write(out, entries, _order(entries), INTERNAL + "*")


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


_PACKED = {}


_IMPORT = re.compile(r"plugins\.module_utils(?: import |\.)(_\w+)")


def _packing_code():
    """workspace_pack and the module_utils it imports, transitively: the code packing runs (a
    change elsewhere in plugins/ does not make the packed copy stale)."""
    utils = os.path.join(REPO, "plugins", "module_utils")
    paths, todo = [], [os.path.join(REPO, "plugins", "modules", "workspace_pack.py")]
    while todo:
        path = todo.pop()
        if path in paths or not os.path.exists(path):
            continue
        paths.append(path)
        with open(path) as handle:
            todo.extend(os.path.join(utils, name + ".py") for name in _IMPORT.findall(handle.read()))
    return sorted(paths)


def _inputs_key():
    """sha256 over what packing depends on: the sample's sources (no build output), the code
    of workspace_pack (and so the manifest format) and the host's pnpm version."""
    digest = hashlib.sha256(_sh(["pnpm", "--version"], REPO).encode())
    paths = []
    for dirpath, dirs, files in os.walk(SAMPLE):
        dirs[:] = sorted(d for d in dirs if d not in ("node_modules", "dist", "__pycache__"))
        paths.extend(os.path.join(dirpath, name) for name in sorted(files) if not name.endswith(".tsbuildinfo"))
    for path in paths + _packing_code():
        digest.update(os.path.relpath(path, REPO).encode() + b"\0")
        with open(path, "rb") as handle:
            digest.update(handle.read() + b"\0")
    return digest.hexdigest()[:16]


def _still_good(out):
    """True when out holds a manifest whose tarballs all match their recorded digests."""
    try:
        return _tarball_manifest.verify(_tarball_manifest.load(out))
    except Exception:  # absent, half-written or changed: pack afresh
        return False


def packed_once():
    """The sample workspace packed once per content (read-only for the tests that share it).

    Packing (pnpm install, tsc, pnpm pack) is the slow part of several suites' set-up; the
    tarballs are byte-for-byte reproducible, so one packed copy serves every suite, both test
    lanes and later runs until an input changes. A copy is packed in a scratch directory and
    renamed into place, so two processes packing at once both end with a complete one.
    """
    if "dir" not in _PACKED:
        cache = os.path.join(os.environ.get("BYTELYST_DEV_HOME") or tempfile.gettempdir(), "packed-sample")
        final = os.path.join(cache, _inputs_key())
        if not _still_good(os.path.join(final, "packed")):
            os.makedirs(cache, exist_ok=True)
            scratch = tempfile.mkdtemp(prefix="packing-", dir=cache)
            pack(scratch)
            for name in os.listdir(cache):  # copies of other inputs unused for a day, scratch left by killed runs
                path = os.path.join(cache, name)
                # Another checkout (another branch, a CI clone) may be using its own copy right now:
                # only copies nobody has used for a day go (each use touches its copy, below).
                age = time.time() - os.path.getmtime(path)
                if path != scratch and name != os.path.basename(final) and age > (
                        3600 if name.startswith("packing-") else 86400):
                    shutil.rmtree(path, ignore_errors=True)
            if os.path.exists(final) and not _still_good(os.path.join(final, "packed")):
                shutil.rmtree(final, ignore_errors=True)  # changed by someone: replace it
            try:
                os.rename(scratch, final)
            except OSError:  # another process put its copy there first
                shutil.rmtree(scratch, ignore_errors=True)
        os.utime(final)  # in use: kept by other checkouts' clean-up for a day
        _PACKED["dir"] = os.path.join(final, "packed")
    return _PACKED["dir"]


def changed_copy(src, dest, name, files=None, raw=None):
    """Copy src's tarballs and manifest to dest, changing package `name`'s tarball; return dest.

    files: {path inside the tarball (package/...): text} to add or replace (default: one extra file);
    raw: bytes that replace the whole tarball (a tarball that cannot install).
    The manifest records the new digest, so it is not stale.
    """
    shutil.copytree(src, dest)
    manifest = _tarball_manifest.load(dest)
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
        # The same bytes every run (gzip header time 0, member times kept or 0): warm runs
        # find the image built from this tarball in the build cache, as a user's rebuild would.
        with open(path, "wb") as raw_file, gzip.GzipFile(fileobj=raw_file, mode="wb", mtime=0) as gz, \
                tarfile.open(fileobj=gz, mode="w") as new:
            for member, data in members:
                new.addfile(member, io.BytesIO(data) if data is not None else None)
            for member_name, text in sorted(files.items()):
                body = text.encode("utf-8")
                info = tarfile.TarInfo(member_name)
                info.size = len(body)
                info.mode = 0o644
                new.addfile(info, io.BytesIO(body))
    entry["sha256"] = entry["fingerprint"] = _tarball_manifest.sha256_file(path)
    manifest.pop("path")
    _tarball_manifest.write(dest, manifest["packages"], manifest["order"], manifest.get("filter"))
    return dest
