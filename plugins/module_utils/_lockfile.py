# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lockfile's versions in images: what pnpm-lock.yaml resolved is what an image installs.
PRIVATE to the collection. Pure data work: the Dockerfile steps that use it are in _dockerfile.

An image never installs from the workspace's own lockfile as it is: the package.json inside
the image is a rewritten one (tarballs instead of `workspace:` links, what the base provides
left out), so pnpm would call that lockfile outdated. Instead:

1. `check_importer`: before anything is built, the lockfile must have been written for the
   package.json at hand: every third-party dependency's specifier is the one the lockfile
   recorded (else a DeployError naming each package; run `pnpm install` and commit).
2. `closure`: the registry packages the lockfile resolves for some importers (the shared
   packages' folders, or a product's kind), with everything they reach.
3. `seed_text`: a lockfile holding that closure, written beside the image's package.json.
   pnpm prefers the versions a lockfile already holds, so it resolves the rewritten
   package.json to exactly those versions; only what the lockfile never had is resolved.
4. `locked_versions` goes into the build (never a layer), and a step after the install
   (_dockerfile.lock_check) fails the build when any installed package of a name the
   lockfile holds has a version it does not hold, naming the package: a lockfile that no
   longer matches is a failed build, never a silent re-resolve.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

LOCKFILE = "pnpm-lock.yaml"
CHECKED_FIELDS = ("dependencies", "devDependencies", "optionalDependencies")
# Versions that name no registry package: the workspace's own links and paths.
LOCAL_PREFIXES = ("link:", "file:", "workspace:")


def load(path):
    """The lockfile at path, parsed (PyYAML, as workspace_pack reads it)."""
    from ansible_collections.bytelyst.deploy.plugins.module_utils import _workspace
    if not _workspace.HAS_YAML:
        raise DeployError("Reading %s needs the Python package PyYAML, which is not installed." % path,
                          hint="pip install pyyaml on the host that runs the module.")
    try:
        data = _workspace.load_yaml(path)
    except (IOError, OSError) as exc:
        raise DeployError("Cannot read the lockfile %s: %s." % (path, exc))
    except _workspace.yaml.YAMLError as exc:
        raise DeployError("The lockfile %s is not valid YAML: %s" % (path, exc), hint="Run pnpm install to rewrite it.")
    if not isinstance(data, dict) or not isinstance(data.get("importers"), dict):
        raise DeployError("%s is not a pnpm lockfile with importers (lockfileVersion %r)." % (
            path, (data or {}).get("lockfileVersion") if isinstance(data, dict) else None),
            hint="Use the pnpm-lock.yaml pnpm 9 or newer writes (lockfileVersion 9.0).")
    return data


def importer_id(lockfile_path, package_dir):
    """The importer key of package_dir in the lockfile at lockfile_path ('.' or 'backend')."""
    rel = os.path.relpath(os.path.abspath(package_dir), os.path.dirname(os.path.abspath(lockfile_path)))
    return "." if rel == "." else rel.replace(os.sep, "/")


def name_of(key):
    """'ms@2.0.0' / '@acme/x@1.0.0(react@19.1.1)' -> the package name."""
    base = key.split("(")[0]
    at = base.rfind("@")
    return base[:at] if at > 0 else base


def version_of(key):
    base = key.split("(")[0]
    return base[base.rfind("@") + 1:] if base.rfind("@") > 0 else ""


def _spec(value):
    return str(value.get("specifier") if isinstance(value, dict) else value)


def _version(value):
    return str(value.get("version") if isinstance(value, dict) else value)


