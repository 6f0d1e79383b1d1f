"""The fleet rollout (playbooks/rollout_base.yml) behind the proxy: canary, batches, latest last,
with zero failed requests per host, through real ansible-playbook, engine, registry, Compose and
the stand-in nginx proxy.

Two deploy hosts (edge1, edge2) run the notes backend, each behind a proxy of its own. They are
inventory hosts on the local engine, told apart as the fleet's hosts are by what each host owns:
its project prefix, deploy root, proxy container, network, configuration directory and port.
(The fleet's engines would add a pull of every image and of the proxy image per engine for
nothing the proxy does differently there: the switch happens inside each host's own proxy.)

Each host first serves a seed release behind its proxy (the small test server, deployed through
proxy_deploy's core as blue); then rollout_base.yml builds base 1.1.0 from the shared packed
sample, rebuilds notes on it, deploys it to edge1 (the canary), then in batches of one host
(edge1 again, in sync, then edge2), then moves `latest`; then rollback.yml switches edge2 back
to the seed. One bounded client per host asks that host's proxy /health the whole time; each
must see no failed request and every switch.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import pytest
import yaml

from awx_fixtures import free_port_block
from deploy_images import build_and_push, remove_images
from engine_listing import remove_tags_under
from net_helpers import get_as_host
from packed_workspace import packed_once
from product_fixtures import copy_product
from registry_fixtures import api, tag_digest, tag_list

from ansible_collections.bytelyst.deploy.plugins.module_utils._blue_green import BlueGreen

pytestmark = pytest.mark.integration

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOKS = os.path.join(ROOT, "playbooks")
HOSTS = ("edge1", "edge2")
NAME = "notes.rollout.test"
BASE = "1.1.0"


class Poller(object):
    """A bounded client of one proxy (at most `limit` requests or `seconds`), in a thread."""

    # nginx runs its old and new workers side by side for about 100 ms after a reload (the master
    # starts the new ones, then tells the old ones to stop accepting), so a client opening a
    # connection per request may see the two releases alternate in that window. A release that
    # answered for less than SETTLE seconds before the other took over again is that overlap.
    SETTLE = 1.0

    def __init__(self, port, limit=6000, seconds=420, pause=0.05):
        self.port, self.limit, self.seconds, self.pause = port, limit, seconds, pause
        self.answers, self.times, self.failures = [], [], []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def get(self):
        return get_as_host(self.port, "/health", NAME, timeout=5)

    def loop(self):
        deadline = time.time() + self.seconds
        while not self.stop.is_set() and len(self.answers) < self.limit and time.time() < deadline:
            status, body = self.get()
            if status == 200:
                self.answers.append(body)
                self.times.append(time.time())
            else:
                self.failures.append((time.time(), status, body[:200]))
            time.sleep(self.pause)

    def runs(self, since=0):
        """[kind, first answer's time, answers] per run of answers from one release: seed (the test
        server) or notes:<version>."""
        runs = []
        for body, at in zip(self.answers[since:], self.times[since:]):
            kind = "seed" if body == "ok" else "notes:%s" % json.loads(body).get("version")
            if runs and runs[-1][0] == kind:
                runs[-1][2] += 1
            else:
                runs.append([kind, at, 1])
        return runs

    def switches(self, since=0):
        """[(kind, overlap seconds)] one entry per release that took over: how long, before it
        answered alone, the previous one still answered too (0 for a clean switch)."""
        runs = self.runs(since)
        settled = []
        overlap_from = None
        for i, (kind, at, _count) in enumerate(runs):
            last = i == len(runs) - 1
            if not last and runs[i + 1][1] - at < self.SETTLE:
                overlap_from = at if overlap_from is None else overlap_from
                continue
            if not settled or settled[-1][0] != kind:
                settled.append((kind, round(at - overlap_from, 3) if overlap_from is not None else 0.0))
            overlap_from = None
        return settled

    def kinds(self, since=0):
        """Which releases answered, one entry per switch (the reload's overlap left out)."""
        return [kind for kind, _overlap in self.switches(since)]


def compose_down(project):
    subprocess.run(["docker", "compose", "-p", project, "down", "--volumes", "--remove-orphans", "--timeout", "2"],
                   capture_output=True, check=False)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, docker_client, registry_addr, standin_image):
    work = tmp_path_factory.mktemp("proxy-rollout")
    token = os.urandom(4).hex()
    proxy_image = os.environ.get("BYTELYST_PROXY_IMAGE") or "bytelyst-standin.invalid/nginx:1.22"
    docker_client.images.get(proxy_image)
    first_port = free_port_block(len(HOSTS))
    namespace = "%s/bytelyst-proxy-rollout-%s" % (registry_addr, token)
    hosts = {}
    for index, host in enumerate(HOSTS):
        hosts[host] = {
            "ansible_connection": "local",
            "bytelyst_project_prefix": "plr-%s-%s-" % (token, host),
            "bytelyst_deploy_root": str(work / host / "deploy"),
            "bytelyst_proxy": {"name": "plr-%s-%s" % (token, host), "image": proxy_image,
                               "network": "plr-%s-%s" % (token, host), "config_dir": str(work / host / "proxy"),
                               "ports": ["127.0.0.1:%d:8080" % (first_port + index)], "drain_timeout": 5},
        }
    products = str(work / "products")
    copy_product("notes", products)
    inventory = {"all": {
        "vars": {
            "ansible_python_interpreter": sys.executable,
            "bytelyst_runtime_image": standin_image,
            "bytelyst_registry": namespace,
            "bytelyst_registry_allow_http": True,
            "bytelyst_ca_bundle": os.environ.get("BYTELYST_CA_BUNDLE", ""),
            # The shared packed sample (tarballs + manifest): the run skips tarball prep (--skip-tags prep).
            "bytelyst_tarball_dir": packed_once(),
            "bytelyst_products_root": products,
            "bytelyst_build_log_dir": str(work / "build-logs"),
            "bytelyst_base_kinds": ["backend", "dev"],  # product builds take the dev base for their install step
            "bytelyst_selected_products": ["notes"],
            "bytelyst_products": {"notes": {"services": {"backend": {
                "kind": "backend", "port": 4016, "health_path": "/health", "route": {"hosts": [NAME]}}}}},
            "bytelyst_canary_product": "notes",
            "bytelyst_rollout_batch": 1,
            "bytelyst_deploy_strategy": "proxy",
            # The deploy's health gate is the image's first check here (as in the fleet scenario).
            "bytelyst_verify_images": False,
            "bytelyst_poll_interval": 1,
            "bytelyst_wait_timeout": 90,
            "bytelyst_healthcheck": {"interval": "2s", "start_period": "10s", "retries": 5},
        },
        "children": {
            "build_host": {"hosts": {"builder": {"ansible_connection": "local"}}},
            "products": {"children": {"notes": {"hosts": hosts}}},
        },
    }}
    path = work / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))

    class Fleet(object):
        pass

    f = Fleet()
    f.work, f.inventory, f.hosts, f.namespace, f.token = work, str(path), hosts, namespace, token
    f.ports = dict((host, first_port + index) for index, host in enumerate(HOSTS))
    f.project = lambda host: hosts[host]["bytelyst_project_prefix"] + "notes"
    f.seed_refs = build_and_push(docker_client, standin_image, "%s/seed" % namespace, variants=["v1"])
    try:
        yield f
    finally:
        for host in HOSTS:
            for color in ("blue", "green"):
                compose_down("%s-%s" % (f.project(host), color))
            subprocess.run(["docker", "rm", "-f", hosts[host]["bytelyst_proxy"]["name"]], capture_output=True, check=False)
            subprocess.run(["docker", "network", "rm", hosts[host]["bytelyst_proxy"]["network"]], capture_output=True,
                           check=False)
        remove_images(docker_client, f.seed_refs)
        remove_tags_under(docker_client, namespace)
        shutil.rmtree(str(work), ignore_errors=True)


