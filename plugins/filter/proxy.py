# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn the playbooks' proxy inventory into proxy_deploy's options (see _routes.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.bytelyst.deploy.plugins.module_utils import _routes


def product_routes(products, name, on_host=None, health_timeout=30):
    try:
        return _routes.product_routes(products, name, on_host=on_host, health_timeout=health_timeout)
    except _routes.RouteError as exc:
        raise AnsibleFilterError(str(exc))


def proxy_settings(settings):
    try:
        return _routes.proxy_settings(settings)
    except _routes.RouteError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {"product_routes": product_routes, "proxy_settings": proxy_settings}
