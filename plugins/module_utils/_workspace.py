# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pnpm workspace: its packages, their dependencies and their build order. PRIVATE to the collection.

Discovery follows pnpm: the `packages` globs of pnpm-workspace.yaml (with `!` exclusions)
name the directories holding a package.json; node_modules is never searched.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import json
import os
import re

from ansible_collections.bytelyst.deploy.plugins.module_utils._contract import (
    PACKAGE_JSON_KINDS, PACKAGE_JSON_KINDS_DEPRECATED, PACKAGE_KINDS)
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

try:
    import yaml
    HAS_YAML = True
except ImportError:  # reported by the module with missing_required_lib
    yaml = None
    HAS_YAML = False

WORKSPACE_FILE = "pnpm-workspace.yaml"
SKIP_DIRS = ("node_modules", ".git")
# The package.json dependency fields that make one workspace package need another one built first.
GRAPH_FIELDS = ("dependencies", "optionalDependencies", "devDependencies", "peerDependencies")


def load_yaml(path):
    with open(path) as handle:
        loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
        return yaml.load(handle, Loader=loader)


class Package(object):
    """One workspace package, as its package.json describes it."""

    def __init__(self, root, rel_dir, data):
        self.root = root
        self.rel_dir = rel_dir
        self.dir = os.path.join(root, rel_dir)
        self.data = data
        self.name = data.get("name")
        self.version = data.get("version")

    @property
    def scripts(self):
        return self.data.get("scripts") or {}

    @property
    def kinds_field(self):
        """The package.json field that says the package's kinds: `bytelyst.kinds`, or the
        deprecated `bytelyst.targets` when only that one is there."""
        own = self.data.get("bytelyst") or {}
        if PACKAGE_JSON_KINDS not in own and PACKAGE_JSON_KINDS_DEPRECATED in own:
            return PACKAGE_JSON_KINDS_DEPRECATED
        return PACKAGE_JSON_KINDS

    @property
    def kinds(self):
        """The image kinds the package is for (backend, web); both when its package.json does not say."""
        kinds = (self.data.get("bytelyst") or {}).get(self.kinds_field) or PACKAGE_KINDS
        return [kinds] if isinstance(kinds, str) else list(kinds)

    def deps(self, field):
        """One dependency field of the package.json (dependencies, devDependencies, ...)."""
        return dict(self.data.get(field) or {})

    def __repr__(self):
        return "Package(%s at %s)" % (self.name, self.rel_dir)


class Workspace(object):
    """All packages of a workspace, by name."""

    def __init__(self, root, packages):
        self.root = root
        self.packages = packages

    def internal(self, pkg, fields=GRAPH_FIELDS):
        """Names of the workspace packages pkg depends on (through any of fields)."""
        out = set()
        for field in fields:
            out.update(n for n in pkg.deps(field) if n in self.packages and n != pkg.name)
        return out


def glob_regex(pattern):
    """A regex for a pnpm workspace glob over '/'-separated relative directory paths."""
    pattern = pattern.strip().rstrip("/")
    if pattern.startswith("./"):
        pattern = pattern[2:]
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile("^" + out + "$")


def workspace_globs(root):
    path = os.path.join(root, WORKSPACE_FILE)
    if not os.path.isfile(path):
        raise DeployError(
            "%s has no %s, so it is not a pnpm workspace root." % (root, WORKSPACE_FILE),
            hint="Point workspace at the directory that holds %s (the monorepo root)." % WORKSPACE_FILE)
    try:
        data = load_yaml(path) or {}
    except yaml.YAMLError as exc:
        raise DeployError("%s is not valid YAML: %s" % (path, exc), hint="Fix the file; pnpm cannot read it either.")
    globs = data.get("packages") if isinstance(data, dict) else None
    if not globs or not isinstance(globs, list):
        raise DeployError("%s lists no packages globs." % path,
                          hint='Add e.g.\npackages:\n  - "packages/*"')
    return [str(g) for g in globs]


def package_dirs(root, globs):
    """Relative directories (sorted) holding a package.json that the globs select."""
    include = [glob_regex(g) for g in globs if not g.startswith("!")]
    exclude = [glob_regex(g[1:]) for g in globs if g.startswith("!")]
    found = []
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        rel = os.path.relpath(current, root).replace(os.sep, "/")
        if rel == "." or "package.json" not in files:
            continue
        if any(r.match(rel) for r in include) and not any(r.match(rel) for r in exclude):
            found.append(rel)
    return found


def read_package_json(root, rel_dir):
    path = os.path.join(root, rel_dir, "package.json")
    try:
        with open(path) as handle:
            data = json.load(handle)
    except ValueError as exc:
        raise DeployError("%s is not valid JSON: %s." % (path, exc),
                          hint="Fix the file (pnpm cannot read it either), then run again.", package_json=path)
    if not isinstance(data, dict):
        raise DeployError("%s holds a JSON %s, not an object." % (path, type(data).__name__),
                          hint="A package.json must be a JSON object with name and version.", package_json=path)
    return Package(root, rel_dir, data)