def seed(fleet, host):
    """The release each host serves before the rollout: the test server as notes' backend, blue."""
    settings = fleet.hosts[host]
    root = os.path.join(settings["bytelyst_deploy_root"], "notes.proxy")
    os.makedirs(root)
    proxy = dict((k, v) for k, v in settings["bytelyst_proxy"].items() if k != "drain_timeout")
    params = dict(
        project_name=fleet.project(host), project_src=root, files=None, env=None, secrets=None, images=None,
        definition={"services": {"backend": {"image": fleet.seed_refs["v1"], "environment": {"PORT": "4016"}}}},
        pull_policy="missing", action="deploy", rollback_to=None, wait_timeout=30, up_timeout=None,
        routes=[{"service": "backend", "port": 4016, "hosts": [NAME], "path_prefix": "/", "health_path": "/health"}],
        proxy=proxy, tls_certificate=None, tls_key=None, drain_timeout=5, reload_timeout=10,
        keep_previous="stopped", history_dir=os.path.join(root, ".history"), keep_releases=10, lock_timeout=30,
        triggered_by="pytest seed", allow=[], docker_host=None, docker_cli=None, http_checks=None)
    result = BlueGreen(params, False, lambda message: None).execute()
    assert result["color"] == "blue", result


def releases(fleet, host):
    with open(os.path.join(fleet.hosts[host]["bytelyst_deploy_root"], "notes.proxy", ".history", "releases.json")) as f:
        return json.load(f)


def current(fleet, host):
    data = releases(fleet, host)
    return [r for r in data["releases"] if r["id"] == data["current"]][0]


