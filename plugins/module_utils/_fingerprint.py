# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fingerprints: digests of what a build reads, and why they changed. PRIVATE to the collection.

The one place the build side computes digests. The first half is generic (digests of
files, trees, JSON data and labelled parts, and their differences) so any module can say
"these inputs are the ones I saw last time": tarballs (workspace_pack), base images
(digest_json of their inputs), product images (InputDigest over their sources). The second half
describes a workspace package's inputs: its files (a superset of what pnpm packs: every
file of the package directory except node_modules), its pnpm lockfile entries, the
workspace-wide inputs every build reads, the tools, and the fingerprints of the
workspace packages it depends on.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import hashlib
import json
import os

from ansible_collections.bytelyst.deploy.plugins.module_utils._contract import DEP_FIELDS, RUNTIME_DEP_FIELDS

FORMAT = 1
SKIP_DIRS = ("node_modules", ".git")
SKIP_FILES = (".DS_Store",)
MAX_LISTED = 5


CHUNK = 1024 * 1024


def digest_bytes(data):
    return hashlib.sha256(data).hexdigest()


def sha256_file(path, chunk=CHUNK):
    """sha256 (hex) of a file's content, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def digest_file(path, chunk=CHUNK):
    """sha256 of a file's content; of its target for a symlink (never followed)."""
    if os.path.islink(path):
        return digest_bytes(("symlink:" + os.readlink(path)).encode("utf-8"))
    return sha256_file(path, chunk)


def digest_json(data):
    """sha256 of data in canonical JSON (sorted keys, no spaces): equal data, equal digest."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return digest_bytes(text.encode("utf-8"))


class InputDigest(object):
    """One sha256 over labelled parts. Each part goes in as `label NUL length NUL data`, so
    no two different sequences of parts (a file renamed, content moved between files) give
    the same digest."""

    def __init__(self):
        self._hash = hashlib.sha256()

    def add(self, label, data):
        self._hash.update(("%s\0%d\0" % (label, len(data))).encode("utf-8"))
        self._hash.update(data)

    def add_file(self, label, path):
        with open(path, "rb") as handle:
            self.add(label, handle.read())

    def add_json(self, label, data):
        self.add(label, json.dumps(data, sort_keys=True).encode("utf-8"))

    def hexdigest(self):
        return self._hash.hexdigest()


def tree_digests(root, skip_dirs=SKIP_DIRS, skip_paths=(), skip_files=SKIP_FILES):
    """{relative path ('/'-separated): sha256} of every file under root.

    skip_dirs are directory names skipped anywhere; skip_paths are relative
    directories skipped (e.g. nested packages that have their own fingerprint).
    """
    out = {}
    skip_paths = set(skip_paths)
    for current, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(current, root).replace(os.sep, "/")
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirs[:] = [d for d in dirs if d not in skip_dirs and prefix + d not in skip_paths]
        for name in files:
            if name not in skip_files:
                out[prefix + name] = digest_file(os.path.join(current, name))
        # A symlink to a directory is listed in dirs but not walked: record its target.
        for name in list(dirs):
            if os.path.islink(os.path.join(current, name)):
                out[prefix + name] = digest_file(os.path.join(current, name))
    return out


def glob_digests(root, patterns):
    """{name: sha256} of the files directly in root matching any glob pattern."""
    out = {}
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return out
    for name in names:
        path = os.path.join(root, name)
        if os.path.isfile(path) and any(fnmatch.fnmatch(name, p) for p in patterns):
            out[name] = digest_file(path)
    return out


def diff_digests(old, new):
    """(added, removed, changed) keys between two {key: digest} maps, each sorted."""
    old, new = old or {}, new or {}
    added = sorted(k for k in new if k not in old)
    removed = sorted(k for k in old if k not in new)
    changed = sorted(k for k in new if k in old and old[k] != new[k])
    return added, removed, changed


# --- pnpm lockfile (format 9) ----------------------------------------------------------

def _snapshot_key(name, version):
    base = version.split("(")[0]
    if "@" in base[1:]:  # an alias: the version already is name@version
        return version
    return "%s@%s" % (name, version)


def lockfile_entries(lock, importer):
    """The lockfile data one importer (a package directory, or '.') resolves to:
    its importer entry and every snapshot/package entry it reaches. None without a lockfile."""
    if not isinstance(lock, dict):
        return None
    importers = lock.get("importers") or {}
    entry = importers.get(importer)
    snapshots = lock.get("snapshots") or {}
    packages = lock.get("packages") or {}
    todo = []
    for field in DEP_FIELDS:
        for name, spec in ((entry or {}).get(field) or {}).items():
            version = str(spec.get("version") if isinstance(spec, dict) else spec)
            if not version.startswith(("link:", "file:", "workspace:")):
                todo.append(_snapshot_key(name, version))
    reached = {}
    while todo:
        key = todo.pop()
        if key in reached:
            continue
        snap = snapshots.get(key) or {}
        reached[key] = {"snapshot": snap, "package": packages.get(key.split("(")[0])}
        for field in RUNTIME_DEP_FIELDS:
            for name, version in (snap.get(field) or {}).items():
                todo.append(_snapshot_key(name, str(version)))
    return {"importer": entry, "reached": reached}


def lockfile_settings(lock):
    """The lockfile's workspace-wide part (version, settings, overrides, patches)."""
    if not isinstance(lock, dict):
        return None
    return dict((k, v) for k, v in lock.items() if k not in ("importers", "snapshots", "packages"))


