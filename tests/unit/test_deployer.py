"""The deployer core (_deployer.py): the order of a deploy's steps, the health gate and the
rollback decision, against a fake Compose (a command runner) and a fake engine; no Docker."""

import hashlib
import json
import os
import socket
import stat

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils._command import Result
from ansible_collections.bytelyst.deploy.plugins.module_utils._deployer import Deployer, write_private
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._lock import ProjectLock, lock_path

REG = "registry.invalid/notes"
V1 = {"web": REG + "/web:1.0.0", "api": REG + "/api:1.0.0"}
V2 = {"web": REG + "/web:2.0.0", "api": REG + "/api:1.0.0"}


def digest(ref):
    return "sha256:" + hashlib.sha256(ref.encode()).hexdigest()


def pinned(ref):
    return "%s@%s" % (ref.rsplit(":", 1)[0], digest(ref))


class FakeCompose(object):
    """Stands in for `docker compose` of one project: config, config --hash, ps, up --wait, logs.

    Compose files are JSON (which is YAML); `${NAME}` is interpolated from the --env-file, as
    Compose does. `up` recreates a service whose configuration hash changed or that is not
    healthy; a container of an image in `broken`, or whose configuration holds "broken", never
    gets healthy, and then `up --wait` fails as Compose does. Containers carry the labels
    Compose sets (config hash, service, config files, working directory)."""

    def __init__(self):
        self.running = {}
        self.broken = set()
        self.calls = []
        self.ups = []
        self.secrets = set()
        self.argvs = []
        self.next_id = 1
        self.on_up = None  # called at the start of each `up` (to raise, or to look around)
        self.ps_fails_after = None  # ps fails once this many ups have run

    def __call__(self, command, check=True, what=None, keep_fds=(), started=None):
        argv = command.argv
        assert argv[:2] == ["docker", "compose"], argv
        self.argvs.append(argv)
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
        return 0, json.dumps({"name": "notes", "services": self.merged(files)})

    def ps(self, files, args):
        self.calls.append("ps")
        if self.ps_fails_after is not None and len(self.ups) >= self.ps_fails_after:
            self.ps_fails_after = None
            return 1, "Error response from daemon: i/o timeout"
        return 0, "".join(json.dumps({
            "ID": c["id"], "Service": s, "State": "running", "Health": c["health"], "ExitCode": 0,
            "Image": c["image"], "Publishers": [],
            "Labels": "com.docker.compose.config-hash=%s,com.docker.compose.service=%s,"
                      "com.docker.compose.project.config_files=%s,com.docker.compose.project.working_dir=%s"
                      % (c["hash"], s, ",".join(c["files"]), c["workdir"]),
        }) + "\n" for s, c in sorted(self.running.items()))

    def up(self, files, args):
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
            return 1, "".join(" Container notes-%s-1 Recreated\ncontainer notes-%s-1 is unhealthy\n" % (s, s)
                              for s in sick)
        return 0, ""

    def logs(self, files, args):
        self.calls.append("logs " + args[-1])
        return 0, "Error: cannot reach the database (%s)\n" % args[-1]


class FakeImage(object):
    def __init__(self, ref):
        self.id = "sha256:id-" + ref
        self.attrs = {"RepoDigests": [pinned(ref)]}


class FakeEngine(object):
    """engine(docker_host) -> a client whose images.get knows the given references."""

    def __init__(self, refs):
        self.refs = set(refs)
        self.images = self
        self.opened = 0

    def __call__(self, docker_host):
        self.opened += 1
        return self

    def get(self, ref):
        from docker.errors import ImageNotFound
        if ref not in self.refs:
            raise ImageNotFound("no such image: %s" % ref)
        return FakeImage(ref)


def no_engine(docker_host):
    raise AssertionError("a rollback must not ask the engine")


