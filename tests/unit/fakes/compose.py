"""`docker compose` as the deployer cores run it: a command runner that keeps the projects'
containers (FakeCompose), and one over several projects (FakeComposeProjects)."""

import hashlib
import json

from ansible_collections.bytelyst.deploy.plugins.module_utils._command import Result
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError


class FakeCompose(object):
    """Stands in for `docker compose` of one project: config, config --hash, ps, up --wait, logs.

    Compose files are JSON (which is YAML); `${NAME}` is interpolated from the --env-file, as
    Compose does. `up` recreates a service whose configuration hash changed or that is not
    healthy; a container of an image in `broken`, or whose configuration holds "broken", never
    gets healthy, and then `up --wait` fails as Compose does. Containers carry the labels
    Compose sets (config hash, service, config files, working directory) and Compose's names
    (<project>-<service>-1).

    With events (a list shared by several projects, see FakeComposeProjects), `up` and `stop`
    note "up <project>" / "stop <project>" there: the order of the steps across projects.
    `stop` stops the containers (state exited); `up` starts stopped healthy ones again."""

    def __init__(self, project="notes", events=None):
        self.project = project
        self.events = events if events is not None else []
        self.running = {}
        self.broken = set()
        self.calls = []
        self.ups = []
        self.secrets = set()
        self.argvs = []
        self.up_timeouts = []  # the limit each `up` ran under (Command.timeout)
        self.next_id = 1
        self.on_up = None  # called at the start of each `up` (to raise, or to look around)
        self.ps_fails_after = None  # ps fails once this many ups have run

    def __call__(self, command, check=True, what=None, keep_fds=(), started=None):
        argv = command.argv
        assert argv[:2] == ["docker", "compose"], argv
        self.argvs.append(argv)
        if "up" in argv:
            self.up_timeouts.append(command.timeout)
        i, files, options = 2, [], {}
        while argv[i].startswith("--"):
            if argv[i] == "--file":
                files.append(argv[i + 1])
            options[argv[i]] = argv[i + 1]
            i += 2
        args = argv[i:]
        self.secrets.update(command.secrets)
        self.options = options
        if started is not None:
            started(4242)
        self.keep_fds = keep_fds
        rc, out = getattr(self, args[0])(files, args[1:])
        if check and rc != 0:
            raise DeployError("%s failed (exit code %d)." % (what, rc), command=command.display(), output=out)
        return Result(command, rc, out, "")

    def env(self):
        values = {}
        with open(self.options["--env-file"]) as f:
            for line in f:
                key, value = line.rstrip("\n").split("=", 1)
                values[key] = value[1:-1]
        return values

    def merged(self, files):
        services = {}
        env = self.env()
        for path in files:
            with open(path) as f:  # JSON (which is YAML), after any comment lines
                text = "".join(line for line in f if not line.startswith("#"))
            for name, value in env.items():
                text = text.replace("${%s}" % name, value)
            for name, spec in json.loads(text)["services"].items():
                services.setdefault(name, {}).update(spec)
        return services

    @staticmethod
    def hash(spec):
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]

    def config(self, files, args):
        if args[0] == "--hash":
            self.calls.append("config --hash")
            return 0, "".join("%s %s\n" % (s, self.hash(spec)) for s, spec in sorted(self.merged(files).items()))
        self.calls.append("config")
        return 0, json.dumps({"name": self.project, "services": self.merged(files)})

    def ps(self, files, args):
        self.calls.append("ps")
        if self.ps_fails_after is not None and len(self.ups) >= self.ps_fails_after:
            self.ps_fails_after = None
            return 1, "Error response from daemon: i/o timeout"
        return 0, "".join(json.dumps({
            "ID": c["id"], "Name": "%s-%s-1" % (self.project, s), "Service": s, "State": c.get("state", "running"),
            "Health": c["health"], "ExitCode": 0,
            "Image": c["image"], "Publishers": [],
            "Labels": "com.docker.compose.config-hash=%s,com.docker.compose.service=%s,"
                      "com.docker.compose.project.config_files=%s,com.docker.compose.project.working_dir=%s"
                      % (c["hash"], s, ",".join(c["files"]), c["workdir"]),
        }) + "\n" for s, c in sorted(self.running.items()))

    def up(self, files, args):
        self.events.append("up " + self.project)
        for container in self.running.values():
            if container.get("state") == "exited" and container["health"] == "healthy":
                container["state"] = "running"
        self.calls.append("up")
        if self.on_up is not None:
            self.on_up(self)
        services = self.merged(files)
        self.ups.append({"images": dict((s, spec["image"]) for s, spec in services.items()), "files": files,
                         "env": self.env(), "workdir": self.options["--project-directory"],
                         "pull": args[args.index("--pull") + 1], "no_build": "--no-build" in args})
        for name, spec in sorted(services.items()):
            now = self.running.get(name)
            if now and now["hash"] == self.hash(spec) and now["health"] == "healthy":
                continue
            broken = spec["image"] in self.broken or "broken" in json.dumps(spec)
            self.running[name] = {"id": "c%d" % self.next_id, "image": spec["image"], "hash": self.hash(spec),
                                  "health": "unhealthy" if broken else "healthy", "spec": spec,
                                  "files": files, "workdir": self.options["--project-directory"]}
            self.next_id += 1
        sick = sorted(s for s, c in self.running.items() if c["health"] != "healthy")
        if sick:
            return 1, "".join(" Container %s-%s-1 Recreated\ncontainer %s-%s-1 is unhealthy\n"
                              % (self.project, s, self.project, s) for s in sick)
        return 0, ""

    def logs(self, files, args):
        self.calls.append("logs " + args[-1])
        return 0, "Error: cannot reach the database (%s)\n" % args[-1]

    def stop(self, files, args):
        self.events.append("stop " + self.project)
        for container in self.running.values():
            container["state"] = "exited"
        return 0, ""


class FakeComposeProjects(object):
    """`docker compose` over several projects (the colors of a blue/green deploy): one
    FakeCompose per --project-name, all noting their steps in the one events list."""

    def __init__(self):
        self.events = []
        self.projects = {}

    def __call__(self, command, check=True, what=None, keep_fds=(), started=None):
        project = command.argv[command.argv.index("--project-name") + 1]
        if project not in self.projects:
            self.projects[project] = FakeCompose(project, self.events)
        return self.projects[project](command, check=check, what=what, keep_fds=keep_fds, started=started)
