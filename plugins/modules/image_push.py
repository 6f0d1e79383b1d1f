#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: image_push
short_description: Push image tags to a registry, or promote a channel tag, idempotently
version_added: 0.1.0
description:
  - Pushes one or more tags of a local image to a registry that speaks the registry HTTP API v2 (Gitea,
    a local registry, Docker Hub). The engine sends the layers; the module asks the registry itself
    whether each tag already holds the local image, and pushes nothing when it does.
  - The module talks to the API at the registry host named in the reference, at O(registry_api) when
    given, or, for the Docker engine's official index (Docker Hub, whose references name V(docker.io)),
    at the address the engine reports for that index.
  - After a push, verifies that the registry's digest for every tag is the pushed one, and reports the
    layers sent and the layers the registry already had, with bytes.
  - With O(promote), points channel tags at an image manifest the registry already has (by tag or digest);
    no layer is sent.
  - Every tag that is not a channel tag is immutable by policy; one that already points at other content
    is refused, before anything is sent, unless O(force=true).
  - Credentials come from O(username)/O(password) or from the docker credentials stored for the registry.
    They never appear on a command line, in a log or in the result.
author:
  - ByteLyst DevOps (@bytelyst)
extends_documentation_fragment:
  - bytelyst.deploy.retries
  - bytelyst.deploy.docker
  - bytelyst.deploy.attributes.actiongroup_docker
