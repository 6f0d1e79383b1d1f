# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Membership of the action group meta/runtime.yml declares for the modules that talk to a
    # Docker engine: module_defaults set their connection options once.
    ACTIONGROUP_DOCKER = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/bytelyst.deploy.docker) in C(module_defaults) to set this module's
      options (such as O(docker_host)) once for every module of the group.
    support: full
    membership:
      - bytelyst.deploy.docker
"""
