"""proxy_deploy on the real engine, registry, Compose and an nginx proxy container.

One product goes through a story behind the proxy, with a bounded client loop on loopback
counting failed requests during each deploy: v1 through the module (check mode first), a
healthy switch to v2, a release that fails its gate (never routed), a route nginx refuses
(never taking effect), a slow request drained across a switch, a rollback that starts the
previous color's stopped containers again, a certificate nginx refuses then one that serves
HTTPS, a proxy restarted during a deploy, and a second product deployed through the deploy role on the same proxy.
"""

import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time

import pytest
import yaml

from deploy_images import build_and_push, remove_images
from net_helpers import get_as_host

from ansible_collections.bytelyst.deploy.plugins.module_utils._blue_green import BlueGreen
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

pytestmark = pytest.mark.integration

HOST = "notes.test"


def free_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def get(port, path, timeout=10, host=HOST):
    """GET through the proxy with the product's host name: (status, body) or (None, error)."""
    return get_as_host(port, path, host, timeout)


class Clients(object):
    """A bounded client loop on 127.0.0.1 (at most `limit` requests or `seconds`), in a thread."""

    def __init__(self, port, limit=2000, seconds=90, pause=0.02):
        self.port, self.limit, self.seconds, self.pause = port, limit, seconds, pause
        self.answers, self.failures, self.times = [], [], []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        deadline = time.time() + self.seconds
        while not self.stop.is_set() and len(self.answers) < self.limit and time.time() < deadline:
            status, body = get(self.port, "/version", timeout=5)
            self.answers.append(body if status == 200 else None)
            self.times.append(time.time())
            if status != 200:
                self.failures.append((status, body))
            time.sleep(self.pause)

    def __enter__(self):
        self.thread.start()
        time.sleep(0.2)
        return self

    def after(self, moment):
        return [a for a, t in zip(self.answers, self.times) if t > moment]

    def __exit__(self, *exc):
        time.sleep(0.3)
        self.stop.set()
        self.thread.join(10)


@pytest.fixture(scope="module")
def images(docker_client, registry_addr, standin_image):
    token = os.urandom(4).hex()
    refs = build_and_push(docker_client, standin_image, "%s/bytelyst-test/proxy-%s/web" % (registry_addr, token),
                          variants=["v1", "v2", "v3-unhealthy"])
    yield refs
    remove_images(docker_client, refs)


@pytest.fixture(scope="module")
def proxy_image(docker_client):
    name = os.environ.get("BYTELYST_PROXY_IMAGE") or "bytelyst-standin.invalid/nginx:1.22"
    docker_client.images.get(name)
    return name


def compose_down(project):
    subprocess.run(["docker", "compose", "-p", project, "down", "--remove-orphans"], capture_output=True, check=False)


