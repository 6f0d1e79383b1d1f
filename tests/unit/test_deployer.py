"""The deployer core (_deployer.py): the order of a deploy's steps, the health gate and the
rollback decision, against a fake Compose (a command runner) and a fake engine; no Docker."""

import hashlib
import json
import os
import shutil
import signal
import socket
import stat

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils._deployer import Deployer, write_private
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._lock import ProjectLock, lock_path
from ansible_collections.bytelyst.deploy.plugins.module_utils._release import History
from fakes.compose import FakeCompose
from fakes.engine import FakeClient, FakeImage

REG = "registry.invalid/notes"
V1 = {"web": REG + "/web:1.0.0", "api": REG + "/api:1.0.0"}
V2 = {"web": REG + "/web:2.0.0", "api": REG + "/api:1.0.0"}


def digest(ref):
    return "sha256:" + hashlib.sha256(ref.encode()).hexdigest()


def pinned(ref):
    return "%s@%s" % (ref.rsplit(":", 1)[0], digest(ref))


def engine_holding(refs):
    """A fake engine holding refs, each pinned by its registry digest; its connect stands for engine_client."""
    return FakeClient(dict((r, FakeImage("sha256:id-" + r, digests=[pinned(r)])) for r in refs)).connect


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
    engine = engine or engine_holding(list(V1.values()) + list(V2.values()))
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
        deploy(site, compose, pull_policy="never", engine=engine_holding([V1["api"]]))
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
             else {"engine": engine_holding(V1.values()), "pull_policy": "never"})
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


# -- a release is the whole deployed state -------------------------------------------------

def write_compose(site, web, **extra):
    """project_src's compose.yaml with this web service (and api at 1.0.0)."""
    (site / "notes" / "compose.yaml").write_text(json.dumps({"services": dict(
        web=dict({"image": V1["web"], "environment": {"DB_PASSWORD": "${DB_PASSWORD}"}}, **web),
        api={"image": V1["api"]}), **extra}))


def test_a_configuration_only_failure_is_rolled_back_to_the_previous_configuration(site):
    compose = FakeCompose()
    deploy(site, compose)
    r1_hash = compose.running["web"]["hash"]
    r1_text = (site / "notes" / "compose.yaml").read_text()
    write_compose(site, {"command": ["node", "broken.js"]})  # same images, a command that never gets healthy
    with pytest.raises(DeployError) as err:
        deploy(site, compose)
    assert "Release r2 of notes failed its health gate and was rolled back" in str(err.value)
    assert "Now running release r3 (the state of release r1), healthy." in str(err.value)
    rollback_up = compose.ups[-1]
    r1_dir = site / "history" / "releases" / "r1"
    assert rollback_up["files"] == [str(r1_dir / "1-compose.yaml"), str(r1_dir / "compose.bytelyst.yml")]
    assert (r1_dir / "1-compose.yaml").read_text() == r1_text
    assert compose.running["web"]["hash"] == r1_hash and "command" not in compose.running["web"]["spec"]
    data = history(site)
    by_id = dict((r["id"], r) for r in data["releases"])
    assert data["current"] == "r3" and by_id["r3"]["dir"] == "r1" and by_id["r2"]["dir"] == "r2"
    assert "broken.js" in (site / "history" / "releases" / "r2" / "1-compose.yaml").read_text()
    # The user's own compose file is theirs: it keeps what they wrote; the next deploy deploys it again.
    assert "broken.js" in (site / "notes" / "compose.yaml").read_text()


def test_an_env_only_failure_is_rolled_back_to_the_previous_env(site):
    write_compose(site, {"environment": {"DB_PASSWORD": "${DB_PASSWORD}", "MODE": "${MODE}"}})
    compose = FakeCompose()
    deploy(site, compose, env={"MODE": "ok", "PORT": "4121"})
    with pytest.raises(DeployError) as err:
        deploy(site, compose, env={"MODE": "broken", "PORT": "4121"})
    assert "Now running release r3 (the state of release r1), healthy." in str(err.value)
    assert [u["env"]["MODE"] for u in compose.ups] == ["ok", "broken", "ok"]
    assert compose.ups[-1]["env"]["DB_PASSWORD"] == "s3cret"  # the secrets of this task
    assert compose.running["web"]["spec"]["environment"]["MODE"] == "ok"
    assert (site / "history" / "deploy.env").read_text() == "DB_PASSWORD='s3cret'\nMODE='ok'\nPORT='4121'\n"
    by_id = dict((r["id"], r) for r in history(site)["releases"])
    assert by_id["r2"]["env"] == {"MODE": "broken", "PORT": "4121"} and by_id["r3"]["env"] == {"MODE": "ok", "PORT": "4121"}
    assert sorted(os.listdir(str(site / "history"))) == [
        "audit.log", "deploy.env", "deploy.lock", "releases", "releases.json", "releases.json.prev"]