def discover(root):
    """Read every workspace package; fail on unnamed packages and duplicate names."""
    root = os.path.abspath(root)
    if not os.path.isdir(root):
        raise DeployError("The workspace %s does not exist or is not a directory." % root,
                          hint="Set workspace to the pnpm workspace root.")
    packages = {}
    for rel in package_dirs(root, workspace_globs(root)):
        pkg = read_package_json(root, rel)
        if not isinstance(pkg.name, str) or not pkg.name:
            raise DeployError("%s/package.json has no \"name\"." % pkg.dir,
                              hint="Give every workspace package a name.", package_json=pkg.dir + "/package.json")
        if pkg.name in packages:
            raise DeployError(
                "Two workspace packages are named %s: %s and %s." % (pkg.name, packages[pkg.name].rel_dir, rel),
                hint="Package names must be unique in a workspace; rename one of them.")
        packages[pkg.name] = pkg
    return Workspace(root, packages)


def validate(workspace, names):
    """Check what packing needs of the selected packages: a version, known kinds, real workspace deps."""
    for name in names:
        pkg = workspace.packages[name]
        where = os.path.join(pkg.dir, "package.json")
        if not isinstance(pkg.version, str) or not pkg.version:
            raise DeployError("%s (%s) has no \"version\"." % (name, where),
                              hint="pnpm pack needs a version; add one, e.g. \"version\": \"0.1.0\".",
                              package_json=where)
        own = pkg.data.get("bytelyst") or {}
        if PACKAGE_JSON_KINDS in own and PACKAGE_JSON_KINDS_DEPRECATED in own and (
                own[PACKAGE_JSON_KINDS] != own[PACKAGE_JSON_KINDS_DEPRECATED]):
            raise DeployError("%s (%s): bytelyst.%s is %s but bytelyst.%s is %s." % (
                name, where, PACKAGE_JSON_KINDS, own[PACKAGE_JSON_KINDS], PACKAGE_JSON_KINDS_DEPRECATED,
                own[PACKAGE_JSON_KINDS_DEPRECATED]), package_json=where,
                hint="Keep bytelyst.%s only (bytelyst.%s is its deprecated name)." % (
                    PACKAGE_JSON_KINDS, PACKAGE_JSON_KINDS_DEPRECATED))
        unknown = [t for t in pkg.kinds if t not in PACKAGE_KINDS]
        if unknown:
            raise DeployError("%s (%s): bytelyst.%s has %s; allowed: %s." % (
                name, where, pkg.kinds_field, ", ".join(map(str, unknown)), ", ".join(PACKAGE_KINDS)),
                package_json=where)
        for field in GRAPH_FIELDS:
            for dep, spec in pkg.deps(field).items():
                if str(spec).startswith("workspace:") and dep not in workspace.packages:
                    raise DeployError(
                        "%s depends on %s through %s (%s), but no workspace package has that name." % (
                            name, dep, spec, field),
                        hint="Fix the dependency name or add the package to a pnpm-workspace.yaml glob.",
                        package_json=where)


def select(workspace, pattern):
    """Names matching the glob pattern, plus every workspace package they depend on."""
    matched = sorted(n for n in workspace.packages if fnmatch.fnmatchcase(n, pattern))
    if not matched:
        raise DeployError(
            "The filter %r matches none of the %d workspace packages (%s)." % (
                pattern, len(workspace.packages), ", ".join(sorted(workspace.packages)[:10]) or "none"),
            hint="Use a glob on package names such as '@bytelyst/*' or '@acme/*'.")
    selected, todo = set(matched), list(matched)
    while todo:
        for dep in workspace.internal(workspace.packages[todo.pop()]):
            if dep not in selected:
                selected.add(dep)
                todo.append(dep)
    return sorted(selected)


def topological_order(names, edges):
    """Order names so every name comes after the names it depends on (edges: name -> deps).

    Ties are broken by name, so the order is stable. A cycle raises DeployError showing it.
    """
    names = sorted(names)
    known = set(names)
    state, order = {}, []
    for start in names:
        if start in state:
            continue
        stack = [(start, iter(sorted(edges.get(start, ()))))]
        state[start] = "open"
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                state[node] = "done"
                order.append(node)
            elif child not in known:
                continue
            elif state.get(child) == "open":
                path = [n for n, dummy in stack]
                cycle = path[path.index(child):] + [child]
                raise DeployError("The workspace packages depend on each other in a cycle: %s." % " -> ".join(cycle),
                                  hint="pnpm cannot build a cycle in dependency order; remove one of these dependencies.",
                                  cycle=cycle)
            elif child not in state:
                state[child] = "open"
                stack.append((child, iter(sorted(edges.get(child, ())))))
    return order


def graph(workspace, names):
    """name -> internal dependencies among names."""
    chosen = set(names)
    return dict((n, sorted(workspace.internal(workspace.packages[n]) & chosen)) for n in names)


def dependents(edges, changed):
    """changed plus everything that depends on it, directly or not."""
    reverse = {}
    for name, deps in edges.items():
        for dep in deps:
            reverse.setdefault(dep, set()).add(name)
    out, todo = set(changed), list(changed)
    while todo:
        for parent in reverse.get(todo.pop(), ()):
            if parent not in out:
                out.add(parent)
                todo.append(parent)
    return out


def split_dependencies(workspace, pkg):
    """The tarball manifest's dependency fields of pkg: internal/external runtime deps, peers, dev deps."""
    runtime = pkg.deps("dependencies")
    runtime.update(pkg.deps("optionalDependencies"))
    internal = dict((n, s) for n, s in runtime.items() if n in workspace.packages)
    external = dict((n, s) for n, s in runtime.items() if n not in workspace.packages)
    return {
        "dependencies": {"internal": internal, "external": external},
        "peer_dependencies": pkg.deps("peerDependencies"),
        "dev_dependencies": pkg.deps("devDependencies"),
    }
