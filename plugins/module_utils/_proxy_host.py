# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The proxy on one host: its container, its configuration files, a validated switch of a
product's routes, and the drain of the old workers. PRIVATE to the collection.

The text of the configuration and the commands come from _proxy.py; this runs them: files
through plain writes and renames, commands through `runner`, the container through the
Docker SDK client `client`, the status port through `fetch`, so tests can fake all four.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import glob
import os
import socket
import time

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows controllers; the module runs on the host
    fcntl = None

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._files import write_atomic
from ansible_collections.bytelyst.deploy.plugins.module_utils._proxy import (
    CONF_DIR, KINDS, MAIN_NAME, SPEC_LABEL, STATUS_PORT, SWITCH_LOCK, TEST_NAME, ProxyCommands, marker,
    parse_ports, proxy_spec, render_main, run_argv, worker_pids)

try:
    from http.client import HTTPConnection, HTTPException
except ImportError:  # pragma: no cover
    HTTPConnection = HTTPException = None

try:
    from docker.errors import DockerException, NotFound
except ImportError:  # pragma: no cover - the module reports the missing library
    DockerException = NotFound = Exception


def fetch(host, port, path, timeout=2.0):
    """One GET: (status, body) or (None, why)."""
    connection = HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read(300).decode("utf-8", "replace").strip()
    except (HTTPException, socket.timeout, OSError) as exc:
        return None, str(exc) or exc.__class__.__name__
    finally:
        connection.close()


def _write(path, text, mode=0o644):
    write_atomic(path, text, mode=mode, durable=True)


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except (IOError, OSError):
        return None


