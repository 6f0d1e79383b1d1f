# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tarball manifest: what workspace_pack writes beside the tarballs and what the
image modules read. PRIVATE to the collection. Format documented in docs/manifest.md.

{
  "format": 1,
  "filter": "@bytelyst/*",
  "packages": {                       # keyed by package name
    "@bytelyst/config": {
      "name": "@bytelyst/config",
      "version": "1.2.0",
      "dir": "packages/config",          # relative to the workspace root
      "tarball": "bytelyst-config-1.2.0.tgz",   # relative to the manifest's directory
      "sha256": "<hex digest of the tarball>",
      "fingerprint": "<hex digest of the package's inputs>",
      "kinds": ["backend", "web"],       # package.json "bytelyst.kinds"; absent = both
      "targets": ["backend", "web"],     # the same, under its deprecated name (until 1.0.0)
      "dependencies": {"internal": {"@bytelyst/errors": "workspace:^"}, "external": {"zod": "^3.23.8"}},
      "peer_dependencies": {"react": "^18 || ^19"},
      "dev_dependencies": {"typescript": "5.6.3"}
    }
  },
  "order": ["@bytelyst/errors", "@bytelyst/config"],   # dependencies first
  "lockfile": {                       # absent when the workspace has no pnpm-lock.yaml
    "lockfileVersion": "9.0",         # what the workspace's pnpm-lock.yaml resolves for these
    "packages": {"zod@3.25.76": {...}},   # packages (every field), copied as pnpm wrote them;
    "snapshots": {"zod@3.25.76": {}}      # base images install exactly these (see _lockfile)
  }
}
The filter is the one workspace_pack was given; the shared packages are the `packages`,
of any scope (see _scope).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.bytelyst.deploy.plugins.module_utils._contract import PACKAGE_KINDS
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._files import write_atomic
from ansible_collections.bytelyst.deploy.plugins.module_utils._fingerprint import sha256_file

MANIFEST_NAME = "bytelyst-manifest.json"
FORMAT = 1
# An entry's kinds: "kinds", or in a manifest written before 0.2.0 only "targets".
KINDS = "kinds"
KINDS_DEPRECATED = "targets"


def manifest_path(location):
    """Accept the manifest file or the directory holding it."""
    if os.path.isdir(location):
        return os.path.join(location, MANIFEST_NAME)
    return location


def load(location):
    """Read and validate a manifest; raise DeployError naming what is wrong."""
    path = manifest_path(location)
    if not os.path.exists(path):
        raise DeployError(
            "No tarball manifest at %s." % path,
            hint="Run bytelyst.deploy.workspace_pack (role tarball_prep) first, or point manifest at its output directory.",
        )
    try:
        with open(path) as handle:
            data = json.load(handle)
    except ValueError as exc:
        raise DeployError("The tarball manifest %s is not valid JSON: %s." % (path, exc),
                          hint="Re-run bytelyst.deploy.workspace_pack with force=true to rewrite it.")
    if data.get("format") != FORMAT or not isinstance(data.get("packages"), dict):
        raise DeployError("The tarball manifest %s has format %r; this collection reads format %d." % (
            path, data.get("format"), FORMAT), hint="Re-run bytelyst.deploy.workspace_pack to rewrite it.")
    data["path"] = path
    return data


def verify(manifest, names=None):
    """Check every listed tarball exists and matches its recorded sha256 (a stale manifest fails)."""
    base = os.path.dirname(manifest["path"])
    for name in names or manifest.get("order") or sorted(manifest["packages"]):
        entry = manifest["packages"][name]
        tarball = os.path.join(base, entry["tarball"])
        if not os.path.exists(tarball):
            raise DeployError("The manifest %s lists %s but its tarball %s is missing." % (
                manifest["path"], name, tarball), hint="Re-run bytelyst.deploy.workspace_pack.")
        actual = sha256_file(tarball)
        if actual != entry["sha256"]:
            raise DeployError(
                "The manifest %s is stale: the tarball of %s has sha256 %s, the manifest records %s." % (
                    manifest["path"], name, actual, entry["sha256"]),
                hint="Re-run bytelyst.deploy.workspace_pack so tarballs and manifest agree.")
    return True


def tarball_path(manifest, name):
    return os.path.join(os.path.dirname(manifest["path"]), manifest["packages"][name]["tarball"])


def kinds_of(entry):
    """The image kinds (backend, web) a manifest entry's package is for."""
    return entry.get(KINDS) or entry.get(KINDS_DEPRECATED) or list(PACKAGE_KINDS)


def packages_for(manifest, kind):
    """Names of the packages meant for a base image of kind (backend or web), in order."""
    order = manifest.get("order") or sorted(manifest["packages"])
    return [n for n in order if kind in kinds_of(manifest["packages"][n])]


def write(directory, packages, order, package_filter, lockfile=None):
    """Write the manifest atomically into directory; return its path."""
    data = {"format": FORMAT, "filter": package_filter, "packages": packages, "order": list(order)}
    if lockfile:
        data["lockfile"] = lockfile
    return write_atomic(os.path.join(directory, MANIFEST_NAME), json.dumps(data, indent=2, sort_keys=True) + "\n")