# --- workspace package inputs ------------------------------------------------------------

def shared_inputs(root, patterns, lock):
    """What every package build reads from the workspace root."""
    return {
        "files": glob_digests(root, patterns),
        "lockfile": digest_json([lockfile_settings(lock), lockfile_entries(lock, ".")]),
    }


def package_inputs(files, lock_entries, shared, tool, dep_fingerprints):
    """The inputs of one package; fingerprint(inputs) is its fingerprint."""
    return {
        "format": FORMAT,
        "files": files,
        "lockfile": digest_json(lock_entries),
        "shared": shared,
        "tool": tool,
        "dependencies": dep_fingerprints,
    }


def fingerprint(inputs):
    return digest_json(inputs)


def _listed(label, paths):
    shown = ["%s: %s" % (label, p) for p in paths[:MAX_LISTED]]
    if len(paths) > MAX_LISTED:
        shown.append("%s: ... and %d more" % (label, len(paths) - MAX_LISTED))
    return shown


def reasons(old, new):
    """Why a package with previous inputs old (None: never packed) must be rebuilt
    with inputs new; an empty list means it is up to date."""
    if not old:
        return ["new"]
    if fingerprint(old) == fingerprint(new):
        return []
    out = []
    added, removed, changed = diff_digests(old.get("files"), new["files"])
    out += _listed("source changed", changed) + _listed("file added", added) + _listed("file removed", removed)
    if old.get("lockfile") != new["lockfile"]:
        out.append("lockfile entries changed")
    old_shared = old.get("shared") or {}
    added, removed, changed = diff_digests(old_shared.get("files"), new["shared"]["files"])
    out += _listed("shared input changed", sorted(added + removed + changed))
    if old_shared.get("lockfile") != new["shared"]["lockfile"]:
        out.append("workspace lockfile settings or root dependencies changed")
    old_tool = old.get("tool") or {}
    for key in sorted(new["tool"]):
        if old_tool.get(key) != new["tool"][key]:
            out.append("%s changed: %s -> %s" % (key, old_tool.get(key), new["tool"][key]))
    added, removed, changed = diff_digests(old.get("dependencies"), new["dependencies"])
    out += ["dependency %s changed" % n for n in changed]
    out += ["dependency %s added" % n for n in added] + ["dependency %s removed" % n for n in removed]
    return out or ["inputs changed"]
