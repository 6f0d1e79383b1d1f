"""compose_deploy and the deploy/docker_host roles on the real engine, registry and Compose.

One project goes through a release story: v1, v2, three broken v3s (each rolled back to v2
with the named volume's data intact), an idempotent re-deploy, check mode and diff, bad input
that changes nothing, two concurrent deploys, and explicit rollbacks.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
import yaml
from ansible_runner_helper import run_module_many

from deploy_images import build_and_push, remove_images
from net_helpers import free_port, http_get, http_post, processes

from ansible_collections.bytelyst.deploy.plugins.module_utils._lock import ProjectLock, lock_path

pytestmark = pytest.mark.integration

WAIT = 40


@pytest.fixture
def deploy(ansible_module):
    """deploy(args, check=False, diff=False) -> (result, raw): compose_deploy through ansible-playbook."""
    return lambda args, **kw: ansible_module("compose_deploy", args, **kw)


def compose_down(project, cwd):
    subprocess.run(["docker", "compose", "-p", project, "down", "--volumes", "--remove-orphans"],
                   cwd=cwd, capture_output=True, check=False)


def project_state(client, project):
    """{container name: (id, image id, status)}: what must not change on bad input."""
    containers = client.containers.list(all=True, filters={"label": "com.docker.compose.project=%s" % project})
    return dict((c.name, (c.id, c.image.id, c.status)) for c in containers)


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except IOError:
        return None


@pytest.fixture(scope="module")
def images(docker_client, registry_addr, standin_image):
    token = os.urandom(4).hex()
    refs = build_and_push(docker_client, standin_image, "%s/bytelyst-test/deploy-%s/web" % (registry_addr, token))
    yield refs
    remove_images(docker_client, refs)


@pytest.fixture(scope="module")
def app(tmp_path_factory, images, docker_client):
    """A project (compose file, history dir, port) that the tests of this file move through releases."""
    root = tmp_path_factory.mktemp("deploy")
    name = "bl-deploy-%s" % os.urandom(4).hex()
    port = free_port()
    src = root / "src"
    src.mkdir()
    (src / "compose.yml").write_text(yaml.safe_dump({
        "services": {"web": {
            "image": images["v1"],
            "ports": ["127.0.0.1:%d:3000" % port],
            "volumes": ["data:/data"],
            "environment": {"APP_SECRET": "${APP_SECRET}"},
        }},
        "volumes": {"data": {}},
    }))

    class App(object):
        pass

    app = App()
    app.name, app.port, app.src, app.history = name, port, str(src), str(root / "history")
    app.url = "http://127.0.0.1:%d" % port
    app.args = lambda ref, **kw: dict(dict(
        project_name=name, project_src=str(src), history_dir=app.history, images={"web": ref},
        secrets={"APP_SECRET": "s3cret-value"}, wait_timeout=WAIT, triggered_by="pytest",
        http_checks=[{"url": app.url + "/health", "status": 200, "timeout": 10}]), **kw)
    app.state = lambda: project_state(docker_client, name)
    app.releases = lambda: json.loads(read(os.path.join(app.history, "releases.json")))
    app.digest = lambda variant: docker_client.images.get(images[variant]).attrs["RepoDigests"][0]
    yield app
    compose_down(name, str(src))


def running_image(app):
    (container_id, image_id, status), = app.state().values()
    return image_id, status


def test_deploy_v1_then_v2_check_mode_and_diff(app, deploy, images, docker_client):
    # Check mode on a new project: a plan, and nothing on the host.
    result, raw = deploy(app.args(images["v1"]), check=True, diff=True)
    assert result["changed"] is True, raw
    assert result["recreate"] == ["web"]
    assert result["images"]["web"] == app.digest("v1")
    assert app.digest("v1") in result["diff"]["after"]
    assert not os.path.exists(app.history) and app.state() == {}

    result, raw = deploy(app.args(images["v1"]))
    assert result["changed"] is True and not result.get("failed"), raw
    assert result["release"]["id"] == "r1"
    assert http_get(app.url + "/version") == (200, "v1")
    override = json.loads(read(result["override_file"]))
    assert override["services"]["web"]["image"] == app.digest("v1")
    assert oct(os.stat(os.path.join(app.history, "deploy.env")).st_mode & 0o777) == "0o600"
    assert "s3cret-value" not in raw
    http_post(app.url + "/data", "written-by-v1")

    # Check mode + diff for v2: old digest -> new digest, no container touched.
    before = app.state()
    result, raw = deploy(app.args(images["v2"]), check=True, diff=True)
    assert result["changed"] is True, raw
    assert "web: %s" % app.digest("v1") in result["diff"]["before"]
    assert "web: %s" % app.digest("v2") in result["diff"]["after"]
    assert app.state() == before
    assert [r["id"] for r in app.releases()["releases"]] == ["r1"]

    result, raw = deploy(app.args(images["v2"]))
    assert result["changed"] is True and not result.get("failed"), raw
    assert http_get(app.url + "/version") == (200, "v2")
    assert http_get(app.url + "/data") == (200, "written-by-v1")
    assert running_image(app) == (docker_client.images.get(images["v2"]).id, "running")
    assert app.releases()["current"] == "r2"


def test_redeploy_same_release_changes_nothing(app, deploy, images):
    before = app.state()
    audit = read(os.path.join(app.history, "audit.log"))
    result, raw = deploy(app.args(images["v2"]), diff=True)
    assert result["changed"] is False, raw
    assert result["recreate"] == []
    assert app.state() == before
    assert result["containers"]["web"] in list(before.values())[0][0]
    assert read(os.path.join(app.history, "audit.log")) == audit


@pytest.mark.parametrize("variant, log_line", [
    ("v3-exit", "exits at start"),
    ("v3-unhealthy", "answers 500"),
    ("v3-nobind", "never binds its port"),
])
def test_broken_release_is_rolled_back(app, deploy, images, docker_client, variant, log_line):
    http_post(app.url + "/data", "before-" + variant)
    current = app.releases()["current"]
    result, raw = deploy(app.args(images[variant]))
    assert result.get("failed") is True, raw
    failed_id, running_id = result["failed_release"], result["running_release"]
    msg = result["msg"]
    assert "Release %s of %s failed its health gate and was rolled back" % (failed_id, app.name) in msg
    assert "Now running release %s (the state of release %s), healthy" % (running_id, current) in msg
    assert log_line in msg and log_line in result["logs"]["web"]
    assert "s3cret-value" not in raw
    # v2 runs again, healthy, with the volume's data.
    assert http_get(app.url + "/version") == (200, "v2")
    assert http_get(app.url + "/data") == (200, "before-" + variant)
    image_id, status = running_image(app)
    assert image_id == docker_client.images.get(images["v2"]).id and status == "running"
    history = app.releases()
    by_id = dict((r["id"], r) for r in history["releases"])
    assert by_id[failed_id]["result"] == "failed" and by_id[failed_id]["images"]["web"] == app.digest(variant)
    assert by_id[running_id]["action"] == "rollback" and by_id[running_id]["restores"] == current
    assert history["current"] == running_id
    audit = read(os.path.join(app.history, "audit.log")).splitlines()
    assert "release=%s result=failed" % failed_id in audit[-2]
    assert "action=rollback release=%s result=success" % running_id in audit[-1]


def _bad_compose(app, tmp_path):
    path = tmp_path / "bad.yml"
    path.write_text("services:\n  web:\n    ports: 12\n")
    return {"files": [os.path.join(app.src, "compose.yml"), str(path)]}, "validation of the compose files"


def _taken_port(app, tmp_path, holder):
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    path = tmp_path / "port.yml"
    path.write_text("services:\n  web:\n    ports: ['127.0.0.1:%d:3000']\n" % port)
    return {"files": [os.path.join(app.src, "compose.yml"), str(path)]}, "127.0.0.1:%d/tcp of service web is already taken" % port


def hold_lock(app, who="release-bot-7"):
    """Hold the project's deploy lock from this test process (since 2026-11-27T09:00:00Z)."""
    return ProjectLock(lock_path(app.history), who, "deploy of %s" % app.name, clock=lambda: 1795770000.0).acquire(0)


