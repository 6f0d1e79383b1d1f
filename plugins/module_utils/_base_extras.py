# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A base's extra third-party packages (Fastify in a backend base, Next.js and React in a web
base): which version of each, read from the products' lockfiles, and what a product built on
the base still installs itself. PRIVATE to the collection. Pure data work; the contract is in
docs/base-images.md ("Extra packages").

Selecting (base side): every lockfile given (or found below a products directory) is read; for
each extra package, the versions its importers' production dependencies resolve are counted
once per lockfile. An explicit version wins; else the version most lockfiles lock (a tie: the
highest). The chosen lockfile entry's closure (_lockfile) goes into the base's seed lockfile, so
the install is exactly that version and is lock-checked like the shared packages' dependencies.

Using (product side): `own_installs` says which of the base's extras a product installs itself:
those its lockfile resolves to another version than the base holds, and those whose peers (from
the lockfile's `name@version(peer@version)` keys) the product installs itself, so a package and
its peers always come from the same place (one React).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.bytelyst.deploy.plugins.module_utils import _lockfile
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

RUNTIME_FIELDS = ("dependencies", "optionalDependencies")
NAME = re.compile(r"^(@[a-z0-9][a-z0-9._~-]*/)?[a-z0-9][a-z0-9._~-]*$")
EXACT = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")


def parse_option(value):
    """extra_packages as {name: exact version or None}: a list of names, or a mapping name -> version."""
    if not value:
        return {}
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, (list, tuple)):
        items = [(name, None) for name in value]
    else:
        raise DeployError("extra_packages is %r: give a list of package names or a mapping name: version." % (value,))
    out = {}
    for name, version in items:
        if not isinstance(name, str) or not NAME.match(name):
            raise DeployError("extra_packages names %r, which is not an npm package name." % (name,),
                              hint="Use names such as fastify or @fastify/cors.")
        if version not in (None, "") and not EXACT.match(str(version)):
            raise DeployError("extra_packages gives %s the version %r; only an exact version (1.2.3) is taken." % (
                name, version), hint="Leave the version out to take the one the products' lockfiles lock.")
        out[name] = str(version) if version not in (None, "") else None
    return out


def lockfile_paths(sources):
    """The lockfiles sources names: each a pnpm-lock.yaml, a product directory holding one, or a
    directory of products (each subdirectory's pnpm-lock.yaml). Sorted, unique; a DeployError
    names a source that gives none."""
    found = []
    for source in sources or []:
        path = os.path.abspath(str(source))
        if os.path.isfile(path):
            found.append(path)
            continue
        if not os.path.isdir(path):
            raise DeployError("extra_packages_from names %s, which does not exist." % source,
                              hint="Give pnpm-lock.yaml files, product directories or a directory of products.")
        own = os.path.join(path, _lockfile.LOCKFILE)
        below = sorted(os.path.join(path, d, _lockfile.LOCKFILE) for d in os.listdir(path)
                       if os.path.isfile(os.path.join(path, d, _lockfile.LOCKFILE)))
        if os.path.isfile(own):
            found.append(own)
        elif below:
            found.extend(below)
        else:
            raise DeployError("extra_packages_from names %s, which holds no %s and no product directory with one." % (
                source, _lockfile.LOCKFILE), hint="Point it at the products' lockfiles (run pnpm install there first).")
    return sorted(set(found))


def resolved(lock, importer=None, fields=RUNTIME_FIELDS):
    """{name: lockfile version (with its peer suffix)} of the importer (or of every importer: the
    first found), registry packages only."""
    out = {}
    importers = lock.get("importers") or {}
    for key in sorted(importers) if importer is None else [importer]:
        for field in fields:
            for name, value in ((importers.get(key) or {}).get(field) or {}).items():
                version = _lockfile._version(value)
                if not version.startswith(_lockfile.LOCAL_PREFIXES):
                    out.setdefault(name, version)
    return out


def plain(version):
    """'19.1.1(react@19.1.1)' -> '19.1.1'."""
    return str(version).split("(", 1)[0]


def peers(version):
    """{name: plain version} of the peers a lockfile version's suffix names (top level only)."""
    text, out, depth, start = str(version), {}, 0, None
    for index, char in enumerate(text):
        if char == "(":
            depth += 1
            if depth == 1:
                start = index + 1
        elif char == ")":
            depth -= 1
            if depth == 0 and start is not None:
                key = text[start:index]
                out[_lockfile.name_of(key)] = _lockfile.version_of(key)
    return out


def _order(version):
    parts = []
    for part in re.split(r"[.+-]", plain(version)):
        parts.append((0, int(part), "") if part.isdigit() else (-1, 0, part))
    return parts


