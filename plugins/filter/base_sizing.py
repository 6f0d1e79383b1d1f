# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that size the bases to the products of a run (see _base_sizing.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json

from ansible.errors import AnsibleFilterError

from ansible_collections.bytelyst.deploy.plugins.module_utils import _base_sizing
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError


def _fail(exc):
    raise AnsibleFilterError(str(exc))


def _json_of(result, what):
    if not isinstance(result, dict) or result.get("failed") or "content" not in result:
        raise AnsibleFilterError("%s could not be read: %s." % (
            what, (result or {}).get("msg", "no content") if isinstance(result, dict) else "no content"))
    try:
        return json.loads(base64.b64decode(result["content"]).decode("utf-8"))
    except ValueError as exc:
        raise AnsibleFilterError("%s is not valid JSON: %s." % (what, exc))


def base_sizing_files(products, selected, root):
    try:
        return _base_sizing.package_files(products, selected, root)
    except DeployError as exc:
        _fail(exc)


def base_sizing(manifest, package_files, kinds=None):
    data = _json_of(manifest, "The tarball manifest %s" % (manifest or {}).get("source", ""))
    data.setdefault("path", manifest.get("source"))
    packages = []
    for result in package_files or ():
        item = result.get("item") or {}
        what = "The package.json of the product %s's %s (%s); check bytelyst_products_root and the product's " \
               "dir and kind_dirs" % (item.get("product"), item.get("kind"), item.get("path"))
        packages.append(dict(item, package=_json_of(result, what)))
    try:
        return _base_sizing.size(data, packages, kinds or ("backend", "web"))
    except DeployError as exc:
        _fail(exc)


class FilterModule(object):
    def filters(self):
        return {"base_sizing_files": base_sizing_files, "base_sizing": base_sizing}