def _held_lock(app):
    return {"lock_timeout": 2}, "held by release-bot-7 (pid %d on %s) since 2026-11-27T09:00:00Z" % (os.getpid(), socket.gethostname())


def _snapshot(app):
    """What a refused deploy must leave as it was: containers, history files, env file, the project's compose.yml
    (the audit log gains one line per refused attempt)."""
    return (app.state(), read(os.path.join(app.history, "releases.json")),
            sorted(os.listdir(os.path.join(app.history, "releases"))), read(os.path.join(app.history, "deploy.env")),
            read(os.path.join(app.src, "compose.yml")), sorted(os.listdir(app.history)))


REFUSED = ["invalid compose file", "invalid definition", "unknown service", "image not in registry", "port taken"]


@pytest.fixture(scope="module")
def refused(app, images, tmp_path_factory):
    """Every refused input but the held lock, run as one play (one Ansible start-up for all):
    ({case: (result, expected text)}, raw output, project before, after, /version after)."""
    tmp = tmp_path_factory.mktemp("refused")
    holder = socket.socket()
    try:
        cases = {
            "invalid compose file": _bad_compose(app, tmp),
            "invalid definition": ({"definition": {"services": {"web": {"image": images["v1"], "ports": 12}}}},
                                   "validation of the compose files"),
            "unknown service": ({"images": {"web": images["v1"], "wbe": images["v1"]}},
                                "images names service(s) wbe"),
            "image not in registry": ({"images": {"web": images["v1"].rsplit(":", 1)[0] + ":no-such-tag"}},
                                      "Image %s:no-such-tag is neither on the target engine nor in its registry"
                                      % images["v1"].rsplit(":", 1)[0]),
            "port taken": _taken_port(app, tmp, holder),
        }
        before = _snapshot(app)
        audit_before = read(os.path.join(app.history, "audit.log"))
        results, raw = run_module_many("compose_deploy", [app.args(images["v1"], **cases[c][0]) for c in REFUSED])
        after = _snapshot(app)
        audit_added = read(os.path.join(app.history, "audit.log"))[len(audit_before):].splitlines()
        version = http_get(app.url + "/version")
    finally:
        holder.close()
    return dict((c, (r, cases[c][1])) for c, r in zip(REFUSED, results)), raw, before, after, version, audit_added


