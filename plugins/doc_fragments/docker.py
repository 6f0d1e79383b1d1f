# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Connection options shared by every module that talks to a Docker engine.
    DOCUMENTATION = r"""
options:
  docker_host:
    description:
      - The Docker engine to use, as a URL such as C(unix:///var/run/docker.sock) or C(tcp://host:2376).
      - Defaults to the environment (E(DOCKER_HOST)) or the local socket.
    type: str
  docker_cli:
    description:
      - Path of the docker client used for BuildKit builds and Compose.
      - Defaults to the first client that can build with BuildKit (the buildx plugin, or a client
        with BuildKit built in), looking at E(BYTELYST_DOCKER_CLI), C(docker) on E(PATH), then C(/usr/bin/docker).
    type: path
requirements:
  - Docker SDK for Python (C(docker)) 7.x on the host the module runs on
"""
