# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over the JSON files the host roles slurp (see _host_config.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.bytelyst.deploy.plugins.module_utils import _host_config


def daemon_options(slurped, log_driver, max_size, max_file, extra=None):
    try:
        existing = _host_config.slurped_json(slurped, "the engine's daemon options")
        return _host_config.daemon_options(existing, log_driver, max_size, max_file, extra)
    except _host_config.HostConfigError as exc:
        raise AnsibleFilterError(str(exc))


def logins_due(slurped, logins):
    try:
        return _host_config.logins_due(_host_config.slurped_json(slurped, "the docker client's configuration"), logins)
    except _host_config.HostConfigError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {"daemon_options": daemon_options, "logins_due": logins_due}
