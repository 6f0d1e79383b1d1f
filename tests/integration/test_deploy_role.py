"""The deploy role on the real engine and Compose: hardened containers, configuration as data.

One project goes through the role: v1 with a hardened web service (plain environment, a named
volume, a dependency on an extra service given as data, whose hardening is turned off), then v2,
then a rollback; the volume's data survives both. The containers are inspected (capabilities,
no-new-privileges, read-only root with a tmpfs /tmp, memory and pids limits) and answer their
health checks. Bad input (a service name holding a newline, a typo) fails before anything changes.
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile

import pytest
import yaml

from deploy_images import HEALTHCHECK, SERVER_JS, TEST_LABEL, remove_images
from net_helpers import free_port, http_get, http_post

pytestmark = pytest.mark.integration

WAIT = 40
MODULE = os.path.join(os.path.dirname(__file__), "..", "..", "plugins", "modules", "compose_deploy.py")


def module_has_option(name):
    """Whether compose_deploy (as merged in this checkout) has an option."""
    with open(MODULE) as handle:
        return "\n  %s:\n" % name in handle.read()


def run_playbook(path, check=False, verbose=False):
    argv = ["ansible-playbook", "-i", "localhost,", path] + (["--check"] if check else []) + (
        ["-vv"] if verbose else [])
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=False)


def containers_of(client, project):
    """{service: container} of a Compose project, stopped ones included."""
    found = client.containers.list(all=True, filters={"label": "com.docker.compose.project=%s" % project})
    return dict((c.labels["com.docker.compose.service"], c) for c in found)


def compose_down(project, cwd):
    subprocess.run(["docker", "compose", "-p", project, "down", "--volumes", "--remove-orphans"],
                   cwd=cwd, capture_output=True, check=False)


def build_and_push_nonroot(client, base, repo, versions):
    """The deploy test server as a non-root user ({version: ref}): it writes only /data (a volume),
    so it runs on a read-only root filesystem."""
    refs = {}
    with tempfile.TemporaryDirectory() as ctx:
        with open(os.path.join(ctx, "server.js"), "w") as f:
            f.write(SERVER_JS)
        for version in versions:
            with open(os.path.join(ctx, "Dockerfile"), "w") as f:
                f.write("\n".join([
                    "FROM %s" % base,
                    "COPY server.js /app/server.js",
                    "RUN mkdir -p /data && chown node:node /data",
                    "USER node",
                    "ENV APP_VERSION=%s APP_MODE=ok" % version,
                    HEALTHCHECK,
                    'CMD ["node", "/app/server.js"]',
                    "",
                ]))
            client.images.build(path=ctx, tag="%s:%s" % (repo, version), rm=True, labels=TEST_LABEL)
            for line in client.images.push(repo, tag=version, stream=True, decode=True):
                if "error" in line:
                    raise RuntimeError("push of %s:%s failed: %s" % (repo, version, line["error"]))
            refs[version] = "%s:%s" % (repo, version)
    return refs


@pytest.fixture(scope="module")
def images(docker_client, registry_addr, standin_image):
    token = os.urandom(4).hex()
    refs = build_and_push_nonroot(docker_client, standin_image,
                                  "%s/bytelyst-test/role-%s/web" % (registry_addr, token), ["v1", "v2"])
    yield refs
    remove_images(docker_client, refs)


class Project(object):
    """A project deployed through the role: play(vars) writes a playbook, run() runs it."""

    def __init__(self, root, images):
        self.root = root
        self.name = "bl-role-%s" % os.urandom(4).hex()
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.images = images
        self.project_dir = os.path.join(root, "project")
        self.history_dir = os.path.join(root, "history")
        self.plays = 0

    def services(self, version, **web):
        return [
            dict({"name": "web", "image": self.images[version],
                  "ports": ["127.0.0.1:%d:3000" % self.port],
                  "environment": {"GREETING": "hello", "PRICE": "costs $5 ${HOME}"},
                  "volumes": ["data:/data"],
                  "depends_on": {"cache": "service_healthy"},
                  "mem_limit": "256m", "pids_limit": 100,
                  "health_url": self.url + "/health"}, **web),
            # An extra service given as data (the product's own cache, say), hardening turned off.
            {"name": "cache", "image": self.images["v1"], "read_only": False, "cap_drop": [],
             "security_opt": [], "mem_limit": "", "pids_limit": 0},
        ]

    def play(self, services, **role_vars):
        self.plays += 1
        os.makedirs(os.path.join(self.root, "plays"), exist_ok=True)
        path = os.path.join(self.root, "plays", "play-%d.yml" % self.plays)
        variables = dict({
            "deploy_project": self.name, "deploy_project_dir": self.project_dir,
            "deploy_history_dir": self.history_dir, "deploy_wait_timeout": WAIT,
            "deploy_triggered_by": "pytest deploy role", "deploy_services": services,
        }, **role_vars)
        with open(path, "w") as handle:
            yaml.safe_dump([{"hosts": "localhost", "connection": "local", "gather_facts": False,
                             "roles": [{"role": "bytelyst.deploy.deploy", "vars": variables}]}], handle)
        return path

    def deploy(self, services, check=False, verbose=False, **role_vars):
        return run_playbook(self.play(services, **role_vars), check=check, verbose=verbose)


def output_of(proc):
    return proc.stdout[-4000:] + proc.stderr[-2000:]


@pytest.fixture(scope="module")
def project(tmp_path_factory, images, docker_client):
    """The project deployed once with v1 (shared by the tests below, which move it on)."""
    project = Project(str(tmp_path_factory.mktemp("role")), images)
    proc = project.deploy(project.services("v1"))
    assert proc.returncode == 0, output_of(proc)
    yield project
    compose_down(project.name, project.root)


def test_the_roles_services_run_hardened_and_answer_their_health_checks(project, docker_client):
    web = containers_of(docker_client, project.name)["web"]
    host = web.attrs["HostConfig"]
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges:true"]
    assert host["ReadonlyRootfs"] is True
    assert "/tmp" in (host.get("Tmpfs") or {})
    assert host["Memory"] == 256 * 1024 * 1024
    assert host["PidsLimit"] == 100
    assert web.attrs["State"]["Health"]["Status"] == "healthy"
    assert http_get(project.url + "/health") == (200, "ok")
    # The settings take effect inside: no capabilities, a read-only root, a writable /tmp.
    assert web.exec_run(["sh", "-c", "grep CapEff /proc/1/status"]).output.decode().split() == [
        "CapEff:", "0000000000000000"]
    denied = web.exec_run(["sh", "-c", "touch /probe"])
    assert denied.exit_code != 0 and "Read-only file system" in denied.output.decode()
    assert web.exec_run(["sh", "-c", "touch /tmp/probe"]).exit_code == 0


def test_hardening_turned_off_per_service_and_the_extra_service_runs_first(project, docker_client):
    containers = containers_of(docker_client, project.name)
    cache = containers["cache"].attrs["HostConfig"]
    assert not cache["CapDrop"] and not cache["SecurityOpt"]
    assert cache["ReadonlyRootfs"] is False and not cache.get("Tmpfs")
    assert cache["Memory"] == 0 and cache["PidsLimit"] in (None, 0, -1)
    assert containers["cache"].attrs["State"]["Health"]["Status"] == "healthy"
    definition = yaml.safe_load(open(os.path.join(project.project_dir, "compose.yml")))
    assert definition["services"]["web"]["depends_on"] == {"cache": {"condition": "service_healthy"}}
    assert "data" in definition["volumes"]


def test_plain_environment_reaches_the_container_literally(project, docker_client):
    env = containers_of(docker_client, project.name)["web"].attrs["Config"]["Env"]
    assert "GREETING=hello" in env
    assert "PRICE=costs $5 ${HOME}" in env


def test_a_second_run_changes_nothing(project):
    proc = project.deploy(project.services("v1"))
    assert proc.returncode == 0 and "changed=0" in proc.stdout, output_of(proc)


def test_named_volume_data_survives_a_deploy_and_a_rollback(project, docker_client):
    assert http_post(project.url + "/data", "kept-across-releases") == "stored"
    proc = project.deploy(project.services("v2"))
    assert proc.returncode == 0, output_of(proc)
    assert http_get(project.url + "/version") == (200, "v2")
    assert http_get(project.url + "/data") == (200, "kept-across-releases")
    proc = project.deploy(project.services("v2"), deploy_action="rollback")
    assert proc.returncode == 0, output_of(proc)
    assert http_get(project.url + "/version") == (200, "v1")
    assert http_get(project.url + "/data") == (200, "kept-across-releases")
    web = containers_of(docker_client, project.name)["web"].attrs["HostConfig"]
    assert web["ReadonlyRootfs"] is True and web["CapDrop"] == ["ALL"]


def _state(client, project):
    """Containers, and every file of the project and history directories with its content."""
    files = {}
    for directory in (project.project_dir, project.history_dir):
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            files[path] = open(path, "rb").read() if os.path.isfile(path) else "dir"
    return dict((name, (c.id, c.status)) for name, c in containers_of(client, project.name).items()), files


@pytest.mark.parametrize("services, message", [
    (lambda p: [dict(p.services("v1")[0], name="web\n    privileged: true")],
     '"web\\n    privileged: true" is not a valid Compose service name'),
    (lambda p: [dict(p.services("v1")[0], enviroment={"A": "b"})], "enviroment"),
    (lambda p: [dict(p.services("v1")[0], volumes=["no good:/data"])], '"no good" is not a valid volume name'),
])
def test_bad_services_fail_before_anything_changes(project, docker_client, services, message):
    before = _state(docker_client, project)
    proc = project.deploy(services(project))
    assert proc.returncode != 0
    assert message in proc.stdout + proc.stderr, output_of(proc)
    assert _state(docker_client, project) == before
    assert not any(c.attrs["HostConfig"].get("Privileged") for c in containers_of(docker_client, project.name).values())


def test_a_new_project_with_a_bad_name_creates_nothing(tmp_path, images, docker_client):
    project = Project(str(tmp_path), images)
    proc = project.deploy([{"name": "web\nprivileged: true", "image": images["v1"]}])
    assert proc.returncode != 0 and "is not a valid Compose service name" in proc.stdout, output_of(proc)
    assert not os.path.exists(project.project_dir) and not os.path.exists(project.history_dir)
    assert containers_of(docker_client, project.name) == {}


@pytest.mark.skipif(not module_has_option("secrets"),
                    reason="needs compose_deploy's secrets option (the deploy core's branch)")
def test_secrets_reach_the_container_and_nothing_else(tmp_path, images, docker_client):
    project = Project(str(tmp_path), images)
    secret = "s3cr3t-%s" % os.urandom(6).hex()
    services = project.services("v1", secrets={"API_TOKEN": secret})
    try:
        proc = project.deploy(services, verbose=True)
        assert proc.returncode == 0, output_of(proc)
        web = containers_of(docker_client, project.name)["web"]
        assert web.exec_run(["sh", "-c", "printenv API_TOKEN"]).output.decode().strip() == secret
        assert secret not in proc.stdout + proc.stderr
        compose_text = open(os.path.join(project.project_dir, "compose.yml")).read()
        assert secret not in compose_text and "${WEB__API_TOKEN}" in compose_text
        for name in os.listdir(project.history_dir):
            path = os.path.join(project.history_dir, name)
            if os.path.isfile(path) and secret in open(path).read():
                assert name not in ("releases.json", "audit.log"), "%s holds the secret" % name
                assert os.stat(path).st_mode & 0o077 == 0, "%s holds the secret and is readable by others" % name
        checked = project.deploy(services, check=True, verbose=True)
        assert checked.returncode == 0 and secret not in checked.stdout, output_of(checked)
    finally:
        compose_down(project.name, project.root)


def test_the_definition_is_refused_by_the_module_when_it_asks_for_the_host(tmp_path, images, docker_client):
    """A docker socket mount given as data reaches the module's own check, which refuses it unless allowed."""
    if not module_has_option("allow"):
        pytest.skip("needs compose_deploy's allow option (the deploy inputs branch)")
    project = Project(str(tmp_path), images)
    services = [dict(project.services("v1")[1], volumes=["/var/run/docker.sock:/var/run/docker.sock"])]
    proc = project.deploy(services)
    assert proc.returncode != 0 and "docker_socket" in proc.stdout, output_of(proc)
    assert containers_of(docker_client, project.name) == {}