def check_importer(lock, importer, package, shared, where):
    """Raise DeployError naming every third-party dependency of package (a package.json) whose
    specifier is not the one the lockfile's importer recorded, or that it lacks. Shared
    packages and `workspace:` dependencies are resolved by the collection, not the lockfile."""
    entry = (lock.get("importers") or {}).get(importer)
    overrides = lock.get("overrides") or {}
    problems = []
    if entry is None:
        problems.append("the lockfile has no importer %r for %s" % (importer, where))
        entry = {}
    recorded = {}
    for field in CHECKED_FIELDS:
        for name, value in (entry.get(field) or {}).items():
            recorded[name] = _spec(value)
    for field in CHECKED_FIELDS:
        for name, spec in sorted((package.get(field) or {}).items()):
            if name in shared or not isinstance(spec, str) or spec.startswith(LOCAL_PREFIXES):
                continue
            wanted = str(overrides.get(name, spec))
            if name not in recorded:
                problems.append("%s %s is in package.json but not in the lockfile" % (name, spec))
            elif recorded[name] != wanted:
                problems.append("%s: package.json asks %s, the lockfile was written for %s" % (
                    name, wanted, recorded[name]))
    if problems:
        raise DeployError(
            "The lockfile does not match %s: %s." % (where, "; ".join(problems)),
            hint="Run pnpm install where the lockfile lives and commit pnpm-lock.yaml; an image installs "
            "exactly what the lockfile resolves, so the two must agree.", packages=sorted(
                set(p.split(" ")[0].rstrip(":") for p in problems)))


def _snapshot_key(name, version):
    if "@" in version.split("(")[0][1:]:  # an alias: the version already is name@version
        return version
    return "%s@%s" % (name, version)


def closure(lock, importers):
    """{"packages": {...}, "snapshots": {...}}: the registry packages the importers resolve to,
    with everything they reach (their own entries, copied), and the lockfile's version."""
    todo = []
    for importer in importers:
        entry = (lock.get("importers") or {}).get(importer) or {}
        for field in CHECKED_FIELDS:
            for name, value in (entry.get(field) or {}).items():
                version = _version(value)
                if not version.startswith(LOCAL_PREFIXES):
                    todo.append(_snapshot_key(name, version))
    return reach(lock, todo)


def reach(lock, keys):
    """closure() from snapshot keys ('fastify@5.6.0', 'react-dom@19.1.1(react@19.1.1)') instead of importers."""
    snapshots = lock.get("snapshots") or {}
    packages = lock.get("packages") or {}
    todo = list(keys)
    out = {"lockfileVersion": str(lock.get("lockfileVersion") or "9.0"), "packages": {}, "snapshots": {}}
    while todo:
        key = todo.pop()
        if key in out["snapshots"] or key not in snapshots and key.split("(")[0] not in packages:
            continue
        snap = snapshots.get(key) or {}
        out["snapshots"][key] = snap
        plain = key.split("(")[0]
        if plain in packages:
            out["packages"][plain] = packages[plain]
        for field in ("dependencies", "optionalDependencies"):
            for name, version in (snap.get(field) or {}).items():
                if not str(version).startswith(LOCAL_PREFIXES):
                    todo.append(_snapshot_key(name, str(version)))
    return out


def merge(first, second):
    """Two closures in one (the same key always holds the same entry in one lockfile)."""
    if not first:
        return second
    out = {"lockfileVersion": first.get("lockfileVersion"), "packages": dict(first.get("packages") or {}),
           "snapshots": dict(first.get("snapshots") or {})}
    out["packages"].update((second or {}).get("packages") or {})
    out["snapshots"].update((second or {}).get("snapshots") or {})
    return out


def locked_versions(locked):
    """{name: [versions]} of a closure: what the image may hold of each name."""
    out = {}
    for key in (locked or {}).get("packages") or {}:
        out.setdefault(name_of(key), set()).add(version_of(key))
    return dict((name, sorted(versions)) for name, versions in sorted(out.items()))


def seed_text(locked, auto_install_peers):
    """seed() as the file's text. JSON is YAML, so no YAML writer is needed."""
    return json.dumps(seed(locked, auto_install_peers), indent=1, sort_keys=True) + "\n"


def seed(locked, auto_install_peers):
    """The lockfile written beside an image's package.json: the closure's resolutions and no
    importer (the install resolves the rewritten package.json against them). settings match
    the install's, or pnpm would set the file aside."""
    return {
        "lockfileVersion": locked.get("lockfileVersion") or "9.0",
        "settings": {"autoInstallPeers": bool(auto_install_peers), "excludeLinksFromLockfile": False},
        "importers": {".": {}},
        "packages": locked.get("packages") or {},
        "snapshots": locked.get("snapshots") or {},
    }