@pytest.fixture(scope="module")
def product(tmp_path_factory, images, proxy_image, docker_client):
    root = tmp_path_factory.mktemp("proxy")
    token = os.urandom(4).hex()
    name = "bl-proxy-%s" % token
    src = root / "src"
    src.mkdir()
    (src / "compose.yml").write_text(yaml.safe_dump({"services": {"web": {"image": images["v1"]}}}))

    class Product(object):
        pass

    p = Product()
    p.name, p.src, p.history, p.port = name, str(src), str(root / "history"), free_port()
    p.proxy = {"name": "bl-proxy-%s" % token, "image": proxy_image, "network": "bl-proxy-%s" % token,
               "config_dir": str(root / "proxy"), "ports": ["127.0.0.1:%d:8080" % p.port], "user": "101:101"}
    p.routes = [{"service": "web", "port": 3000, "hosts": [HOST], "path_prefix": "/", "health_path": "/health",
                 "health_status": 200, "health_timeout": 10, "directives": [], "warmup_paths": ["/version"]}]

    def args(ref, **kw):
        base = dict(project_name=name, project_src=p.src, files=None, definition=None, env=None, secrets=None,
                    images={"web": ref} if ref else None, pull_policy="missing", action="deploy", rollback_to=None, wait_timeout=30,
                    up_timeout=None, routes=p.routes, proxy=p.proxy, tls_certificate=None, tls_key=None,
                    drain_timeout=10, reload_timeout=10, keep_previous="stopped", history_dir=p.history,
                    keep_releases=10, lock_timeout=30, triggered_by="pytest", allow=[], docker_host=None,
                    docker_cli=None, http_checks=None)
        base.update(kw)
        return base

    def deploy(ref, **kw):
        return BlueGreen(args(ref, **kw), False, p.warnings.append).execute()

    p.args, p.deploy, p.warnings = args, deploy, []
    p.releases = lambda: json.loads(open(os.path.join(p.history, "releases.json")).read())
    p.routes_text = lambda: open(os.path.join(p.proxy["config_dir"], "routes", name + ".conf")).read()
    p.ids = lambda color: set(c.id for c in docker_client.containers.list(
        all=True, filters={"label": "com.docker.compose.project=%s-%s" % (name, color)}))
    p.state = lambda color: dict((c.name, c.status) for c in docker_client.containers.list(
        all=True, filters={"label": "com.docker.compose.project=%s-%s" % (name, color)}))
    yield p
    for color in ("blue", "green"):
        compose_down("%s-%s" % (name, color))
    subprocess.run(["docker", "rm", "-f", p.proxy["name"]], capture_output=True, check=False)
    subprocess.run(["docker", "network", "rm", p.proxy["network"]], capture_output=True, check=False)


def test_first_release_through_the_module(product, images, ansible_module, docker_client):
    args = dict((k, v) for k, v in product.args(images["v1"]).items() if v is not None and k != "http_checks")
    result, raw = ansible_module("proxy_deploy", args, check=True)
    assert result["changed"] is True and result["color"] == "blue", raw
    assert result["proxy"] == {"container": "create"}
    assert not os.path.exists(product.history) and product.state("blue") == {}
    with pytest.raises(Exception):
        docker_client.containers.get(product.proxy["name"])

    result, raw = ansible_module("proxy_deploy", args)
    assert result["changed"] is True and not result.get("failed"), raw
    assert result["release"]["color"] == "blue" and result["proxy"]["changed"] is True
    assert get(product.port, "/version") == (200, "v1")
    assert get(product.port, "/health")[0] == 200
    # The product's container publishes nothing: only the proxy holds a host port.
    (container,) = docker_client.containers.list(filters={"label": "com.docker.compose.project=%s-blue" % product.name})
    assert not any(container.attrs["NetworkSettings"]["Ports"].values())

    result, raw = ansible_module("proxy_deploy", args)
    assert result["changed"] is False, raw


def test_healthy_switch_has_no_failed_requests(product, images):
    with Clients(product.port) as clients:
        result = product.deploy(images["v2"])
        done = time.time()
    assert clients.failures == [] and len(clients.answers) > 20
    assert {"v1", "v2"} <= set(clients.answers)
    # Once the deploy returned (old workers drained, blue stopped), every answer is v2.
    assert clients.after(done) and set(clients.after(done)) == {"v2"}
    assert result["color"] == "green" and result["previous_color"] == "blue"
    assert result["stopped"] == "%s-blue" % product.name
    assert set(product.state("blue").values()) == {"exited"}
    assert set(product.state("green").values()) == {"running"}
    assert product.releases()["current"] == result["release"]["id"]


def test_failing_release_is_never_routed(product, images):
    before_routes, before_current = product.routes_text(), product.releases()["current"]
    with Clients(product.port) as clients:
        with pytest.raises(DeployError) as err:
            product.deploy(images["v3-unhealthy"])
    message = str(err.value)
    assert "never received a request" in message and "still serves on green" in message, message
    assert clients.failures == [] and set(clients.answers) == {"v2"}
    assert product.routes_text() == before_routes
    assert product.releases()["current"] == before_current
    assert product.releases()["releases"][-1]["result"] == "failed"
    assert set(product.state("blue").values()) == {"exited"}
    assert get(product.port, "/version") == (200, "v2")


