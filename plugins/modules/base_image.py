#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: base_image
short_description: Build a verified, immutably tagged base image holding the workspace's shared packages
version_added: 0.1.0
description:
  - Builds a base image of kind C(backend), C(web) or C(dev) from the tarballs of a tarball manifest
    written by M(bytelyst.deploy.workspace_pack). The packages are installed once in C(/app/node_modules),
    so every product image built on the base shares them as layers.
  - Builds with BuildKit. An npm token and an extra CA bundle reach the build only as BuildKit secrets;
    they never land in a layer or in the image history.
  - Verifies the new image in a throwaway container (every provided package loads from C(/app/backend),
    as the non-root user) before any tag is applied; a failed build or verification moves no tag.
  - Tags C(<name>:<version>) (immutable), C(<name>:<YYYYMMDD>) and C(<name>:latest) when O(promote=true).
  - Idempotent by the fingerprint of every input, stored as the label C(dev.bytelyst.fingerprint),
    so the same inputs build nothing and report C(changed=false).
  - The contract every base image meets is in docs/base-images.md.
  - With O(source=registry) the packages come from a private npm registry instead of tarballs (a base for
    packages another team published). Each of O(packages) is resolved once, before any build, to the version
    the registry holds that npm would install, and so are the shared packages those versions depend on. The
    image records those versions exactly as a base built from tarballs does.
author:
  - ByteLyst DevOps (@bytelyst)
extends_documentation_fragment:
  - bytelyst.deploy.build_log
  - bytelyst.deploy.docker
  - bytelyst.deploy.docker.pull
  - bytelyst.deploy.attributes.actiongroup_docker
attributes:
  check_mode:
    support: full
    description: Reports what would be built and why (RV(reasons), RV(dockerfile)) and touches nothing.
  diff_mode:
    support: none
    description: No diff; check mode returns the generated Dockerfile instead.