options:
  name:
    description:
      - The local image to push, by name (with tag) or ID.
      - Required unless O(promote) is given; not allowed with it.
    type: str
  repository:
    description:
      - Where to push, as V(registry-host[:port]/path/name) without a tag.
      - Defaults to the registry and repository of O(name).
      - Required with O(promote).
    type: str
  tags:
    description:
      - The tags to push. Defaults to the tag of O(name).
    type: list
    elements: str
  promote:
    description:
      - Point tags at an image manifest the registry already has, instead of pushing.
    type: dict
    suboptions:
      from:
        description:
          - The tag or digest (V(sha256:...)) whose image manifest the tags in O(promote.to) get.
        type: str
        required: true
      to:
        description:
          - The tags to move, usually channel tags such as V(latest) or V(stable).
        type: list
        elements: str
        required: true
  channel_tags:
    description:
      - Tags that may move from one image to another. Every other tag is immutable once pushed.
    type: list
    elements: str
    default: [latest, stable, canary]
  force:
    description:
      - Move an immutable tag that already points at other content.
    type: bool
    default: false
  username:
    description:
      - User for the registry. Without it, the docker credentials stored for the registry are used, if any.
    type: str
  password:
    description:
      - Password or access token for O(username).
    type: str
  ca_cert:
    description:
      - A CA certificate (PEM) to trust for the registry's TLS, besides the system's.
      - The engine needs it too, in C(/etc/docker/certs.d/<registry>/ca.crt).
    type: path
  allow_http:
    description:
      - Talk to the registry over plain HTTP. Only for a registry on loopback or a network you trust.
      - With O(registry_api), allows an V(http://) URL there.
    type: bool
    default: false
  registry_api:
    description:
      - The base URL of the registry's HTTP API v2, as V(https://host[:port]) (V(http://) only with
        O(allow_http=true)), when the API does not answer at the registry host named in the reference
        (a registry behind another name or port). Give no path; the module adds C(/v2/) itself.
      - The reference still names the registry as the engine and users know it; that name is used in
        messages and to find stored credentials, and the engine pushes to it.
      - Without it, when the reference's registry is the Docker engine's official index (one of the
        C(RegistryConfig.IndexConfigs) names of C(docker info) marked official, or the host of its
        C(IndexServerAddress)), the API is taken at V(https://) and the host of C(IndexServerAddress).
        So even with O(promote), a registry named by a host name without a port (it could be the index) is
        looked up in the engine; set O(registry_api) where no engine is reachable.
    type: str
attributes:
  check_mode:
    description: Reads the registry only and reports what would be pushed or promoted.
    support: full
  diff_mode:
    description: Shows, per tag, the registry's digest before and after.
    support: full
seealso:
  - module: bytelyst.deploy.product_image
  - module: bytelyst.deploy.base_image
  - name: community.docker.docker_image_push
    description: Pushes a tag as it is, without registry-side idempotence, immutable version tags or promotion.
    link: https://docs.ansible.com/ansible/latest/collections/community/docker/docker_image_push_module.html
notes:
  - Registry references must name the registry host, so that an image never goes to a registry nobody named.
  - On the Docker engine's official index, repositories are V(<organisation>/<name>); a reference without
    the organisation is refused.
"""

EXAMPLES = r"""
- name: Push a release of the notes backend
  bytelyst.deploy.image_push:
    name: registry.example.com/bytelyst/notes-backend:1.4.0
    username: "{{ registry_user }}"
    password: "{{ registry_password }}"

- name: Push one local image under two immutable tags to a TLS registry with its own CA
  bytelyst.deploy.image_push:
    name: notes-backend:build-42
    repository: registry.example.com/bytelyst/notes-backend
    tags: [1.4.0, 1.4.0-42]
    ca_cert: /etc/bytelyst/registry-ca.pem

- name: Push to Docker Hub (the engine tells where its API answers; stored docker credentials are used)
  bytelyst.deploy.image_push:
    name: notes-backend:build-42
    repository: docker.io/myorg/notes-backend
    tags: [1.4.0]

- name: Push to a registry whose API answers under another name than the one in image references
  bytelyst.deploy.image_push:
    name: registry.example.com/bytelyst/notes-backend:1.4.0
    registry_api: https://registry-api.example.com:8443

- name: After a successful rollout, move latest and stable to 1.4.0 (no layer is sent)
  bytelyst.deploy.image_push:
    repository: registry.example.com/bytelyst/notes-backend
    promote:
      from: 1.4.0
      to: [latest, stable]
"""

RETURN = r"""
tags:
  description: One entry per tag.
  returned: always
  type: list
  elements: dict
  contains:
    tag:
      description: The tag.
      type: str
    digest:
      description: The manifest digest the tag has (or would have) afterwards; null in check mode when only a push can tell.
      type: str
    previous_digest:
      description: The registry's digest for the tag before; null when the tag was absent.
      type: str
    action:
      description: V(pushed), V(unchanged), V(promoted), V(would_push) or V(would_promote).
      type: str
layers_pushed:
  description: Layers the engine sent to the registry.
  returned: always
  type: int
layers_existing:
  description: Layers of the image the registry already had.
  returned: always
  type: int
bytes_pushed:
  description: Compressed bytes of the layers sent.
  returned: always
  type: int
image_id:
  description: The local image pushed.
  returned: when pushing
  type: str
source_digest:
  description: The manifest digest promoted.
  returned: when promoting
  type: str
"""

from functools import partial
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bytelyst.deploy.plugins.module_utils._engine import DOCKER_COMMON_ARGS
from ansible_collections.bytelyst.deploy.plugins.module_utils._module import run_module
from ansible_collections.bytelyst.deploy.plugins.module_utils._push import CHANNEL_TAGS, EngineOnDemand, ensure


def main():
    argument_spec = dict(
        name=dict(type="str"),
        repository=dict(type="str"),
        tags=dict(type="list", elements="str"),
        promote=dict(type="dict", options={
            "from": dict(type="str", required=True),
            "to": dict(type="list", elements="str", required=True),
        }),
        channel_tags=dict(type="list", elements="str", default=list(CHANNEL_TAGS)),
        force=dict(type="bool", default=False),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        ca_cert=dict(type="path"),
        allow_http=dict(type="bool", default=False),
        registry_api=dict(type="str"),
        retries=dict(type="int", default=3),
        retry_delay=dict(type="float", default=1.0),
    )
    argument_spec.update(DOCKER_COMMON_ARGS)
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_one_of=[("name", "promote")],
        mutually_exclusive=[("name", "promote"), ("tags", "promote")],
        required_by={"promote": "repository"},
        required_together=[("username", "password")],
    )
    if module.params["retries"] < 0 or module.params["retry_delay"] < 0:
        module.fail_json(msg="retries and retry_delay must not be negative (got %s and %s)."
                         % (module.params["retries"], module.params["retry_delay"]))
    api = module.params["registry_api"] or ""
    if "@" in api:  # credentials in the URL (refused): keep them out of the result
        module.no_log_values.update(v for v in (urlsplit(api).password,) if v)
    # A promotion reaches the engine only when only the engine can tell where the registry's API is.
    run_module(module, partial(ensure, diff=module._diff, hide=module.no_log_values.add), "image_push",
               connect=EngineOnDemand, needs_docker=not module.params["promote"])


if __name__ == "__main__":
    main()