def test_the_rollout_switches_every_host_behind_its_proxy_without_a_failed_request(fleet, docker_client, registry_addr):
    for host in HOSTS:
        seed(fleet, host)
    pollers = dict((host, Poller(fleet.ports[host])) for host in HOSTS)
    for poller in pollers.values():
        poller.thread.start()
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_FORCE_COLOR="false",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    try:
        done = subprocess.run(
            ["ansible-playbook", "-i", fleet.inventory, os.path.join(PLAYBOOKS, "rollout_base.yml"),
             "--skip-tags", "prep", "-e", "bytelyst_base_version=%s" % BASE],
            capture_output=True, text=True, env=env, timeout=600, check=False)
        rolled_out = dict((host, len(pollers[host].answers)) for host in HOSTS)
        # Then edge2 goes back through rollback.yml: a switch back to blue, whose stopped
        # containers still hold the seed release.
        if done.returncode == 0:
            back = subprocess.run(
                ["ansible-playbook", "-i", fleet.inventory, os.path.join(PLAYBOOKS, "rollback.yml"), "--limit", "edge2"],
                capture_output=True, text=True, env=env, timeout=300, check=False)
        time.sleep(0.5)  # a few answers after the last switch
    finally:
        for poller in pollers.values():
            poller.stop.set()
            poller.thread.join(10)
    out = done.stdout
    assert done.returncode == 0, out[-4000:] + done.stderr[-2000:]
    assert back.returncode == 0, back.stdout[-4000:] + back.stderr[-2000:]

    # Zero failed requests per host, and each host's client saw the switch from the seed to notes
    # (and edge2's back to the seed).
    for host in HOSTS:
        poller = pollers[host]
        assert poller.failures == [], (host, poller.failures[:5])
        assert len(poller.answers) > 100, (host, len(poller.answers))
        assert poller.kinds(0)[:2] == ["seed", "notes:1.4.0"], (host, poller.kinds())
        assert poller.answers[rolled_out[host] - 1] != "ok"
        # The releases alternated, if at all, only within nginx's reload overlap.
        assert all(overlap < Poller.SETTLE for _kind, overlap in poller.switches()), (host, poller.runs())
    assert pollers["edge1"].kinds() == ["seed", "notes:1.4.0"]
    assert pollers["edge2"].kinds() == ["seed", "notes:1.4.0", "seed"]
    assert pollers["edge2"].answers[-1] == "ok"
    rollback = current(fleet, "edge2")
    assert rollback["action"] == "rollback" and rollback["color"] == "blue"
    assert rollback["restores"] == releases(fleet, "edge2")["releases"][0]["id"]

    # Canary first (edge1, its own release), then the batches: edge1 again is in sync (no new
    # release), edge2 switches; each host runs the new release on green, blue stopped.
    (seed1, canary), (seed2, batch, _rollback) = releases(fleet, "edge1")["releases"], releases(fleet, "edge2")["releases"]
    assert seed1["triggered_by"] == seed2["triggered_by"] == "pytest seed"
    assert canary["triggered_by"] == "rollout_base.yml canary (base %s)" % BASE
    assert batch["triggered_by"] == "rollout_base.yml (base %s)" % BASE
    assert canary["time"] <= batch["time"]
    assert canary["color"] == batch["color"] == "green"
    # edge1 serves the new release on green, blue stopped; edge2 is back on blue, green stopped.
    for host, serving_color, stopped_color in (("edge1", "green", "blue"), ("edge2", "blue", "green")):
        project = fleet.project(host)
        (serving,) = docker_client.containers.list(
            filters={"label": "com.docker.compose.project=%s-%s" % (project, serving_color)})
        assert not serving.attrs["HostConfig"]["PortBindings"]
        assert [c.status for c in docker_client.containers.list(
            all=True, filters={"label": "com.docker.compose.project=%s-%s" % (project, stopped_color)})] == ["exited"]
        if host == "edge1":
            assert serving.image.labels["dev.bytelyst.base.version"] == BASE

    # latest moved last: after every batch, to the version this rollout built.
    deploys = [m.start() for m in re.finditer(r"TASK \[Deploy each product this host runs\]", out)]
    promote = out.index("TASK [Move latest of the base and product images]")
    assert deploys and promote > max(deploys)
    url = "http://%s" % registry_addr
    namespace = fleet.namespace.split("/", 1)[1]
    status, _headers, body = api(url, "/v2/_catalog?n=1000")
    assert status == 200
    repositories = [r for r in json.loads(body)["repositories"] if r.startswith(namespace + "/") and not r.endswith("/seed")]
    assert len(repositories) == 3, repositories  # the backend and dev bases, notes' backend
    for repository in repositories:
        tags = tag_list(url, repository)
        version = [t for t in tags if t in (BASE, "1.4.0-base%s" % BASE)]
        assert version and tag_digest(url, repository, "latest") == tag_digest(url, repository, version[0]), tags
