#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: proxy_deploy
short_description: Deploy a Compose project blue/green behind an nginx reverse proxy, with no failed requests
version_added: 0.1.0
description:
  - Deploys a product as two Compose projects, C(<project_name>-blue) and C(<project_name>-green), behind one nginx
    container per host (created when missing) that publishes the host ports and routes by host name and path prefix.
  - A release is brought up as the color that does not serve, beside the running one, and gated there
    (C(docker compose up --wait), each route's O(routes[].health_path) on each new container directly, every
    service running and healthy). Only then are the proxy's routes switched - the new configuration is checked by
    C(nginx -t) before it takes effect, nginx reloads gracefully, and the switch is confirmed by asking nginx's
    workers - the old workers finish their in-flight requests and long-lived connections (up to O(drain_timeout)),
    and the old color is stopped (or kept running, O(keep_previous)).
  - A release that fails its gate, a configuration nginx refuses, a reload that does not take and a proxy that
    restarts during the deploy all fail the task before the switch (or put the previous routes back); the new
    color is stopped without having received a request and the old one keeps serving.
  - Releases, the history, the audit log, the lock, secrets and check mode work as in M(bytelyst.deploy.compose_deploy);
    each release also records its color. A rollback switches back to the previous color, whose containers are
    only started again when they still hold that release.
extends_documentation_fragment:
  - bytelyst.deploy.docker
  - bytelyst.deploy.attributes.actiongroup_docker
  - bytelyst.deploy.provenance
  - bytelyst.deploy.release
options:
  project_name:
    description:
      - The product's name; the Compose projects are C(<project_name>-blue) and C(<project_name>-green). Also names
        the history directory and the product's route files in the proxy.
    type: str
    required: true
  project_src:
    description:
      - The project directory (see M(bytelyst.deploy.compose_deploy)). One of O(project_src) and O(files) is required.
    type: path
  definition:
    description: The compose file as a mapping, written to C(compose.yml) in O(project_src).
    type: dict
  action:
    description:
      - V(deploy) deploys the compose files; V(rollback) switches back to O(rollback_to), by default the previous
        healthy release with a different state.
    type: str
    choices: [deploy, rollback]
    default: deploy
  rollback_to:
    description: With O(action=rollback), the release id to return to (such as V(r3)).
    type: str
  wait_timeout:
    description: Seconds Compose waits for the new color's containers to be running and healthy.
    type: int
    default: 120
  up_timeout:
    description: Seconds the whole C(docker compose up) of the new color may take; defaults to O(wait_timeout) plus 180.
    type: int
  routes:
    description:
      - What the proxy routes to the product, per service. A request goes to the route whose O(routes[].hosts)
        holds its host name and whose O(routes[].path_prefix) is the longest prefix of its path; routes without
        hosts answer on any host name no other route names. The path is passed on unchanged.
      - The product's services must not publish ports or set C(container_name) (both colors run side by side).
    type: list
    elements: dict
    required: true
    suboptions:
      service:
        description: The Compose service.
        type: str
        required: true
      port:
        description: The port the service listens on inside its container.
        type: int
        required: true
      hosts:
        description: Host names (V(notes.example.com), V(*.example.com)); none routes on any host.
        type: list
        elements: str
        default: []
      path_prefix:
        description: The path prefix (V(/api/)); V(/) routes every path.
        type: str
        default: /
      health_path:
        description: A path checked on each new container directly (by its address on the proxy network) before the switch.
        type: str
      health_status:
        description: The status O(routes[].health_path) must answer.
        type: int
        default: 200
      health_timeout:
        description: Seconds to keep retrying O(routes[].health_path) (once a second).
        type: int
        default: 30
      directives:
        description:
          - Extra nginx directives for the route's location, one per item, each ending in C(;) (such as
            V(client_max_body_size 20m;)). C(nginx -t) checks them before they take effect.
        type: list
        elements: str
        default: []
      warmup_paths:
        description:
          - Paths requested on each new container directly, after O(routes[].health_path) answered and before the
            switch, until each answers 200 (within O(routes[].health_timeout)), so the first clients do not pay for
            a cold start (a Next.js page rendered for the first time). A path that does not answer 200 fails the
            gate like the health path; the release never gets a request.
        type: list
        elements: str
        default: []
        version_added: 0.2.0
  proxy:
    description: The proxy container, created when missing (never recreated by this module).
    type: dict
    default: {}
    suboptions:
      name:
        description: The container's name.
        type: str
        default: bytelyst-proxy
      image:
        description: An nginx image (1.22 or later) with C(/usr/sbin/nginx) on its path.
        type: str
        default: nginx:1.27
      network:
        description: The Docker network the proxy reaches the products' containers on (created when missing).
        type: str
        default: bytelyst-proxy
      config_dir:
        description: The host directory holding the proxy's configuration, mounted read-only into it.
        type: path
        default: /var/lib/bytelyst/proxy
      ports:
        description:
          - Host ports the proxy publishes, as C([IP:]HOST_PORT:8080) (HTTP) or C([IP:]HOST_PORT:8443) (HTTPS).
        type: list
        elements: str
        default: ["80:8080"]
      user:
        description: The user the proxy runs as (uid:gid); 101 is the nginx user of the official image.
        type: str
        default: "101:101"
  tls_certificate:
    description:
      - A PEM certificate (chain) on the host for the product's host names; the proxy then also answers HTTPS on
        port 8443 of its container for the routes with O(routes[].hosts). No certificate is requested from anywhere.
    type: path
  tls_key:
    description: The PEM private key of O(tls_certificate); copied into O(proxy.config_dir) readable by the proxy's user only.
    type: path
  drain_timeout:
    description:
      - Seconds the old nginx workers may keep serving in-flight requests and long-lived connections (streams,
        websockets) after the switch; the old color is stopped once they are done or this has passed.
    type: int
    default: 30
  reload_timeout:
    description: Seconds to wait for the proxy's workers to answer with the new configuration after the reload.
    type: int
    default: 10
  keep_previous:
    description:
      - What happens to the old color after the switch and the drain. V(stopped) stops its containers (a rollback
        starts them again); V(running) keeps them running (a rollback switches back at once, at the cost of memory).
    type: str
    choices: [stopped, running]
    default: stopped
