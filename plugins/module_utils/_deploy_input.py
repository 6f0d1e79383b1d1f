# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""compose_deploy's inputs, checked before anything changes. PRIVATE to the collection.

Two pure checks, each raising a DeployError that names the input, what was found and the fix:
- validate_params: the module's options (project name, HTTP checks, timeouts and counts,
  env and secrets), before the lock is taken or a file is written;
- refuse_risky: the project's configuration as `docker compose config` parsed it, which must
  not hand a container the host (privileged, host network or pid namespace, the Docker
  socket) unless the `allow` option says so.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported by the collection
    urlsplit = None

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

# Compose's own rule for project names. It leaves no '/' or '.', so a name cannot step out of
# the history root it names a directory in.
PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Seconds. An hour for Compose's wait and an HTTP check: a gate that needs longer hides a hang.
MAX_WAIT = 3600
# Waiting for another deploy, which may run its gate and then a rollback's: three hours.
MAX_LOCK_WAIT = 3 * 3600
# A rollback needs the previous release; each release keeps its whole state in the history file.
MIN_KEEP, MAX_KEEP = 2, 100

# The `allow` option's values, and what each lets a container do to its host.
RISKS = {
    "privileged": "every capability and the host's devices",
    "host_network": "the host's network stack and every port on it",
    "host_pid": "every process on the host, to see and signal",
    "docker_socket": "the Docker engine, which is root on the host",
}
DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")


def _refuse(message, hint):
    raise DeployError(message + " Nothing was changed.", hint=hint)


def _shown(value, limit=80):
    """A value for an error message: repr (newlines stay visible), cut at limit characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...'"


def _integer(name, value, low, high, unit=""):
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(str(value).strip())
        except ValueError:
            _refuse("%s is %s, which is not a whole number." % (name, _shown(value)),
                    "Give %s as a number from %d to %d%s." % (name, low, high, unit))
    if not low <= value <= high:
        _refuse("%s is %d; it must be from %d to %d%s." % (name, value, low, high, unit),
                "Set %s within that range." % name)
    return value


def check_project_name(name):
    if name is None or not str(name).strip():
        _refuse("project_name is empty.", "Name the project, such as notes or notes-staging.")
    if not PROJECT_NAME.match(name):
        _refuse("project_name %s is not a valid Compose project name: it may hold only lowercase letters, digits, "
                "dashes and underscores, and must start with a letter or digit (it also names the history "
                "directory, so '/' and '.' are out)." % _shown(name),
                "Use a name such as notes or notes-staging.")


def _port_text(netloc):
    """The port as written in a URL's netloc ('' when none): after the last ':' outside [IPv6]."""
    host = netloc.rpartition("@")[2]
    if host.startswith("["):
        host = host.partition("]")[2]
    return host.rpartition(":")[2] if ":" in host else ""