@pytest.fixture
def site(tmp_path):
    """A project directory with compose.yaml (web and api at 1.0.0) and a history directory."""
    src = tmp_path / "notes"
    src.mkdir()
    (src / "compose.yaml").write_text(json.dumps({"services": {
        "web": {"image": V1["web"], "environment": {"DB_PASSWORD": "${DB_PASSWORD}"}},
        "api": {"image": V1["api"]}}}))
    return tmp_path


def params(site, **kw):
    out = dict(project_name="notes", project_src=str(site / "notes"), files=None, env=None,
               secrets={"DB_PASSWORD": "s3cret"}, images=None, pull_policy="missing", action="deploy", rollback_to=None, wait_timeout=30,
               http_checks=None, history_dir=str(site / "history"), keep_releases=10, lock_timeout=5,
               triggered_by="ci job 7", docker_host=None, docker_cli=None, definition=None)
    out.update(kw)
    return out


def deploy(site, compose, check_mode=False, engine=None, warnings=None, **kw):
    engine = engine or FakeEngine(list(V1.values()) + list(V2.values()))
    deployer = Deployer(params(site, **kw), check_mode, (warnings if warnings is not None else []).append,
                        runner=compose, engine=engine)
    return deployer.execute()


def history(site):
    with open(str(site / "history" / "releases.json")) as f:
        return json.load(f)


def audit(site):
    with open(str(site / "history" / "audit.log")) as f:
        return [line.split(" ", 1)[1] for line in f]  # without the time


def test_first_deploy_pins_gates_and_records_the_release(site):
    compose = FakeCompose()
    result = deploy(site, compose)
    assert compose.calls == ["config", "ps", "config --hash", "up", "ps"]
    release_dir = site / "history" / "releases" / "r1"
    assert [dict((k, u[k]) for k in ("images", "pull", "no_build", "files", "workdir")) for u in compose.ups] == [{
        "images": dict((s, pinned(r)) for s, r in V1.items()), "pull": "never", "no_build": True,
        "files": [str(release_dir / "1-compose.yaml"), str(release_dir / "compose.bytelyst.yml")],
        "workdir": str(site / "notes")}]
    assert result["changed"] and result["recreate"] == ["api", "web"]
    assert result["images"] == dict((s, pinned(r)) for s, r in V1.items())
    assert result["release"]["id"] == "r1" and result["release"]["result"] == "success"
    assert result["containers"] == {"api": "c1", "web": "c2"}
    # Nobody held the lock: taken at once (the wait is real time; a loaded machine may take 0.1 s).
    assert result["lock"]["taken_over"] is None and 0.0 <= result["lock"]["waited"] < 1.0
    assert [r["id"] for r in result["history"]] == ["r1"]
    assert history(site)["current"] == "r1"
    assert audit(site)[0].startswith('project=notes action=deploy release=r1 result=success by="ci job 7"')
    with open(result["override_file"]) as f:
        assert json.load(f)["services"]["web"]["image"] == pinned(V1["web"])
    env_file = site / "history" / "deploy.env"
    assert env_file.read_text() == "DB_PASSWORD='s3cret'\n"
    assert stat.S_IMODE(os.stat(str(env_file)).st_mode) == 0o600
    assert compose.secrets == {"s3cret"}  # every Compose command scrubs the secret values from what it shows
    assert not any("s3cret" in a for argv in compose.argvs for a in argv)
    assert not (site / "history" / "deploy.lock.json").exists()  # released
    assert result["diff"]["after"] == "api: %s\nweb: %s\nsecret DB_PASSWORD\n" % (pinned(V1["api"]), pinned(V1["web"]))
    # The release is the whole state: the compose file as deployed, the pins, env, secret names.
    assert (release_dir / "1-compose.yaml").read_text() == (site / "notes" / "compose.yaml").read_text()
    record = history(site)["releases"][0]
    assert (record["dir"], record["files"], record["project_dir"], record["env"], record["secret_names"]) == (
        "r1", ["1-compose.yaml"], str(site / "notes"), {}, ["DB_PASSWORD"])
    assert result["override_file"] == str(release_dir / "compose.bytelyst.yml")


