#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: workspace_pack
short_description: Build and pack the shared packages of a pnpm workspace into tarballs, incrementally
version_added: 0.1.0
description:
  - Discovers the packages of a pnpm workspace from the globs of its C(pnpm-workspace.yaml), selects those whose
    name matches O(filter) (plus every workspace package they depend on), orders them by their internal dependencies,
    builds them (their C(build) script) and packs each with C(pnpm pack), so C(workspace:) ranges become real
    versions in the packed C(package.json).
  - Writes the tarballs and a JSON manifest (C(bytelyst-manifest.json)) into O(output). The image modules of this
    collection read that manifest; its format is in C(docs/manifest.md).
  - Incremental. A package's fingerprint covers every file of its directory (what pnpm packs and what its build
    reads, C(node_modules) excepted), its entries in C(pnpm-lock.yaml), the workspace-wide O(shared_inputs), the pnpm
    version, and the fingerprints of the workspace packages it depends on. Only packages whose fingerprint changed
    are built and packed, in dependency order, O(jobs) at a time. When nothing changed no build runs and the result
    is C(changed=false).
  - O(output) changes atomically. The new tarballs and manifest are made in a staging directory beside it, which
    replaces O(output) only when everything succeeded, in one step (the two directories are exchanged with
    C(renameat2)), so there is no moment without a complete O(output); a failed run leaves the previous tarballs
    and manifest as they were. Where the exchange is not available (not Linux, some network file systems), two
    renames are used and the old directory is kept until the new one is in place.
  - Runs writing beside the same O(output) take turns (a lock on its parent directory, dropped by the kernel when
    a run dies). A run killed half-way leaves a staging directory; the next run removes it (RV(cleaned)).
author:
  - ByteLyst DevOps (@bytelyst)
attributes:
  check_mode:
    support: full
    description: Reports which packages would be rebuilt and why (RV(packages[].reasons)); builds, packs and writes nothing.
  diff_mode:
    support: full
    description: Shows the manifest's package versions and tarball digests before and after.
