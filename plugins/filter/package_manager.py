# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The package_manager filter: splits a package.json packageManager field
(corepack's `name@version+algorithm.hex`) into its parts, so playbooks never cut it up in Jinja;
workspace_package_manager does the same from a slurped package.json (no JSON decoding in Jinja)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.bytelyst.deploy.plugins.module_utils import _host_config

# corepack's form: a name, an exact version (no range: corepack refuses those too), and an
# optional integrity hash after "+".
_FIELD = re.compile(
    r"^(?P<name>[a-z][a-z0-9._-]*)@(?P<version>\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)"
    r"(?:\+(?P<algorithm>[a-z0-9]+)\.(?P<hex>[0-9a-f]+))?$"
)
_EXAMPLE = '"packageManager": "pnpm@10.6.5"'


def parse_package_manager(field, expected=None):
    """'pnpm@10.6.5+sha512.ab12' -> {'name': 'pnpm', 'version': '10.6.5', 'hash': 'sha512.ab12'}.

    Raises ValueError naming what was found and what is expected."""
    if field is None or field == "":
        raise ValueError("package.json has no packageManager field; add one such as %s" % _EXAMPLE)
    if not isinstance(field, str):
        raise ValueError("packageManager must be a string such as %s, found %r" % (_EXAMPLE, field))
    found = _FIELD.match(field.strip())
    if not found:
        raise ValueError(
            "packageManager %r is not NAME@VERSION with an exact version (optionally +ALGORITHM.HEX), "
            "such as %s" % (field, _EXAMPLE))
    if expected and found.group("name") != expected:
        raise ValueError("packageManager %r names %s, but this workspace is installed with %s; set it to %s@VERSION"
                         % (field, found.group("name"), expected, expected))
    digest = "%s.%s" % (found.group("algorithm"), found.group("hex")) if found.group("algorithm") else None
    return {"name": found.group("name"), "version": found.group("version"), "hash": digest}


def package_manager(field, expected=None):
    try:
        return parse_package_manager(field, expected)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


def workspace_package_manager(slurped, expected=None):
    try:
        package = _host_config.slurped_json(slurped, "the workspace's package.json")
        result = slurped if isinstance(slurped, dict) else {}
        path = result.get("source") or "The workspace's package.json"
        if package is None:
            raise ValueError("%s could not be read (%s); check build_host_workspace." % (
                path, result.get("msg") or "no content"))
        if not isinstance(package, dict):
            raise ValueError("%s holds %s, not a JSON object." % (path, type(package).__name__))
        return parse_package_manager(package.get("packageManager"), expected)
    except ValueError as exc:  # HostConfigError is one
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {"package_manager": package_manager, "workspace_package_manager": workspace_package_manager}
