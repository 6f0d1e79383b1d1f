# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which packages are the workspace's shared packages. PRIVATE to the collection.

No scope is built in: the shared packages are the ones the tarball manifest lists (what
workspace_pack's filter selected, with their internal dependencies), or, for a product
built on base images, the ones the bases say they provide. A workspace may hold packages
of several scopes (`@acme/*` and `@acme-ui/*`) and unscoped ones.

A dependency is shared when its name is one of those packages, or when it is in a scope
that holds one of them: a scope the workspace publishes under is the workspace's, so a
product asking for `@acme/new` that no base provides is refused by the compatibility
check (naming it) instead of being fetched from a registry by name. Unscoped packages
are shared by name only.

    shared = Shared.of_manifest(manifest)          # or Shared(names)
    "@acme/core" in shared                          # True
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def scope_of(name):
    """'@acme/core' -> '@acme'; an unscoped name -> None."""
    if isinstance(name, str) and name.startswith("@") and "/" in name:
        return name.split("/", 1)[0]
    return None


class Shared(object):
    """The shared packages: names, and the scopes those names are in."""

    def __init__(self, names=()):
        self.names = frozenset(names)
        self.scopes = frozenset(s for s in (scope_of(n) for n in self.names) if s)

    @classmethod
    def of_manifest(cls, manifest):
        return cls((manifest or {}).get("packages") or {})

    def union(self, names):
        return Shared(self.names | frozenset(names or ()))

    def __contains__(self, name):
        return name in self.names or scope_of(name) in self.scopes

    def __bool__(self):
        return bool(self.names)

    __nonzero__ = __bool__

    def describe(self):
        """For messages: the scopes, then the unscoped names ('@acme/*, @acme-ui/*, tools')."""
        unscoped = sorted(n for n in self.names if not scope_of(n))
        return ", ".join(["%s/*" % s for s in sorted(self.scopes)] + unscoped) or "none"
