# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that build the deploy role's compose definition as data (see _definition.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.bytelyst.deploy.plugins.module_utils import _definition


def compose_definition(services, volumes=None, restart="unless-stopped", hardening=None, secrets=None,
                       health_status=200, health_timeout=30):
    try:
        return _definition.render(services, volumes=volumes, restart=restart, hardening=hardening,
                                  secrets=secrets, health_status=health_status, health_timeout=health_timeout)
    except _definition.DefinitionError as exc:
        raise AnsibleFilterError(str(exc))


def product_services(product, name, images, publish_address="127.0.0.1", port_offset=0,
                     health_host="127.0.0.1", healthcheck=None, publish=True):
    try:
        return _definition.product_services(product, name, images, publish_address=publish_address,
                                            port_offset=port_offset, health_host=health_host,
                                            healthcheck=healthcheck, publish=publish)
    except _definition.DefinitionError as exc:
        raise AnsibleFilterError(str(exc))


def product_secrets(product, name):
    try:
        return _definition.product_secrets(product, name)
    except _definition.DefinitionError as exc:
        raise AnsibleFilterError(str(exc))


def product_problems(products):
    return _definition.product_problems(products)


class FilterModule(object):
    def filters(self):
        return {"compose_definition": compose_definition, "product_services": product_services,
                "product_secrets": product_secrets, "product_problems": product_problems}