@pytest.mark.parametrize("case", REFUSED)
def test_bad_input_changes_nothing(refused, case):
    outcomes, raw, before, after, version, audit_added = refused
    result, expected = outcomes[case]
    assert result.get("failed") is True, raw[-3000:]
    assert expected in result["msg"]
    assert result["changed"] is False
    assert after == before
    assert version == (200, "v2")
    line = audit_added[REFUSED.index(case)]
    assert " action=deploy release=- result=refused by=\"pytest\" " in line and len(audit_added) == len(REFUSED), audit_added


def test_held_lock_times_out_and_changes_nothing(app, deploy, images):
    lock = hold_lock(app)
    try:
        extra, expected = _held_lock(app)
        before = _snapshot(app)
        result, raw = deploy(app.args(images["v1"], **extra))
        assert result.get("failed") is True, raw
        assert expected in result["msg"]
        assert result["changed"] is False
        assert _snapshot(app) == before
        assert http_get(app.url + "/version") == (200, "v2")
        assert " result=lock-timeout by=\"pytest\" " in read(os.path.join(app.history, "audit.log")).splitlines()[-1]
    finally:
        lock.release()


def waiting_modules():
    """Pids of compose_deploy module processes running now (python running an AnsiballZ file)."""
    return [str(pid) for pid in processes(lambda argv: "python" in os.path.basename(argv[0]) and any(
        a.endswith("AnsiballZ_compose_deploy.py") for a in argv))]


def cpu_ticks(pid):
    """utime + stime of a process, in clock ticks (0 once it is gone)."""
    try:
        with open("/proc/%s/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except IOError:
        return 0
    return int(fields[11]) + int(fields[12])


def wait_until_both_wait_for_the_lock(deadline):
    """Two compose_deploy module processes exist and sit idle (a sleeping poll of the lock, not
    start-up work, which on a loaded machine can take seconds) for a whole second."""
    while time.time() < deadline:
        pids = waiting_modules()
        if len(pids) >= 2:
            before = dict((pid, cpu_ticks(pid)) for pid in pids)
            time.sleep(1)
            if waiting_modules() == pids and all(cpu_ticks(pid) - before[pid] < 10 for pid in pids):
                return True
        else:
            time.sleep(0.2)
    return False


def test_concurrent_deploys_serialise(app, deploy, images):
    """The test holds the lock while two deploys start; once it lets go they run one after the other."""
    lock = hold_lock(app, "pytest")
    results = {}

    def run(variant):
        results[variant] = deploy(app.args(images[variant], lock_timeout=240))

    threads = [threading.Thread(target=run, args=(variant,)) for variant in ("v1", "v2")]
    try:
        for thread in threads:
            thread.start()
        assert wait_until_both_wait_for_the_lock(time.time() + 180), "both deploys should be waiting for the lock"
    finally:
        lock.release()
        for thread in threads:
            thread.join()
    (one, raw_one), (two, raw_two) = results["v1"], results["v2"]
    assert not one.get("failed") and not two.get("failed"), raw_one + raw_two
    # Both waited the second or more the test held the lock for, then ran one after the other:
    # the history holds their releases in order and the later one is current. (v2 already runs,
    # so v2 first is a no-op and v1 then makes the one new release; v1 first makes two.)
    assert one["lock"]["waited"] >= 1 and two["lock"]["waited"] >= 1, (one["lock"], two["lock"])
    made = sorted([r for r in (one, two) if r["changed"]], key=lambda r: int(r["release"]["id"][1:]))
    assert made and (len(made) == 2 or made[0] is one), (one, two)
    second = made[-1]
    releases = app.releases()["releases"]
    assert [r["images"]["web"] for r in releases[-len(made):]] == [r["images"]["web"] for r in made]
    assert app.releases()["current"] == second["release"]["id"]
    expected = "v1" if second is one else "v2"
    assert http_get(app.url + "/version") == (200, expected)
    if expected == "v1":  # leave v2 running for the tests that follow
        result, raw = deploy(app.args(images["v2"]))
        assert result["changed"] and not result.get("failed"), raw


def test_explicit_rollback(app, deploy, images):
    current = app.releases()["current"]
    args = dict(project_name=app.name, project_src=app.src, history_dir=app.history, secrets={"APP_SECRET": "s3cret-value"},
                action="rollback", wait_timeout=WAIT, triggered_by="pytest")
    result, raw = deploy(args)
    assert result["changed"] is True and not result.get("failed"), raw
    assert http_get(app.url + "/version") == (200, "v1")
    assert result["release"]["action"] == "rollback"
    result, raw = deploy(dict(args, rollback_to=current))
    assert result["changed"] is True and not result.get("failed"), raw
    assert http_get(app.url + "/version") == (200, "v2")
    assert http_get(app.url + "/data").__getitem__(0) == 200
    before = app.state()
    result, raw = deploy(dict(args, rollback_to=current))
    assert result["changed"] is False and app.state() == before, raw
    result, raw = deploy(dict(args, rollback_to="r999"))
    assert result.get("failed") and "No healthy release r999 to roll back to" in result["msg"]


def run_playbook(path, extra_env=None, check=False):
    argv = ["ansible-playbook", "-i", "localhost,", path] + (["--check"] if check else [])
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false", **(extra_env or {}))
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=False)