def test_the_same_release_again_runs_no_compose_up(site):
    compose = FakeCompose()
    deploy(site, compose)
    compose.calls = []
    result = deploy(site, compose)
    assert compose.calls == ["config", "ps", "config --hash"]
    assert not result["changed"] and result["recreate"] == [] and result["release"]["id"] == "r1"
    assert len(history(site)["releases"]) == 1 and len(audit(site)) == 1


def test_an_unhealthy_container_of_the_current_release_is_recreated(site):
    compose = FakeCompose()
    deploy(site, compose)
    compose.running["api"]["health"] = "unhealthy"
    result = deploy(site, compose)
    assert result["changed"] and result["recreate"] == ["api"] and result["release"]["id"] == "r2"


def test_a_new_image_recreates_only_its_service(site):
    compose = FakeCompose()
    deploy(site, compose)
    result = deploy(site, compose, images={"web": V2["web"]})
    assert result["recreate"] == ["web"] and result["release"]["id"] == "r2"
    assert result["containers"] == {"api": "c1", "web": "c3"}
    assert result["diff"]["before"] != result["diff"]["after"]


def test_check_mode_plans_and_touches_nothing(site):
    compose = FakeCompose()
    result = deploy(site, compose, check_mode=True, images={"web": V2["web"]})
    assert compose.calls == ["config", "ps", "config --hash"]
    assert result["changed"] and result["recreate"] == ["api", "web"] and result["release"] is None
    assert result["images"]["web"] == pinned(V2["web"])
    assert not (site / "history").exists()
    assert "containers" not in result and "lock" not in result


def test_a_failed_gate_rolls_back_to_the_previous_release(site):
    compose = FakeCompose()
    deploy(site, compose)
    compose.calls = []
    compose.broken.add(pinned(V2["web"]))
    with pytest.raises(DeployError) as err:
        deploy(site, compose, images={"web": V2["web"]})
    # deploy r2, see it fail, read the failing service's log, bring r1's images back
    assert compose.calls == ["config", "ps", "config --hash", "up", "ps", "logs web", "up", "ps"]
    assert [u["images"]["web"] for u in compose.ups] == [pinned(V1["web"]), pinned(V2["web"]), pinned(V1["web"])]
    assert compose.ups[-1]["pull"] == "missing"
    message = str(err.value)
    assert message.startswith("Release r2 of notes failed its health gate and was rolled back: "
                              "docker compose up --wait failed: container notes-web-1 is unhealthy.")
    assert "Now running release r3 (the state of release r1), healthy." in message
    assert "--- web (last 30 lines) ---\nError: cannot reach the database (web)" in message
    details = err.value.details
    assert (details["failed_release"], details["running_release"], details["restored_release"]) == ("r2", "r3", "r1")
    assert details["logs"] == {"web": "Error: cannot reach the database (web)"}
    data = history(site)
    releases = dict((r["id"], r) for r in data["releases"])
    assert data["current"] == "r3"
    assert releases["r2"]["result"] == "failed" and "unhealthy" in releases["r2"]["reason"]
    assert releases["r3"]["action"] == "rollback" and releases["r3"]["rollback_of"] == "r2"
    assert releases["r3"]["restores"] == "r1" and releases["r3"]["images"] == releases["r1"]["images"]
    assert releases["r3"]["dir"] == "r1" and releases["r3"]["fingerprint"] == releases["r1"]["fingerprint"]
    assert [line.split(" by=")[0] for line in audit(site)] == [
        "project=notes action=deploy release=r1 result=success",
        "project=notes action=deploy release=r2 result=failed",
        "project=notes action=rollback release=r3 result=success"]
    assert compose.running["web"]["image"] == pinned(V1["web"]) and compose.running["web"]["health"] == "healthy"


