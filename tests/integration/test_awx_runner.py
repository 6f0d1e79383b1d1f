"""The playbooks as AWX runs them: ansible-runner's Python API on a private data directory
(env/extravars as a survey fills it, env/envvars, inventory/hosts, project/).

One product (clock, backend only, tarball mode: no base image to build) is deployed twice
(two releases with different images), then rolled back through rollback.yml; each job's
status, rc and artifacts are checked, and no secret given in extravars reaches an artifact.
To keep it cheap nothing is pushed (an empty registry: the single-VM set-up) and the second
release is a copy of the product with one changed source file in another directory (the
inventory's bytelyst_products.clock.dir), so its build reuses the first one's cached
dependency layers. The image names come from those unique directory names and are removed
at the end, as is the Compose project.
"""

import json
import os
import shutil
import sys
import urllib.request
import uuid

import pytest

import awx_fixtures
import packed_workspace
from product_fixtures import copy_product

pytestmark = pytest.mark.integration

ansible_runner = pytest.importorskip("ansible_runner")

PASSWORD_MARKER = "awx-fake-registry-password-%s" % uuid.uuid4().hex


class Job(object):
    pass


@pytest.fixture(scope="module")
def job(tmp_path_factory, docker_client, standin_image):
    work = tmp_path_factory.mktemp("awx")
    state = Job()
    state.unique = uuid.uuid4().hex[:8]
    state.work = str(work)
    state.project = "bytelyst-awx-%s-" % state.unique
    state.deploy_root = os.path.join(state.work, "deploy")
    state.dir_names = ["clock-awx-%s" % state.unique, "clock-awx-%s-b" % state.unique]
    state.offset = awx_fixtures.free_port_block(1) - 4017
    state.products = os.path.join(state.work, "products")
    os.makedirs(state.products)
    state.client = docker_client
    state.dirs = []
    try:
        for name in state.dir_names:
            os.rename(copy_product("clock", state.products), os.path.join(state.products, name))
        # the second release: one source change (what its /health says)
        server = os.path.join(state.products, state.dir_names[1], "backend", "src", "server.ts")
        with open(server) as handle:
            text = handle.read()
        with open(server, "w") as handle:
            handle.write(text.replace("const SERVICE = 'clock-backend';", "const SERVICE = 'clock-backend-b';"))
        state.packed = packed_workspace.packed_once()
        state.extravars = {
            # what the product deploy survey asks
            "bytelyst_selected_products": ["clock"],
            "bytelyst_product_mode": "tarball",
            # empty: nothing is pushed, the deploy host uses the build host's engine
            "bytelyst_registry": "",
            # a registry credential as AWX injects it from its credential store
            "bytelyst_registry_username": "awx",
            "bytelyst_registry_password": PASSWORD_MARKER,
            "bytelyst_runtime_image": standin_image,
            "bytelyst_project_prefix": state.project,
            "bytelyst_port_offset": state.offset,
            "bytelyst_tarball_dir": state.packed,
            "bytelyst_deploy_root": state.deploy_root,
            "bytelyst_products_root": state.products,
            "bytelyst_wait_timeout": 90,
            # probe every 3 s: the health gate answers without waiting out the image's interval
            "bytelyst_healthcheck": {"interval": "3s", "start_period": "10s", "retries": 5},
            # builds run as async tasks: poll every 2 s, not the default 5 (each poll starts a
            # module, so every second would cost more CPU than the wait it saves)
            "bytelyst_poll_interval": 2,
            "bytelyst_build_log_dir": os.path.join(state.work, "build-logs"),
        }
        if os.environ.get("BYTELYST_CA_BUNDLE"):
            state.extravars["bytelyst_ca_bundle"] = os.environ["BYTELYST_CA_BUNDLE"]
        state.envvars = {
            "ANSIBLE_COLLECTIONS_PATH": os.environ["ANSIBLE_COLLECTIONS_PATH"],
            "ANSIBLE_LOCALHOST_WARNING": "false",
            "ANSIBLE_FORCE_COLOR": "false",
            "PATH": os.environ["PATH"],
        }
        for name in ("DOCKER_HOST", "BYTELYST_DOCKER_CLI", "DOCKER_BUILDKIT"):
            if os.environ.get(name):
                state.envvars[name] = os.environ[name]
        state.host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        yield state
    finally:
        awx_fixtures.compose_down(state.project + "clock", os.path.join(state.deploy_root, "clock"))
        awx_fixtures.remove_images_below(docker_client, "clock-awx-%s" % state.unique)
        shutil.rmtree(state.work, ignore_errors=True)


def inventory(state, release):
    """The AWX inventory: this job deploys the clock backend only, from the release's directory."""
    host = state.host
    return {"all": {
        "vars": {"bytelyst_products": {"clock": {"dir": state.dir_names[release], "services": {"backend": {
            "kind": "backend", "port": 4017, "host_port": 4017, "health_path": "/health"}}}}},
        "children": {
            "build_host": {"hosts": {"localhost": host}},
            "products": {"children": {"clock": {"hosts": {"localhost": host}}}},
        }}}


def run_job(state, playbook, ident, release=0, extravars=None):
    root = os.path.join(state.work, "job-" + ident)
    awx_fixtures.private_data_dir(root, dict(state.extravars, **(extravars or {})), state.envvars,
                                  inventory(state, release))
    state.dirs.append(root)
    result = ansible_runner.run(private_data_dir=root, playbook=playbook, ident=ident, quiet=True,
                                timeout=900)
    return root, result


def artifacts_of(root, ident):
    return os.path.join(root, "artifacts", ident)


