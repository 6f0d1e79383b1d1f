# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that spread product builds over the build hosts (see _build_hosts.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.bytelyst.deploy.plugins.module_utils import _build_hosts


def build_assignment(products, hosts, overrides=None):
    try:
        return _build_hosts.assign(products, hosts, overrides)
    except _build_hosts.BuildHostError as exc:
        raise AnsibleFilterError(str(exc))


def built_images(built, product, hosts):
    try:
        return _build_hosts.built_images(built, product, hosts)
    except _build_hosts.BuildHostError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {"build_assignment": build_assignment, "built_images": built_images}