class ProxyHost(object):
    def __init__(self, options, runner, client, docker_cli="docker", docker_host=None,
                 clock=time.time, sleep=time.sleep, fetch_fn=fetch):
        self.spec = proxy_spec(options or {})
        self.name = self.spec["name"]
        self.commands = ProxyCommands(self.name, docker_cli or "docker", docker_host)
        self.runner = runner
        self.client = client
        self.clock = clock
        self.sleep = sleep
        self.fetch = fetch_fn
        self.started_at = None
        self.address = None
        self.old_workers = set()

    # -- files ------------------------------------------------------------------------------
    @property
    def routes_dir(self):
        return os.path.join(self.spec["config_dir"], "routes")

    def path(self, project, kind, suffix=""):
        return os.path.join(self.routes_dir, "%s.%s%s" % (project, kind, suffix))

    def inside(self, host_path):
        """The path of a file of the configuration directory inside the proxy container."""
        return CONF_DIR + host_path[len(self.spec["config_dir"]):]

    def live_files(self, project):
        """{kind: text} of a product's live route files (empty when it has none)."""
        return dict((k, _read(self.path(project, k))) for k in KINDS if os.path.isfile(self.path(project, k)))

    def live_color(self, project, colors=("blue", "green")):
        """The color the proxy's live files route the product to (None when it routes nothing of it)."""
        text = "".join(self.live_files(project).get(k) or "" for k in ("conf", "locations"))
        for color in colors:
            if " %s-%s-" % (project, color) in text:
                return color
        return None

    def in_sync(self, project, files):
        return self.live_files(project) == files and _read(self.main_path) is not None

    @property
    def main_path(self):
        return os.path.join(self.spec["config_dir"], MAIN_NAME)

    # -- the container ------------------------------------------------------------------------
    def container(self):
        try:
            return self.client.containers.get(self.name)
        except NotFound:
            return None

    def plan(self):
        """What ensure() would do: None (nothing), 'create' or 'start'; refuses a proxy of another spec."""
        container = self.container()
        if container is None:
            return "create"
        have = (container.attrs.get("Config", {}).get("Labels") or {}).get(SPEC_LABEL)
        if have != self.spec["fingerprint"]:
            raise DeployError(
                "The proxy container %s runs with other settings (image, ports, network, user or config_dir) "
                "than this task's proxy options." % self.name,
                hint="Give the proxy options it was created with, or remove the container (docker rm -f %s) "
                     "to have it created again: that cuts every connection it serves." % self.name)
        return None if container.attrs.get("State", {}).get("Running") else "start"

    def ensure(self, drain_timeout):
        """The proxy network and container exist and answer on the status port: True when changed."""
        todo = self.plan()
        changed = False
        try:
            self.client.networks.get(self.spec["network"])
        except NotFound:
            self.client.networks.create(self.spec["network"], driver="bridge", labels={SPEC_LABEL: "network"})
            changed = True
        if not os.path.isdir(self.routes_dir):
            os.makedirs(self.routes_dir, mode=0o755)
        os.chmod(self.spec["config_dir"], 0o755)
        if _read(self.main_path) is None:
            _write(self.main_path, render_main(drain_timeout))
        try:
            if todo == "create":
                self.client.containers.run(
                    self.spec["image"], run_argv(self.spec), name=self.name, detach=True, user=self.spec["user"],
                    ports=parse_ports(self.spec["ports"]), network=self.spec["network"],
                    volumes={self.spec["config_dir"]: {"bind": CONF_DIR, "mode": "ro"}},
                    restart_policy={"Name": "unless-stopped"}, labels={SPEC_LABEL: self.spec["fingerprint"]},
                    read_only=True, tmpfs={"/tmp": "mode=1777"}, cap_drop=["ALL"],
                    security_opt=["no-new-privileges"])
            elif todo == "start":
                self.container().start()
        except DockerException as exc:
            raise DeployError("The proxy container %s could not be %s: %s" % (
                self.name, "created" if todo == "create" else "started", exc),
                hint="Check that its host ports (%s) are free and its image %s is on the engine."
                     % (", ".join(self.spec["ports"]), self.spec["image"]))
        self.note_running()
        self.wait_ready(15)
        return changed or todo is not None

    def note_running(self):
        container = self.container()
        attrs = container.attrs if container is not None else {}
        state = attrs.get("State") or {}
        if not state.get("Running"):
            raise DeployError("The proxy container %s is not running (%s)." % (self.name, state.get("Status") or "missing"),
                              hint="See docker logs %s; the product's running color was left as it was." % self.name)
        self.started_at = state.get("StartedAt")
        networks = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
        self.address = (networks.get(self.spec["network"]) or {}).get("IPAddress")

    def check_alive(self):
        """The proxy still runs, and has not restarted since note_running (a crash, a restart)."""
        before = self.started_at
        self.note_running()
        if before and self.started_at != before:
            raise DeployError("The proxy container %s restarted during the deploy (started %s, now %s)."
                              % (self.name, before, self.started_at),
                              hint="See docker logs %s for why it stopped." % self.name)

    def status(self, path):
        return self.fetch(self.address, STATUS_PORT, path)

    def wait_ready(self, timeout):
        deadline = self.clock() + timeout
        while True:
            got, body = self.status("/ready")
            if got == 200:
                return
            if self.clock() > deadline:
                raise DeployError("The proxy %s does not answer on its status port %s:%d (%s)."
                                  % (self.name, self.address, STATUS_PORT, body if got is None else "status %s" % got),
                                  hint="See docker logs %s." % self.name)
            self.sleep(0.2)

    # -- the switch ---------------------------------------------------------------------------
    def validate(self, project, files, drain_timeout):
        """Write the product's new files beside the live ones and have nginx test them with every
        other product's live files; DeployError with nginx's words when it refuses them."""
        includes = dict((k, []) for k in KINDS)
        for kind in KINDS:
            for path in sorted(glob.glob(os.path.join(self.routes_dir, "*.%s" % kind))):
                if os.path.basename(path) != "%s.%s" % (project, kind):
                    includes[kind].append(self.inside(path))
            includes[kind].append(self.inside(self.path(project, kind, ".next")))
            _write(self.path(project, kind, ".next"), files[kind])
        test_name = TEST_NAME % project
        _write(os.path.join(self.spec["config_dir"], test_name), render_main(drain_timeout, includes))
        out = self.runner(self.commands.validate(test_name), check=False, what="nginx -t in %s" % self.name)
        if out.rc != 0:
            self.discard(project)
            lines = [line for line in out.output.splitlines() if line.strip()]
            raise DeployError("The proxy %s refused the new configuration of %s: %s"
                              % (self.name, project, " ".join(lines[-3:]) or "nginx -t failed"),
                              hint="Correct the route (its directives, hosts or certificate); the proxy still "
                                   "runs its previous configuration.")

    def discard(self, project):
        for kind in KINDS:
            path = self.path(project, kind, ".next")
            if os.path.exists(path):
                os.remove(path)

    def switch(self, project, files, drain_timeout, reload_timeout, lock_timeout=120):
        """Validate, replace the live files, reload, and wait until the workers answer the new
        marker. On a reload that does not take, the previous files come back (reloaded too).
        Products sharing the proxy switch one at a time (the proxy's switch lock)."""
        handle = self.lock_switches(project, lock_timeout)
        try:
            return self._switch(project, files, drain_timeout, reload_timeout)
        finally:
            handle.close()  # releases the flock

    def lock_switches(self, project, timeout):
        """The proxy's switch lock (flock on a file of its configuration directory), waited for up to timeout."""
        handle = open(os.path.join(self.spec["config_dir"], SWITCH_LOCK), "a")
        deadline = self.clock() + timeout
        while fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except (IOError, OSError) as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if self.clock() > deadline:
                handle.close()
                raise DeployError("Another product's switch held the proxy %s for more than %d s; %s was not switched."
                                  % (self.name, timeout, project),
                                  hint="Deploy again once the other deploy on this host is done (its switch lock is %s)."
                                       % os.path.join(self.spec["config_dir"], SWITCH_LOCK))
            self.sleep(0.1)
        return handle

    def _switch(self, project, files, drain_timeout, reload_timeout):
        self.check_alive()
        self.validate(project, files, drain_timeout)
        before = self.live_files(project)
        before_main = _read(self.main_path)
        for kind in KINDS:
            os.rename(self.path(project, kind, ".next"), self.path(project, kind))
        _write(self.main_path, render_main(drain_timeout))
        started = self.clock()
        # The workers that run now get the old configuration's connections: the drain waits for them.
        self.old_workers = self.workers()
        self.runner(self.commands.reload(), what="reloading the proxy %s" % self.name)
        want = marker(files)
        got = self.wait_marker(project, want, reload_timeout)
        if got != want:
            self.restore(project, before, before_main)
            raise DeployError("The proxy %s did not take the new configuration of %s within %d s (it answers %s)."
                              % (self.name, project, reload_timeout, got),
                              hint="See docker logs %s; its previous configuration was put back." % self.name)
        self.check_alive()
        return round(self.clock() - started, 3)

    def wait_marker(self, project, want, timeout):
        deadline = self.clock() + timeout
        body = None
        while True:
            got, body = self.status("/release/%s" % project)
            if got == 200 and body == want:
                return body
            if self.clock() > deadline:
                return body if got == 200 else "no configuration of it (%s)" % (got or body)
            self.sleep(0.05)

    def restore(self, project, before, before_main):
        for kind in KINDS:
            if kind in before:
                _write(self.path(project, kind), before[kind])
            elif os.path.exists(self.path(project, kind)):
                os.remove(self.path(project, kind))
        if before_main is not None:
            _write(self.main_path, before_main)
        self.runner(self.commands.reload(), check=False, what="reloading the proxy %s" % self.name)

    def workers(self):
        out = self.runner(self.commands.top(), check=False, what="listing the proxy's processes")
        return worker_pids(out.stdout) if out.rc == 0 else set()

    def drain(self, timeout):
        """Wait until the workers from before the switch have exited (they finish their requests and
        connections first) or timeout: (seconds, how many are still there)."""
        started = self.clock()
        while True:
            left = len(self.old_workers & self.workers())
            if left == 0 or self.clock() - started >= timeout:
                return round(self.clock() - started, 3), left
            self.sleep(0.1)