def test_route_nginx_refuses_never_takes_effect(product, images):
    before_routes, before_current = product.routes_text(), product.releases()["current"]
    routes = [dict(product.routes[0], directives=["proxy_read_timeout banana;"])]
    with Clients(product.port) as clients:
        with pytest.raises(DeployError) as err:
            product.deploy(images["v1"], routes=routes)
    message = str(err.value)
    assert "refused the new configuration" in message and "proxy_read_timeout" in message, message
    assert clients.failures == [] and set(clients.answers) == {"v2"}
    assert product.routes_text() == before_routes
    assert not [f for f in os.listdir(os.path.join(product.proxy["config_dir"], "routes")) if f.endswith(".next")]
    assert product.releases()["current"] == before_current


def test_a_warmup_path_that_does_not_answer_200_fails_the_gate_before_any_request(product, images):
    before_routes, before_current = product.routes_text(), product.releases()["current"]
    routes = [dict(product.routes[0], health_timeout=3, warmup_paths=["/version", "/no-such-page"])]
    with Clients(product.port) as clients:
        with pytest.raises(DeployError) as err:
            product.deploy(images["v1"], routes=routes)
    message = str(err.value)
    assert "/no-such-page" in message and "expected status 200" in message, message
    assert "never received a request" in message and "still serves on green" in message, message
    assert clients.failures == [] and set(clients.answers) == {"v2"}
    assert product.routes_text() == before_routes
    assert product.releases()["current"] == before_current
    assert set(product.state("blue").values()) == {"exited"}


def test_slow_request_is_drained_across_a_switch(product, images):
    """A 3 s request starts on green (v2) once blue passed its gate, right before the switch: it
    completes with v2, and the deploy stops green only after it (the old worker's drain)."""
    slow = {}
    thread = threading.Thread(target=lambda: slow.update(answer=get(product.port, "/slow/3000", timeout=20)))

    class SlowRequestBeforeSwitch(BlueGreen):
        def gate(self, project, images, pull):
            out = super(SlowRequestBeforeSwitch, self).gate(project, images, pull)
            thread.start()
            time.sleep(0.5)  # in flight on green
            return out

    with Clients(product.port) as clients:
        result = SlowRequestBeforeSwitch(product.args(images["v1"]), False, product.warnings.append).execute()
        thread.join(20)
    assert slow["answer"] == (200, "v2")
    assert clients.failures == []
    assert result["color"] == "blue" and result["switch"]["drained_s"] >= 1.5
    assert result["switch"]["draining_left"] == 0
    assert get(product.port, "/version") == (200, "v1")


def test_rollback_switches_back_to_the_stopped_color(product, images):
    assert set(product.state("green").values()) == {"exited"}
    green_ids = product.ids("green")
    with Clients(product.port) as clients:
        result = product.deploy(None, action="rollback")
    assert clients.failures == []
    assert result["color"] == "green" and result["release"]["action"] == "rollback"
    assert result["reused"] == ["web"]  # the stopped containers were started, not recreated
    assert product.ids("green") == green_ids
    assert set(product.state("blue").values()) == {"exited"}
    assert get(product.port, "/version") == (200, "v2")


def https_get(address, path, cafile):
    """GET over TLS to the proxy container's port 8443 with SNI notes.test, verified against cafile."""
    context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection((address, 8443), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=HOST) as tls:
            tls.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (path, HOST)).encode())
            data = b""
            while True:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                data += chunk
    head, body = data.decode().split("\r\n\r\n", 1)
    return int(head.split()[1]), body


