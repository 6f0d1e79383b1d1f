# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Docker engine through the Docker SDK, and the connection options every
module shares. PRIVATE to the collection."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

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

# Merged into every module's argument_spec, so connection options are spelled
# the same everywhere (see doc_fragments/docker.py).
DOCKER_COMMON_ARGS = dict(
    docker_host=dict(type="str"),
    docker_cli=dict(type="path"),
)


def engine_client(docker_host=None, timeout=120):
    """A Docker SDK client for docker_host (default: the environment's engine)."""
    if not HAS_DOCKER:
        raise DeployError(
            "The Python package 'docker' (Docker SDK) is missing on this host.",
            hint="Install it with: pip install 'docker>=7'.",
        )
    try:
        if docker_host:
            client = docker.DockerClient(base_url=docker_host, timeout=timeout)
        else:
            client = docker.from_env(timeout=timeout)
        client.ping()
        return client
    except DockerException as exc:
        raise DeployError(
            "The Docker engine at %s does not answer: %s" % (docker_host or "the default socket", exc),
            hint="Start dockerd, or set docker_host to an engine that runs.",
        )


def image_or_none(client, ref):
    """The image for ref, or None when the engine does not have it."""
    try:
        return client.images.get(ref)
    except (ImageNotFound, NotFound):
        return None
