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
    from requests.exceptions import RequestException
    HAS_DOCKER = True
    DOCKER_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR = exc
    DockerException = ImageNotFound = NotFound = RequestException = Exception

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


# The API version spoken until the engine has said its own (Docker 1.12; every call we make exists there).
MIN_API_VERSION = "1.24"


def engine_client(connection=None):
    """A Docker SDK client for connection (a Connection, the module options, a docker_host URL, or
    None: the environment's engine), answering a ping."""
    if not HAS_DOCKER:
        raise DeployError(
            "The Python package 'docker' (Docker SDK) is missing on this host.",
            hint="Install it with: pip install 'docker>=7'.",
        )
    conn = Connection.of(connection)
    kwargs = conn.sdk_kwargs()
    try:
        if not conn.verify:
            client = docker.DockerClient(**kwargs)
        else:
            # requests lets REQUESTS_CA_BUNDLE (set where a proxy intercepts TLS) replace the CA
            # given for a request, so the engine's certificate would be checked against the wrong
            # CA. The session must ignore the environment before its first request, which the SDK
            # makes while it asks the engine its API version: so that question comes after.
            client = docker.DockerClient(**dict(kwargs, version=conn.api_version or MIN_API_VERSION))
            client.api.trust_env = False
            if not conn.api_version:
                client.api._version = client.api.version(api_version=False)["ApiVersion"]
        client.ping()
        return client
    except (DockerException, RequestException) as exc:
        raise DeployError("The Docker engine at %s does not answer: %s" % (conn.describe(), exc), hint=_hint(conn, exc))


def _hint(conn, exc):
    text = str(exc)
    if "BAD_CERTIFICATE" in text or "UNKNOWN_CA" in text or "certificate required" in text.lower():
        return ("The engine refused the client certificate%s: give client_cert and client_key signed by the CA "
                "the engine trusts (its --tlscacert)." % (" %s" % conn.client_cert if conn.client_cert else ""))
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return ("The engine's certificate does not check out against ca_path %s: give the CA that signed it, and "
                "a docker_host whose host is in it." % conn.ca_path)
    return "Start dockerd, or set docker_host to an engine that runs."


def repository_labels(client, repository):
    """The labels of the engine's images tagged in repository (one listing call, no inspect),
    newest last where the engine says when each was created; [] when the listing fails."""
    try:
        listing = client.api.images(name=repository)
    except (DockerException, RequestException):
        return []
    found = [s for s in listing or () if any(t.rsplit(":", 1)[0] == repository for t in s.get("RepoTags") or ())]
    found.sort(key=lambda s: s.get("Created") or 0)
    return [s.get("Labels") or {} for s in found]


def image_or_none(client, ref):
    """The image for ref, or None when the engine does not have it."""
    try:
        return client.images.get(ref)
    except (ImageNotFound, NotFound):
        return None
