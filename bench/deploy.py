# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deploys under load: what clients see while a release replaces another, in place vs behind the proxy.

    source <the development stack's env.sh>
    python bench/run.py --only deploy [--quick]        (or: python bench/deploy.py [--quick])

A bounded client loop on loopback (one request at a time, a fixed pause between requests,
at most MAX_REQUESTS requests and MAX_SECONDS seconds per scenario, stopped when the deploy
returns plus a short tail) asks the product for /version while it:

- deploys a healthy release (v1 -> v2),
- deploys a release that crashes at start (the gate fails, v2 must keep serving),
- deploys a release whose health check answers 500 (likewise),
- rolls back (v2 -> v1).

Both modes run the collection's own cores in the same run: compose_deploy's in-place mode
(Compose recreates the container, the port is published by the product's container) and
proxy_deploy (blue/green behind the nginx proxy stand-in). Per scenario and mode it records
requests, failed requests, the longest gap between two successful responses, and p50/p99
latency during the deploy against the steady state measured just before it (p99_ratio).

The product is the small test app of the integration tests (tests/integration/deploy_images.py:
a Node HTTP server on the Node stand-in, 1 s health interval, starts in well under a second),
not the Next.js notes web or the notes backend: their builds take minutes, and how long a
product takes to start only lengthens the in-place outage (the proxy keeps serving the old
color meanwhile). Writes bench/results/deploy.json.
"""

from __future__ import absolute_import, division, print_function

import argparse
import http.client
import json
import os
import subprocess
import sys
import threading
import time

import common

MAX_REQUESTS = 4000
MAX_SECONDS = 120
SCENARIOS = ("healthy", "crash", "answers-500", "rollback")
HOST = "bench.deploy.invalid"


class Loop(object):
    """One client on 127.0.0.1: (start time, latency s, ok, body) per request, bounded."""

    def __init__(self, port, host=None, pause=0.01):
        self.port, self.host, self.pause = port, host, pause
        self.samples = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def one(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        start = time.monotonic()
        try:
            connection.request("GET", "/version", headers={"Host": self.host} if self.host else {})
            response = connection.getresponse()
            body = response.read().decode()
            ok = response.status == 200
        except (OSError, http.client.HTTPException) as exc:
            ok, body = False, str(exc)
        finally:
            connection.close()
        self.samples.append((start, time.monotonic() - start, ok, body))

    def run(self):
        deadline = time.monotonic() + MAX_SECONDS
        while not self.stop.is_set() and len(self.samples) < MAX_REQUESTS and time.monotonic() < deadline:
            self.one()
            time.sleep(self.pause)

    def start(self):
        self.thread.start()

    def finish(self):
        self.stop.set()
        self.thread.join(15)


def percentile(values, q):
    values = sorted(values)
    if not values:
        return None
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def figures(samples, steady_until, switch_from, switch_until):
    steady = [s for s in samples if s[0] < steady_until]
    during = [s for s in samples if switch_from <= s[0] <= switch_until]
    ok_times = [s[0] + s[1] for s in during if s[2]]
    edges = [switch_from] + ok_times + [switch_until]
    gap = max(b - a for a, b in zip(edges, edges[1:])) if len(edges) > 1 else None
    p = dict((name, percentile([s[1] for s in part if s[2]], q)) for name, part, q in (
        ("p50_steady", steady, 0.5), ("p99_steady", steady, 0.99), ("p50_switch", during, 0.5),
        ("p99_switch", during, 0.99)))
    out = {"requests": len(during), "failed": sum(1 for s in during if not s[2]),
           "longest_gap_s": round(gap, 3) if gap is not None else None,
           "versions": sorted(set(s[3] for s in during if s[2]))}
    out.update((k, round(v * 1000, 2) if v is not None else None) for k, v in p.items())
    out["p99_ratio"] = common.ratio(p["p99_switch"], p["p99_steady"])
    return out


class Product(object):
    """One product deployed with one mode's core; deploy() runs it and returns (ok, message)."""

    def __init__(self, mode, work, images, proxy_image, token):
        self.mode = mode
        self.name = "bench-deploy-%s-%s" % (mode, token)
        self.src = os.path.join(work, mode, "src")
        self.history = os.path.join(work, mode, "history")
        os.makedirs(self.src)
        self.images = images
        self.port = common.free_port()
        service = {"image": images["v1"]}
        if mode == "in-place":
            service["ports"] = ["127.0.0.1:%d:3000" % self.port]
        with open(os.path.join(self.src, "compose.yml"), "w") as handle:
            json.dump({"services": {"web": service}}, handle)
        self.proxy = {"name": "bench-proxy-%s" % token, "image": proxy_image, "network": "bench-proxy-%s" % token,
                      "config_dir": os.path.join(work, "proxy"), "ports": ["127.0.0.1:%d:8080" % self.port],
                      "user": "101:101"}
        self.host = HOST if mode == "proxy" else None

    def params(self, variant, action="deploy"):
        params = dict(project_name=self.name, project_src=self.src, files=None, definition=None, env=None,
                      secrets=None, images={"web": self.images[variant]} if variant else None, pull_policy="missing",
                      action=action, rollback_to=None, wait_timeout=20, up_timeout=None, history_dir=self.history,
                      keep_releases=10, lock_timeout=30, triggered_by="bench", allow=[], docker_host=None,
                      docker_cli=None, http_checks=None)
        if self.mode == "in-place":
            params["http_checks"] = [{"url": "http://127.0.0.1:%d/health" % self.port, "status": 200, "timeout": 10}]
        else:
            params.update(routes=[{"service": "web", "port": 3000, "hosts": [HOST], "path_prefix": "/",
                                   "health_path": "/health", "health_status": 200, "health_timeout": 10,
                                   "directives": []}],
                          proxy=self.proxy, tls_certificate=None, tls_key=None, drain_timeout=10, reload_timeout=10,
                          keep_previous="stopped")
        return params

    def deploy(self, variant, action="deploy"):
        from ansible_collections.bytelyst.deploy.plugins.module_utils._blue_green import BlueGreen
        from ansible_collections.bytelyst.deploy.plugins.module_utils._deployer import Deployer
        from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
        core = Deployer if self.mode == "in-place" else BlueGreen
        try:
            core(self.params(variant, action), False, lambda text: None).execute()
            return True, ""
        except DeployError as err:
            return False, err.message.split("\n")[0][:200]

    def down(self):
        for project in (self.name, self.name + "-blue", self.name + "-green"):
            subprocess.run(["docker", "compose", "-p", project, "down", "--remove-orphans"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def scenario(product, name, steady_s, tail_s):
    variant, action = {"healthy": ("v2", "deploy"), "crash": ("v3-exit", "deploy"),
                       "answers-500": ("v3-unhealthy", "deploy"), "rollback": (None, "rollback")}[name]
    loop = Loop(product.port, product.host)
    loop.start()
    time.sleep(steady_s)
    steady_until = switch_from = time.monotonic()
    ok, message = product.deploy(variant, action)
    switch_until = time.monotonic()
    time.sleep(tail_s)
    loop.finish()
    out = figures(loop.samples, steady_until, switch_from, switch_until + tail_s)
    out.update(deploy_s=round(switch_until - switch_from, 2), deploy_ok=ok, deploy_message=message)
    return out


def run(quick):
    registry, standin = common.need_env("BYTELYST_REGISTRY", "BYTELYST_STANDIN_IMAGE")
    proxy_image = os.environ.get("BYTELYST_PROXY_IMAGE") or "bytelyst-standin.invalid/nginx:1.22"
    common.usage_core()  # the collection from this checkout on sys.path
    sys.path.insert(0, os.path.join(common.REPO, "tests", "integration"))
    from deploy_images import build_and_push, remove_images  # pylint: disable=import-outside-toplevel
    client = common.engine()
    work = common.scratch("deploy")
    token = common.unique()
    steady_s, tail_s = (1.0, 0.5) if quick else (3.0, 1.0)
    refs = build_and_push(client, standin, "%s/bytelyst-bench-%s/web" % (registry, token),
                          variants=["v1", "v2", "v3-exit", "v3-unhealthy"])
    data = {"quick": quick, "product": "tests/integration/deploy_images.py test app (Node HTTP server)",
            "steady_s": steady_s, "pause_s": 0.01, "modes": {}}
    products = []
    try:
        for mode in ("in-place", "proxy"):
            product = Product(mode, work, refs, proxy_image, token)
            products.append(product)
            ok, message = product.deploy("v1")
            if not ok:
                raise common.BenchError("the first deploy (%s) failed: %s" % (mode, message))
            data["modes"][mode] = {}
            for name in SCENARIOS:
                print("   %s: %s" % (mode, name), flush=True)
                data["modes"][mode][name] = scenario(product, name, steady_s, tail_s)
    finally:
        for product in products:
            product.down()
        subprocess.run(["docker", "rm", "-f", "bench-proxy-%s" % token], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        subprocess.run(["docker", "network", "rm", "bench-proxy-%s" % token], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        remove_images(client, refs)
    common.save("deploy", data)
    return data


def rows(data):
    out = []
    for name in SCENARIOS:
        base, ours = data["modes"]["in-place"][name], data["modes"]["proxy"][name]
        out.append(["deploy %s: failed requests (of in-place %d, proxy %d)" % (name, base["requests"], ours["requests"]),
                    base["failed"], ours["failed"], None])
        out.append(["deploy %s: longest gap between answers (s)" % name, base["longest_gap_s"], ours["longest_gap_s"],
                    common.ratio(ours["longest_gap_s"], base["longest_gap_s"])])
        out.append(["deploy %s: p99 during the deploy / steady p99" % name, base["p99_ratio"], ours["p99_ratio"], None])
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    data = run(args.quick)
    print(common.table(rows(data), ["measurement", "in place", "proxy", "proxy/in place"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