def check_url(name, url):
    if not isinstance(url, str) or not url.strip():
        _refuse("%s is empty." % name, "Give the URL to request, such as http://127.0.0.1:8080/health.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        found = ("scheme %s" % _shown(parts.scheme)) if parts.scheme else "no scheme"
        _refuse("%s %s has %s; health checks speak http or https." % (name, _shown(url), found),
                "Write it as http://host:port/path or https://host:port/path.")
    if not parts.hostname:
        _refuse("%s %s has no host." % (name, _shown(url)), "Write it as %s://host:port/path." % parts.scheme)
    port = _port_text(parts.netloc)
    if port and not (port.isdigit() and 1 <= int(port) <= 65535):
        _refuse("%s %s has port %s; a port is a number from 1 to 65535." % (name, _shown(url), _shown(port)),
                "Correct the port (the one the service publishes on the host).")


def check_http_checks(checks):
    for i, item in enumerate(checks or []):
        name = "http_checks[%d]" % i
        if not isinstance(item, dict):
            _refuse("%s is %s, not a mapping." % (name, _shown(item)), "Give each check as {url, status, timeout}.")
        check_url(name + ".url", item.get("url"))
        if item.get("status") is not None:
            _integer(name + ".status", item["status"], 100, 599, " (an HTTP status)")
        if item.get("timeout") is not None:
            _integer(name + ".timeout", item["timeout"], 1, MAX_WAIT, " seconds")


LINE_BREAKS = (("\n", "a newline"), ("\r", "a carriage return"), ("\0", "a NUL character"))


def check_variables(option, variables, show_values):
    """env or secrets: names a shell and Compose accept, single-line scalar values.
    Secret values never appear in a message (show_values False)."""
    if variables is None:
        return
    if not isinstance(variables, dict):
        _refuse("%s is not a mapping of names to values." % option, "Give %s as NAME: value pairs." % option)
    for key in sorted(variables, key=str):
        if not isinstance(key, str) or not VARIABLE_NAME.match(key):
            _refuse("%s has the key %s, which is not a valid variable name (letters, digits and underscores, "
                    "not starting with a digit)." % (option, _shown(key)),
                    "Rename it, such as %s." % (re.sub(r"[^A-Za-z0-9_]", "_", str(key)).lstrip("0123456789") or "NAME"))
        value = variables[key]
        if isinstance(value, (dict, list, tuple, set)):
            _refuse("%s.%s is a %s; a value is a string or a number." % (option, key, type(value).__name__),
                    "Give it as one string (JSON-encode it if it must carry a structure).")
        for char, what in LINE_BREAKS:
            if value is not None and char in str(value):
                found = (" (%s)" % _shown(value)) if show_values else ""
                _refuse("%s.%s holds %s%s, which an env file cannot carry." % (option, key, what, found),
                        "Pass multi-line values through a file that the compose file mounts.")


def check_allow(allow):
    unknown = sorted(set(allow or []) - set(RISKS))
    if unknown:
        _refuse("allow lists %s, which is not one of %s." % (", ".join(unknown), ", ".join(sorted(RISKS))),
                "Correct the names in allow.")


def validate_params(params):
    """Check compose_deploy's options; raise DeployError on the first bad one."""
    check_project_name(params.get("project_name"))
    if params.get("wait_timeout") is not None:
        _integer("wait_timeout", params["wait_timeout"], 1, MAX_WAIT, " seconds")
    if params.get("up_timeout") is not None:
        # compose up waits up to wait_timeout and may pull first: bounded like the lock wait.
        _integer("up_timeout", params["up_timeout"], 1, MAX_LOCK_WAIT, " seconds")
    if params.get("lock_timeout") is not None:
        # 0 tries the lock once without waiting.
        _integer("lock_timeout", params["lock_timeout"], 0, MAX_LOCK_WAIT, " seconds")
    if params.get("keep_releases") is not None:
        _integer("keep_releases", params["keep_releases"], MIN_KEEP, MAX_KEEP)
    check_http_checks(params.get("http_checks"))
    check_variables("env", params.get("env"), show_values=True)
    check_variables("secrets", params.get("secrets"), show_values=False)
    check_allow(params.get("allow"))


# The compose configuration.

def _clean(path):
    """A host path without doubled or trailing slashes and without . or .. steps."""
    return os.path.normpath(re.sub("/+", "/", path)) if path else path


def socket_paths(docker_host=None):
    """The Docker sockets a mount must not expose: the usual ones and docker_host's, if unix."""
    paths = list(DOCKER_SOCKETS)
    if docker_host and docker_host.startswith("unix://"):
        paths.append(_clean(docker_host[len("unix://"):]))
    return paths


def exposes_socket(source, sockets, realpath=os.path.realpath):
    """True when a bind mount of host path source hands out a Docker socket: the socket itself
    (by its path, the path a symlink leads to, or any file named docker.sock, as a rootless
    engine's is), the directory holding it, or /."""
    if not source or not source.startswith("/"):
        return False
    sockets = set(sockets) | set(realpath(s) for s in sockets)
    holders = set(os.path.dirname(s) for s in sockets) | {"/"}
    for path in (_clean(source), realpath(_clean(source))):
        if path in sockets or path in holders or os.path.basename(path) == "docker.sock":
            return True
    return False


def _bind_sources(config, spec):
    """Host paths a service binds: long syntax from `compose config --format json`, short
    syntax (src:dst[:mode]) too, and named volumes whose local driver binds a device."""
    volumes = config.get("volumes") or {}
    for mount in spec.get("volumes") or []:
        if isinstance(mount, str):
            source = mount.split(":", 1)[0] if ":" in mount else ""
            if source.startswith("/"):
                yield source
            elif source in volumes:
                yield ((volumes.get(source) or {}).get("driver_opts") or {}).get("device")
            continue
        if not isinstance(mount, dict):
            continue
        if mount.get("type") == "bind":
            yield mount.get("source")
        elif mount.get("type") == "volume" and mount.get("source") in volumes:
            yield ((volumes.get(mount["source"]) or {}).get("driver_opts") or {}).get("device")


def risks_of(config, docker_host=None, realpath=os.path.realpath):
    """[(service, allow value, what was found)] for every risky setting of a parsed config."""
    sockets = socket_paths(docker_host)
    found = []
    for service, spec in sorted((config.get("services") or {}).items()):
        spec = spec or {}
        if spec.get("privileged") in (True, "true", "True"):
            found.append((service, "privileged", "privileged: true"))
        if spec.get("network_mode") == "host":
            found.append((service, "host_network", "network_mode: host"))
        if spec.get("pid") == "host":
            found.append((service, "host_pid", "pid: host"))
        for source in _bind_sources(config, spec):
            if exposes_socket(source, sockets, realpath):
                found.append((service, "docker_socket", "a bind mount of %s" % source))
    return found


def refuse_risky(config, allowed, docker_host=None, realpath=os.path.realpath):
    """Raise DeployError when a service asks for the host and `allow` does not list it."""
    allowed = set(allowed or [])
    refused = [(s, a, what) for s, a, what in risks_of(config, docker_host, realpath) if a not in allowed]
    if not refused:
        return
    lines = "; ".join("service %s sets %s, which gives it %s (allow: [%s] permits it)" % (s, what, RISKS[a], a)
                      for s, a, what in refused)
    needed = ", ".join(sorted(set(a for dummy, a, dummy2 in refused)))
    _refuse("The compose configuration hands a container the host: %s." % lines,
            "Remove the setting, or, if the service truly needs it, list it in the allow option "
            "(allow: [%s])." % needed)
