# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One Compose project through the Compose v2 CLI, and pinning its images by digest.
PRIVATE to the collection.

Commands are built here as Command objects (pure) and run by the caller. Volumes are
never removed: no command built here passes -v/--volumes to `down`.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

from ansible_collections.bytelyst.deploy.plugins.module_utils._command import Command
from ansible_collections.bytelyst.deploy.plugins.module_utils._connection import Connection
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._engine import image_or_none
from ansible_collections.bytelyst.deploy.plugins.module_utils import _reference

try:
    from docker.errors import DockerException
except ImportError:  # pragma: no cover - the module reports the missing library
    DockerException = Exception

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
HASH_LABEL = "com.docker.compose.config-hash"
FILES_LABEL = "com.docker.compose.project.config_files"
WORKDIR_LABEL = "com.docker.compose.project.working_dir"


def default_compose_file(project_dir):
    """The file Compose would pick in project_dir, or None."""
    for name in DEFAULT_FILES:
        if os.path.isfile(os.path.join(project_dir, name)):
            return os.path.join(project_dir, name)
    return None


class ComposeProject(object):
    """argv builders for one project: name, directory, files (+ our override), env file.
    connection: the engine (a Connection, module options, a docker_host URL or None, see
    Connection.of); every command carries its DOCKER_* environment."""

    def __init__(self, name, project_dir, files, override=None, env_file=None,
                 cli="docker", connection=None, secrets=None):
        self.name = name
        self.project_dir = project_dir
        self.files = list(files)
        self.override = override
        self.env_file = env_file
        self.cli = cli
        self.connection = Connection.of(connection)
        self.secrets = list(secrets or [])

    def with_override(self, override):
        return ComposeProject(self.name, self.project_dir, self.files, override, self.env_file,
                              self.cli, self.connection, self.secrets)

    def _command(self, args, timeout=300):
        argv = [self.cli, "compose", "--project-name", self.name, "--project-directory", self.project_dir]
        for path in self.files + ([self.override] if self.override else []):
            argv += ["--file", path]
        if self.env_file:
            argv += ["--env-file", self.env_file]
        return Command(argv + list(args), env=self.connection.cli_env(), cwd=self.project_dir, secrets=self.secrets, timeout=timeout)

    def config(self):
        return self._command(["config", "--format", "json"], timeout=60)

    def config_hashes(self):
        return self._command(["config", "--hash", "*"], timeout=60)

    def up(self, wait_timeout, pull="never", timeout=None):
        """`timeout`: seconds the whole command may take (pulls, stopping old containers, the wait)."""
        # --no-build: a deploy runs what was built and verified, never a fresh build.
        return self._command(["up", "--detach", "--wait", "--wait-timeout", str(int(wait_timeout)),
                              "--pull", pull, "--no-build"], timeout=int(timeout or int(wait_timeout) + 180))

    def ps(self):
        return self._command(["ps", "--all", "--format", "json"], timeout=60)

    def logs(self, service, tail=30):
        return self._command(["logs", "--no-color", "--no-log-prefix", "--tail", str(int(tail)), service], timeout=60)

    def stop(self):
        """Stop the containers, keeping them (a rollback can start them again)."""
        return self._command(["stop"], timeout=300)

    def down(self):
        # Never -v: named volumes hold the product's data and outlive every release.
        return self._command(["down"], timeout=300)


