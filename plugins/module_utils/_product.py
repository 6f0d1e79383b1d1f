# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A product's backend or web as an image input. PRIVATE to the collection.

Reads the product directory (package.json, kind, port, start command, sources,
lockfile), writes the package.json each build stage installs from, stages the build
context, and computes the plan's fingerprint. Pure file work: no engine here.

The product is a pnpm workspace whose dependencies on the shared packages (`workspace:*`,
`workspace:^`, ranges; any scope, see _scope) resolve through a `.pnpmfile.cjs` or links
into the workspace that holds them.
Inside an image none of that exists, so the build never sees the product's workspace
files, hook or lockfile; it sees a staged context:

    Dockerfile is passed separately; the context holds
    source/                 the kind's sources (no node_modules, dist, .next, package.json)
    bytelyst/builder.json   package.json for the builder stage
    bytelyst/runtime.json   package.json for the final stage (production dependencies)
    vendor/*.tgz            mode=tarball only: the shared packages' tarballs it installs
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os
import shutil

from ansible_collections.bytelyst.deploy.plugins.module_utils._contract import DEP_FIELDS, RUNTIME_DEP_FIELDS
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._fingerprint import InputDigest

KINDS = ("backend", "web")
MODES = ("base", "tarball")
# Never part of the sources: installed or built inside the image, or host-only.
SKIP_DIRS = frozenset(("node_modules", "dist", ".next", ".turbo", "vendor", ".git", "coverage", ".pnpm-store"))
SKIP_FILES = frozenset(("package.json", ".pnpmfile.cjs", "pnpm-lock.yaml", "pnpm-workspace.yaml",
                        "Dockerfile", ".dockerignore", ".env", ".env.local", "npm-debug.log", ".pnpm-debug.log"))
SKIP_SUFFIXES = (".tsbuildinfo", ".tgz", ".log")
LOCKFILES = ("pnpm-lock.yaml",)


def _read_json(path, what):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (IOError, OSError) as exc:
        raise DeployError("Cannot read %s %s: %s." % (what, path, exc))
    except ValueError as exc:
        raise DeployError("%s %s is not valid JSON: %s." % (what, path, exc), hint="Fix the file and run again.")


class Product(object):
    """One kind (backend or web) of one product, as read from disk."""

    def __init__(self, root, kind, package, lockfile):
        self.root = root
        self.kind = kind
        self.dir = os.path.join(root, kind)
        self.package = package
        self.lockfile = lockfile
        self.name = os.path.basename(os.path.normpath(root))
        self.version = str(package.get("version") or "")
        self.next = "next" in (package.get("dependencies") or {})

    def default_health_path(self):
        return "/api/health" if self.next and os.path.exists(
            os.path.join(self.dir, "src", "app", "api", "health")) else "/health"

    def start_command(self):
        """The argv the image runs: Next standalone's server.js, else main / `start` script / dist/server.js."""
        if self.next:
            return ["node", "server.js"]
        main = self.package.get("main")
        if not main:
            start = ((self.package.get("scripts") or {}).get("start") or "").split()
            main = start[1] if len(start) == 2 and start[0] == "node" else "dist/server.js"
        return ["node", main]

    def output_dir(self):
        """The build output the final stage copies (non-Next kinds)."""
        main = self.start_command()[1]
        main = main[2:] if main.startswith("./") else main
        return main.split("/")[0] if "/" in main else "dist"


def load(product_dir, kind):
    """Read product_dir/kind; raise DeployError naming the missing or wrong input."""
    if kind not in KINDS:
        raise DeployError("kind %r is not known; use one of: %s." % (kind, ", ".join(KINDS)))
    if not product_dir or not os.path.isdir(product_dir):
        raise DeployError("The product directory %s does not exist." % product_dir,
                          hint="Set product_dir to the product's root (the folder holding backend/ and web/).")
    root = os.path.abspath(product_dir)
    kind_dir = os.path.join(root, kind)
    if not os.path.isdir(kind_dir):
        raise DeployError("The product %s has no %s/ directory." % (root, kind),
                          hint="Check kind (backend or web) and product_dir.")
    manifest = os.path.join(kind_dir, "package.json")
    if not os.path.isfile(manifest):
        raise DeployError("The product's %s has no package.json (looked for %s)." % (kind, manifest),
                          hint="Point product_dir at a product whose %s/ holds a package.json." % kind)
    package = _read_json(manifest, "The package.json")
    lockfile = None
    for folder in (kind_dir, root):
        for name in LOCKFILES:
            if os.path.isfile(os.path.join(folder, name)):
                lockfile = os.path.join(folder, name)
                break
        if lockfile:
            break
    return Product(root, kind, package, lockfile)


def source_files(kind_dir):
    """Sorted relative paths of the kind's sources (what the builder stage copies)."""
    found = []
    for folder, dirs, files in os.walk(kind_dir):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        rel_folder = os.path.relpath(folder, kind_dir)
        for name in files:
            rel = name if rel_folder == "." else os.path.join(rel_folder, name)
            if rel_folder == "." and name in SKIP_FILES:
                continue
            if name.endswith(SKIP_SUFFIXES) or os.path.islink(os.path.join(folder, name)):
                continue
            found.append(rel)
    return sorted(found)


def _rewrite(package, keep, prod):
    """A copy of package with only the dependencies keep(name, spec) accepts."""
    out = copy.deepcopy(package)
    for field in DEP_FIELDS:
        if field not in out:
            continue
        if prod and field == "devDependencies":
            del out[field]
            continue
        kept = dict((n, s) for n, s in sorted((out[field] or {}).items()) if keep(n, s))
        if kept:
            out[field] = kept
        else:
            del out[field]
    out.pop("packageManager", None)  # no corepack download in the image: pnpm comes with the base
    return out


def rewrite_for_base(package, satisfied, shared, prod=False):
    """mode=base: drop the shared packages (`name in shared`: the base provides them), every
    third-party dependency whose range the base's installed version satisfies (names in
    `satisfied`), and any other `workspace:` dependency (no workspace exists in the image)."""
    def keep(name, spec):
        text = spec if isinstance(spec, str) else ""
        return not (name in shared or name in satisfied or text.startswith("workspace:"))
    return _rewrite(package, keep, prod)


def rewrite_for_tarball(package, vendor, shared, prod=False):
    """mode=tarball: each shared package -> file:./vendor/<tgz>; pnpm.overrides pin their
    internal dependencies to the same tarballs (never a registry). vendor: {name: tgz}."""
    def keep(name, spec):
        return not (isinstance(spec, str) and spec.startswith("workspace:") and name not in shared)
    out = _rewrite(package, keep, prod)
    for field in DEP_FIELDS:
        for name in list((out.get(field) or {})):
            if name in shared:
                if name not in vendor:
                    raise DeployError("The product needs %s but the manifest has no tarball of it." % name,
                                      hint="Pack it with bytelyst.deploy.workspace_pack, or remove the dependency.")
                out[field][name] = "file:./vendor/%s" % vendor[name]
    pnpm = out.setdefault("pnpm", {})
    overrides = pnpm.setdefault("overrides", {})
    for name in sorted(vendor):
        overrides[name] = "file:./vendor/%s" % vendor[name]
    return out


def tarball_closure(manifest, names):
    """The packages to vendor for names: them and their internal deps, in manifest order."""
    packages = manifest["packages"]
    wanted, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        if name not in packages:
            raise DeployError("The product needs %s but the manifest %s does not list it." % (name, manifest.get("path")),
                              hint="Pack the workspace that holds it (bytelyst.deploy.workspace_pack).")
        wanted.add(name)
        todo.extend(((packages[name].get("dependencies") or {}).get("internal") or {}).keys())
    order = manifest.get("order") or sorted(packages)
    return [n for n in order if n in wanted] + sorted(wanted - set(order))


def has_dependencies(package, prod):
    fields = RUNTIME_DEP_FIELDS if prod else DEP_FIELDS
    return any(package.get(f) for f in fields)


def dumps(data):
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def fingerprint(product, files, dockerfile, extra):
    """sha256 over the sources, the lockfile, both rewritten manifests (in extra) and the Dockerfile."""
    digest = InputDigest()
    for rel in files:
        digest.add_file("source:" + rel, os.path.join(product.dir, rel))
    if product.lockfile:
        digest.add_file("lockfile", product.lockfile)
    digest.add("dockerfile", dockerfile.encode("utf-8"))
    digest.add_json("inputs", extra)
    return digest.hexdigest()


def stage_context(product, files, dest, manifests, vendor_files=None):
    """Write the build context into dest (an empty directory): sources, manifests, vendor."""
    for rel in files:
        target = os.path.join(dest, "source", rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(product.dir, rel), target)
    os.makedirs(os.path.join(dest, "source"), exist_ok=True)
    os.makedirs(os.path.join(dest, "bytelyst"), exist_ok=True)
    for name, data in manifests.items():
        with open(os.path.join(dest, "bytelyst", name), "w") as handle:
            handle.write(dumps(data))
    if vendor_files:
        os.makedirs(os.path.join(dest, "vendor"), exist_ok=True)
        for path in vendor_files:
            shutil.copy2(path, os.path.join(dest, "vendor", os.path.basename(path)))
    return dest