def test_a_definition_failure_restores_compose_yml_with_the_previous_state(site):
    compose = FakeCompose()
    src = site / "clock"
    deploy(site, compose, project_src=str(src), definition=DEFINITION)
    good = (src / "compose.yml").read_text()
    bad = {"services": dict(DEFINITION["services"], api={"image": V1["api"], "command": "broken"})}
    with pytest.raises(DeployError):
        deploy(site, compose, project_src=str(src), definition=bad)
    assert (src / "compose.yml").read_text() == good
    assert history(site)["current"] == "r3"


def test_a_manual_rollback_restores_files_and_env_and_uses_the_secrets_given_now(site):
    write_compose(site, {"environment": {"DB_PASSWORD": "${DB_PASSWORD}", "MODE": "${MODE}"}})
    compose = FakeCompose()
    deploy(site, compose, env={"MODE": "one"})
    write_compose(site, {"environment": {"DB_PASSWORD": "${DB_PASSWORD}", "MODE": "${MODE}"}, "command": "two"})
    deploy(site, compose, env={"MODE": "two"}, images={"web": V2["web"]})
    compose.ups = []
    result = deploy(site, compose, action="rollback", engine=no_engine, env={"MODE": "ignored"},
                    secrets={"DB_PASSWORD": "rotated"})
    assert result["release"]["restores"] == "r1" and result["release"]["dir"] == "r1"
    assert compose.ups[0]["env"] == {"DB_PASSWORD": "rotated", "MODE": "one"}
    assert compose.ups[0]["images"]["web"] == pinned(V1["web"]) and "command" not in compose.running["web"]["spec"]
    assert result["images"] == dict((s, pinned(r)) for s, r in V1.items())
    # Again: nothing to do.
    compose.calls = []
    again = deploy(site, compose, action="rollback", rollback_to="r1", engine=no_engine, secrets={"DB_PASSWORD": "rotated"})
    assert not again["changed"] and "up" not in compose.calls


def test_a_rollback_to_a_release_whose_secret_is_not_given_is_refused(site):
    compose = FakeCompose()
    deploy(site, compose)
    deploy(site, compose, images={"web": V2["web"]}, secrets={"DB_PASSWORD": "s3cret", "API_TOKEN": "t0ken"})
    write_compose(site, {})
    compose.calls = []
    with pytest.raises(DeployError) as err:
        deploy(site, compose, action="rollback", rollback_to="r2", engine=no_engine)
    assert err.value.message == "Release r2 used the secret(s) API_TOKEN, which this task does not pass in secrets."
    assert compose.calls == [] and history(site)["current"] == "r2"


def test_a_rollback_to_a_release_of_the_old_format_brings_back_its_images(site):
    compose = FakeCompose()
    deploy(site, compose)
    deploy(site, compose, images={"web": V2["web"]})
    data = history(site)
    for release in data["releases"]:
        for key in ("dir", "files", "pins", "project_dir", "env", "secret_names", "definition_file", "fingerprint"):
            release.pop(key)
    (site / "history" / "releases.json").write_text(json.dumps(data))
    warnings = []
    result = deploy(site, compose, action="rollback", engine=no_engine, warnings=warnings)
    assert result["release"]["restores"] == "r1" and compose.running["web"]["image"] == pinned(V1["web"])
    assert warnings and "recorded before releases kept them" in warnings[0]


def test_secret_values_never_reach_history_audit_argv_or_the_result(site):
    compose = FakeCompose()
    compose.broken.add(pinned(V2["web"]))
    secrets = {"DB_PASSWORD": "hunter2-secret"}
    deploy(site, compose, secrets=secrets, env={"APP_ENV": "production"})
    with pytest.raises(DeployError) as err:
        deploy(site, compose, secrets=secrets, env={"APP_ENV": "production"}, images={"web": V2["web"]})
    texts = [str(err.value), json.dumps(err.value.details), (site / "history" / "releases.json").read_text(),
             (site / "history" / "audit.log").read_text()]
    texts += [p.read_text() for p in (site / "history" / "releases").rglob("*") if p.is_file()]
    texts += [" ".join(argv) for argv in compose.argvs]
    assert not [t for t in texts if "hunter2-secret" in t]
    assert "production" in (site / "history" / "releases.json").read_text()


# -- any failure after `up` starts ends in a rollback, a history entry, an audit line, a free lock ---

