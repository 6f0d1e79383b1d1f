#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: package_publish
short_description: Publish the tarballs of a workspace_pack manifest to an npm registry, idempotently
version_added: 0.1.0
description:
  - Publishes the package tarballs listed in the manifest M(bytelyst.deploy.workspace_pack) writes to an npm
    registry (Gitea's, Verdaccio, any registry that speaks the npm registry API), dependencies first.
  - Talks the npm registry HTTP API directly (no npm CLI), so the token is never on a command line or in a file;
    it travels only in an C(Authorization) header.
  - Idempotent by content. A version the registry already holds with the same sha512 integrity is left alone;
    the same version with other content is refused, naming the package, the version and both integrities,
    before anything is published. An npm version is immutable; there is no option to overwrite one.
  - Each version published gets a dist-tag (O(dist_tag), or O(prerelease_dist_tag) for a prerelease).
    Versions already in the registry keep their dist-tags.
  - Retries connection errors and 5xx answers; 401, 403 and 404 fail at once with what to fix.
    A run that fails part-way published only whole versions; a re-run publishes the rest.
author:
  - ByteLyst DevOps (@bytelyst)
extends_documentation_fragment:
  - bytelyst.deploy.retries
options:
  manifest:
    description:
      - The manifest (C(bytelyst-manifest.json)) or the directory holding it and its tarballs.
      - Every tarball to publish is checked against the sha256 the manifest records first.
    type: path
    required: true
  registry:
    description:
      - The npm registry's URL, e.g. V(https://git.example.com/api/packages/<owner>/npm/) for Gitea.
      - V(http://) only with O(allow_http=true).
    type: str
    required: true
  token:
    description:
      - The registry token (on Gitea a personal access token with the C(write:package) scope).
      - Sent only in the C(Authorization) header, as a Bearer token; never logged or returned.
    type: str
  scopes:
    description:
      - The scopes whose packages go to this registry, as V(@bytelyst) (the C(@) may be left out).
      - Default (empty), every package of the manifest.
      - A scope the manifest does not hold is refused; so is a package that needs one from a scope left out.
    type: list
    elements: str
    default: []
  dist_tag:
    description:
      - The dist-tag a newly published release version gets.
    type: str
    default: latest
  prerelease_dist_tag:
    description:
      - The dist-tag a newly published prerelease version (V(1.3.0-rc.1)) gets, so that it does not
        become what C(latest) installs. Set it to V(latest) to treat prereleases like releases.
    type: str
    default: next
  ca_cert:
    description:
      - A CA bundle (PEM) to trust for the registry's TLS instead of the system's, e.g. a private CA or
        the one of a TLS-intercepting proxy.
    type: path
  allow_http:
    description:
      - Allow an V(http://) registry URL. Only for a registry on loopback or a network you trust,
        since the token travels with every request.
    type: bool
    default: false
  timeout:
    description:
      - Seconds one request to the registry may take.
    type: int
    default: 60
attributes:
  check_mode:
    description: Reads the registry only and reports which versions would be published.
    support: full
  diff_mode:
    description: Shows, per package version, the integrity the registry holds before and after.
    support: full
notes:
  - Publishes with the package.json found in each tarball (C(workspace:) ranges already replaced by pnpm).
  - A package marked C(private) is refused.
seealso:
  - module: bytelyst.deploy.workspace_pack
"""

EXAMPLES = r"""
- name: Publish the shared packages to Gitea's npm registry
  bytelyst.deploy.package_publish:
    manifest: /var/lib/bytelyst/build/tarballs
    registry: https://git.example.com/api/packages/bytelyst/npm/
    token: "{{ gitea_package_token }}"

- name: Only the @bytelyst scope, prereleases under the beta tag, behind a TLS-intercepting proxy
  bytelyst.deploy.package_publish:
    manifest: /var/lib/bytelyst/build/tarballs/bytelyst-manifest.json
    registry: https://git.example.com/api/packages/bytelyst/npm/
    token: "{{ gitea_package_token }}"
    scopes: ["@bytelyst"]
    prerelease_dist_tag: beta
    ca_cert: /etc/ssl/certs/ca-certificates.crt
"""

RETURN = r"""
registry:
  description: The registry's URL as used (with one trailing slash).
  returned: always
  type: str
packages:
  description: One entry per package of the manifest, dependencies first.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The package name.
      type: str
    version:
      description: The package version.
      type: str
    action:
      description: V(published), V(unchanged) (the registry holds this content), V(would_publish) (check mode)
        or V(other_scope) (its scope is not in O(scopes)).
      type: str
    integrity:
      description: The tarball's sha512 integrity (V(sha512-<base64>)).
      type: str
    shasum:
      description: The tarball's sha1 (hex).
      type: str
    previous_integrity:
      description: What the registry recorded for this version before; null when it had none.
      type: str
    dist_tag:
      description: The dist-tag a newly published version gets.
      type: str
published:
  description: The versions published by this run, as V(name@version).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bytelyst.deploy.plugins.module_utils._module import run_module
from ansible_collections.bytelyst.deploy.plugins.module_utils._npm_publish import ensure


def main():
    module = AnsibleModule(
        argument_spec=dict(
            manifest=dict(type="path", required=True),
            registry=dict(type="str", required=True),
            token=dict(type="str", no_log=True),
            scopes=dict(type="list", elements="str", default=[]),
            dist_tag=dict(type="str", default="latest"),
            prerelease_dist_tag=dict(type="str", default="next"),
            ca_cert=dict(type="path"),
            allow_http=dict(type="bool", default=False),
            retries=dict(type="int", default=3),
            retry_delay=dict(type="float", default=1.0),
            timeout=dict(type="int", default=60),
        ),
        supports_check_mode=True,
    )
    run_module(module, lambda client, opts, check_mode: ensure(client, opts, check_mode, diff=module._diff),
               "package_publish", connect=lambda params: None, needs_docker=False)


if __name__ == "__main__":
    main()
