# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding a docker client whose `build` runs BuildKit. PRIVATE to the collection.

BuildKit gives cache mounts and build secrets. A client with the buildx plugin
has it; so does a 20.10-23.x client with DOCKER_BUILDKIT=1 (BuildKit built in).
A newer client without buildx silently falls back to the legacy builder, which
would put secrets at risk, so we refuse it rather than degrade.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil

from ansible_collections.bytelyst.deploy.plugins.module_utils._command import Command, run
from ansible_collections.bytelyst.deploy.plugins.module_utils._connection import Connection
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

# Places a distribution's BuildKit-capable client is usually found, after PATH.
FALLBACK_CLIENTS = ("/usr/bin/docker", "/usr/local/bin/docker")


class DockerCli(object):
    """A docker client and how to ask it for a BuildKit build."""

    def __init__(self, path, builder, env=None):
        self.path = path
        self.builder = builder  # "buildx" or "buildkit"
        self.env = dict(env or {})

    def build_argv(self):
        """The argv prefix that starts a BuildKit build."""
        if self.builder == "buildx":
            return [self.path, "buildx", "build", "--load"]
        return [self.path, "build"]

    def command(self, args, **kwargs):
        env = dict(self.env)
        env.update(kwargs.pop("env", None) or {})
        return Command([self.path] + list(args), env=env, **kwargs)


def client_major_version(path):
    result = run(Command([path, "version", "--format", "{{.Client.Version}}"]), check=False)
    text = (result.stdout or "").strip()
    try:
        return int(text.split(".")[0])
    except ValueError:
        return None


def probe(path, connection=None):
    """Return a DockerCli for path if it can run BuildKit builds, else None. connection: see
    Connection.of; its CLI environment goes into every command of the returned DockerCli."""
    env = Connection.of(connection).cli_env()
    if run(Command([path, "buildx", "version"], env=env), check=False).rc == 0:
        return DockerCli(path, "buildx", env)
    major = client_major_version(path)
    if major is not None and 18 <= major < 23:
        env["DOCKER_BUILDKIT"] = "1"
        return DockerCli(path, "buildkit", env)
    return None


def find_buildkit_cli(preferred=None, connection=None):
    """The client to build with: `preferred` if given, else the first capable one. connection:
    the engine to build on (a Connection, the module options, a docker_host URL, or None)."""
    connection = Connection.of(connection)
    candidates = []
    if preferred:
        candidates.append(preferred)
    else:
        from_env = os.environ.get("BYTELYST_DOCKER_CLI")
        if from_env:
            candidates.append(from_env)
        on_path = shutil.which("docker")
        if on_path:
            candidates.append(on_path)
        candidates.extend(FALLBACK_CLIENTS)
    seen = set()
    for path in candidates:
        real = shutil.which(path) or path
        if real in seen or not os.path.exists(real):
            continue
        seen.add(real)
        cli = probe(real, connection)
        if cli:
            return cli
    raise DeployError(
        "No docker client that can build with BuildKit was found (tried: %s)." % ", ".join(candidates or ["docker"]),
        hint="Install the docker buildx plugin, or Debian's docker.io (its client has BuildKit built in), "
        "and point the docker_cli option at it.",
    )
