#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: compose_deploy
short_description: Deploy a Compose project with images pinned by digest, a health gate and automatic rollback
version_added: 0.1.0
description:
  - Deploys one Compose project on the target host with the Compose v2 CLI (C(docker compose)).
  - Every service's image is resolved on the target engine and pinned by digest in a generated override
    file (C(compose.bytelyst.yml)), so what runs is exactly what was verified and pushed.
  - A release is the whole deployed state - the compose files as deployed (copied byte for byte into the
    release's directory under O(history_dir)), the pinned images, the plain O(env) and the names of the O(secrets).
    Compose always runs those copies, with C(--project-directory) the project directory, so relative paths
    resolve as in the originals.
  - The health gate is C(docker compose up --detach --wait) (container health checks), the optional HTTP checks,
    and every service running and healthy afterwards. When the gate fails, or anything else fails once C(up) has
    started (C(up) past O(up_timeout), Compose failing, the history not saving), the previous release's whole
    state (its compose files, env and images) is brought back and verified healthy, and the task fails with a
    message naming the failed release, why it failed (container log tails), and the release now running.
  - Named volumes are never removed, by a deploy or by a rollback.
  - Keeps a release history (last O(keep_releases) releases) and an append-only audit log with one line per
    attempt (refused ones, lock timeouts and interrupted runs included) on the host, and holds a per-project lock
    so that two deploys never interleave.
  - Idempotent - when every service already runs the same digests and configuration, Compose is not run and the
    result is C(changed=false).
extends_documentation_fragment:
  - bytelyst.deploy.docker
  - bytelyst.deploy.attributes.actiongroup_docker
  - bytelyst.deploy.provenance
  - bytelyst.deploy.release
options:
  project_name:
    description:
      - The Compose project name. Also names the history directory.
    type: str
    required: true
  project_src:
    description:
      - The project directory. Relative paths in the compose files resolve from it.
      - Without O(files), the default compose file in it is used (C(compose.yaml), C(compose.yml), C(docker-compose.yaml), C(docker-compose.yml)).
      - One of O(project_src) and O(files) is required. Defaults to the directory of the first file.
    type: path
  definition:
    description:
      - The compose file itself, as a mapping (C(services), C(volumes), ...), instead of O(files).
      - It is written to C(compose.yml) in O(project_src) (created with mode 0750 if absent), which it requires.
        The file is written only once the definition has passed validation, image resolution and the port check,
        so a refused deploy leaves the previous file in place; it is rewritten only when it differs.
      - Check mode plans against the new definition without writing it, and diff mode shows how the file changes.
    type: dict
  action:
    description:
      - V(deploy) deploys the compose files with their (overridden) images.
      - V(rollback) returns to release O(rollback_to), by default the previous healthy release, through the
        same health gate. It brings back that release's compose files, env and images; O(files), O(definition),
        O(env) and O(images) of the task are not used (only for a release recorded before releases kept their
        files, which brings back its images with the task's files and env).
    type: str
    choices: [deploy, rollback]
    default: deploy
  rollback_to:
    description:
      - With O(action=rollback), the release id to return to (such as V(r3)); see RV(history).
      - Defaults to the newest healthy release before the current one that deployed a different state.
    type: str
  wait_timeout:
    description:
      - Seconds Compose waits for every container to be running and healthy.
    type: int
    default: 120
  up_timeout:
    description:
      - Seconds the whole C(docker compose up) may take (pulling, stopping the old containers, the wait).
        Past it, Compose (with every process it started) is stopped and the release is rolled back.
      - Defaults to O(wait_timeout) plus 180. The rollback's own C(up) may take that default even when
        O(up_timeout) is shorter, since the restored release ran before and is given Compose's whole wait.
    type: int
  http_checks:
    description:
      - HTTP checks run after Compose reports the project healthy; every check must pass for the gate to pass.
    type: list
    elements: dict
    suboptions:
      url:
        description: The URL to request with GET.
        type: str
        required: true
      status:
        description: The status that counts as healthy.
        type: int
        default: 200
      timeout:
        description: Seconds to keep retrying (once a second) until the status is right.
        type: int
        default: 30
notes:
  - Inputs are checked before anything changes - O(project_name) follows Compose's rule (lowercase letters, digits,
    dashes and underscores, starting with a letter or digit); O(http_checks) URLs are http or https with a host and
    a port from 1 to 65535, statuses 100 to 599 and timeouts 1 to 3600 seconds; O(wait_timeout) is 1 to 3600,
    O(lock_timeout) 0 to 10800 (0 does not wait), O(keep_releases) 2 to 100; O(env) keys are variable names
    (letters, digits and underscores, not starting with a digit) and values are single-line strings or numbers.
  - Check mode pulls nothing, builds nothing, touches no container and writes nothing on the host; it reports the plan
    (which services would be recreated, digests resolved from the engine or the registry).
  - Diff mode shows the running release and the new one (per service the image by digest, the O(env) values and the
    names of the O(secrets)); with O(definition), also how C(compose.yml) changes.
  - A rollback restores the whole state of a release - its compose files as deployed, its env and its images - and the
    secrets given to the task. Your own compose files in O(project_src) are never rewritten; a C(compose.yml) written
    from O(definition) is rewritten to the restored release's.
  - When the history is missing (its directory deleted), a failed deploy returns to the containers found running
    before it (their images, and the compose files they were started from while those still exist).
  - Services that only have a C(build) section are refused; build and push images first.
attributes:
  check_mode:
    support: full
    description: Plans against the engine and the registry (what would be recreated, the digests) and changes nothing.
  diff_mode:
    support: full
    description: Shows the running release and the new one, and how a C(compose.yml) written from O(definition) changes.
seealso:
  - module: bytelyst.deploy.image_push
  - module: bytelyst.deploy.image_prune
  - name: community.docker.docker_compose_v2
    description: Runs Compose v2 without digest pinning, health-gated rollback or a release history.
    link: https://docs.ansible.com/ansible/latest/collections/community/docker/docker_compose_v2_module.html
  - name: compose_deploy documentation
    description: Release history, rollback, lock and failure messages in detail.
    link: https://github.com/bytelyst/bytelyst.deploy/blob/main/docs/compose_deploy.md
author:
  - ByteLyst DevOps (@bytelyst)
"""

EXAMPLES = r"""
- name: Deploy notes with pinned images and an HTTP health gate
  bytelyst.deploy.compose_deploy:
    project_name: notes
    project_src: /srv/notes
    images:
      backend: registry.example.invalid/notes/backend:1.4.0
      web: registry.example.invalid/notes/web:1.4.0
    env:
      NODE_ENV: production
      PORT: "8080"
    secrets:
      DATABASE_PASSWORD: "{{ vault_notes_db_password }}"
    http_checks:
      - url: http://127.0.0.1:8080/health
        status: 200
        timeout: 30
    wait_timeout: 90
    triggered_by: "ci job {{ lookup('ansible.builtin.env', 'CI_JOB_ID') }}"

- name: Deploy clock from a definition (written to /srv/clock/compose.yml)
  bytelyst.deploy.compose_deploy:
    project_name: clock
    project_src: /srv/clock
    definition:
      services:
        backend:
          image: registry.example.invalid/clock/backend:0.9.2
          ports: ["127.0.0.1:4017:4017"]
          restart: unless-stopped

- name: Scan the image, then deploy it with its SBOM kept in the release
  bytelyst.deploy.image_scan:
    image: registry.example.invalid/clock/backend:0.9.2
    sbom_dir: /var/lib/bytelyst/sbom
  register: clock_scan

- name: Deploy clock, recording where its image comes from
  bytelyst.deploy.compose_deploy:
    project_name: clock
    project_src: /srv/clock
    images:
      backend: registry.example.invalid/clock/backend:0.9.2
    provenance:
      backend:
        sbom: "{{ clock_scan.sbom.path }}"
        sbom_sha256: "{{ clock_scan.sbom.sha256 }}"
        scanned: "{{ clock_scan.counts }}"

- name: Return to the previous healthy release
  bytelyst.deploy.compose_deploy:
    project_name: notes
    project_src: /srv/notes
    action: rollback
    secrets:
      DATABASE_PASSWORD: "{{ vault_notes_db_password }}"

- name: Return to a named release
  bytelyst.deploy.compose_deploy:
    project_name: notes
    project_src: /srv/notes
    action: rollback
    rollback_to: r12
"""

RETURN = r"""
release:
  description:
    - The release now running (after a successful deploy, a rollback, or a run that changed nothing).
    - C(provenance) and C(sbom_files) (the SBOMs kept in the release's directory) appear when the release was
      deployed with O(provenance).
  returned: success
  type: dict
  sample: {"id": "r4", "action": "deploy", "images": {"web": "registry.example.invalid/notes/web@sha256:4f..."},
           "result": "success", "time": "2026-11-27T10:00:00Z", "triggered_by": "ci", "reason": "",
           "dir": "r4", "files": ["1-compose.yml"], "project_dir": "/srv/notes", "env": {"PORT": "8080"},
           "secret_names": ["DATABASE_PASSWORD"],
           "provenance": {"web": {"sbom_sha256": "9b0e...", "sbom": "/var/lib/bytelyst/build/sbom/notes-web.cdx.json",
                                  "scanned": {"secret": {"CRITICAL": 0, "HIGH": 0}}}},
           "sbom_files": {"web": "sbom-web.cdx.json"}}
images:
  description: Per service, the image reference pinned by digest (or image id for an image that was never pushed).
  returned: always
  type: dict
containers:
  description: Per service, the id of the container running after the task.
  returned: success
  type: dict
recreate:
  description: Services whose containers are (or in check mode, would be) recreated.
  returned: always
  type: list
  elements: str
http_checks:
  description: Results of the HTTP checks of the gate.
  returned: when checks ran
  type: list
  elements: dict
lock:
  description: How long the task waited for the project lock (C(waited)), and the holder record an interrupted run
    left behind (C(taken_over)), if any.
  returned: success
  type: dict
history:
  description: Ids, actions and results of the releases kept in the history, oldest first.
  returned: always
  type: list
  elements: dict
override_file:
  description: Path of the override file that pins the images of the release now running (in its release directory);
    null while no release runs.
  returned: always
  type: str
definition_file:
  description: With O(definition), the path of the compose file written from it, and whether it changed.
  returned: when O(definition) is set
  type: dict
  sample: {"path": "/srv/clock/compose.yml", "changed": true}
failed_release:
  description: On a failed gate, the release that failed.
  returned: failure
  type: str
running_release:
  description: On a failed gate, the release running afterwards (or null when nothing could be restored).
  returned: failure
  type: str
restored_release:
  description: On a failed gate that was rolled back, the release whose state was restored (null when the state
    restored was the containers found running, with no history).
  returned: failure
  type: str
logs:
  description: On a failed gate, the log tail of each failing service (secret values redacted).
  returned: failure
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bytelyst.deploy.plugins.module_utils._deployer import Deployer
from ansible_collections.bytelyst.deploy.plugins.module_utils._module import (
    DEPLOY_CONSTRAINTS, deploy_argument_spec, run_deployer)


def main():
    argument_spec = deploy_argument_spec(
        http_checks=dict(type="list", elements="dict", options=dict(
            url=dict(type="str", required=True),
            status=dict(type="int", default=200),
            timeout=dict(type="int", default=30),
        )),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, **DEPLOY_CONSTRAINTS)
    module.exit_json(**run_deployer(module, Deployer(module.params, module.check_mode, module.warn)))


if __name__ == "__main__":
    main()
