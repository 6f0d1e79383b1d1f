#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: product_image
short_description: Build a product's backend or web image on a shared base image (or from tarballs)
description:
  - Builds the Docker image of one kind (C(backend) or C(web)) of a product from a pnpm product workspace.
  - O(mode=base) builds C(FROM) a base image made by M(bytelyst.deploy.base_image), so only product code and
    product-only dependencies are added on top of layers shared with every other product.
  - Bases missing on the engine are pulled from their registry (O(pull)), so a build host that never built them
    can build products. Both stages name their image by digest (C(FROM name@sha256:...)) when it has one in its
    repository (it was pushed or pulled there), resolved once per run; the reference given is kept in the labels.
  - O(mode=tarball) builds C(FROM) the runtime image and installs the tarballs of the shared packages the
    product uses (and their internal dependencies) from a manifest of M(bytelyst.deploy.workspace_pack), as the guide's
    docker-prep approach does.
  - O(mode=registry) builds C(FROM) the runtime image and installs the shared packages from the private npm
    registry O(shared_registry) (where M(bytelyst.deploy.package_publish) put them), at the versions the product's
    ranges and lockfile select; a generated C(.npmrc) maps their scopes to it, and O(npm_token) is given to the
    install steps only as a BuildKit secret, for that registry only. Before anything is built, the registry's
    versions are read and every range must be satisfied by one of them (npm's semver, in the runtime image).
  - Before anything is built, every range the product declares on a shared package (C(workspace:*), C(workspace:^),
    C(workspace:~), semver ranges, prereleases) is checked with npm's own semver, in a throwaway container
    of the image that provides the packages, against the versions it provides. The answers are recorded on the
    image (label C(dev.bytelyst.compat)); a later run on the same inputs (same checked image id and ranges) reuses
    them and starts no container.
  - The product's package.json is rewritten for the build (provided packages removed, or pointed at tarballs);
    its C(.pnpmfile.cjs), workspace files and lockfile never enter the build, so no common plat repo is needed.
  - Idempotent by fingerprint (sources, extra directories, lockfile, base image, mode, kind, build arguments, npm
    settings, generated Dockerfile); the new image is started and its health endpoint must answer 200 before any
    tag is applied.
  - Credentials, environment files, private keys and git data never enter the build context, and the product's
    C(.dockerignore) is honoured (see O(product_dir)).
version_added: 0.1.0
author: ByteLyst (@bytelyst)
extends_documentation_fragment:
  - bytelyst.deploy.build_log
  - bytelyst.deploy.docker
  - bytelyst.deploy.docker.pull
  - bytelyst.deploy.attributes.actiongroup_docker
options:
  product_dir:
    description:
      - The product's root directory (holding C(backend/) and C(web/), each with a package.json; see O(kind_dir)).
      - Never copied to a build context, wherever they are below it, are C(.npmrc), C(.env) and C(.env.*),
        private keys (C(*.pem), C(*.key), C(*.p12), C(*.pfx), C(id_rsa*), C(id_ed25519*) ...), C(.ssh), C(.git)
        and C(.netrc). A C(.dockerignore) in O(product_dir) (paths from there) and one in the kind's directory
        (paths from there) are honoured with Docker's rules (C(*), C(**), C(?), C(!) exceptions).
    type: path
    required: true
  kind:
    description: Which part of the product to build.
    type: str
    choices: [backend, web]
    required: true
  kind_dir:
    description:
      - The directory of O(kind) below O(product_dir) (a relative path such as V(api) or V(apps/frontend)), for
        products whose folders are not named C(backend/) and C(web/). Defaults to the name of O(kind).
      - The image is laid out the same either way (C(/app/<kind>)).
    type: str
  extra_dirs:
    description:
      - Directories below O(product_dir) besides the kind's that the build needs, such as the guide's
        product-level C(shared/) beside C(backend/) and C(web/). Each is copied to C(/app/<dir>) in the builder
        and the final stage, so C(../shared) from the kind's directory finds it as it does in the product.
      - Defaults to V([shared]) when O(product_dir) has a C(shared/) directory, else none; V([]) copies none.
        A listed directory that does not exist is an error.
      - Their files are part of the fingerprint and pass the same filters as the sources (see O(product_dir)).
    type: list
    elements: str
  build_args:
    description:
      - Build arguments the build step (C(pnpm run build)) sees as environment variables, such as Next.js
        C(NEXT_PUBLIC_*) values that are compiled into the web. Part of the fingerprint.
      - Public values only; they stay in the builder stage's history. A name ending in C(TOKEN), C(PASSWORD),
        C(PASSWD), C(SECRET), C(KEY) or C(CREDENTIALS) (but C(*_PUBLIC_KEY), C(*_PUBLISHABLE_KEY)) and a value
        holding O(npm_token) or O(password) are refused before anything is built. Secrets reach a build only as
        BuildKit secrets (O(npm_token), O(ca_bundle)).
    type: dict
    default: {}
  os_packages:
    description:
      - Debian packages the product needs at run time (V(openssl) for Prisma, V(libvips42) for sharp), installed
        with C(apt-get) in a layer of their own right after C(FROM) in the final stage. Part of the fingerprint.
      - Names are checked against Debian's package name rules before anything is built (C(name) or
        C(name=version)). The image's apt sources must be reachable from the build (Debian's mirror over http
        works through TLS-intercepting proxies; https sources are verified with O(ca_bundle) when given).
    type: list
    elements: str
    default: []
  build_os_packages:
    description:
      - Debian packages the install and build steps need (compilers for native modules, V(openssl) for
        C(prisma generate)), installed in the builder stage (and the C(deps) stage of O(mode=tarball)), never in
        the final image unless also in O(os_packages).
    type: list
    elements: str
    default: []
  mode:
    description:
      - C(base) builds on the base images; C(tarball) installs the shared packages' tarballs itself; C(registry)
        installs the shared packages from O(shared_registry).
    type: str
    choices: [base, tarball, registry]
    default: base
  base_image:
    description:
      - O(mode=base) only, required there. The C(backend) or C(web) base image of the final stage, by version tag or digest.
    type: str
  dev_base_image:
    description:
      - O(mode=base) only, required there. The C(dev) base image of the builder stage (TypeScript, devDependencies).
    type: str
  runtime_image:
    description: O(mode=tarball) and O(mode=registry) only. The image both stages start from.
    type: str
    default: node:22-slim
  manifest:
    description:
      - The tarball manifest (file or directory) written by M(bytelyst.deploy.workspace_pack). Required with
        O(mode=tarball). With O(mode=base) it is optional and gives the current workspace version C(workspace:^)
        and C(workspace:~) refer to (without it, the base's own version is taken, which always satisfies).
    type: path
  name:
    description: Image repository name. Defaults to C(<product>-<kind>), the product being the name of O(product_dir).
    type: str
  version:
    description: The immutable version tag. Defaults to the version in the kind's package.json.
    type: str
  version_suffix:
    description:
      - Appended to the version in the kind's package.json to make the version tag, such as V(-base1.3.0) for a
        product rebuilt on a new base (version tags are immutable, so new content gets a new tag).
      - Not with O(version).
    type: str
  revision:
    description:
      - Source revision, tagged and labelled. Defaults to the git short sha of the last commit that changed O(product_dir) when it is in a git
        repository without uncommitted changes below it; otherwise no revision tag.
    type: str
  registry:
    description:
      - A registry prefix, such as C(registry.example.com/bytelyst); tags become C(<registry>/<name>:<tag>).
      - The module only tags; pushing is a separate step (M(bytelyst.deploy.image_push)).
    type: str
  port:
    description: Port the server listens on (set as E(PORT) in the image, exposed, and used by the health check).
    type: int
    default: 3000
  health_path:
    description:
      - Path that must answer 200. Defaults to C(/api/health) for a Next.js web that has that route, else C(/health).
    type: str
  promote:
    description: Also tag C(latest).
    type: bool
    default: false
  force:
    description: Replace an existing version tag whose image has a different fingerprint.
    type: bool
    default: false
  npm_token:
    description:
      - Token for the npm registry, given to the install steps only as a BuildKit secret.
      - It is sent to the registry the install uses (O(npm_registry), else the product's C(.npmrc)
        C(registry=), else the default).
      - With O(mode=registry) it is instead the token of O(shared_registry) (on Gitea a personal access token with
        C(read:package)); it is also sent, as a Bearer header only, to read the registry's versions before the build.
    type: str
  npm_registry:
    description:
      - URL of the registry third-party dependencies are installed from (as in M(bytelyst.deploy.base_image)).
        Wins over a C(registry=) line of the product's C(.npmrc). Defaults to that line, else pnpm's default.
      - The product's own C(.npmrc) (the product root's, then the kind directory's, which wins) is honoured for
        its settings (C(registry=), C(@scope:registry=), C(strict-ssl), ...). Its credentials (C(//host/:...)
        lines, C(_authToken), C(_auth), C(_password), C(username), C(password)), host paths (C(cafile),
        C(userconfig), store directories) and C(${VAR}) lines never reach the build; the result's
        C(plan.npmrc_left_out) names what was left out. A URL with credentials in it is refused.
    type: str
  shared_registry:
    description:
      - O(mode=registry) only, required there. The URL of the npm registry the shared packages are installed from,
        such as C(https://git.example.com/api/packages/bytelyst/npm/). Every other dependency keeps coming from the
        default registry.
    type: str
  shared_registry_allow_http:
    description:
      - Accept a plain C(http://) O(shared_registry). Only for a registry on loopback or a network you trust, as the
        token travels with every request.
    type: bool
    default: false
  shared_scopes:
    description:
      - O(mode=registry) only. The scopes whose packages come from O(shared_registry), such as V(@bytelyst).
        Defaults to the scopes of the packages of O(manifest); one of the two is needed.
    type: list
    elements: str
    default: []
  ca_bundle:
    description: Extra CA bundle (PEM) for outbound TLS of the install steps, given only as a BuildKit secret.
    type: path
  verify:
    description: Start the built image and wait for O(health_path) to answer 200 before tagging.
    type: bool
    default: true
  verify_timeout:
    description: Seconds to wait for the health endpoint.
    type: int
    default: 90
  pnpm_version:
    description: pnpm installed in O(mode=tarball) when the runtime image has another version or none.
    type: str
    default: 10.6.5
  labels:
    description:
      - Extra labels for the image (the module's own labels win on a clash), such as
        C(org.opencontainers.image.vendor) (the module sets no vendor).
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    description: Runs the compatibility check (a throwaway container, unless its answers are recorded) and reports the plan; nothing is built or tagged.
  diff_mode:
    support: none
    description: No diff; the result says which tags would be made and why.
notes:
  - Check mode runs the compatibility check (a throwaway container, unless its answers are recorded) and reports the plan;
    nothing is built or tagged.
seealso:
  - module: bytelyst.deploy.base_image
  - module: bytelyst.deploy.workspace_pack
  - module: bytelyst.deploy.image_push
    description: Pushes the tags this module makes, and moves C(latest) in the registry.
  - name: community.docker.docker_image_build
    description: Builds any Dockerfile; it has no base compatibility check, fingerprint or health verification.
    link: https://docs.ansible.com/ansible/latest/collections/community/docker/docker_image_build_module.html
"""

EXAMPLES = r"""
- name: Notes backend on the shared backend base
  bytelyst.deploy.product_image:
    product_dir: /srv/src/notes
    kind: backend
    base_image: bytelyst-common-base-backend:1.2.0
    dev_base_image: bytelyst-common-base-dev:1.2.0
    port: 4016
    manifest: /srv/build/tarballs

- name: Notes web the old way (tarballs), for comparison
  bytelyst.deploy.product_image:
    product_dir: /srv/src/notes
    kind: web
    mode: tarball
    runtime_image: node:22-slim
    manifest: /srv/build/tarballs
    ca_bundle: /etc/ssl/certs/ca-certificates.crt

- name: Clock web on a base in the team registry, tagged there and pushed in the next task
  bytelyst.deploy.product_image:
    product_dir: /srv/src/clock
    kind: web
    base_image: registry.example.com/bytelyst/bytelyst-common-base-web:1.3.0
    dev_base_image: registry.example.com/bytelyst/bytelyst-common-base-dev:1.3.0
    registry: registry.example.com/bytelyst
    port: 3000
    health_path: /health
    manifest: /srv/build/tarballs
  register: clock_web

- name: Push it
  bytelyst.deploy.image_push:
    name: "{{ clock_web.tags[0] }}"
    tags: "{{ clock_web.tag_names }}"

- name: Trading backend rebuilt on a new base under its own tag (version tags are immutable)
  bytelyst.deploy.product_image:
    product_dir: /srv/src/trading
    kind: backend
    base_image: bytelyst-common-base-backend:1.3.0
    dev_base_image: bytelyst-common-base-dev:1.3.0
    version: 2.4.0-base1.3.0
    port: 4018
    manifest: /srv/build/tarballs
    npm_token: "{{ vault_npm_token }}"

- name: Notes backend with the shared packages from Gitea's npm registry (published by package_publish)
  bytelyst.deploy.product_image:
    product_dir: /srv/src/notes
    kind: backend
    mode: registry
    runtime_image: node:22-slim
    shared_registry: https://git.example.com/api/packages/bytelyst/npm/
    npm_token: "{{ vault_gitea_package_token }}"
    shared_scopes: ["@bytelyst"]
    port: 4016

- name: A Next.js web kept in frontend/, with a shared/ folder, public build values and libvips for sharp
  bytelyst.deploy.product_image:
    product_dir: /srv/src/shop
    kind: web
    kind_dir: frontend
    extra_dirs: [shared]
    build_args:
      NEXT_PUBLIC_API_URL: https://shop.example.com/api
    os_packages: [libvips42]
    npm_registry: https://npm.example.com/
    npm_token: "{{ vault_npm_token }}"
    base_image: bytelyst-common-base-web:1.3.0
    dev_base_image: bytelyst-common-base-dev:1.3.0
    manifest: /srv/build/tarballs

- name: Plan only - is the notes backend compatible with base 2.0.0, and would it rebuild?
  bytelyst.deploy.product_image:
    product_dir: /srv/src/notes
    kind: backend
    base_image: bytelyst-common-base-backend:2.0.0
    dev_base_image: bytelyst-common-base-dev:2.0.0
    port: 4016
    manifest: /srv/build/tarballs
  check_mode: true
"""

RETURN = r"""
name:
  description: The repository the tags belong to (registry prefix included).
  returned: success
  type: str
  sample: registry.example.com/bytelyst/notes-backend
image_id:
  description: Id of the image the version tag points at (empty in check mode when nothing was built yet).
  returned: success
  type: str
tags:
  description: Every tag of this build (version, revision, latest when promoted), as full references.
  returned: success
  type: list
  elements: str
tag_names:
  description: The same tags without the repository (RV(name)), in the same order, for M(bytelyst.deploy.image_push).
  returned: success
  type: list
  elements: str
  sample: ["1.4.0", "a1b2c3d"]
size:
  description: Size of the image in bytes.
  returned: success
  type: int
unique_bytes:
  description: Bytes of this image not shared with the image it is built on (its base, or the runtime image).
  returned: success
  type: int
base_ref:
  description: The image the final stage is built on, as given.
  returned: success
  type: str
base_digest:
  description: Its registry digest in the repository RV(base_ref) names, when it was pushed there, else its image id.
  returned: success
  type: str
base_version:
  description: The version label of the base image (mode=base).
  returned: success
  type: str
base_extras:
  description:
    - The base's extra third-party packages (its label C(dev.bytelyst.base.extras)) among the product's runtime
      dependencies; C(from_base) maps those taken from the base to their version, C(own) those the product installs
      itself to why (its lockfile resolves another version, or it installs a peer of them itself). Each of C(own)
      is also a warning.
  returned: in mode=base when the base has extra packages
  type: dict
  sample: {"from_base": {"fastify": "5.12.8"}, "own": {}}
  version_added: 0.2.0
pulled:
  description: The base (or runtime) images pulled from their registry in this run (see O(pull)).
  returned: success
  type: list
  elements: str
fingerprint:
  description: sha256 of every input of the build.
  returned: success
  type: str
plan:
  description: What the build does (images, rewritten package.json of each stage, compatibility results, Dockerfile).
  returned: success
  type: dict
verify:
  description: The health check's result (status, seconds, url).
  returned: when an image was built and verified
  type: dict
build_log:
  description: The file holding BuildKit's progress of the build (kept after a failed build too).
  returned: when an image was built
  type: str
  sample: /var/tmp/bytelyst/builds/notes-backend-20261130T080509Z.log
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bytelyst.deploy.plugins.module_utils._contract import DEFAULT_PNPM_VERSION, DEFAULT_RUNTIME_IMAGE
from ansible_collections.bytelyst.deploy.plugins.module_utils._module import (
    IMAGE_BUILD_CONSTRAINTS, image_build_argument_spec, run_module)
from ansible_collections.bytelyst.deploy.plugins.module_utils._product_image import ensure


def main():
    argument_spec = image_build_argument_spec(
        product_dir=dict(type="path", required=True),
        kind=dict(type="str", required=True, choices=["backend", "web"]),
        kind_dir=dict(type="str"),
        extra_dirs=dict(type="list", elements="str"),
        build_args=dict(type="dict", default={}),
        os_packages=dict(type="list", elements="str", default=[]),
        build_os_packages=dict(type="list", elements="str", default=[]),
        npm_registry=dict(type="str"),
        mode=dict(type="str", default="base", choices=["base", "tarball", "registry"]),
        base_image=dict(type="str"),
        dev_base_image=dict(type="str"),
        runtime_image=dict(type="str", default=DEFAULT_RUNTIME_IMAGE),
        manifest=dict(type="path"),
        name=dict(type="str"),
        version=dict(type="str"),
        revision=dict(type="str"),
        registry=dict(type="str"),
        port=dict(type="int", default=3000),
        health_path=dict(type="str"),
        promote=dict(type="bool", default=False),
        force=dict(type="bool", default=False),
        npm_token=dict(type="str", no_log=True),
        shared_registry=dict(type="str"),
        shared_registry_allow_http=dict(type="bool", default=False),
        shared_scopes=dict(type="list", elements="str", default=[]),
        ca_bundle=dict(type="path"),
        verify=dict(type="bool", default=True),
        verify_timeout=dict(type="int", default=90),
        pnpm_version=dict(type="str", default=DEFAULT_PNPM_VERSION),
        labels=dict(type="dict", default={}),
        version_suffix=dict(type="str"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_if=[("mode", "base", ("base_image", "dev_base_image")),
                                        ("mode", "registry", ("shared_registry",))],
                           mutually_exclusive=[("version", "version_suffix")],
                           **IMAGE_BUILD_CONSTRAINTS)
    run_module(module, ensure, "product_image")


if __name__ == "__main__":
    main()