options:
  manifest:
    description:
      - The tarball manifest written by M(bytelyst.deploy.workspace_pack), or the directory holding it.
      - Every tarball the kind needs must match the digest the manifest records (a stale manifest fails).
      - Required with O(source=tarballs); not used with O(source=registry).
    type: path
  source:
    description:
      - Where the shared packages come from. C(tarballs) (the default) installs the tarballs of O(manifest).
      - C(registry) installs O(packages) by version from the npm registry O(shared_registry), the token
        O(npm_token) reaching the install steps only, as a BuildKit secret, and only for that registry.
        A version or range the registry cannot serve is refused before anything is built.
    type: str
    choices: [tarballs, registry]
    default: tarballs
  shared_registry:
    description:
      - With O(source=registry), the URL of the npm registry the packages were published to (Gitea's
        C(https://<host>/api/packages/<owner>/npm/)). The scopes of O(packages) are mapped to it.
    type: str
  shared_registry_allow_http:
    description:
      - Accept an C(http://) O(shared_registry) (only for a loopback registry or a network you trust).
    type: bool
    default: false
  kind:
    description:
      - What the base is for. C(backend) and C(web) take the packages of that kind (C(bytelyst.kinds) in their
        package.json; a package that does not say is both), with their production dependencies; C(dev) takes
        every package with its devDependencies (TypeScript and other build tools).
      - C(common) takes the packages of both kinds, backend and web (the base O(stacked=true) builds the
        backend and web bases on).
      - The alias C(flavour) is its deprecated name (removed in 1.0.0).
    type: str
    required: true
    choices: [backend, web, dev, common]
    aliases: [flavour]
  stacked:
    description:
      - With O(kind=backend) or O(kind=web), build the base on a C(common) base instead of the runtime image.
        The common base (named like O(name) with C(-common) for its C(-backend) or C(-web) suffix, the same
        version, registry and runtime image) is built first when its version tag is absent, then this base
        adds the kind's own packages in one layer on top, so a host running backend and web products
        stores the packages both use once. See docs/base-images.md (Stacked bases).
      - Ignored for the C(dev) and C(common) kinds. Needs O(source=tarballs).
    type: bool
    default: false
    version_added: 0.2.0
  runtime_image:
    description:
      - The image to build on. It must already be on the engine (the module never pulls).
    type: str
    default: node:22-slim
  pnpm_version:
    description:
      - The pnpm version the image holds (installed with npm when the runtime image lacks it).
    type: str
    default: 10.6.5
  name:
    description:
      - The image name (repository). Defaults to C(<name_prefix>-<kind>).
    type: str
  name_prefix:
    description:
      - The image name without its kind, when O(name) is not given; the image is C(<name_prefix>-<kind>).
    type: str
    default: bytelyst-common-base
    version_added: 0.2.0
  version:
    description:
      - The semantic version tag, such as C(1.2.0). Version tags are immutable (see O(force)).
    type: str
    required: true
  registry:
    description:
      - A registry prefix, such as C(registry.example.com/bytelyst); tags become C(<registry>/<name>:<tag>).
      - The module only tags; pushing is a separate step.
    type: str
  labels:
    description:
      - Extra labels, such as C(org.opencontainers.image.vendor) (none is set unless given) or
        C(org.opencontainers.image.description). Labels are no input of the fingerprint.
      - They may override the OCI labels but not C(dev.bytelyst.fingerprint),
        C(dev.bytelyst.base.kind) (nor its deprecated twin C(dev.bytelyst.base.flavour)) or C(dev.bytelyst.base.provides).
    type: dict
    default: {}
  packages:
    description:
      - With O(source=tarballs), a list of package names, exactly these shared packages (their
        internal dependencies are added), instead of the kind's default.
      - With O(source=registry) (required), a mapping of package name to version or range
        (such as C(@bytelyst/config) to C(^2.0.0)); the shared packages their versions depend on are added.
    type: raw
  extra_packages:
    description:
      - Extra third-party packages the base installs in C(/app/node_modules) beside the shared packages (the
        frameworks the products use, such as C(fastify) in a backend base, C(next), C(react) and C(react-dom) in a web
        base), so a host stores each once instead of once per product.
      - A list of names, or a mapping of name to an exact version. Without a version each takes the one the lockfiles of
        O(extra_packages_from) lock (the version most of them lock; a tie takes the highest) and the result says
        in RV(extras_notes) (also a warning) which products lock another one; those products install their own.
      - Installed at exactly that version from the lockfile's entry (its dependencies too), checked after the install
        like the shared packages' dependencies; an input of the fingerprint. Extras whose lockfile entries name each
        other as peers at other versions are refused.
      - Listed in the label C(dev.bytelyst.base.extras) and under C(extras) in C(/app/.bytelyst/provides.json).
        Ignored by the common base of O(stacked=true) (the top base installs them).
    type: raw
    version_added: 0.2.0
  extra_packages_from:
    description:
      - Where the versions of O(extra_packages) come from, each a C(pnpm-lock.yaml), a product directory holding one, or a
        directory of products (every subdirectory's C(pnpm-lock.yaml)). Required with O(extra_packages).
    type: list
    elements: path
    version_added: 0.2.0
  promote:
    description:
      - Also tag C(latest).
    type: bool
    default: false
  force:
    description:
      - Replace an existing version tag whose image was built from different inputs. Without it that is refused.
    type: bool
    default: false
  npm_token:
    description:
      - Auth token for the npm registry the third-party dependencies come from; passed only as a BuildKit secret.
      - With O(source=registry), the token of O(shared_registry), and for that registry only.
    type: str
  npm_registry:
    description:
      - URL of the registry third-party dependencies are installed from. Defaults to pnpm's default registry.
    type: str
  ca_bundle:
    description:
      - A PEM bundle of extra CA certificates for TLS-intercepting proxies, passed only as a BuildKit secret.
    type: path
  date_tag:
    description:
      - The date tag given to a new build. Empty means today (UTC, C(YYYYMMDD)); C(false) means no date tag.
      - Applied only when an image is built; an up-to-date image keeps the tags it has.
    type: str
notes:
  - Needs a docker client that builds with BuildKit (see O(docker_cli)).
seealso:
  - module: bytelyst.deploy.workspace_pack
  - name: docs/base_image.md
    description: Behaviour, errors and examples.
    link: https://github.com/bytelyst/bytelyst.deploy/blob/main/docs/base_image.md
"""

EXAMPLES = r"""
- name: Backend base image 1.2.0 from the packed workspace
  bytelyst.deploy.base_image:
    manifest: /srv/build/packed
    kind: backend
    version: 1.2.0
    registry: registry.example.com/bytelyst
    ca_bundle: /etc/ssl/certs/ca-certificates.crt
  register: base

- name: Dev base image, promoted to latest, with a private registry token
  bytelyst.deploy.base_image:
    manifest: /srv/build/packed/bytelyst-manifest.json
    kind: dev
    version: 1.2.0
    promote: true
    npm_token: "{{ vault_npm_token }}"

- name: A backend base for the packages another team published to the private npm registry
  bytelyst.deploy.base_image:
    source: registry
    shared_registry: https://git.example.com/api/packages/bytelyst/npm/
    npm_token: "{{ vault_gitea_npm_token }}"
    packages:
      "@bytelyst/config": ^2.0.0
      "@bytelyst/logger": 1.4.0
    kind: backend
    version: 2.1.0

- name: Backend base on a common base (bytelyst-common-base-common:1.2.0, built first when absent)
  bytelyst.deploy.base_image:
    manifest: /srv/build/packed
    kind: backend
    version: 1.2.0
    stacked: true

- name: What would be built, and why
  bytelyst.deploy.base_image:
    manifest: /srv/build/packed
    kind: web
    version: 1.3.0
  check_mode: true
  register: plan
"""

RETURN = r"""
changed:
  description: Whether an image was built or a tag moved.
  returned: always
  type: bool
built:
  description: Whether an image was built in this run.
  returned: success
  type: bool
image_id:
  description: The image ID (null in check mode when an image would be built).
  returned: success
  type: str
  sample: sha256:e0e294eeb7941484ebc59f45c964c115236a1494ef3c6565440fedc32250a1c9
name:
  description: The repository the tags belong to (registry prefix included).
  returned: success
  type: str
  sample: registry.example.com/bytelyst/bytelyst-common-base-backend
tags:
  description: The image's tags in that repository (in check mode, the tags a build would get).
  returned: success
  type: list
  elements: str
  sample: [bytelyst-common-base-backend:1.2.0, bytelyst-common-base-backend:20261127]
tag_names:
  description: The same tags without the repository (RV(name)), in the same order, for M(bytelyst.deploy.image_push).
  returned: success
  type: list
  elements: str
  sample: ["1.2.0", "20261127"]
date_tag_names:
  description:
    - The date tags (C(YYYYMMDD)) among RV(tag_names). A date tag names the newest build of its day, so it moves
      when a day sees two versions; pass them to M(bytelyst.deploy.image_push)'s O(bytelyst.deploy.image_push#module:channel_tags).
  returned: success
  type: list
  elements: str
  sample: ["20261127"]
  version_added: 0.2.0
moved_tags:
  description: The tags created or moved in this run.
  returned: success
  type: list
  elements: str
size:
  description: The image size in bytes.
  returned: success
  type: int
packages:
  description: The shared packages the image provides, with their versions.
  returned: success
  type: dict
  sample: {"@bytelyst/config": "2.0.0", "@bytelyst/errors": "1.2.0"}
extras:
  description: The extra third-party packages (O(extra_packages)) the image holds, with their versions.
  returned: when O(extra_packages) is set
  type: dict
  sample: {"fastify": "5.12.8"}
  version_added: 0.2.0
extras_notes:
  description: For each extra package the products' lockfiles lock at more than one version, which was taken and
    which products install their own.
  returned: when some lockfiles disagree
  type: list
  elements: str
  version_added: 0.2.0
third_party:
  description: The third-party packages at the top of C(/app/node_modules) with their installed versions (after a build).
  returned: when built
  type: dict
fingerprint:
  description: The sha256 of every input, also the label C(dev.bytelyst.fingerprint).
  returned: success
  type: str
builder:
  description: The builder used (C(buildx) or C(buildkit)); null when nothing was built.
  returned: success
  type: str
kind:
  description: The kind of the base (C(backend), C(web) or C(dev)), also its label C(dev.bytelyst.base.kind).
  returned: success
  type: str
  sample: backend
  version_added: 0.2.0
flavour:
  description: The same as RV(kind), under its deprecated name; removed in 1.0.0.
  returned: success
  type: str
  sample: backend
runtime_image:
  description: The runtime image built on (C(name), C(id), C(digest)).
  returned: success
  type: dict
reasons:
  description: Why an image is (or would be) built, or why nothing is built.
  returned: success
  type: list
  elements: str
dockerfile:
  description: The generated Dockerfile.
  returned: in check mode when an image would be built
  type: str
common:
  description:
    - With O(stacked=true), the result of the common base the image is built on, with the keys above
      (C(name), C(tags), C(tag_names), C(image_id), C(fingerprint), C(packages), C(built) and the others).
  returned: when stacked
  type: dict
  version_added: 0.2.0
build_log:
  description: The file holding BuildKit's progress of the build (kept after a failed build too).
  returned: when an image was built
  type: str
  sample: /var/tmp/bytelyst/builds/bytelyst-common-base-backend-20261130T080509Z.log
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bytelyst.deploy.plugins.module_utils._base_image import DEFAULT_NAME_PREFIX
from ansible_collections.bytelyst.deploy.plugins.module_utils._base_stack import ensure
from ansible_collections.bytelyst.deploy.plugins.module_utils._contract import (
    BASE_KINDS, DEFAULT_PNPM_VERSION, DEFAULT_RUNTIME_IMAGE)
from ansible_collections.bytelyst.deploy.plugins.module_utils._module import (
    IMAGE_BUILD_CONSTRAINTS, image_build_argument_spec, run_module)


def main():
    argument_spec = image_build_argument_spec(
        manifest=dict(type="path"),
        source=dict(type="str", choices=["tarballs", "registry"], default="tarballs"),
        shared_registry=dict(type="str"),
        shared_registry_allow_http=dict(type="bool", default=False),
        kind=dict(type="str", required=True, choices=list(BASE_KINDS), aliases=["flavour"],
                  deprecated_aliases=[dict(name="flavour", version="1.0.0", collection_name="bytelyst.deploy")]),
        stacked=dict(type="bool", default=False),
        runtime_image=dict(type="str", default=DEFAULT_RUNTIME_IMAGE),
        pnpm_version=dict(type="str", default=DEFAULT_PNPM_VERSION),
        name=dict(type="str"),
        name_prefix=dict(type="str", default=DEFAULT_NAME_PREFIX),
        version=dict(type="str", required=True),
        registry=dict(type="str"),
        labels=dict(type="dict", default={}),
        packages=dict(type="raw"),
        extra_packages=dict(type="raw"),
        extra_packages_from=dict(type="list", elements="path"),
        promote=dict(type="bool", default=False),
        force=dict(type="bool", default=False),
        npm_token=dict(type="str", no_log=True),
        npm_registry=dict(type="str"),
        ca_bundle=dict(type="path"),
        date_tag=dict(type="str"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_if=[("source", "tarballs", ["manifest"]),
                                        ("source", "registry", ["shared_registry", "packages"])],
                           **IMAGE_BUILD_CONSTRAINTS)
    run_module(module, ensure, "base_image")


if __name__ == "__main__":
    main()
