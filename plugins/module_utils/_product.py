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
    extra/<dir>/            each extra source directory (the guide's product-level shared/)
    bytelyst/builder.json   package.json for the builder stage
    bytelyst/runtime.json   package.json for the final stage (production dependencies)
    bytelyst/npmrc          the product's .npmrc settings without its credentials (_npmrc)
    vendor/*.tgz            mode=tarball only: the shared packages' tarballs it installs

What never enters it: see _dockerignore.NEVER (credentials, environment files, private
keys, git data), and what the product's `.dockerignore` (paths from the product root) or
the kind directory's own (paths from there) leaves out.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os
import re
import shutil

from ansible_collections.bytelyst.deploy.plugins.module_utils import _dockerignore
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
# The guide's product-level folder beside backend/ and web/, taken when present and not configured.
DEFAULT_EXTRA_DIRS = ("shared",)
DIR_NAME = re.compile(r"^[A-Za-z0-9_.@+-]+(/[A-Za-z0-9_.@+-]+)*$")


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

    def __init__(self, root, kind, package, lockfile, kind_dir=None):
        self.root = root
        self.kind = kind
        # the kind's directory under root: the kind's name unless configured (kind_dir)
        self.kind_dir = kind_dir or kind
        self.dir = os.path.join(root, self.kind_dir)
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


def check_dir_name(value, option):
    """A directory below the product root: relative, '/'-separated, no '..' or '.' parts."""
    text = value if isinstance(value, str) else ""
    if not DIR_NAME.match(text) or any(part in (".", "..") for part in text.split("/")):
        raise DeployError("%s %r is not a directory name below the product root." % (option, value),
                          hint="Use a relative path such as api or packages/shared (no '..', no leading '/').")
    return text


def load(product_dir, kind, kind_dir=None):
    """Read product_dir/<kind_dir or kind>; raise DeployError naming the missing or wrong input."""
    if kind not in KINDS:
        raise DeployError("kind %r is not known; use one of: %s." % (kind, ", ".join(KINDS)))
    if not product_dir or not os.path.isdir(product_dir):
        raise DeployError("The product directory %s does not exist." % product_dir,
                          hint="Set product_dir to the product's root (the folder holding backend/ and web/).")
    root = os.path.abspath(product_dir)
    name = check_dir_name(kind_dir, "kind_dir") if kind_dir else kind
    kind_path = os.path.join(root, name)
    if not os.path.isdir(kind_path):
        raise DeployError("The product %s has no %s/ directory." % (root, name),
                          hint="Check kind (backend or web), kind_dir (the %s's directory when it is not %s/) and "
                               "product_dir." % (kind, kind))
    package_json = os.path.join(kind_path, "package.json")
    if not os.path.isfile(package_json):
        raise DeployError("The product's %s has no package.json (looked for %s)." % (kind, package_json),
                          hint="Point product_dir at a product whose %s/ holds a package.json." % name)
    package = _read_json(package_json, "The package.json")
    lockfile = None
    for folder in (kind_path, root):
        for lock_name in LOCKFILES:
            if os.path.isfile(os.path.join(folder, lock_name)):
                lockfile = os.path.join(folder, lock_name)
                break
        if lockfile:
            break
    return Product(root, kind, package, lockfile, kind_dir=name)


def ignore_rules(product):
    """(the product root's .dockerignore, the kind directory's own): Matchers (empty when absent)."""
    return (_dockerignore.load(os.path.join(product.root, ".dockerignore")),
            _dockerignore.load(os.path.join(product.dir, ".dockerignore")))


def _walk(top, keep):
    """Sorted '/'-separated paths relative to top of the files below it that keep(rel, is_dir)
    accepts (SKIP_DIRS, SKIP_SUFFIXES and links never)."""
    found = []
    for folder, dirs, files in os.walk(top):
        rel_folder = os.path.relpath(folder, top).replace(os.sep, "/")
        prefix = "" if rel_folder == "." else rel_folder + "/"
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not os.path.islink(os.path.join(folder, d))
                         and keep(prefix + d, True))
        for name in files:
            rel = prefix + name
            if name.endswith(SKIP_SUFFIXES) or os.path.islink(os.path.join(folder, name)) or not keep(rel, False):
                continue
            found.append(rel)
    return sorted(found)


def _keeper(root_rules, own_rules, root_prefix):
    """keep(rel, is_dir) for a tree at root_prefix (its path from the product root): NEVER, then the
    .dockerignore rules (the root's on the path from the root, the tree's own on rel). A directory
    is walked unless it is left out and no `!` rule could bring something below it back."""
    def keep(rel, is_dir):
        if _dockerignore.never(rel):
            return False
        for rules, path in ((root_rules, root_prefix + rel), (own_rules, rel)):
            if rules is not None and rules.ignored(path) and not (is_dir and rules.has_exclusions):
                return False
        return True
    return keep


def source_files(kind_dir, rules=None, root_prefix=""):
    """Sorted relative paths of the kind's sources (what the builder stage copies).

    rules: (root Matcher, kind Matcher) from ignore_rules; root_prefix: the kind dir's path from
    the product root followed by '/' (how the root's .dockerignore names its files)."""
    root_rules, own_rules = rules or (None, None)
    keep = _keeper(root_rules, own_rules, root_prefix)
    return [rel for rel in _walk(kind_dir, keep) if "/" in rel or rel not in SKIP_FILES]


def extra_dirs(product, configured=None):
    """The extra source directories (paths from the product root) the build copies: the configured
    list (each must exist), or those of DEFAULT_EXTRA_DIRS that exist when configured is None."""
    if configured is None:
        return [d for d in DEFAULT_EXTRA_DIRS if os.path.isdir(os.path.join(product.root, d))]
    names = []
    for value in configured:
        name = check_dir_name(value, "extra_dirs entry")
        if _dockerignore.never(name):
            raise DeployError("extra_dirs entry %r is a path that never enters a build context (%s)." % (
                value, _dockerignore.never(name)), hint="Remove it from extra_dirs.")
        first, own = name.split("/")[0], product.kind_dir.split("/")[0]
        if first == own or name in names or first in KINDS or first in SKIP_DIRS or first == ".bytelyst":
            raise DeployError("extra_dirs entry %r overlaps the %s's directory %s/, a kind's directory, a folder "
                              "the image installs (%s) or another entry." % (
                                  value, product.kind, product.kind_dir, ", ".join(sorted(SKIP_DIRS))),
                              hint="List each extra directory once, outside the kinds' directories.")
        if not os.path.isdir(os.path.join(product.root, name)):
            raise DeployError("extra_dirs entry %r: %s is not a directory." % (value, os.path.join(product.root, name)),
                              hint="Create it, or remove it from extra_dirs.")
        names.append(name)
    return names


def extra_files(product, dirs, rules=None):
    """{dir: sorted relative paths of its files} for each extra directory (the sources' filters,
    with the product root's .dockerignore)."""
    root_rules = (rules or (None, None))[0]
    return dict((name, _walk(os.path.join(product.root, name), _keeper(root_rules, None, name + "/")))
                for name in dirs)


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


def fingerprint(product, files, dockerfile, extra, extras=None):
    """sha256 over the sources, the extra directories' files, the lockfile, both rewritten package.json
    files (in extra) and the Dockerfile. extras: {dir: [relative paths]} (see extra_files)."""
    digest = InputDigest()
    for rel in files:
        digest.add_file("source:" + rel, os.path.join(product.dir, rel))
    for name in sorted(extras or {}):
        digest.add("extra-dir", name.encode("utf-8"))
        for rel in extras[name]:
            digest.add_file("extra:%s/%s" % (name, rel), os.path.join(product.root, name, rel))
    if product.lockfile:
        digest.add_file("lockfile", product.lockfile)
    digest.add("dockerfile", dockerfile.encode("utf-8"))
    digest.add_json("inputs", extra)
    return digest.hexdigest()


def _copy(source, target):
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copy2(source, target)


def stage_context(product, files, dest, generated, vendor_files=None, extras=None):
    """Write the build context into dest (an empty directory): sources, extra directories
    (extras: {dir: [relative paths]}), the generated files under bytelyst/ ({name: JSON data, or
    text}: the rewritten package.json files, the npmrc, the lockfile) and vendor."""
    for rel in files:
        _copy(os.path.join(product.dir, rel), os.path.join(dest, "source", rel))
    for name in sorted(extras or {}):
        os.makedirs(os.path.join(dest, "extra", name), exist_ok=True)
        for rel in extras[name]:
            _copy(os.path.join(product.root, name, rel), os.path.join(dest, "extra", name, rel))
    os.makedirs(os.path.join(dest, "source"), exist_ok=True)
    os.makedirs(os.path.join(dest, "bytelyst"), exist_ok=True)
    for name, data in generated.items():
        with open(os.path.join(dest, "bytelyst", name), "w") as handle:
            handle.write(data if isinstance(data, str) else dumps(data))
    if vendor_files:
        os.makedirs(os.path.join(dest, "vendor"), exist_ok=True)
        for path in vendor_files:
            shutil.copy2(path, os.path.join(dest, "vendor", os.path.basename(path)))
    return dest