def test_a_failed_first_release_has_nothing_to_roll_back_to(site):
    compose = FakeCompose()
    compose.broken.add(pinned(V1["api"]))
    with pytest.raises(DeployError) as err:
        deploy(site, compose)
    assert compose.calls == ["config", "ps", "config --hash", "up", "ps", "logs api"]
    assert "There is no earlier release to roll back to" in str(err.value)
    assert err.value.details["running_release"] is None and err.value.details["failed_release"] == "r1"
    data = history(site)
    assert data["current"] is None and data["releases"][0]["result"] == "failed"


def test_a_failed_rollback_says_the_project_may_be_down(site):
    compose = FakeCompose()
    deploy(site, compose)
    compose.broken.update([pinned(V1["web"]), pinned(V2["web"])])
    with pytest.raises(DeployError) as err:
        deploy(site, compose, images={"web": V2["web"]})
    assert "and rolling back to release r1 failed too" in str(err.value)
    assert "The project may be down." in str(err.value)
    assert err.value.details["running_release"] is None and err.value.details["rollback_release"] == "r3"
    data = history(site)
    assert data["current"] == "r1"  # nothing healthy replaced it
    assert [r["result"] for r in data["releases"]] == ["success", "failed", "failed"]


def test_explicit_rollback_returns_to_the_previous_healthy_release(site):
    compose = FakeCompose()
    deploy(site, compose)
    deploy(site, compose, images={"web": V2["web"]})
    compose.calls, compose.ups = [], []
    result = deploy(site, compose, action="rollback", engine=no_engine)
    assert compose.calls == ["config", "ps", "config --hash", "up", "ps"]
    assert compose.ups[0]["pull"] == "missing" and compose.ups[0]["images"]["web"] == pinned(V1["web"])
    release = result["release"]
    assert (release["id"], release["action"], release["restores"]) == ("r3", "rollback", "r1")
    result = deploy(site, compose, action="rollback", rollback_to="r2", engine=no_engine)
    assert result["release"]["restores"] == "r2" and result["images"]["web"] == pinned(V2["web"])


@pytest.mark.parametrize("rollback_to, wanted", [(None, "before the current one"), ("r9", "r9")])
def test_a_rollback_without_a_healthy_target_fails_naming_the_kept_releases(site, rollback_to, wanted):
    compose = FakeCompose()
    deploy(site, compose)
    compose.calls = []
    with pytest.raises(DeployError) as err:
        deploy(site, compose, action="rollback", rollback_to=rollback_to, engine=no_engine)
    assert str(err.value) == ("No healthy release %s to roll back to in the history of notes. "
                              "Releases kept: r1 (success)." % wanted)
    assert compose.calls == []
    assert audit(site)[-1].startswith('project=notes action=rollback release=- result=refused by="ci job 7" '
                                      '"No healthy release')


def test_images_naming_an_unknown_service_fail_before_anything_runs(site):
    compose = FakeCompose()
    with pytest.raises(DeployError) as err:
        deploy(site, compose, images={"worker": V1["web"]})
    assert "images names service(s) worker, which the compose files do not define (services: api, web)" in str(err.value)
    assert compose.calls == ["config"] and not (site / "history" / "releases.json").exists()


def test_an_image_missing_with_pull_policy_never_fails_before_anything_runs(site):
    compose = FakeCompose()
    with pytest.raises(DeployError) as err:
        deploy(site, compose, pull_policy="never", engine=FakeEngine([V1["api"]]))
    assert "Image %s is not on the target engine and pull_policy is never." % V1["web"] in str(err.value)
    assert compose.calls == ["config"]


def test_a_taken_port_fails_before_compose_up(site):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        (site / "notes" / "compose.yaml").write_text(json.dumps({"services": {
            "web": {"image": V1["web"], "ports": [{"target": 3000, "published": str(port), "host_ip": "127.0.0.1"}]},
            "api": {"image": V1["api"]}}}))
        compose = FakeCompose()
        with pytest.raises(DeployError) as err:
            deploy(site, compose)
    finally:
        holder.close()
    assert "Port 127.0.0.1:%d/tcp of service web is already taken on the host." % port in str(err.value)
    assert "up" not in compose.calls