def failure_text(result):
    out = result.stdout.read() if hasattr(result, "stdout") else ""
    return "status=%s rc=%s\n%s" % (result.status, result.rc, out[-4000:])


def ok_results(result, task_name):
    """res of every runner_on_ok event of the task named task_name."""
    return [event["event_data"]["res"] for event in result.events
            if event.get("event") == "runner_on_ok" and event["event_data"].get("task") == task_name]


def history(state):
    with open(os.path.join(state.deploy_root, "clock", ".history", "releases.json")) as handle:
        return json.load(handle)


def health(state):
    url = "http://127.0.0.1:%d/health" % (4017 + state.offset)
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, json.loads(response.read().decode("utf-8"))


def artifact_texts(root):
    """{path: bytes} of every file ansible-runner wrote under artifacts/."""
    texts = {}
    for folder, dummy, files in os.walk(os.path.join(root, "artifacts")):
        for name in files:
            with open(os.path.join(folder, name), "rb") as handle:
                texts[os.path.join(folder, name)] = handle.read()
    return texts


@pytest.fixture(scope="module")
def deployed(job):
    """Two releases of clock: the product as it is, then the copy with one changed source file."""
    first_root, first = run_job(job, "product.yml", "deploy-1", release=0)
    assert first.status == "successful", failure_text(first)
    second_root, second = run_job(job, "product.yml", "deploy-2", release=1)
    assert second.status == "successful", failure_text(second)
    return (first_root, first), (second_root, second)


def test_product_deploy_as_an_awx_job(job, deployed):
    (root, result), _second = deployed
    assert result.status == "successful" and result.rc == 0
    artifacts = artifacts_of(root, "deploy-1")
    with open(os.path.join(artifacts, "status")) as handle:
        assert handle.read().strip() == "successful"
    with open(os.path.join(artifacts, "rc")) as handle:
        assert handle.read().strip() == "0"
    assert os.listdir(os.path.join(artifacts, "job_events"))
    assert result.stats["failures"] == {} and result.stats["ok"].get("localhost")
    # the survey's and the inventory's values reached the play: the product's directory, tarball mode
    built = ok_results(result, "Build the images of clock")
    assert built and built[0]["results"][0]["tags"][0] == "%s-backend:0.9.2" % job.dir_names[0]
    image = job.client.images.get(built[0]["results"][0]["image_id"])
    assert image.attrs["Config"]["Labels"]["dev.bytelyst.mode"] == "tarball"
    # the build ran as an async task, and the path printed before it is the log it wrote
    assert built[0]["results"][0]["ansible_job_id"] and built[0]["results"][0]["finished"] == 1
    build_log = built[0]["results"][0]["build_log"]
    said = ok_results(result, "Say where each build's progress goes")
    assert said and said[0]["results"][0]["msg"] == "backend: follow the build on localhost with tail -f %s" % build_log
    assert os.path.dirname(build_log) == os.path.join(job.work, "build-logs")
    with open(build_log) as handle:
        assert "--progress plain" in handle.readline()
    # the deploy passed its health gate
    gates = ok_results(result, "Deploy the project behind the health gate")
    assert len(gates) == 1, [e.get("event") for e in result.events]
    checks = gates[0]["http_checks"]
    assert checks and all(check["url"].endswith(":%d/health" % (4017 + job.offset)) for check in checks)
    assert all(check.get("ok", check.get("status") == 200) for check in checks), checks
    assert gates[0]["release"]["result"] == "success"


def test_second_deploy_is_a_new_release(job, deployed):
    _first, (root, result) = deployed
    assert result.status == "successful" and result.rc == 0
    data = history(job)
    assert [r["action"] for r in data["releases"]] == ["deploy", "deploy"]
    assert data["current"] == data["releases"][-1]["id"]
    status, payload = health(job)
    assert status == 200 and payload["service"] == "clock-backend-b"


def test_rollback_as_an_awx_job_runs_the_previous_release(job, deployed):
    (_root1, _first), (_root2, _second) = deployed
    before = history(job)
    first_release, second_release = before["releases"]
    # AWX passes the job's id and user as extra variables (awx_* and the older tower_*)
    root, result = run_job(job, "rollback.yml", "rollback", extravars={
        "awx_job_id": 4242, "awx_user_name": "alice", "tower_job_id": 4242, "tower_user_name": "alice"})
    assert result.status == "successful" and result.rc == 0, failure_text(result)
    with open(os.path.join(artifacts_of(root, "rollback"), "status")) as handle:
        assert handle.read().strip() == "successful"
    after = history(job)
    current = [r for r in after["releases"] if r["id"] == after["current"]][0]
    assert current["action"] == "rollback" and current["result"] == "success"
    assert current["images"] == first_release["images"] != second_release["images"]
    assert current["triggered_by"] == "awx job 4242 (alice)"
    status, payload = health(job)
    assert status == 200 and payload["service"] == "clock-backend"


def test_no_secret_in_any_artifact(job, deployed):
    test_rollback_ran = any(os.path.basename(d) == "job-rollback" for d in job.dirs)
    for root in job.dirs:
        texts = artifact_texts(root)
        leaked = [path for path, data in texts.items() if PASSWORD_MARKER.encode() in data]
        assert leaked == []
        # the artifacts do carry what the extra variables drove (the project name), so a
        # secret that reached a task's result or an event would be found above
        assert any(job.project.encode() in data for data in texts.values())
    assert len(job.dirs) == (3 if test_rollback_ran else 2)
    # the marker did reach the jobs (so the check above could fail)
    for root in job.dirs:
        with open(os.path.join(root, "env", "extravars")) as handle:
            assert PASSWORD_MARKER in handle.read()
