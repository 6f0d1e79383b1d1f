#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: image_scan
short_description: Scan a local image with Trivy before it ships; keep its SBOM
version_added: 0.1.0
description:
  - Runs Trivy on an image of the Docker engine (its local copy, never a registry's) for known
    vulnerabilities and planted secrets, and writes a CycloneDX SBOM of every package it holds.
  - "The gate: the task fails when a vulnerability of a severity in O(fail_on) is found, or any secret
    (unless O(allow_secrets)), that no active entry of O(ignore) covers."
  - A secret finding names the rule, the file and the line; the secret's value is never returned,
    logged or written anywhere by this module.
  - Besides Trivy's own secret rules, a rule of the collection finds npm registry credentials
    written bare in an C(.npmrc) (C(_authToken=...), C(_auth), C(_password)); an environment
    placeholder such as C(${NPM_TOKEN}) is not a finding.
  - Changes nothing on the engine. With O(sbom_dir), the SBOM file is (re)written only when its content changed.
author:
  - ByteLyst DevOps (@bytelyst)
attributes:
  check_mode:
    support: full
    description: Reports what would be scanned (the command and the SBOM's path) and runs nothing.
  diff_mode:
    support: none
    description: The only file written is the SBOM; its digest is returned.
options:
  image:
    description:
      - The image to scan, as the engine names it (C(name:tag) or an image ID).
    type: str
    required: true
  trivy:
    description:
      - The Trivy executable (name on E(PATH) or path). Install Trivy your own way; the collection does not ship it.
    type: str
    default: trivy
  scanners:
    description:
      - What to look for. Without C(vuln) no vulnerability database is needed (secrets and the SBOM work offline).
    type: list
    elements: str
    choices: [vuln, secret]
    default: [vuln, secret]
  fail_on:
    description:
      - Vulnerability severities that fail the gate. An empty list lets every vulnerability pass (they are still counted).
    type: list
    elements: str
    choices: [UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL]
    default: [CRITICAL, HIGH]
  ignore:
    description:
      - Findings accepted on purpose. Each takes one finding (by ID) out of the gate while it has not expired.
      - An expired entry stops counting (the finding fails the gate again) and is listed in RV(expired_ignores).
    type: list
    elements: dict
    default: []
    suboptions:
      id:
        description: A vulnerability ID (C(CVE-2024-1234), C(GHSA-...)) or a secret rule ID (C(private-key)).
        type: str
        required: true
      reason:
        description: Why it is safe to ship with it; shown in RV(ignored).
        type: str
        required: true
      expires:
        description: Last day (C(YYYY-MM-DD), UTC) the entry counts. Without it the entry never expires.
        type: str
      path:
        description: Only findings in files (secrets) or package files (vulnerabilities) matching this glob.
        type: str
  allow_secrets:
    description:
      - Let secret findings pass the gate (they are still counted and listed, without their values).
    type: bool
    default: false
  sbom_dir:
    description:
      - Write the image's CycloneDX SBOM (JSON) into this directory, as C(<image reference>.cdx.json)
        with every character outside C([A-Za-z0-9._-]) written C(_). Created when missing.
      - Keep it with the release (the pipelines use a directory on the build host); RV(sbom.sha256) ties the two together.
    type: path
  cache_dir:
    description:
      - Trivy's cache directory. Its C(db/) subdirectory holds the vulnerability database (C(trivy.db),
        C(metadata.json)); for offline use, copy a database there and set O(skip_db_update).
      - Default is Trivy's own (C(~/.cache/trivy)).
    type: path
  db_repository:
    description:
      - OCI repository Trivy downloads its vulnerability database from, such as a mirror on your own
        registry (C(registry.example.com/aquasec/trivy-db:2)). Default is Trivy's own.
    type: str
  skip_db_update:
    description:
      - Use the database already in O(cache_dir) and never download. The module fails before scanning
        when there is none and C(vuln) is among O(scanners).
    type: bool
    default: false
  timeout:
    description: Seconds the scan may take.
    type: int
    default: 600
  docker_host:
    description:
      - The Docker engine holding the image, as a URL such as C(unix:///var/run/docker.sock).
      - Defaults to the environment (E(DOCKER_HOST)) or the local socket.
    type: str
notes:
  - Scanning reads every file of the image; Trivy caches what it learnt about each layer in O(cache_dir),
    so a second scan of the same layers is quick.
  - Counts include every finding; only the gate applies O(fail_on), O(allow_secrets) and O(ignore).
requirements:
  - Trivy 0.50 or newer on the host the module runs on
seealso:
  - name: docs/image_scan.md
    description: The gate, offline vulnerability databases and keeping the SBOM with the release.
    link: https://github.com/bytelyst/bytelyst.deploy/blob/main/docs/image_scan.md
"""

EXAMPLES = r"""
- name: Refuse an image with a planted secret or a HIGH/CRITICAL vulnerability
  bytelyst.deploy.image_scan:
    image: registry.example.com/bytelyst/notes-backend:1.4.0
    sbom_dir: /var/lib/bytelyst/build/sbom

- name: Offline, from a database copied into /srv/trivy-cache/db
  bytelyst.deploy.image_scan:
    image: notes-backend:1.4.0
    cache_dir: /srv/trivy-cache
    skip_db_update: true
    fail_on: [CRITICAL]
    ignore:
      - id: CVE-2024-21538
        reason: cross-spawn is only used by the build tools, not at run time
        expires: "2026-03-31"

- name: Secrets and SBOM only (no vulnerability database needed)
  bytelyst.deploy.image_scan:
    image: bytelyst-common-base-backend:1.2.0
    scanners: [secret]
    sbom_dir: /var/lib/bytelyst/build/sbom
  register: scan

- name: Show the counts
  ansible.builtin.debug:
    msg: "{{ scan.counts }}"
"""

RETURN = r"""
image:
  description: The image scanned (or that would be, in check mode).
  returned: always
  type: str
image_id:
  description: The image ID Trivy read.
  returned: when scanned
  type: str
  sample: sha256:0e8972...
scanners:
  description: The scanners that ran.
  returned: always
  type: list
  elements: str
command:
  description: The trivy command line (paths of temporary files shown as they were).
  returned: always
  type: str
counts:
  description: Findings per scanner (C(vuln), C(secret)) and severity, before ignores and thresholds.
  returned: when scanned
  type: dict
  sample: {"vuln": {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 0, "LOW": 0, "UNKNOWN": 0}, "secret": {"CRITICAL": 1, "HIGH": 1}}
findings:
  description: Every finding, trimmed.
  returned: when scanned
  type: dict
  contains:
    vulnerabilities:
      description: ID, severity, package, installed and fixed version, status, title, target and package path.
      type: list
      elements: dict
    secrets:
      description: Rule ID, severity, category, title, file path, start and end line, layer. Never the secret.
      type: list
      elements: dict
blocking:
  description: The findings that trip the gate (scanner, ID, severity, a one-line summary).
  returned: when scanned
  type: list
  elements: dict
ignored:
  description: Findings the gate let pass because of an active O(ignore) entry, with its reason.
  returned: when scanned
  type: list
  elements: dict
expired_ignores:
  description: O(ignore) entries past their expiry date (no longer applied).
  returned: when scanned
  type: list
  elements: dict
failed:
  description: True when the gate tripped (the task fails; C(msg) names the findings).
  returned: always
  type: bool
packages:
  description: Number of packages (OS and language) Trivy found.
  returned: when scanned
  type: int
sbom:
  description: The CycloneDX SBOM written, with O(sbom_dir).
  returned: when scanned with O(sbom_dir)
  type: dict
  contains:
    path:
      description: The SBOM's file.
      type: str
    sha256:
      description: SHA-256 of the file.
      type: str
    format:
      description: C(CycloneDX JSON).
      type: str
sbom_path:
  description: In check mode, where the SBOM would be written.
  returned: in check mode with O(sbom_dir)
  type: str
"""

import datetime

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._scan import DEFAULT_FAIL_ON, SCANNERS, SEVERITIES, plan, scan


def main():
    argument_spec = dict(
        image=dict(type="str", required=True),
        trivy=dict(type="str", default="trivy"),
        scanners=dict(type="list", elements="str", choices=list(SCANNERS), default=list(SCANNERS)),
        fail_on=dict(type="list", elements="str", choices=list(SEVERITIES), default=list(DEFAULT_FAIL_ON)),
        ignore=dict(type="list", elements="dict", default=[], options=dict(
            id=dict(type="str", required=True),
            reason=dict(type="str", required=True),
            expires=dict(type="str"),
            path=dict(type="str"),
        )),
        allow_secrets=dict(type="bool", default=False),
        sbom_dir=dict(type="path"),
        cache_dir=dict(type="path"),
        db_repository=dict(type="str"),
        skip_db_update=dict(type="bool", default=False),
        timeout=dict(type="int", default=600),
        docker_host=dict(type="str"),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    if module.check_mode:
        planned = plan(params)
        module.exit_json(changed=False, failed=False, **planned)
    try:
        result = scan(params, today=datetime.datetime.now(datetime.timezone.utc).date())
    except DeployError as err:
        module.fail_json(msg=str(err), image=params["image"], **err.result())
    for expired in result["expired_ignores"]:
        module.warn("The ignore of %s expired on %s; it no longer counts (%s)." % (
            expired["id"], expired["expires"], expired["reason"]))
    if result["failed"]:
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