def test_a_lock_held_by_a_live_deploy_times_out_naming_it(site):
    (site / "history").mkdir()
    holder = ProjectLock(lock_path(str(site / "history")), "alice", "deploy of notes").acquire(0)
    compose = FakeCompose()
    try:
        with pytest.raises(DeployError) as err:
            deploy(site, compose, lock_timeout=0)
    finally:
        holder.release()
    assert "waiting for the deploy lock" in str(err.value) and "held by alice (pid %d" % os.getpid() in str(err.value)
    assert compose.calls == []
    assert audit(site) == ['project=notes action=deploy release=- result=lock-timeout by="ci job 7" "Timed out after 0s '
                           'waiting for the deploy lock %s, held by alice (pid %d on %s) since %s for deploy of notes."\n'
                           % (lock_path(str(site / "history")), os.getpid(), socket.gethostname(), holder.record["since"])]


def test_the_holder_file_of_an_interrupted_run_is_taken_over_with_a_warning_and_an_audit_line(site):
    (site / "history").mkdir()
    (site / "history" / "deploy.lock.json").write_text(json.dumps({
        "who": "bob", "pid": 2 ** 22 + 1, "host": socket.gethostname(), "since": "2026-11-27T09:00:00Z",
        "action": "deploy", "release": "r7"}))
    warnings = []
    result = deploy(site, FakeCompose(), warnings=warnings)
    assert result["lock"]["taken_over"]["who"] == "bob"
    assert len(warnings) == 1 and warnings[0].startswith("Took over the deploy lock from a run that ended")
    assert audit(site)[0] == ('project=notes action=deploy release=r7 result=interrupted by="bob" "pid %d on %s since '
                              '2026-11-27T09:00:00Z ended without finishing; the next run took over its lock"\n'
                              % (2 ** 22 + 1, socket.gethostname()))
    assert audit(site)[1].startswith("project=notes action=deploy release=r1 result=success")


def test_recreate_plan_compares_config_hashes_and_health():
    params = dict(project_name="notes", history_dir="/nonexistent/h", triggered_by="t", keep_releases=5, env=None)
    deployer = Deployer(params, check_mode=True, warn=None)
    running = {"id": "c1", "state": "running", "health": "healthy", "config_hash": "h1"}
    containers = {"web": running, "api": dict(running, config_hash="old"), "worker": dict(running, health="unhealthy")}
    hashes = {"web": "h1", "api": "h2", "worker": "h1", "cron": "h3"}
    assert deployer.recreate_list(hashes, containers) == ["api", "cron", "worker"]


def test_write_private_writes_only_changes_with_mode_0600(tmp_path):
    path = str(tmp_path / "f")
    assert write_private(path, "a") and not write_private(path, "a") and write_private(path, "b")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and open(path).read() == "b"


DEFINITION = {"services": {"web": {"image": V1["web"], "environment": {"DB_PASSWORD": "${DB_PASSWORD}"}},
                           "api": {"image": V1["api"]}}}


def test_a_definition_is_written_to_compose_yml_and_deployed(site):
    compose = FakeCompose()
    src = site / "clock"  # not there yet: created
    result = deploy(site, compose, project_src=str(src), definition=DEFINITION)
    written = (src / "compose.yml").read_text()
    assert written.startswith("# Written by bytelyst.deploy.compose_deploy")
    assert json.loads(written.split("\n", 1)[1]) == DEFINITION
    assert stat.S_IMODE(os.stat(str(src / "compose.yml")).st_mode) == 0o640
    assert result["changed"] and result["definition_file"] == {"path": str(src / "compose.yml"), "changed": True}
    assert compose.ups[0]["images"] == dict((s, pinned(r)) for s, r in V1.items())
    assert sorted(os.listdir(str(site / "history"))) == ["audit.log", "deploy.env", "deploy.lock", "releases", "releases.json"]
    assert os.listdir(str(site / "history" / "releases")) == ["r1"]
    assert (site / "history" / "releases" / "r1" / "1-compose.yml").read_text() == written
    assert isinstance(result["diff"], list) and result["diff"][1]["before"] == "" and result["diff"][1]["after"] == written

    compose.calls = []
    again = deploy(site, compose, project_src=str(src), definition=DEFINITION)
    assert not again["changed"] and again["definition_file"]["changed"] is False and "up" not in compose.calls
    assert isinstance(again["diff"], dict)