def env_file_text(env):
    """KEY='value' lines Compose reads literally (double quotes, escaped, when a value holds a quote)."""
    lines = []
    for key in sorted(env or {}):
        value = "" if env[key] is None else str(env[key])
        if "\n" in value:
            raise DeployError("env.%s holds a newline, which an env file cannot carry." % key,
                              hint="Pass multi-line values through a file mounted by the compose file.")
        if "'" not in value:
            lines.append("%s='%s'" % (key, value))
        else:
            lines.append('%s="%s"' % (key, value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")))
    return "\n".join(lines) + ("\n" if lines else "")


def parse_json_output(text, command="docker compose", shown=None):
    """Compose prints a JSON array, one object, or one object per line: always a list.

    text is the raw output (Result.stdout). It may hold secrets (`config` prints interpolated
    values), so an error shows only `shown`, the caller's redacted copy (Result.output), if any.
    """
    text = (text or "").strip()
    if not text:
        return []
    try:
        data = json.loads(text)
        return data if isinstance(data, list) else [data]
    except ValueError:
        pass
    items = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            items.append(json.loads(line))
        except ValueError as exc:
            raise DeployError("Could not parse the JSON output of %s: %s." % (command, exc),
                              hint="Check that the Compose CLI is v2.", output=(shown or "")[-2000:] or None)
    return items


def parse_labels(labels):
    """Container labels from ps: a dict, or 'k=v,k=v' where a value may itself hold commas."""
    if isinstance(labels, dict):
        return dict(labels)
    out = {}
    last = None
    for part in (labels or "").split(","):
        if "=" in part and not (last and part.startswith(" ")):
            key, value = part.split("=", 1)
            out[key] = value
            last = key
        elif last is not None:
            out[last] += "," + part
    return out


def parse_config_hashes(text):
    """`config --hash '*'` output ('service hash' lines) -> {service: hash}."""
    hashes = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            hashes[parts[0]] = parts[1]
    return hashes


def containers_by_service(ps_items):
    """{service: {id, state, health, exit_code, config_hash, image, publishers, config_files, working_dir}}
    (one replica each); config_files and working_dir: what Compose started the container from."""
    out = {}
    for item in ps_items:
        labels = parse_labels(item.get("Labels"))
        service = item.get("Service") or labels.get("com.docker.compose.service")
        if not service:
            continue
        out[service] = {
            "id": item.get("ID"), "name": item.get("Name"), "state": item.get("State"),
            "health": item.get("Health") or "", "exit_code": item.get("ExitCode"),
            "config_hash": labels.get(HASH_LABEL), "image": item.get("Image"),
            "publishers": item.get("Publishers") or [],
            "config_files": [f for f in (labels.get(FILES_LABEL) or "").split(",") if f],
            "working_dir": labels.get(WORKDIR_LABEL),
        }
    return out


def is_healthy(container):
    return bool(container) and container["state"] == "running" and container["health"] in ("", "healthy")


def published_ports(config):
    """[(service, host_ip, port, protocol)] for every fixed published port of a parsed config."""
    out = []
    for service, spec in sorted((config.get("services") or {}).items()):
        for port in spec.get("ports") or []:
            published = str(port.get("published") or "")
            if published.isdigit() and int(published) > 0:
                out.append((service, port.get("host_ip") or "0.0.0.0", int(published), port.get("protocol") or "tcp"))
    return out


PROGRESS = re.compile(r"^\s*(Container|Network|Volume|Image)\s+\S+\s+(Creat|Recreat|Start|Stopp|Wait|Healthy|Running|Remov|Pull|Exist)")


def up_failure(output):
    """What went wrong in `up --wait` output, without the progress lines."""
    lines = [line.strip() for line in (output or "").splitlines() if line.strip() and not PROGRESS.match(line)]
    return "; ".join(lines[-5:]) or "no output"


def render_definition(definition):
    """The compose file compose_deploy writes from its definition option (JSON is valid YAML)."""
    return ("# Written by bytelyst.deploy.compose_deploy from its definition option; edits here are overwritten.\n"
            + json.dumps(definition, indent=2) + "\n")


def render_override(images):
    """Our override file: every service's image pinned. JSON is valid YAML, so no YAML library."""
    services = dict((name, {"image": images[name]}) for name in sorted(images))
    return json.dumps({"services": services}, indent=2, sort_keys=True) + "\n"


# Pinning images by digest on the target engine.

def _repository_and_digest(ref):
    """(repository, digest or None) of a reference, parsed by the one reference parser; an image id
    (sha256:...) names no repository."""
    if ref.startswith("sha256:"):
        return ref, None
    name, dummy, digest = _reference.split(ref, "image reference")
    return name, digest


def resolve_image(client, ref, pull_policy="missing", check_mode=False):
    """Pin ref: -> {'ref', 'pinned', 'image_id', 'source'}; pulls only outside check mode.

    A registry image is pinned to its repo digest; an image that exists only on this
    engine (never pushed) is pinned to its image id, which is just as exact.
    """
    repo, digest = _repository_and_digest(ref)
    image = None if pull_policy == "always" else image_or_none(client, ref)
    source = "local"
    if image is None:
        if pull_policy == "never":
            raise DeployError("Image %s is not on the target engine and pull_policy is never." % ref,
                              hint="Load or pull the image on the host first, or use pull_policy missing.")
        if check_mode:
            try:
                data = client.images.get_registry_data(ref)
            except DockerException as exc:
                raise _not_found(ref, exc)
            return {"ref": ref, "pinned": "%s@%s" % (repo, data.id), "image_id": None, "source": "registry"}
        try:
            image = client.images.pull(ref)
        except DockerException as exc:
            raise _not_found(ref, exc)
        source = "pulled"
    pinned = ("%s@%s" % (repo, digest)) if digest else _reference.repo_digest(image.attrs.get("RepoDigests"), repo)
    return {"ref": ref, "pinned": pinned or image.id, "image_id": image.id,
            "source": source if pinned else "local-only"}


def _not_found(ref, exc):
    return DeployError(
        "Image %s is neither on the target engine nor in its registry." % ref,
        hint="Push it to its registry first, or correct the reference in images.",
        output=str(exc)[-1500:])