def test_a_bad_certificate_is_refused_and_a_good_one_serves_https(product, images, tmp_path, docker_client):
    certs = os.path.join(product.proxy["config_dir"], "certs")
    (tmp_path / "bad.crt").write_text("not a certificate\n")
    (tmp_path / "bad.key").write_text("not a key\n")
    before_routes = product.routes_text()
    with Clients(product.port) as clients:
        with pytest.raises(DeployError) as err:
            product.deploy(images["v1"], tls_certificate=str(tmp_path / "bad.crt"), tls_key=str(tmp_path / "bad.key"))
    assert "refused the new configuration" in str(err.value) and "ssl" in str(err.value).lower(), str(err.value)
    assert clients.failures == [] and set(clients.answers) == {"v2"}
    assert product.routes_text() == before_routes and os.listdir(certs) == []

    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=" + HOST,
                    "-addext", "subjectAltName=DNS:" + HOST, "-keyout", str(tmp_path / "key.pem"),
                    "-out", str(tmp_path / "cert.pem")], check=True, capture_output=True)
    result = product.deploy(images["v1"], tls_certificate=str(tmp_path / "cert.pem"), tls_key=str(tmp_path / "key.pem"))
    assert result["color"] == "blue"
    attrs = docker_client.containers.get(product.proxy["name"]).attrs
    address = attrs["NetworkSettings"]["Networks"][product.proxy["network"]]["IPAddress"]
    assert https_get(address, "/version", str(tmp_path / "cert.pem")) == (200, "v1")
    assert get(product.port, "/version") == (200, "v1")  # plain HTTP still answers
    key = [n for n in os.listdir(certs) if n.endswith(".key")]
    assert len(key) == 1 and oct(os.stat(os.path.join(certs, key[0])).st_mode & 0o777) == "0o600"


def test_a_proxy_restart_during_the_deploy_fails_it_before_the_switch(product, images, docker_client):
    """The proxy is restarted while the new color passes its gate: the deploy fails, the new color
    is stopped, and once the proxy is back it serves the old color with the old routes."""
    before_routes, before_current = product.routes_text(), product.releases()["current"]

    class RestartDuringGate(BlueGreen):
        def gate(self, project, images, pull):
            out = super(RestartDuringGate, self).gate(project, images, pull)
            docker_client.containers.get(product.proxy["name"]).restart(timeout=1)
            return out

    with pytest.raises(DeployError) as err:
        RestartDuringGate(product.args(images["v2"]), False, product.warnings.append).execute()
    assert "restarted during the deploy" in str(err.value) and "never received a request" in str(err.value)
    assert product.routes_text() == before_routes and product.releases()["current"] == before_current
    assert set(product.state("green").values()) == {"exited"}
    deadline = time.time() + 10
    while get(product.port, "/version", timeout=2)[0] != 200 and time.time() < deadline:
        time.sleep(0.2)
    assert get(product.port, "/version") == (200, "v1")


def test_the_deploy_role_deploys_a_second_product_through_the_same_proxy(product, images, tmp_path):
    """deploy_strategy: proxy; the first product's routes and answers stay as they were."""
    name = "bl-proxy-role-%s" % os.urandom(4).hex()
    before = product.routes_text()
    variables = {
        "deploy_project": name, "deploy_project_dir": str(tmp_path / "project"),
        "deploy_history_dir": str(tmp_path / "history"), "deploy_wait_timeout": 30,
        "deploy_services": [{"name": "web", "image": images["v1"]}],
        "deploy_strategy": "proxy", "deploy_proxy": product.proxy, "deploy_drain_timeout": 5,
        "deploy_routes": [{"service": "web", "port": 3000, "hosts": ["role.test"], "health_path": "/health"}],
    }
    play = tmp_path / "play.yml"
    play.write_text(yaml.safe_dump([{"hosts": "localhost", "connection": "local", "gather_facts": False,
                                     "roles": [{"role": "bytelyst.deploy.deploy", "vars": variables}],
                                     "post_tasks": [{"name": "Show the result", "ansible.builtin.debug": {
                                         "msg": "COLOR={{ deploy_result.color }}"}}]}]))
    env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    try:
        proc = subprocess.run(["ansible-playbook", "-i", "localhost,", str(play)], capture_output=True, text=True,
                              env=env, timeout=300, check=False)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        assert "COLOR=blue" in proc.stdout
        assert get(product.port, "/version", host="role.test") == (200, "v1")
        assert get(product.port, "/version") == (200, "v1")
        assert product.routes_text() == before
    finally:
        compose_down(name + "-blue")