def test_a_definition_change_that_recreates_nothing_is_a_release_of_its_own(site):
    compose = FakeCompose()
    src = site / "clock"
    deploy(site, compose, project_src=str(src), definition=DEFINITION)
    changed = dict(DEFINITION, volumes={"data": {}})
    compose.calls = []
    result = deploy(site, compose, project_src=str(src), definition=changed)
    # Nothing to recreate, but the deployed state changed: a new release (up is a no-op for the containers).
    assert result["changed"] and result["recreate"] == [] and compose.calls == ["config", "ps", "config --hash", "up", "ps"]
    assert result["containers"] == {"api": "c1", "web": "c2"}
    assert json.loads((src / "compose.yml").read_text().split("\n", 1)[1]) == changed
    assert result["release"]["id"] == "r2"


def test_check_mode_plans_a_new_definition_without_writing_it(site):
    compose = FakeCompose()
    src = site / "clock"
    deploy(site, compose, project_src=str(src), definition=DEFINITION)
    before = (src / "compose.yml").read_text()
    new = {"services": dict(DEFINITION["services"], web=dict(DEFINITION["services"]["web"], image=V2["web"]))}
    compose.calls = []
    result = deploy(site, compose, check_mode=True, project_src=str(src), definition=new)
    assert compose.calls == ["config", "ps", "config --hash"]
    assert result["changed"] and result["recreate"] == ["web"]
    assert (src / "compose.yml").read_text() == before
    assert V2["web"] in result["diff"][1]["after"] and V1["web"] in result["diff"][1]["before"]


@pytest.mark.parametrize("case", ["unknown service", "missing image"])
def test_a_refused_definition_leaves_the_previous_file(site, case):
    compose = FakeCompose()
    src = site / "clock"
    deploy(site, compose, project_src=str(src), definition=DEFINITION)
    before = (src / "compose.yml").read_text()
    new = {"services": dict(DEFINITION["services"], web=dict(DEFINITION["services"]["web"], image=V2["web"]))}
    extra = ({"images": {"worker": V2["web"]}} if case == "unknown service"
             else {"engine": FakeEngine(V1.values()), "pull_policy": "never"})
    with pytest.raises(DeployError):
        deploy(site, compose, project_src=str(src), definition=new, **extra)
    assert (src / "compose.yml").read_text() == before
    assert not (site / "history" / "compose.yml.candidate").exists()


def test_write_private_writes_the_mode_asked_for(tmp_path):
    path = str(tmp_path / "f")
    assert write_private(path, "a", mode=0o640)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_check_mode_of_a_first_definition_creates_no_directory(site):
    compose = FakeCompose()
    src = site / "clock"
    result = deploy(site, compose, check_mode=True, project_src=str(src), definition=DEFINITION)
    assert result["changed"] and result["definition_file"]["changed"] and result["recreate"] == ["api", "web"]
    assert not src.exists() and not (site / "history").exists()


def test_a_definition_without_project_src_fails_naming_the_fix(site):
    compose = FakeCompose()
    with pytest.raises(DeployError) as err:
        deploy(site, compose, project_src=None, definition=DEFINITION)
    assert "definition is set but project_src is not" in str(err.value)
    assert "Set project_src" in err.value.hint
    assert compose.calls == [] and not (site / "history" / "releases.json").exists()