def assert_rolled_back_and_recorded(site, compose, err, reason):
    assert "Release r2 of notes failed its health gate and was rolled back: %s" % reason in str(err.value)
    assert "Now running release r3 (the state of release r1), healthy." in str(err.value)
    data = history(site)
    assert data["current"] == "r3" and [r["result"] for r in data["releases"]] == ["success", "failed", "success"]
    assert [line.split(" by=")[0] for line in audit(site)[-2:]] == [
        "project=notes action=deploy release=r2 result=failed", "project=notes action=rollback release=r3 result=success"]
    assert compose.running["web"]["image"] == pinned(V1["web"]) and compose.running["web"]["health"] == "healthy"
    assert not (site / "history" / "deploy.lock.json").exists()
    ProjectLock(lock_path(str(site / "history")), "next", "deploy").acquire(0).release()


def test_compose_up_past_its_timeout_is_rolled_back(site):
    compose = FakeCompose()
    deploy(site, compose)

    def hang_once(fake):
        fake.on_up = None
        fake.running["web"] = dict(fake.running["web"], image=pinned(V2["web"]), health="starting", hash="x")
        raise DeployError("compose up of notes did not finish within 5 seconds and was stopped.", timed_out=True)

    compose.on_up = hang_once
    with pytest.raises(DeployError) as err:
        deploy(site, compose, images={"web": V2["web"]}, up_timeout=5)
    assert_rolled_back_and_recorded(site, compose, err, "compose up of notes did not finish within 5 seconds")
    assert "--wait-timeout" in compose.argvs[-2]
    # r2's up ran under up_timeout; the rollback's under Compose's whole wait (wait_timeout 30 + 180).
    assert compose.up_timeouts[-2:] == [5, 210]


def test_compose_ps_failing_after_the_gate_is_rolled_back(site):
    compose = FakeCompose()
    deploy(site, compose)
    compose.ps_fails_after = 2  # the ps of r2's gate
    with pytest.raises(DeployError) as err:
        deploy(site, compose, images={"web": V2["web"]})
    assert_rolled_back_and_recorded(site, compose, err, "listing the containers after up failed")


def test_a_health_url_that_cannot_be_parsed_is_refused_before_anything_changes(site):
    compose = FakeCompose()
    deploy(site, compose)
    before = (site / "history" / "releases.json").read_text()
    calls, running = len(compose.calls), dict(compose.running)
    with pytest.raises(DeployError) as err:
        deploy(site, compose, images={"web": V2["web"]},
               http_checks=[{"url": "http://127.0.0.1:99999/health", "status": 200, "timeout": 1}])
    assert "has port '99999'; a port is a number from 1 to 65535" in str(err.value)
    # Refused before Compose ran at all: no release, same containers; the attempt is audited.
    assert compose.calls[calls:] == [] and compose.running == running
    assert (site / "history" / "releases.json").read_text() == before
    assert audit(site)[-1].startswith("project=notes action=deploy release=- result=refused")
    ProjectLock(lock_path(str(site / "history")), "next", "deploy").acquire(0).release()


def test_a_full_disk_while_saving_the_history_is_rolled_back(site, monkeypatch):
    compose = FakeCompose()
    deploy(site, compose)
    original = History.save
    calls = []

    def full_once(self):
        calls.append(1)
        if len(calls) == 1:
            raise OSError(28, "No space left on device")
        return original(self)

    monkeypatch.setattr(History, "save", full_once)
    with pytest.raises(DeployError) as err:
        deploy(site, compose, images={"web": V2["web"]})
    assert_rolled_back_and_recorded(site, compose, err, "the release history could not be saved (r2): [Errno 28]")


def test_a_disk_that_stays_full_still_rolls_back_and_frees_the_lock(site, monkeypatch):
    compose = FakeCompose()
    deploy(site, compose)
    before = (site / "history" / "releases.json").read_text()

    def full(self):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(History, "save", full)
    with pytest.raises(DeployError) as err:
        deploy(site, compose, images={"web": V2["web"]})
    message = str(err.value)
    assert "failed its health gate and was rolled back: the release history could not be saved (r2)" in message
    assert "Also, the release history could not be saved (r2): [Errno 28] No space left on device; " \
           "the release history could not be saved (r3)" in message
    assert compose.running["web"]["image"] == pinned(V1["web"])
    assert (site / "history" / "releases.json").read_text() == before
    assert not (site / "history" / "deploy.lock.json").exists()


