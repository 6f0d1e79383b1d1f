#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: image_usage
short_description: Disk used by images, what they share and what the sharing saves
version_added: 0.1.0
description:
  - Measures the images on a Docker engine (a build host or a deploy host) from their layer chains.
  - For each selected image, its size, the bytes it shares with other images, the bytes only it holds,
    and which base and base version it runs on.
  - In total, the disk the selected images actually use (each layer once) against the sum of their sizes
    (what they would cost if nothing were shared), and the savings.
  - Without any selection option, measures every image that carries a C(dev.bytelyst.*) label
    (labels inherited from the stand-in runtime image and the test marker C(dev.bytelyst.test) do not count).
    Selection options narrow the set; all given options must match.
  - Read-only; never changes anything.
author:
  - ByteLyst DevOps (@bytelyst)
extends_documentation_fragment:
  - bytelyst.deploy.docker
  - bytelyst.deploy.attributes.actiongroup_docker
attributes:
  check_mode:
    support: full
    description: Runs the same in check mode; it changes nothing either way.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
options:
  images:
    description:
      - Measure exactly these images (names with tag, or IDs), narrowed by the other options.
      - Each must exist on the engine, else the module fails naming it.
    type: list
    elements: str
  products:
    description:
      - Only images whose C(dev.bytelyst.product) label is one of these product names.
    type: list
    elements: str
  labels:
    description:
      - Only images carrying every one of these labels, each written C(KEY) (any value) or C(KEY=VALUE).
    type: list
    elements: str
  repositories:
    description:
      - Only images with a tag that starts with one of these prefixes, such as C(registry.example.com/bytelyst/).
    type: list
    elements: str
  include_untagged:
    description:
      - Also measure images without a tag (dangling images) that match.
      - Ignored for images named in O(images).
    type: bool
    default: false
notes:
  - Sizes are the engine's own layer sizes (the sum of the file sizes a layer holds), as C(docker system df) counts them.
  - The engine stores a layer once per chain (the layer and every layer below it). Two images that
    carry the same bytes on top of different layers store them twice; this module counts them twice too, as unique bytes of each.
  - O(docker_cli) is not used by this module.
seealso:
  - name: docs/image_usage.md
    description: What the numbers mean and how to read them.
    link: https://github.com/bytelyst/bytelyst.deploy/blob/main/docs/image_usage.md
"""

EXAMPLES = r"""
- name: Disk used by every image of ours on this host
  bytelyst.deploy.image_usage:
  register: usage

- name: Show the savings
  ansible.builtin.debug:
    msg: >-
      {{ usage.totals.images }} images use {{ usage.totals.disk_used | human_readable }}
      instead of {{ usage.totals.sum_of_sizes | human_readable }}
      ({{ usage.totals.saved_percent }} % saved)

- name: Images of the notes product, by label, on a deploy host's engine
  bytelyst.deploy.image_usage:
    labels:
      - dev.bytelyst.product=notes
    docker_host: tcp://deploy-1.example.com:2376

- name: Two products in the registry's namespace
  bytelyst.deploy.image_usage:
    products: [notes, clock]
    repositories:
      - registry.example.com/bytelyst/

- name: Exactly these images
  bytelyst.deploy.image_usage:
    images:
      - registry.example.com/bytelyst/notes-backend:1.4.0
      - registry.example.com/bytelyst/clock-backend:2.0.1
"""

RETURN = r"""
images:
  description: The selected images, in the engine's order (or the order of O(images)).
  returned: always
  type: list
  elements: dict
  contains:
    ref:
      description: The image's first tag, or its short ID when it has none.
      type: str
      sample: registry.example.com/bytelyst/notes-backend:1.4.0
    tags:
      description: Every tag of the image.
      type: list
      elements: str
    id:
      description: The image ID.
      type: str
    role:
      description:
        - C(product) (has C(dev.bytelyst.product)), C(base) (has C(dev.bytelyst.base.kind), or
          C(dev.bytelyst.base.flavour) for a base built before 0.2.0) or C(other).
      type: str
      sample: product
    product:
      description: The C(dev.bytelyst.product) label.
      type: str
      sample: notes
    kind:
      description:
        - For a product image, its C(dev.bytelyst.kind) label (C(backend) or C(web)).
        - For a base image, its kind (C(backend), C(web) or C(dev)) from C(dev.bytelyst.base.kind), or for a
          base built before 0.2.0 from C(dev.bytelyst.base.flavour).
      type: str
      sample: backend
    mode:
      description: The C(dev.bytelyst.mode) label (C(base) or C(tarball)).
      type: str
    flavour:
      description: For a base image, the same as RV(images[].kind), under its deprecated name; removed in 1.0.0.
      type: str
    version:
      description: The C(org.opencontainers.image.version) label.
      type: str
    base:
      description:
        - For a product image, the base image it runs on (C(dev.bytelyst.base.ref)).
        - For a base image, the runtime image it was built from (C(org.opencontainers.image.base.name)).
      type: str
    base_version:
      description: For a product image, the version of its base (C(dev.bytelyst.base.version)).
      type: str
    base_digest:
      description: For a product image, the digest of its base (C(dev.bytelyst.base.digest)).
      type: str
    size:
      description: Bytes in all the image's layers.
      type: int
    shared:
      description: Bytes in layers that at least one other image on the engine also uses (as C(docker system df) counts).
      type: int
    unique:
      description: Bytes in layers only this image uses (V(size) minus V(shared)).
      type: int
    shared_in_selection:
      description: Bytes in layers that at least one other selected image also uses.
      type: int
    unique_in_selection:
      description: V(size) minus V(shared_in_selection).
      type: int
    layers:
      description: Number of layers.
      type: int
totals:
  description: The selected images together.
  returned: always
  type: dict
  contains:
    images:
      description: Number of selected images.
      type: int
    layers:
      description: Number of distinct layers they use.
      type: int
    sum_of_sizes:
      description: The sum of their sizes; what they would use if they shared nothing.
      type: int
    disk_used:
      description: Bytes they actually use on disk, each distinct layer counted once.
      type: int
    saved_bytes:
      description: V(sum_of_sizes) minus V(disk_used).
      type: int
    saved_percent:
      description: V(saved_bytes) as a percentage of V(sum_of_sizes), one decimal; 0.0 when nothing is selected.
      type: float
      sample: 61.3
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.bytelyst.deploy.plugins.module_utils._engine import (
    DOCKER_COMMON_ARGS, DOCKER_IMPORT_ERROR, HAS_DOCKER,
)
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._usage import measure_on


def main():
    argument_spec = dict(
        images=dict(type="list", elements="str"),
        products=dict(type="list", elements="str"),
        labels=dict(type="list", elements="str"),
        repositories=dict(type="list", elements="str"),
        include_untagged=dict(type="bool", default=False),
    )
    argument_spec.update(DOCKER_COMMON_ARGS)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    if not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker"), exception=str(DOCKER_IMPORT_ERROR))
    params = module.params
    try:
        images, totals = measure_on(
            params, refs=params["images"], labels=params["labels"], products=params["products"],
            repositories=params["repositories"], include_untagged=params["include_untagged"],
        )
    except DeployError as err:
        module.fail_json(msg=str(err), **err.result())
    if not images:
        module.warn("No image matched the selection, so every total is 0.")
    module.exit_json(changed=False, images=images, totals=totals)


if __name__ == "__main__":
    main()
