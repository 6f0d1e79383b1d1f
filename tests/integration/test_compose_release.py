"""compose_deploy's release model on the real engine, registry and Compose: a release is the whole
deployed state and a rollback restores all of it; env values are plain configuration; any failure
after `up` starts (here: `up` past its timeout, for real) rolls back; a module killed during `up`
keeps the project locked until that Compose process ends; without a history, a failed deploy
returns to the containers that ran before it.
"""

import hashlib
import json
import os
import shutil
import signal
import threading
import time

import pytest
from ansible_runner_helper import run_module_many

from deploy_images import build_and_push, remove_images
from net_helpers import free_port, http_get, processes
from test_compose_deploy import compose_down, project_state, read

from ansible_collections.bytelyst.deploy.plugins.module_utils._lock import group_alive

pytestmark = pytest.mark.integration

SECRET = "s3cret-release-value"
# Values that break a deploy whose machine output is scrubbed of env values: a published port,
# a common word, a single character, one with `=` and spaces, the container port.
ODD_VALUES = {"APP_ENV": "production", "FLAG": "a", "OPTS": "a=b c d", "TARGET_PORT": "3000"}


@pytest.fixture(scope="module")
def images(docker_client, registry_addr, standin_image):
    token = os.urandom(4).hex()
    refs = build_and_push(docker_client, standin_image, "%s/bytelyst-test/release-%s/web" % (registry_addr, token),
                          variants=["v1", "v2", "v3-nobind"])
    yield refs
    remove_images(docker_client, refs)


class Project(object):
    """One Compose project under tmp: its directory, history, port and module arguments."""

    def __init__(self, root, docker_client):
        self.name = "bl-release-%s" % os.urandom(4).hex()
        self.port = free_port()
        self.src = str(root / "src")
        self.history = str(root / "history")
        self.url = "http://127.0.0.1:%d" % self.port
        self.client = docker_client

    def args(self, **kw):
        args = dict(project_name=self.name, project_src=self.src, history_dir=self.history, wait_timeout=40,
                    triggered_by="pytest release", secrets={"APP_SECRET": SECRET},
                    http_checks=[{"url": self.url + "/health", "status": 200, "timeout": 5}])
        args.update(kw)
        return args

    def releases(self):
        return json.loads(read(os.path.join(self.history, "releases.json")))

    def audit(self):
        return read(os.path.join(self.history, "audit.log")).splitlines()

    def container(self):
        (container,) = self.client.containers.list(all=True, filters={"label": "com.docker.compose.project=%s" % self.name})
        return container

    def holder(self):
        try:
            return json.loads(read(os.path.join(self.history, "deploy.lock.json")) or "null")
        except ValueError:
            return None


@pytest.fixture
def project(tmp_path, docker_client):
    project = Project(tmp_path, docker_client)
    yield project
    compose_down(project.name, str(tmp_path))


def definition(image, **web):
    service = {"image": image, "ports": ["127.0.0.1:${HOST_PORT}:${TARGET_PORT}"],
               "environment": dict({"APP_SECRET": "${APP_SECRET}"}, **dict((k, "${%s}" % k) for k in ODD_VALUES))}
    service.update(web)
    return {"services": {"web": service}}


