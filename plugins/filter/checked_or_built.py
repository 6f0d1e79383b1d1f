# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checked_or_built filter: the roles check every image in check mode first and build only the
stale ones; this puts the two loops' results back together, item by item, so the tasks after them
read one result per image whichever of the two produced it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError


def checked_or_built(checks, builds):
    """[build result, or the check's where the build was skipped] for each item of the two loops."""
    checks = (checks or {}).get("results", checks) if isinstance(checks, dict) else checks
    builds = (builds or {}).get("results", builds) if isinstance(builds, dict) else builds
    checks, builds = list(checks or ()), list(builds or ())
    if len(checks) != len(builds):
        raise AnsibleFilterError("checked_or_built needs the results of two loops over the same items; got %d checks "
                                 "and %d builds." % (len(checks), len(builds)))
    merged = []
    for check, build in zip(checks, builds):
        merged.append(check if not isinstance(build, dict) or build.get("skipped") else build)
    return merged


class FilterModule(object):
    def filters(self):
        return {"checked_or_built": checked_or_built}
