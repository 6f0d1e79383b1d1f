# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Connection options shared by every module that talks to a Docker engine.
    DOCUMENTATION = r"""
options:
  docker_host:
    description:
      - The Docker engine to use, as a URL such as C(unix:///var/run/docker.sock), C(tcp://host:2376) or
        C(ssh://user@host). An C(ssh://) engine is reached through the C(ssh) command (its config, agent and
        known hosts), as the docker client does.
      - If not given, the value of E(DOCKER_HOST) is used; if that is not set, C(unix:///var/run/docker.sock).
      - The Docker SDK calls and the docker client (BuildKit builds, Compose) use the same engine and the same
        TLS settings.
    type: str
    aliases: [docker_url]
  tls:
    description:
      - Use TLS to reach the engine without checking its certificate. O(validate_certs) takes precedence.
      - If not given, the value of E(DOCKER_TLS) is used; if that is not set, V(false).
    type: bool
  validate_certs:
    description:
      - Use TLS to reach the engine and check its certificate against O(ca_path).
      - If not given, E(DOCKER_TLS_VERIFY) is used (as the docker client reads it, any value but an empty one, C(0)
        or C(false) turns it on); if that is not set, V(false).
    type: bool
    aliases: [tls_verify]
  ca_path:
    description:
      - The CA certificate (PEM) the engine's certificate is checked against.
      - If not given and E(DOCKER_CERT_PATH) is set, C(ca.pem) in that directory.
    type: path
    aliases: [tls_ca_cert, cacert_path]
  client_cert:
    description:
      - The client certificate (PEM) presented to the engine. Goes with O(client_key).
      - If not given and E(DOCKER_CERT_PATH) is set, C(cert.pem) in that directory.
    type: path
    aliases: [tls_client_cert, cert_path]
  client_key:
    description:
      - The key (PEM) of O(client_cert).
      - If not given and E(DOCKER_CERT_PATH) is set, C(key.pem) in that directory.
    type: path
    aliases: [tls_client_key, key_path]
  tls_hostname:
    description:
      - The name the engine's certificate must carry. Defaults to the host in O(docker_host).
      - If not given, the value of E(DOCKER_TLS_HOSTNAME) is used.
      - Neither the Docker SDK 7 nor the docker client can check a certificate against a name other than the
        host they connect to, so a value different from the host in O(docker_host) is refused with a message
        (write the certificate's name in O(docker_host) instead).
    type: str
  api_version:
    description:
      - The Docker API version to speak, such as C(1.41). Defaults to the engine's own (C(auto)).
      - If not given, the value of E(DOCKER_API_VERSION) is used.
    type: str
    aliases: [docker_api_version]
  timeout:
    description:
      - Seconds to wait for an answer from the engine's API (and, for M(bytelyst.deploy.image_push), from the registry).
      - If not given, the value of E(DOCKER_TIMEOUT) is used; if that is not set, C(60).
    type: int
  docker_cli:
    description:
      - Path of the docker client used for BuildKit builds and Compose.
      - Defaults to the first client that can build with BuildKit (the buildx plugin, or a client
        with BuildKit built in), looking at E(BYTELYST_DOCKER_CLI), C(docker) on E(PATH), then C(/usr/bin/docker).
    type: path
notes:
  - The connection options and their E(DOCKER_HOST), E(DOCKER_TLS), E(DOCKER_TLS_VERIFY), E(DOCKER_CERT_PATH),
    E(DOCKER_TLS_HOSTNAME), E(DOCKER_API_VERSION) and E(DOCKER_TIMEOUT) fallbacks are those of community.docker,
    so C(module_defaults) for C(group/bytelyst.deploy.docker) can carry the same values as for community.docker's
    group. The variables are read on the host the module runs on (the task's C(environment)).
  - The docker client gets the same connection through its own variables (E(DOCKER_HOST), E(DOCKER_TLS_VERIFY),
    E(DOCKER_CERT_PATH) ...), set for every command so a variable of the module's environment cannot point it
    elsewhere. See docs/remote-engines.md.
requirements:
  - Docker SDK for Python (C(docker)) 7.x on the host the module runs on
"""

    # Pulling the images a build starts from (product_image, base_image): the credentials options of image_push.
    PULL = r"""
options:
  pull:
    description:
      - When to pull the images the build starts from (the bases, or the runtime image) from their registry.
      - V(missing) pulls only an image the engine does not have under its reference; V(always) asks the registry
        which digest the reference names and pulls unless the engine already holds that digest; V(never) uses the
        engine's images only.
      - An image the reference already matches is never pulled over. The registry is asked first (HTTP API v2), so a
        wrong password or an unreachable registry stops the module before anything is pulled or built. The engine
        then pulls exactly the digest the registry named.
      - Check mode pulls too when an image is missing, as the plan reads the bases' labels and runs the compatibility
        check in them. It builds and tags nothing.
    type: str
    choices: [missing, always, never]
    default: missing
  username:
    description:
      - User for the registry the images are pulled from. Without it, the credentials C(docker login) stored for
        that registry are used, if any, else anonymous access.
    type: str
  password:
    description: Password or token of O(username).
    type: str
  ca_cert:
    description:
      - CA certificate (PEM) of the registry, for this module's requests to it. The engine pulls with its own
        trust (C(/etc/docker/certs.d/<registry>/ca.crt)).
    type: path
  allow_http:
    description:
      - Talk to the registry over plain HTTP (only for a loopback registry or a network you trust). The engine
        must allow it too (loopback registries are; others are listed in its C(insecure-registries)).
    type: bool
    default: false
"""