options:
  workspace:
    description:
      - The pnpm workspace root, the directory holding C(pnpm-workspace.yaml).
      - Its dependencies must be installed (C(pnpm install)) for builds to work.
    type: path
    required: true
  filter:
    description:
      - A glob on package names selecting the packages to pack, such as C(@bytelyst/*) or C(@acme/ui-*).
      - Workspace packages that a selected package depends on are packed too (its tarball needs them).
      - A filter that matches no package is an error.
    type: str
    default: '@bytelyst/*'
  output:
    description:
      - The directory for the tarballs and the manifest. Created if missing.
      - The module owns it. It must be new, empty, or an earlier output of this module (it holds the
        manifest); other files in it are not kept.
    type: path
    required: true
  build:
    description:
      - Run the C(build) script of each package to rebuild before packing it, with one C(pnpm --recursive run build)
        over those packages (pnpm orders them by their dependencies and runs O(jobs) at once), or with
        C(pnpm run build) in its directory when only one has a C(build) script.
      - Packages without a C(build) script are packed as they are.
    type: bool
    default: true
  pnpm:
    description:
      - The pnpm executable, a name looked up on E(PATH) or a path. pnpm 9 or newer is required.
    type: str
    default: pnpm
  jobs:
    description:
      - How many packages are built and packed at once (packages that do not depend on each other).
      - Defaults to the number of CPU cores.
    type: int
  force:
    description:
      - Build and pack every selected package, whatever the fingerprints say.
    type: bool
    default: false
  shared_inputs:
    description:
      - Glob patterns for files in the workspace root that every package build reads; a change to one of
        them rebuilds every package.
      - The root importer of C(pnpm-lock.yaml) and the lockfile's settings always count.
    type: list
    elements: str
    default: [pnpm-workspace.yaml, .npmrc, .pnpmfile.cjs, 'tsconfig*.json']
  timeout:
    description:
      - Seconds each pnpm command (the build of the packages to rebuild, one pack) may take.
    type: int
    default: 1800
requirements:
  - pnpm 9 or newer and Node.js on the host the module runs on
  - PyYAML
notes:
  - The fingerprint is a superset of what pnpm packs; a change to a test file also rebuilds its package.
  - Builds write into the workspace (for example C(dist/)); only O(output) is kept atomic.
seealso:
  - name: docs/workspace_pack.md
    description: How the module decides what to rebuild, and its errors.
    link: https://github.com/bytelyst/bytelyst.deploy/blob/main/docs/workspace_pack.md
  - name: docs/manifest.md
    description: The manifest format.
    link: https://github.com/bytelyst/bytelyst.deploy/blob/main/docs/manifest.md
"""

EXAMPLES = r"""
- name: Tarballs of every @bytelyst/* package
  bytelyst.deploy.workspace_pack:
    workspace: /srv/src/learning_ai_common_plat
    output: /srv/build/bytelyst-tarballs
  register: tarballs

- name: Show what was rebuilt
  ansible.builtin.debug:
    msg: "rebuilt {{ tarballs.rebuilt | join(', ') or 'nothing' }} in {{ tarballs.duration }} s"

- name: Another scope, a pinned pnpm, two builds at a time
  bytelyst.deploy.workspace_pack:
    workspace: /srv/src/acme-platform
    filter: '@acme/*'
    output: /srv/build/acme-tarballs
    pnpm: /opt/pnpm/bin/pnpm
    jobs: 2

- name: What would be rebuilt, and why (nothing is touched)
  bytelyst.deploy.workspace_pack:
    workspace: /srv/src/learning_ai_common_plat
    output: /srv/build/bytelyst-tarballs
  check_mode: true
  diff: true
"""

RETURN = r"""
packages:
  description: Every packed package, dependencies first.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The package name.
      type: str
      sample: '@bytelyst/config'
    version:
      description: The package version.
      type: str
      sample: 2.0.0
    dir:
      description: The package directory, relative to the workspace root.
      type: str
      sample: packages/config
    tarball:
      description: The tarball's file name in O(output) (as pnpm names it).
      type: str
      sample: bytelyst-config-2.0.0.tgz
    sha256:
      description: The tarball's sha256; null in check mode for a package that would be rebuilt.
      type: str
    fingerprint:
      description: The fingerprint of the package's inputs.
      type: str
    kinds:
      description:
        - The kinds of image the package is for, C(backend) and/or C(web) (C(bytelyst.kinds) in its package.json,
          or its deprecated name C(bytelyst.targets); both when neither is given).
      type: list
      elements: str
      sample: [backend, web]
      version_added: 0.2.0
    targets:
      description: The same as C(kinds), under its deprecated name; removed in 1.0.0.
      type: list
      elements: str
      sample: [backend, web]
    rebuilt:
      description: Whether this run built and packed it (would, in check mode).
      type: bool
    reasons:
      description:
        - "Why it was (would be) rebuilt, such as C(new), C(source changed: src/index.ts),
          C(dependency @bytelyst/errors changed), C(forced)."
        - Empty when it was up to date.
      type: list
      elements: str
rebuilt:
  description: Names of the packages built and packed by this run (that would be, in check mode), in build order.
  returned: always
  type: list
  elements: str
removed:
  description: Packages of the previous manifest that are no longer selected, so are no longer in O(output).
  returned: always
  type: list
  elements: str
order:
  description: Every packed package, dependencies first.
  returned: always
  type: list
  elements: str
cleaned:
  description:
    - Staging and old directories beside O(output) that killed runs had left, removed by this run before it
      started (that it would remove, in check mode).
  returned: always
  type: list
  elements: str
manifest:
  description: Path of the manifest.
  returned: always
  type: str
  sample: /srv/build/bytelyst-tarballs/bytelyst-manifest.json
pnpm_version:
  description: The version of the pnpm used.
  returned: always
  type: str
  sample: 10.6.5
duration:
  description: Seconds the run took.
  returned: always
  type: float
  sample: 4.2
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.bytelyst.deploy.plugins.module_utils import _workspace as ws
from ansible_collections.bytelyst.deploy.plugins.module_utils._module import run_module
from ansible_collections.bytelyst.deploy.plugins.module_utils._workspace_pack import DEFAULT_SHARED_INPUTS, ensure


def main():
    module = AnsibleModule(
        argument_spec=dict(
            workspace=dict(type="path", required=True),
            filter=dict(type="str", default="@bytelyst/*"),
            output=dict(type="path", required=True),
            build=dict(type="bool", default=True),
            pnpm=dict(type="str", default="pnpm"),
            jobs=dict(type="int"),
            force=dict(type="bool", default=False),
            shared_inputs=dict(type="list", elements="str", default=DEFAULT_SHARED_INPUTS),
            timeout=dict(type="int", default=1800),
        ),
        supports_check_mode=True,
    )
    if not ws.HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"))
    run_module(module, lambda client, opts, check_mode: ensure(client, opts, check_mode, diff=module._diff),
               "workspace_pack", connect=lambda params: None, needs_docker=False)


if __name__ == "__main__":
    main()