class Selection(object):
    """versions: {name: version}; locked: the closure for the seed; notes: what was chosen and why;
    choices: {name: {"version", "by", "lockfiles": {version: [paths]}}}."""

    def __init__(self, versions, locked, notes, choices):
        self.versions = versions
        self.locked = locked
        self.notes = notes
        self.choices = choices


def select(wanted, locks):
    """A Selection for wanted ({name: version or None}, parse_option) from locks ({path: parsed lockfile})."""
    if not wanted:
        return Selection({}, None, [], {})
    if not locks:
        raise DeployError("extra_packages (%s) needs the products' lockfiles, and none was given." % ", ".join(sorted(wanted)),
                          hint="Set extra_packages_from to the products' pnpm-lock.yaml files or their directory.")
    seen = {}  # name -> {plain version: [(path, lockfile version)]}
    for path in sorted(locks):
        for name, version in resolved(locks[path]).items():
            if name in wanted:
                seen.setdefault(name, {}).setdefault(plain(version), []).append((path, version))
    versions, notes, choices, locked = {}, [], {}, None
    for name in sorted(wanted):
        found = seen.get(name) or {}
        if not found:
            raise DeployError("extra_packages names %s, which no product lockfile resolves as a production dependency "
                              "(read: %s)." % (name, ", ".join(sorted(locks))),
                              hint="Add it to a product's dependencies and run pnpm install, or drop it from extra_packages.")
        explicit = wanted[name]
        if explicit:
            if explicit not in found:
                raise DeployError("extra_packages asks %s %s, which no product lockfile locks (they lock %s)." % (
                    name, explicit, ", ".join(sorted(found, key=_order))),
                    hint="Take one of those versions, or lock %s %s in a product first." % (name, explicit))
            chosen, how = explicit, "explicit"
        else:
            chosen = sorted(found, key=lambda v: (len(found[v]), _order(v)))[-1]
            how = "only" if len(found) == 1 else "most"
        versions[name] = chosen
        choices[name] = {"version": chosen, "by": how,
                         "lockfiles": dict((v, sorted(p for p, dummy in found[v])) for v in found)}
        if len(found) > 1:
            others = ["%s (%s)" % (v, ", ".join(sorted(p for p, dummy in found[v])))
                      for v in sorted(found, key=_order) if v != chosen]
            notes.append("%s %s: %s; %s; the products locking those install their own." % (
                name, chosen, "given explicitly" if how == "explicit" else "locked by %d of %d lockfiles" % (
                    len(found[chosen]), sum(len(x) for x in found.values())), "; ".join(others)))
        path, version = found[chosen][0]
        start = version if "@" in plain(version)[1:] else "%s@%s" % (name, version)
        locked = _lockfile.merge(locked, _lockfile.reach(locks[path], [start]))
    _check_peers(versions, dict((n, found_version(seen, n, versions[n])) for n in versions))
    return Selection(versions, locked, notes, choices)


def found_version(seen, name, version):
    """The lockfile version (with peers) of the chosen plain version."""
    return seen[name][version][0][1]


def _check_peers(versions, full):
    """Extras must agree on each other's peers: react-dom 19.1.1 locked with react 19.1.1 cannot go
    into a base beside react 19.0.0 (two Reacts in one process)."""
    bad = []
    for name in sorted(full):
        for peer, version in sorted(peers(full[name]).items()):
            if peer in versions and versions[peer] != version:
                bad.append("%s %s is locked with its peer %s %s, the base would hold %s %s" % (
                    name, versions[name], peer, version, peer, versions[peer]))
    if bad:
        raise DeployError("extra_packages do not agree on their peers: %s." % "; ".join(bad),
                          hint="Give the peers' versions explicitly so they match, or align the products' lockfiles.")


def own_installs(base_extras, product_resolved, runtime_names, satisfied):
    """Which of the base's extras ({name: version}) the product installs itself, with why:
    {name: reason}. product_resolved: {name: lockfile version} of the product's importer (None:
    no lockfile, nothing to compare, the range check decides); runtime_names: its runtime
    dependencies' names; satisfied: those the base's versions satisfy (the range check)."""
    if product_resolved is None:
        return {}
    own = {}
    for name in sorted(base_extras):
        if name in runtime_names and name in product_resolved and plain(product_resolved[name]) != base_extras[name]:
            own[name] = "the base holds %s %s, the product's lockfile resolves %s" % (
                name, base_extras[name], plain(product_resolved[name]))
    changed = True
    while changed:  # a package whose peer the product installs itself is installed beside it
        changed = False
        for name in sorted(base_extras):
            if name in own or name not in runtime_names or name not in product_resolved:
                continue
            mine = [p for p in sorted(peers(product_resolved[name]))
                    if p in runtime_names and (p in own or p not in satisfied)]
            if mine:
                own[name] = "its peer %s is installed by the product (one copy of each beside the other)" % (
                    ", ".join(mine))
                changed = True
    return own
