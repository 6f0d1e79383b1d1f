"""Shared pytest set-up: makes the collection importable as
ansible_collections.bytelyst.deploy, and offers fixtures for the real stack.

scripts/setup.sh provides the stack and writes the environment that
scripts/test.sh exports (BYTELYST_* variables); integration tests read it here.
"""

import os
import sys
import tempfile
import uuid

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _collections_root():
    """A directory holding ansible_collections/bytelyst/deploy -> this checkout."""
    for root in (os.environ.get("ANSIBLE_COLLECTIONS_PATH") or "").split(os.pathsep):
        link = os.path.join(root, "ansible_collections", "bytelyst", "deploy")
        if root and os.path.realpath(link) == REPO:
            return root
    root = tempfile.mkdtemp(prefix="bytelyst-collections-")
    os.makedirs(os.path.join(root, "ansible_collections", "bytelyst"))
    os.symlink(REPO, os.path.join(root, "ansible_collections", "bytelyst", "deploy"))
    return root


COLLECTIONS_ROOT = _collections_root()
if COLLECTIONS_ROOT not in sys.path:
    sys.path.insert(0, COLLECTIONS_ROOT)
# tests/ itself: ansible_runner_helper (modules run through ansible-playbook) imports from here.
if os.path.dirname(os.path.abspath(__file__)) not in sys.path:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ["ANSIBLE_COLLECTIONS_PATH"] = COLLECTIONS_ROOT
# Reproducible image metadata: identical inputs give identical image ids from one run to
# the next, so BuildKit reuses the layers built on them (warm runs stay fast).
os.environ.setdefault("SOURCE_DATE_EPOCH", "1767225600")


def _require_env(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(
            "%s is not set: run the tests through scripts/test.sh, which sets up the stack "
            "(or source the env.sh that scripts/setup.sh writes)." % name
        )
    return value


@pytest.fixture(scope="session")
def docker_client():
    import docker

    client = docker.from_env(timeout=300)
    client.ping()
    yield client
    client.close()


@pytest.fixture(scope="session")
def registry_addr():
    """host:port of the loopback registry started by scripts/setup.sh."""
    return _require_env("BYTELYST_REGISTRY")


@pytest.fixture(scope="session")
def standin_image(docker_client):
    """The local stand-in for node:22-slim (never the real name)."""
    name = _require_env("BYTELYST_STANDIN_IMAGE")
    docker_client.images.get(name)
    return name


@pytest.fixture(scope="session")
def buildkit_cli():
    from ansible_collections.bytelyst.deploy.plugins.module_utils._docker_cli import find_buildkit_cli

    return find_buildkit_cli()


@pytest.fixture
def unique():
    """A short unique token for names of images, projects and repositories."""
    return uuid.uuid4().hex[:8]


@pytest.fixture
def ansible_module():
    """ansible_module(name, args, check=False, diff=False) -> (result, raw output)."""
    from ansible_runner_helper import run_module

    return run_module
