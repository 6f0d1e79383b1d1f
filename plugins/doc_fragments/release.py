# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The options compose_deploy and proxy_deploy share through _deployer.deploy_argument_spec: what
    # goes into a release (files, env, secrets, images), where its history lives, and who may deploy what.
    DOCUMENTATION = r"""
options:
  files:
    description:
      - Compose files, in order; relative paths resolve from O(project_src).
    type: list
    elements: path
  env:
    description:
      - Plain configuration - variables for C(${NAME}) interpolation in the compose files, written to an env file
        with mode 0600 in O(history_dir) and passed with C(--env-file).
      - They are not secret - they are shown in the diff and the result and recorded in the release, so that a
        rollback brings them back. Put passwords and tokens in O(secrets).
    type: dict
  secrets:
    description:
      - Secret variables for C(${NAME}) interpolation, written with O(env) to the same 0600 env file.
      - Their values never appear in argv, task output, the diff, the release history or the audit log, and are
        scrubbed from the log tails and messages the module shows; the release records only their names.
      - A rollback uses the secrets given to the task now (a rotated secret stays rotated); a rollback to a
        release that used a secret this task does not pass is refused.
      - A name may not be in both O(env) and O(secrets).
    type: dict
  images:
    description:
      - Per-service image references that replace the compose files' C(image), as C(service) to reference.
      - A service not named in the compose files is an error.
    type: dict
  pull_policy:
    description:
      - How a reference is resolved to a digest on the target engine.
      - V(missing) uses the engine's image when it has one and pulls otherwise; V(always) pulls first, so a moved
        tag is followed; V(never) requires the image on the engine.
      - An image the registry does not have fails the task before anything is touched.
    type: str
    choices: [missing, always, never]
    default: missing
  history_dir:
    description:
      - Where the release history (C(releases.json) and C(releases/)), the audit log, the lock and the env
        files live.
      - Defaults to C(/var/lib/bytelyst/deploy/<project_name>).
    type: path
  keep_releases:
    description:
      - How many releases the history keeps (at least 2; the current one is always kept).
    type: int
    default: 10
  lock_timeout:
    description:
      - Seconds to wait for another deploy of the same project to finish. On timeout the task fails naming the holder.
    type: int
    default: 600
  triggered_by:
    description:
      - Who or what triggered this deploy, for the history and the audit log (a user, a CI job).
      - Defaults to the remote user name.
    type: str
  allow:
    description:
      - Settings that hand a container the host, which the task refuses unless they are listed here
        (checked on the configuration as C(docker compose config) resolves it, in check mode too).
      - "V(privileged) permits C(privileged: true); V(host_network) permits C(network_mode: host); V(host_pid)
        permits C(pid: host); V(docker_socket) permits a bind mount of the Docker socket (C(/var/run/docker.sock),
        C(/run/docker.sock), the socket of O(docker_host), any file named C(docker.sock), a symlink to one,
        or the directory holding one, or C(/))."
      - A refusal names the service and the value to list here; nothing is changed.
    type: list
    elements: str
    choices: [privileged, host_network, host_pid, docker_socket]
    default: []
"""
