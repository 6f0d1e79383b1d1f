"""The reverse proxy: FakeProxy stands for ProxyHost (what a blue/green deploy asks of the
proxy), FakeNginx for the proxy container underneath it (the docker CLI runner that execs
`nginx -t`, signals a reload and lists the workers, and the status port that answers the
markers of the live files)."""

import os

from ansible_collections.bytelyst.deploy.plugins.module_utils._command import Result
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError


class FakeProxy(object):
    """ProxyHost as a blue/green deploy drives it: `switch` makes the files live (or raises
    `refuse`), `live_color` reads them back; switch and drain are noted in events."""

    def __init__(self, events):
        self.events = events
        self.spec = {"network": "bytelyst-proxy", "config_dir": "/nonexistent", "user": "101:101"}
        self.name = "bytelyst-proxy"
        self.live = {}
        self.refuse = None

    def plan(self):
        return None

    def ensure(self, drain_timeout):
        return False

    def in_sync(self, project, files):
        return self.live.get(project) == files

    def live_color(self, project):
        text = (self.live.get(project) or {}).get("conf", "")
        return "blue" if " %s-blue-" % project in text else "green" if " %s-green-" % project in text else None

    def switch(self, project, files, drain_timeout, reload_timeout):
        if self.refuse:
            raise DeployError(self.refuse)
        self.events.append("switch " + " ".join(sorted(line.split()[-1] for line in files["conf"].splitlines() if " set " in line)))
        self.live[project] = files
        return 0.1

    def drain(self, timeout):
        self.events.append("drain")
        return 0.5, 0


class FakeNginx(object):
    """The docker CLI against the proxy: `nginx -t` (fails when `refuse` is in a .next file),
    `kill --signal HUP` (loads the live files unless `ignore_reload`), `top` (the workers)."""

    def __init__(self, config_dir):
        self.config_dir = config_dir
        self.calls = []
        self.loaded = {}
        self.ignore_reload = False
        self.refuse = "banana"
        self.workers = {11}
        self.next_pid = 20

    def __call__(self, command, check=True, what=None):
        argv = command.argv
        self.calls.append(argv[1])
        if argv[1] == "exec":
            routes = os.path.join(self.config_dir, "routes")
            bad = any(self.refuse in open(os.path.join(routes, f)).read() for f in os.listdir(routes) if f.endswith(".next"))
            return Result(command, 1 if bad else 0, "", "nginx: [emerg] invalid value \"banana\"" if bad else "")
        if argv[1] == "kill":
            if not self.ignore_reload:
                routes = os.path.join(self.config_dir, "routes")
                self.loaded = dict((f, open(os.path.join(routes, f)).read()) for f in os.listdir(routes)
                                   if f.endswith(".status"))
                self.workers = {self.next_pid}
                self.next_pid += 1
            return Result(command, 0, "", "")
        if argv[1] == "top":
            lines = ["UID PID PPID C STIME TTY TIME CMD"] + ["101 %d 1 0 t ? 0 nginx: worker process" % p for p in self.workers]
            return Result(command, 0, "\n".join(lines), "")
        raise AssertionError(argv)

    def fetch(self, host, port, path, timeout=2.0):
        assert (host, port) == ("10.0.0.2", 8099)
        if path == "/ready":
            return 200, "ok"
        project = path.rsplit("/", 1)[1]
        text = self.loaded.get(project + ".status")
        return (200, text.split('"')[1][:-2]) if text else (404, "")