notes:
  - The HTTP checks reach the new containers by their address on the proxy network, so the module runs on the host
    of the engine (as the proxy's status port, which confirms a reload, is reached the same way).
  - A product deployed in place by M(bytelyst.deploy.compose_deploy) moves behind the proxy with a history of its own;
    stop the in-place project once the proxy serves it, and let the proxy publish its ports.
attributes:
  check_mode:
    support: full
    description: Plans (the color, the digests, whether the proxy would be created or started) and changes nothing.
  diff_mode:
    support: full
    description: Shows the running release and the new one, with their colors.
seealso:
  - module: bytelyst.deploy.compose_deploy
  - name: proxy_deploy documentation
    description: The traffic flow, why nginx, the switch and the drain in detail.
    link: https://github.com/bytelyst/bytelyst.deploy/blob/main/docs/proxy.md
author:
  - ByteLyst DevOps (@bytelyst)
"""

EXAMPLES = r"""
- name: Deploy the notes product behind the proxy
  bytelyst.deploy.proxy_deploy:
    project_name: notes
    project_src: /srv/notes
    images:
      web: registry.example.com/notes-web:1.4.0
      api: registry.example.com/notes-backend:1.4.0
    routes:
      - service: web
        port: 3000
        hosts: [notes.example.com]
        health_path: /api/health
      - service: api
        port: 3000
        hosts: [notes.example.com]
        path_prefix: /api/
        health_path: /health
    proxy:
      ports: ["80:8080", "443:8443"]
    tls_certificate: /etc/ssl/notes/fullchain.pem
    tls_key: /etc/ssl/notes/key.pem
    drain_timeout: 60

- name: Switch back to the previous release (its containers are started again if stopped)
  bytelyst.deploy.proxy_deploy:
    project_name: notes
    project_src: /srv/notes
    action: rollback
    routes:
      - {service: web, port: 3000, hosts: [notes.example.com], health_path: /api/health}
"""

RETURN = r"""
release:
  description: The release serving now, with its state and C(color).
  returned: success
  type: dict
color:
  description: The color serving after the task (V(blue) or V(green)).
  returned: always
  type: str
  sample: green
previous_color:
  description: The color that served before the task, if any.
  returned: always
  type: str
  sample: blue
images:
  description: Service to image pinned by digest.
  returned: always
  type: dict
reused:
  description: Services whose containers of the new color already held the release and were only started.
  returned: when the proxy switched
  type: list
  elements: str
switch:
  description: C(reload_s) (seconds from the reload to the workers answering the new configuration), C(drained_s)
    (seconds until the old workers were done) and C(draining_left) (workers still draining at O(drain_timeout)).
  returned: when the proxy switched
  type: dict
stopped:
  description: The Compose project of the old color that was stopped, if any.
  returned: when the proxy switched
  type: str
proxy:
  description: The proxy container's name and whether the task created or started it (or, in check mode, would).
  returned: when not in sync
  type: dict
http_checks:
  description: Per check of the new containers - url, expected, status, ok, attempts.
  returned: when the gate ran
  type: list
  elements: dict
containers:
  description: Service to container id of the serving color.
  returned: success, not in check mode
  type: dict
history:
  description: The kept releases (id, action, result, time, triggered_by).
  returned: always
  type: list
  elements: dict
failed_release:
  description: The release that failed before the switch.
  returned: failure
  type: str
running_release:
  description: The release still serving after a failure.
  returned: failure
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bytelyst.deploy.plugins.module_utils._blue_green import BlueGreen
from ansible_collections.bytelyst.deploy.plugins.module_utils._module import (
    DEPLOY_CONSTRAINTS, deploy_argument_spec, run_deployer)


def main():
    argument_spec = deploy_argument_spec(
        routes=dict(type="list", elements="dict", required=True, options=dict(
            service=dict(type="str", required=True),
            port=dict(type="int", required=True),
            hosts=dict(type="list", elements="str", default=[]),
            path_prefix=dict(type="str", default="/"),
            health_path=dict(type="str"),
            health_status=dict(type="int", default=200),
            health_timeout=dict(type="int", default=30),
            directives=dict(type="list", elements="str", default=[]),
            warmup_paths=dict(type="list", elements="str", default=[]),
        )),
        proxy=dict(type="dict", default={}, options=dict(
            name=dict(type="str", default="bytelyst-proxy"),
            image=dict(type="str", default="nginx:1.27"),
            network=dict(type="str", default="bytelyst-proxy"),
            config_dir=dict(type="path", default="/var/lib/bytelyst/proxy"),
            ports=dict(type="list", elements="str", default=["80:8080"]),
            user=dict(type="str", default="101:101"),
        )),
        tls_certificate=dict(type="path"),
        tls_key=dict(type="path", no_log=False),
        drain_timeout=dict(type="int", default=30),
        reload_timeout=dict(type="int", default=10),
        keep_previous=dict(type="str", default="stopped", choices=["stopped", "running"]),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_together=[("tls_certificate", "tls_key")], **DEPLOY_CONSTRAINTS)
    # The gate's HTTP checks come from the routes (asked of the new containers directly).
    params = dict(module.params, http_checks=None)
    module.exit_json(**run_deployer(module, BlueGreen(params, module.check_mode, module.warn)))


if __name__ == "__main__":
    main()