def test_deploy_role_renders_compose_and_deploys(tmp_path, images, docker_client):
    """The role hands compose_deploy the rendered definition: compose.yml appears once deployed,
    a second run changes nothing, and check mode plans a new definition without writing it."""
    name = "bl-role-%s" % os.urandom(4).hex()
    port = free_port()

    def play(image):
        path = tmp_path / ("play-%s.yml" % image.rsplit(":", 1)[1])
        path.write_text(yaml.safe_dump([{
            "hosts": "localhost", "connection": "local", "gather_facts": False,
            "roles": [{"role": "bytelyst.deploy.deploy", "vars": {
                "deploy_project": name,
                "deploy_project_dir": str(tmp_path / "project"),
                "deploy_history_dir": str(tmp_path / "history"),
                "deploy_wait_timeout": WAIT,
                "deploy_triggered_by": "pytest role",
                "deploy_services": [{
                    "name": "web", "image": image, "ports": ["127.0.0.1:%d:3000" % port],
                    "environment": {"GREETING": "hello"}, "volumes": ["data:/data"],
                    "health_url": "http://127.0.0.1:%d/health" % port,
                }],
                "deploy_volumes": ["data"],
            }}],
        }]))
        return str(path)

    try:
        proc = run_playbook(play(images["v2"]))
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        compose_file = tmp_path / "project" / "compose.yml"
        rendered = yaml.safe_load(compose_file.read_text())
        assert rendered["services"]["web"]["ports"] == ["127.0.0.1:%d:3000" % port]
        assert rendered["services"]["web"]["image"] == images["v2"]
        assert "data" in rendered["volumes"]
        assert http_get("http://127.0.0.1:%d/version" % port) == (200, "v2")
        container = docker_client.containers.list(filters={"label": "com.docker.compose.project=%s" % name})[0]
        assert container.attrs["Config"]["Image"] == docker_client.images.get(images["v2"]).attrs["RepoDigests"][0]
        assert "GREETING=hello" in container.attrs["Config"]["Env"]
        again = run_playbook(play(images["v2"]))
        assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-3000:]
        before = (compose_file.read_text(), project_state(docker_client, name))
        planned = run_playbook(play(images["v1"]), check=True)
        assert planned.returncode == 0 and "changed=1" in planned.stdout, planned.stdout[-3000:]
        assert (compose_file.read_text(), project_state(docker_client, name)) == before
        assert http_get("http://127.0.0.1:%d/version" % port) == (200, "v2")
    finally:
        compose_down(name, str(tmp_path))


def test_docker_host_role_prepares_directories_and_daemon_options(tmp_path):
    daemon_json = tmp_path / "daemon.json"
    daemon_json.write_text(json.dumps({"data-root": "/srv/docker"}))
    play = [{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "roles": [{"role": "bytelyst.deploy.docker_host", "vars": {
            "docker_host_daemon_json": str(daemon_json),
            "docker_host_deploy_root": str(tmp_path / "deploy"),
            "docker_host_log_max_size": "20m",
        }}],
    }]
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump(play))
    proc = run_playbook(str(path))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    options = json.loads(daemon_json.read_text())
    assert options["data-root"] == "/srv/docker"  # what was there stays
    assert options["log-driver"] == "json-file" and options["log-opts"]["max-size"] == "20m"
    assert (tmp_path / "deploy").is_dir()
    assert "restart of the engine is needed" in proc.stdout
    again = run_playbook(str(path))
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-3000:]
