#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: image_prune
short_description: Free disk by removing old product and base images, never one still in use
description:
  - Removes images built by this collection (they carry the label C(dev.bytelyst.product), or
    C(dev.bytelyst.base.kind) or its older twin C(dev.bytelyst.base.flavour)) that nothing needs any more. Other images are never touched.
  - An image is kept when a container uses it (running or stopped), when a recorded release in
    one of O(history_dirs) names it (so a rollback target is never removed), when it is among the
    O(keep) newest images of its repository, or when a kept product image is built on it.
  - The guide's C(docker image prune -a), made safe for hosts that roll back.
  - Fails closed. A release history in O(history_dirs) that cannot be read, or is not what
    M(bytelyst.deploy.compose_deploy) writes, stops the task before anything is removed, naming the file.
    The deploy lock of each project in O(history_dirs) (C(<history_dir>/lock)) is held while pruning, so no
    deploy starts in between; a project whose lock a deploy holds after O(lock_timeout) keeps every image of the
    repositories its history records, with a warning (and when it records none yet, the task fails and removes
    nothing).
version_added: 0.1.0
author:
  - ByteLyst DevOps (@bytelyst)
extends_documentation_fragment:
  - bytelyst.deploy.docker
  - bytelyst.deploy.attributes.actiongroup_docker
options:
  history_dirs:
    description:
      - Directories holding a C(releases.json) release history (written by M(bytelyst.deploy.compose_deploy)).
      - Every image any release there names is kept.
    type: list
    elements: path
    default: []
  keep:
    description:
      - How many of the newest images to keep per repository, besides those in use or recorded.
    type: int
    default: 3
  lock_timeout:
    description:
      - Seconds to wait for each project's deploy lock before keeping that project's images and going on.
    type: int
    default: 30
  repositories:
    description:
      - Only consider images whose repository starts with one of these prefixes, such as
        V(registry.example.com/bytelyst/notes-). Default is every image of ours.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description: Reports what would be removed; removes nothing.
  diff_mode:
    support: full
    description: Lists our images before and after.
seealso:
  - module: bytelyst.deploy.image_usage
  - module: bytelyst.deploy.compose_deploy
    description: Writes the release histories whose images image_prune keeps.
  - name: community.docker.docker_prune
    description: Prunes everything unused on an engine, without regard to release histories or rollbacks.
    link: https://docs.ansible.com/ansible/latest/collections/community/docker/docker_prune_module.html
"""

EXAMPLES = r"""
- name: Free disk on a deploy host, keeping what releases can roll back to
  bytelyst.deploy.image_prune:
    history_dirs:
      - /var/lib/bytelyst/deploy/notes
      - /var/lib/bytelyst/deploy/clock
    keep: 3
"""

RETURN = r"""
removed:
  description: Images removed (or that would be, in check mode), each with its id and tags.
  returned: always
  type: list
  elements: dict
kept:
  description: Our images kept, each with its id, tags and the reasons it was kept.
  returned: always
  type: list
  elements: dict
busy:
  description: History directories whose deploy lock another process held, each with that holder in words.
  returned: always
  type: dict
failed_removals:
  description: Images the engine refused to remove (for example a dependent child image), with its error.
  returned: always
  type: list
  elements: dict
"""

from functools import partial

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bytelyst.deploy.plugins.module_utils._engine import DOCKER_COMMON_ARGS
from ansible_collections.bytelyst.deploy.plugins.module_utils._module import run_module
from ansible_collections.bytelyst.deploy.plugins.module_utils._prune import ensure


def main():
    spec = dict(
        history_dirs=dict(type="list", elements="path", default=[]),
        keep=dict(type="int", default=3),
        lock_timeout=dict(type="int", default=30),
        repositories=dict(type="list", elements="str", default=[]),
    )
    spec.update(DOCKER_COMMON_ARGS)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    run_module(module, partial(ensure, diff=module._diff), "image_prune")


if __name__ == "__main__":
    main()