def test_the_role_ships_the_sbom_from_its_host_into_the_release(tmp_path, images, docker_client):
    """deploy_provenance with deploy_sbom_host: the SBOM travels through the controller (fetch, copy)
    into the release; the module records it; a second run changes nothing."""
    project = Project(str(tmp_path), images)
    sbom_dir = tmp_path / "build-host-sbom"
    sbom_dir.mkdir()
    text = '{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": []}\n'
    (sbom_dir / "web.cdx.json").write_text(text)
    provenance = {"web": {"sbom": str(sbom_dir / "web.cdx.json"), "sbom_sha256": hashlib.sha256(text.encode()).hexdigest(),
                          "scanned": {"secret": {"CRITICAL": 0, "HIGH": 0}}}}
    services = [{"name": "web", "image": images["v1"], "ports": ["127.0.0.1:%d:3000" % project.port],
                 "volumes": ["data:/data"], "health_url": project.url + "/health"}]
    try:
        runs = [project.deploy(services, deploy_provenance=provenance, deploy_sbom_host="localhost") for dummy in range(2)]
        assert runs[0].returncode == 0, output_of(runs[0])
        assert runs[1].returncode == 0 and "changed=0" in runs[1].stdout, output_of(runs[1])
        with open(os.path.join(project.history_dir, "releases.json")) as handle:
            history = json.load(handle)
        (release,) = history["releases"]
        assert release["provenance"] == provenance and release["sbom_files"] == {"web": "sbom-web.cdx.json"}
        with open(os.path.join(project.history_dir, "releases", release["dir"], "sbom-web.cdx.json")) as handle:
            assert handle.read() == text
        # It came through the controller (sbom_file), not from the build host's path directly.
        with open(os.path.join(project.history_dir, "incoming-sbom", "web.cdx.json")) as handle:
            assert handle.read() == text
        assert "Fetch the SBOMs from localhost" in runs[0].stdout
    finally:
        compose_down(project.name, project.root)
