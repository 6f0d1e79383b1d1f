# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Docker engine through the Docker SDK, and the connection options every
module shares. PRIVATE to the collection."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.bytelyst.deploy.plugins.module_utils._connection import Connection
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

try:
    import docker
    from docker.errors import DockerException, ImageNotFound, NotFound
    HAS_DOCKER = True
    DOCKER_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR = exc
    DockerException = ImageNotFound = NotFound = Exception

# Merged into every module's argument_spec, so connection options are spelled the same
# everywhere (see doc_fragments/docker.py). No defaults here: an option not given falls
# back to its DOCKER_* variable, then to the default (_connection.Connection.from_options).
DOCKER_COMMON_ARGS = dict(
    docker_host=dict(type="str", aliases=["docker_url"]),
    tls=dict(type="bool"),
    validate_certs=dict(type="bool", aliases=["tls_verify"]),
    ca_path=dict(type="path", aliases=["tls_ca_cert", "cacert_path"]),
    client_cert=dict(type="path", aliases=["tls_client_cert", "cert_path"]),
    client_key=dict(type="path", aliases=["tls_client_key", "key_path"]),
    tls_hostname=dict(type="str"),
    api_version=dict(type="str", aliases=["docker_api_version"]),
    timeout=dict(type="int"),
    docker_cli=dict(type="path"),
)


def engine_client(connection=None):
    """A Docker SDK client for connection (a Connection, the module options, a docker_host URL, or
    None: the environment's engine), answering a ping."""
    if not HAS_DOCKER:
        raise DeployError(
            "The Python package 'docker' (Docker SDK) is missing on this host.",
            hint="Install it with: pip install 'docker>=7'.",
        )
    conn = Connection.of(connection)
    try:
        client = docker.DockerClient(**conn.sdk_kwargs())
        client.ping()
        return client
    except DockerException as exc:
        raise DeployError(
            "The Docker engine at %s does not answer: %s" % (conn.describe(), exc),
            hint="Start dockerd, or set docker_host to an engine that runs. Over TLS, check that ca_path is the "
            "CA that signed the engine's certificate and that the engine's CA signed client_cert.",
        )


def image_or_none(client, ref):
    """The image for ref, or None when the engine does not have it."""
    try:
        return client.images.get(ref)
    except (ImageNotFound, NotFound):
        return None