def test_a_full_disk_before_up_changes_nothing(site, monkeypatch):
    compose = FakeCompose()
    deploy(site, compose)
    env_before = (site / "history" / "deploy.env").read_text()
    compose.calls = []
    real_rename = os.rename

    def full(src, dst):
        if dst.endswith(os.sep + "r2"):
            raise OSError(28, "No space left on device")
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", full)
    with pytest.raises(DeployError) as err:
        deploy(site, compose, images={"web": V2["web"]}, secrets={"DB_PASSWORD": "new"})
    monkeypatch.undo()
    assert "Could not write the files of release r2" in str(err.value) and "no container was touched" in str(err.value)
    assert "up" not in compose.calls and (site / "history" / "deploy.env").read_text() == env_before
    assert history(site)["current"] == "r1" and os.listdir(str(site / "history" / "releases")) == ["r1"]
    assert audit(site)[-1].startswith("project=notes action=deploy release=- result=refused")


def test_an_interrupted_run_stops_says_so_in_history_and_audit_and_frees_the_lock(site):
    compose = FakeCompose()
    deploy(site, compose)

    def terminated(fake):
        os.kill(os.getpid(), signal.SIGTERM)

    compose.on_up = terminated
    with pytest.raises(DeployError) as err:
        deploy(site, compose, images={"web": V2["web"]})
    assert err.value.message == ("The deploy of notes was interrupted (signal 15), after release r2 started: "
                                 "its containers may be half replaced.")
    assert audit(site)[-1].startswith('project=notes action=deploy release=r2 result=interrupted by="ci job 7" '
                                      '"signal 15 during compose up"')
    data = history(site)
    assert data["current"] == "r1" and data["releases"][-1]["reason"] == "interrupted by signal 15"
    assert not (site / "history" / "deploy.lock.json").exists()
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_compose_up_runs_holding_the_lock_and_names_its_process_group(site):
    compose = FakeCompose()
    seen = {}

    def look(fake):
        seen["holder"] = json.loads((site / "history" / "deploy.lock.json").read_text())
        seen["fds"] = fake.keep_fds
        with pytest.raises(DeployError):
            ProjectLock(lock_path(str(site / "history")), "other", "deploy").acquire(0)

    compose.on_up = look
    deploy(site, compose)
    assert seen["holder"]["release"] == "r1" and seen["holder"]["compose_pgid"] == 4242
    assert len(seen["fds"]) == 1


# -- history: damaged, deleted -------------------------------------------------------------

@pytest.mark.parametrize("text", ["[]", "null", '{"releases": [{"images": {}, "result": "success"}]}'])
def test_a_damaged_history_refuses_a_deploy_and_a_rollback_uses_the_previous_copy(site, text):
    compose = FakeCompose()
    deploy(site, compose)
    deploy(site, compose, images={"web": V2["web"]})
    (site / "history" / "releases.json").write_text(text)
    compose.calls = []
    with pytest.raises(DeployError) as err:
        deploy(site, compose, images={"web": V1["web"]})
    assert err.value.message.startswith("The release history %s " % (site / "history" / "releases.json"))
    assert compose.calls == [] and (site / "history" / "releases.json").read_text() == text
    assert audit(site)[-1].startswith("project=notes action=deploy release=- result=refused")
    warnings = []
    result = deploy(site, compose, action="rollback", rollback_to="r1", engine=no_engine, warnings=warnings)
    assert result["release"]["restores"] == "r1" and compose.running["web"]["image"] == pinned(V1["web"])
    assert "uses its previous copy" in warnings[0]
    assert history(site)["current"] == result["release"]["id"]


@pytest.mark.parametrize("keep_release_files", [False, True])
def test_with_the_history_deleted_a_failed_deploy_returns_to_what_was_running(site, keep_release_files):
    write_compose(site, {"environment": {"DB_PASSWORD": "${DB_PASSWORD}", "MODE": "r1"}})
    compose = FakeCompose()
    deploy(site, compose)
    r1_spec = compose.running["web"]["spec"]
    if keep_release_files:
        os.remove(str(site / "history" / "releases.json"))
    else:
        shutil.rmtree(str(site / "history"))
    write_compose(site, {"environment": {"DB_PASSWORD": "${DB_PASSWORD}", "MODE": "r2"}})
    compose.broken.add(pinned(V2["web"]))
    with pytest.raises(DeployError) as err:
        deploy(site, compose, images={"web": V2["web"]})
    assert ("Release r1 of notes failed its health gate and was rolled back: docker compose up --wait failed: "
            "container notes-web-1 is unhealthy. Now running release r2 (the state of the containers that ran "
            "before r1), healthy.") in str(err.value)
    assert err.value.details["restored_release"] is None
    assert compose.running["web"]["image"] == pinned(V1["web"]) and compose.running["web"]["health"] == "healthy"
    # With the release files still there, the configuration comes back too; without, this run's files serve.
    assert (compose.running["web"]["spec"] == r1_spec) is keep_release_files
    data = history(site)
    assert data["current"] == "r2" and data["releases"][1]["dir"] == "found-before-r1"