def test_a_rollback_restores_the_whole_previous_release(project, images):
    """r1 healthy (with env values that used to break deploys); r2 changes only the command, so its
    container exits; an r2 that changes only an env value (the published port) fails the HTTP check.
    Each is rolled back to r1's whole state: configuration, env, compose.yml in project_src."""
    env = dict(ODD_VALUES, HOST_PORT=str(project.port))
    other_port = str(free_port())
    good = definition(images["v1"])
    exits = definition(images["v1"], command=["node", "-e", "console.error('exits: changed command'); process.exit(3)"])
    results, raw = run_module_many("compose_deploy", [
        project.args(definition=good, env=env),
        project.args(definition=exits, env=env),
        project.args(definition=good, env=env),
        project.args(definition=good, env=dict(env, HOST_PORT=other_port)),
    ])
    first, config_only, again, env_only = results
    assert not first.get("failed") and first["release"]["id"] == "r1", raw[-4000:]
    assert first["release"]["env"] == env and first["release"]["secret_names"] == ["APP_SECRET"]

    assert config_only.get("failed") and config_only["failed_release"] == "r2", raw[-4000:]
    assert "Release r2 of %s failed its health gate and was rolled back" % project.name in config_only["msg"]
    assert "Now running release r3 (the state of release r1), healthy." in config_only["msg"]
    assert "exits: changed command" in config_only["logs"]["web"]

    assert again["changed"] is False and again["release"]["id"] == "r3", raw[-4000:]

    assert env_only.get("failed") and env_only["failed_release"] == "r4", raw[-4000:]
    assert "HTTP check failed: %s/health" % project.url in env_only["msg"]
    assert "Now running release r5 (the state of release r3), healthy." in env_only["msg"]

    # r1's configuration runs and answers; compose.yml in project_src is r1's again.
    assert http_get(project.url + "/health") == (200, "ok")
    container = project.container()
    assert container.attrs["Config"]["Cmd"] == ["node", "/app/server.js"]
    assert container.attrs["HostConfig"]["PortBindings"]["3000/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(project.port)}]
    container_env = dict(e.split("=", 1) for e in container.attrs["Config"]["Env"])
    assert dict((k, container_env[k]) for k in ODD_VALUES) == ODD_VALUES and container_env["APP_SECRET"] == SECRET
    history = project.releases()
    by_id = dict((r["id"], r) for r in history["releases"])
    assert history["current"] == "r5"
    assert [(r["id"], r["action"], r["result"], r.get("restores")) for r in history["releases"]] == [
        ("r1", "deploy", "success", None), ("r2", "deploy", "failed", None), ("r3", "rollback", "success", "r1"),
        ("r4", "deploy", "failed", None), ("r5", "rollback", "success", "r3")]
    assert by_id["r4"]["env"]["HOST_PORT"] == other_port and by_id["r5"]["env"]["HOST_PORT"] == str(project.port)
    r1_file = os.path.join(project.history, "releases", "r1", "1-compose.yml")
    assert read(os.path.join(project.src, "compose.yml")) == read(r1_file)
    assert "process.exit(3)" in read(os.path.join(project.history, "releases", "r2", "1-compose.yml"))
    assert [line.split(" ", 1)[1].split(" by=")[0] for line in project.audit()] == [
        "project=%s action=%s release=%s result=%s" % (project.name, a, r, res) for a, r, res in [
            ("deploy", "r1", "success"), ("deploy", "r2", "failed"), ("rollback", "r3", "success"),
            ("deploy", "r4", "failed"), ("rollback", "r5", "success")]]
    # The secret value is nowhere but in the container and the 0600 env file.
    kept = [read(os.path.join(project.history, n)) for n in ("releases.json", "audit.log")]
    kept += [read(os.path.join(d, f)) for d, dummy, fs in os.walk(os.path.join(project.history, "releases")) for f in fs]
    assert SECRET not in raw and SECRET not in json.dumps(results) and not [t for t in kept if SECRET in t]


def test_compose_up_past_its_timeout_is_stopped_and_rolled_back(project, images):
    """A release whose health stays `starting` (a long start period, a port never bound) keeps
    `up --wait` waiting; up_timeout stops Compose and every process it started, and r1 returns."""
    slow_health = {"healthcheck": {"start_period": "90s", "interval": "1s", "timeout": "2s", "retries": 3}}
    env = dict(ODD_VALUES, HOST_PORT=str(project.port))
    (first, timed_out), raw = run_module_many("compose_deploy", [
        project.args(definition=definition(images["v1"], **slow_health), env=env),
        project.args(definition=definition(images["v3-nobind"], **slow_health), env=env, wait_timeout=120, up_timeout=8),
    ])
    assert not first.get("failed"), raw[-4000:]
    assert timed_out.get("failed"), raw[-4000:]
    assert ("Release r2 of %s failed its health gate and was rolled back: compose up of %s did not finish within "
            "8 seconds and was stopped." % (project.name, project.name)) in timed_out["msg"]
    assert timed_out["running_release"] == "r3" and timed_out["restored_release"] == "r1"
    assert http_get(project.url + "/version") == (200, "v1")
    assert [r["result"] for r in project.releases()["releases"]] == ["success", "failed", "success"]
    assert " result=failed " in project.audit()[-2] and "did not finish within 8 seconds" in project.audit()[-2]
    assert project.holder() is None  # the lock was released
    assert not compose_processes(project.name)


def compose_processes(project_name):
    """Pids of processes whose command line names this Compose project."""
    return processes(lambda argv: project_name in argv and "compose" in " ".join(argv))


def test_a_module_killed_during_up_keeps_the_project_locked_until_compose_ends(project, images, ansible_module):
    env = dict(ODD_VALUES, HOST_PORT=str(project.port))
    slow_health = {"healthcheck": {"start_period": "90s", "interval": "1s", "timeout": "2s", "retries": 3}}
    first, raw = ansible_module("compose_deploy", project.args(definition=definition(images["v1"]), env=env))
    assert not first.get("failed"), raw[-3000:]
    outcome = {}
    killed = threading.Thread(target=lambda: outcome.update(result=ansible_module("compose_deploy", project.args(
        definition=definition(images["v3-nobind"], **slow_health), env=env, wait_timeout=15))))
    killed.start()
    deadline = time.time() + 120
    holder = None
    while time.time() < deadline:
        holder = project.holder()
        if holder and holder.get("compose_pgid"):
            break
        time.sleep(0.2)
    assert holder and holder.get("compose_pgid"), holder
    os.kill(holder["pid"], signal.SIGKILL)
    killed.join()
    assert outcome["result"][0].get("failed")
    pgid = holder["compose_pgid"]
    assert group_alive(pgid)  # Compose goes on without the module
    blocked, raw = ansible_module("compose_deploy", project.args(definition=definition(images["v2"]), env=env, lock_timeout=1))
    assert blocked.get("failed"), raw[-3000:]
    assert ("that process is gone, but its docker compose up (process group %d) still runs" % pgid) in blocked["msg"]
    while group_alive(pgid) and time.time() < deadline:
        time.sleep(0.5)
    assert not group_alive(pgid)
    done, raw = ansible_module("compose_deploy", project.args(definition=definition(images["v2"]), env=env))
    assert not done.get("failed") and done["changed"], raw[-3000:]
    assert done["lock"]["taken_over"]["pid"] == holder["pid"] and done["lock"]["taken_over"]["release"] == "r2"
    assert http_get(project.url + "/version") == (200, "v2")
    audit = project.audit()
    assert " action=deploy release=r2 result=interrupted by=\"pytest release\" " in audit[-2], audit
    assert " result=lock-timeout " in audit[-3], audit


def test_without_a_history_a_failed_deploy_returns_to_what_was_running(project, images, ansible_module):
    env = dict(ODD_VALUES, HOST_PORT=str(project.port))
    first, raw = ansible_module("compose_deploy", project.args(definition=definition(images["v1"]), env=env))
    assert not first.get("failed"), raw[-3000:]
    before = project_state(project.client, project.name)
    shutil.rmtree(project.history)
    failed, raw = ansible_module("compose_deploy", project.args(definition=definition(images["v3-nobind"]), env=env,
                                                                wait_timeout=10))
    assert failed.get("failed"), raw[-3000:]
    assert ("Now running release r2 (the state of the containers that ran before r1), healthy."
            in failed["msg"]), failed["msg"]
    assert http_get(project.url + "/version") == (200, "v1")
    (dummy, image_id, status), = project_state(project.client, project.name).values()
    assert image_id == list(before.values())[0][1] and status == "running"
    assert [r["result"] for r in project.releases()["releases"]] == ["failed", "success"]


def test_a_release_keeps_the_sbom_of_its_image_and_a_new_scan_changes_nothing(project, images, tmp_path):
    """provenance: r1 records the SBOM's digest, path and counts and keeps a copy of the SBOM; the
    same image with a new scan's SBOM is changed=false and r1 stays as recorded; an SBOM whose
    digest is not the one given is refused before anything changes."""
    env = dict(ODD_VALUES, HOST_PORT=str(project.port))
    scans = []
    for name, text in (("first", '{"bomFormat": "CycloneDX", "serialNumber": "urn:uuid:1"}\n'),
                       ("rescan", '{"bomFormat": "CycloneDX", "serialNumber": "urn:uuid:2"}\n')):
        path = tmp_path / ("%s.cdx.json" % name)
        path.write_text(text)
        scans.append({"sbom": str(path), "sbom_sha256": hashlib.sha256(text.encode()).hexdigest(),
                      "scanned": {"secret": {"CRITICAL": 0, "HIGH": 0}}})
    wrong = dict(scans[1], sbom_sha256=scans[0]["sbom_sha256"])
    results, raw = run_module_many("compose_deploy", [
        project.args(definition=definition(images["v1"]), env=env, provenance={"web": scans[0]}),
        project.args(definition=definition(images["v1"]), env=env, provenance={"web": scans[1]}),
        project.args(definition=definition(images["v2"]), env=env, provenance={"web": wrong}),
    ])
    first, rescan, refused = results
    assert not first.get("failed") and first["changed"], raw[-4000:]
    assert first["release"]["provenance"] == {"web": scans[0]}
    assert first["release"]["sbom_files"] == {"web": "sbom-web.cdx.json"}
    kept = os.path.join(project.history, "releases", "r1", "sbom-web.cdx.json")
    assert read(kept) == read(scans[0]["sbom"])

    assert rescan["changed"] is False and rescan["release"]["id"] == "r1", raw[-4000:]
    assert rescan["release"]["provenance"] == {"web": scans[0]}

    assert refused.get("failed"), raw[-4000:]
    assert ("The SBOM of web, %s, has SHA-256 %s, but provenance.web.sbom_sha256 says %s. Nothing was changed."
            % (scans[1]["sbom"], scans[1]["sbom_sha256"], scans[0]["sbom_sha256"])) in refused["msg"]
    # Nothing changed: r1's container runs v1, the history holds r1 as recorded, its SBOM as kept.
    assert http_get(project.url + "/version") == (200, "v1")
    assert project.container().id.startswith(first["containers"]["web"])
    history = project.releases()
    assert [(r["id"], r["result"]) for r in history["releases"]] == [("r1", "success")]
    assert history["releases"][0]["provenance"] == {"web": scans[0]}
    assert sorted(os.listdir(os.path.join(project.history, "releases"))) == ["r1"]
    assert read(kept) == read(scans[0]["sbom"])
    assert [line.split(" ", 1)[1].split(" by=")[0] for line in project.audit()] == [
        "project=%s action=deploy release=r1 result=success" % project.name,
        "project=%s action=deploy release=- result=refused" % project.name]
