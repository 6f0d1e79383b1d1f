# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deploys under load: what clients see while a release replaces another, in place vs behind the proxy.

    source <the development stack's env.sh>
    python bench/run.py --only deploy [--quick]        (or: python bench/deploy.py [--quick] [--rebuild])

The products are the sample's real ones: the notes backend (Fastify) and the Next.js notes web,
built from examples/ by the collection's playbooks in base mode (base.yml + product.yml:
workspace_pack -> base_image -> product_image) into a registry of the bench's own, then kept on
the engine as bytelyst-bench-deploy/notes-<kind>:<inputs key> (the key hashes the sample's
sources, the Dockerfile code and the runtime image). A later run finds them and builds nothing
(--rebuild builds again); tags of other keys are removed.

A bounded client loop on loopback (one request at a time, a fixed pause between requests, at
most MAX_REQUESTS requests and MAX_SECONDS seconds per scenario, stopped when the deploy
returns plus a short tail) asks each product for a real page (the backend's GET /notes, the
web's server-rendered GET /) while it:

- deploys a healthy release (v1 -> v2: only an env value differs, as in issue 23),
- deploys a release that crashes at start (the gate fails, v2 must keep serving),
- deploys a release whose health check answers 500 (likewise),
- rolls back (v2 -> v1).

The products have no switch to break themselves, so the broken releases are the same image
with a different env (a release is everything deployed): the backend's crash is an invalid
LOG_LEVEL, which its own configuration check (@bytelyst/config) refuses at start, exit 1;
the web's is a NODE_OPTIONS with an option Node does not know (Node exits 9 before the
server starts). The 500 release of both is a NODE_OPTIONS --import of a data: URL module that
answers 500 on the health path (every other path is served as usual).

Both modes run the collection's own cores in the same run: compose_deploy's in-place mode
(Compose recreates the container, the port is published by the product's container) and
proxy_deploy (blue/green behind the nginx proxy stand-in). Per product, scenario and mode it
records requests, failed requests, the longest gap between two successful responses, and
p50/p99 latency during the deploy against the steady state measured just before it
(p99_ratio). Writes bench/results/deploy.json.
"""

from __future__ import absolute_import, division, print_function

import argparse
import hashlib
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from urllib.parse import quote

import common

MAX_REQUESTS = 8000
MAX_SECONDS = 180
SCENARIOS = ("healthy", "crash", "answers-500", "rollback")
CACHE_REPO = "bytelyst-bench-deploy"
PAUSE_S = 0.01

# Answers 500 on the health paths, every other request as usual (loaded by NODE_OPTIONS --import).
_UNHEALTHY_JS = (
    "import http from 'node:http';"
    "const emit = http.Server.prototype.emit;"
    "http.Server.prototype.emit = function (event, req, res) {"
    "if (event === 'request' && /^\\/(api\\/)?health/.test(req.url)) {"
    "res.statusCode = 500; res.end('unhealthy (bench: answers 500 on purpose)'); return true; }"
    "return emit.apply(this, arguments); };")
UNHEALTHY_NODE_OPTIONS = "--import=data:text/javascript," + quote(_UNHEALTHY_JS, safe="")

PRODUCTS = {
    "notes-backend": dict(kind="backend", port=4016, health="/health", path="/notes",
                          crash={"LOG_LEVEL": "verbose"},
                          crash_how="LOG_LEVEL=verbose: the backend's configuration check refuses it, exit 1"),
    "notes-web": dict(kind="web", port=3000, health="/api/health", path="/",
                      crash={"NODE_OPTIONS": "--bench-crash-on-purpose"},
                      crash_how="NODE_OPTIONS with an unknown option: Node exits 9 before the server starts"),
}


def variant_env(product, variant):
    """The env of a release: v1 and v2 differ by RELEASE only; crash and answers-500 break v2's."""
    env = {"RELEASE": "v1" if variant == "v1" else "v2", "LOG_LEVEL": "info", "NODE_OPTIONS": ""}
    if variant == "crash":
        env.update(PRODUCTS[product]["crash"])
    elif variant == "answers-500":
        env["NODE_OPTIONS"] = UNHEALTHY_NODE_OPTIONS
    return env


# -- the images ---------------------------------------------------------------------------------
def inputs_key(standin_id):
    """sha256 over what the images are made of: the sample's sources (common plat and the notes
    product, nothing generated), the collection's Dockerfile code and the runtime image's id."""
    digest = hashlib.sha256(standin_id.encode() + b"\0")
    tops = [os.path.join(common.EXAMPLES, "common_plat"), os.path.join(common.EXAMPLES, "products", "notes")]
    files = [os.path.join(common.REPO, "plugins", "module_utils", n)
             for n in ("_dockerfile.py", "_product_image.py", "_base_image.py")]
    for top in tops:
        for folder, dirs, names in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d not in ("node_modules", "dist", ".next", ".turbo"))
            files.extend(os.path.join(folder, n) for n in sorted(names) if not n.endswith(".tsbuildinfo"))
    for path in files:
        digest.update(os.path.relpath(path, common.REPO).encode() + b"\0")
        with open(path, "rb") as handle:
            digest.update(handle.read() + b"\0")
    return digest.hexdigest()[:12]


def _tags(client):
    return set(t for image in client.images.list(name=CACHE_REPO + "/*") for t in image.tags)


def images(client, standin, rebuild=False):
    """{product: local ref} of the notes backend and web in base mode, built once per inputs key."""
    key = inputs_key(client.images.get(standin).id)
    wanted = dict((name, "%s/%s:%s" % (CACHE_REPO, name, key)) for name in PRODUCTS)
    have = _tags(client)
    if not rebuild and all(ref in have for ref in wanted.values()):
        print("   images: %s (built before, reused)" % ", ".join(sorted(wanted.values())), flush=True)
        return wanted, False
    print("   images: building the notes backend and web in base mode (Next.js: minutes; kept for later runs) ...",
          flush=True)
    work = common.scratch("deploy-build")
    workspace, products_root = common.copy_sample(work)
    with common.throwaway_registry(work) as registry:
        prefix = "%s/bench-deploy" % registry
        try:
            inventory = common.build_inventory(os.path.join(work, "inventory.json"))
            extra = common.stack_vars(work, workspace, products_root, prefix,
                                      common.products_spec(["notes"], ["backend", "web"]), "base",
                                      ["backend", "web", "dev"])
            seconds = common.playbook(["base.yml", "product.yml"], inventory, extra, work)
            repos, dummy = common.image_refs(prefix, common.products_spec(["notes"], ["backend", "web"]))
            for ref in common.resolve(client, repos["notes"]):
                name = ref.rsplit("/", 1)[-1].split(":")[0]
                repository, tag = wanted[name].split(":")
                client.images.get(ref).tag(repository, tag)
        finally:
            common.cleanup(client, registry)  # the registry's tags; the images live on under wanted
    for tag in sorted(_tags(client) - set(wanted.values())):  # other keys' images: stale
        try:
            client.images.remove(tag)
        except Exception:  # pylint: disable=broad-except
            pass  # in use: left for the next run
    print("   images: built in %.0f s: %s" % (seconds, ", ".join(sorted(wanted.values()))), flush=True)
    return wanted, True


# -- the client ---------------------------------------------------------------------------------
class Loop(object):
    """One client on 127.0.0.1: (start time, latency s, ok, release) per request, bounded."""

    def __init__(self, port, path, host=None, pause=PAUSE_S):
        self.port, self.path, self.host, self.pause = port, path, host, pause
        self.samples = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def one(self):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        start = time.monotonic()
        try:
            connection.request("GET", self.path, headers={"Host": self.host} if self.host else {})
            response = connection.getresponse()
            response.read()
            ok = response.status == 200
            body = "" if ok else "HTTP %d" % response.status
        except (OSError, http.client.HTTPException) as exc:
            ok, body = False, type(exc).__name__
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
           "steady_requests": len(steady), "longest_gap_s": round(gap, 3) if gap is not None else None,
           "errors": sorted(set(s[3] for s in during if not s[2]))}
    out.update((k, round(v * 1000, 2) if v is not None else None) for k, v in p.items())
    out["p99_ratio"] = common.ratio(p["p99_switch"], p["p99_steady"])
    return out


# -- one product in one mode --------------------------------------------------------------------
class Product(object):
    """One product deployed with one mode's core; deploy() runs it and returns (ok, message)."""

    def __init__(self, product, mode, work, image, proxy_image, token):
        spec = PRODUCTS[product]
        self.product, self.mode, self.spec, self.image = product, mode, spec, image
        self.name = "bench-deploy-%s-%s-%s" % (spec["kind"], mode, token)
        base = os.path.join(work, product, mode)
        self.src, self.history = os.path.join(base, "src"), os.path.join(base, "history")
        os.makedirs(self.src)
        self.port = common.free_port()
        service = {"image": image,
                   "environment": {"RELEASE": "${RELEASE}", "LOG_LEVEL": "${LOG_LEVEL:-info}",
                                   "NODE_OPTIONS": "${NODE_OPTIONS:-}"},
                   # The image's probe every 10 s would make every deploy wait 10 s for its first
                   # probe; the bench's deploys probe every second (the timings only, not the test).
                   # Failures in the start period do not count (a loaded machine starts Next.js in
                   # seconds), so the 500 release is judged unhealthy after about 20 + 3 s.
                   "healthcheck": {"interval": "1s", "timeout": "3s", "retries": 3, "start_period": "20s"}}
        if mode == "in-place":
            service["ports"] = ["127.0.0.1:%d:%d" % (self.port, spec["port"])]
        with open(os.path.join(self.src, "compose.yml"), "w") as handle:
            json.dump({"services": {spec["kind"]: service}}, handle)
        self.host = "%s.bench.invalid" % product
        self.proxy = {"name": "bench-proxy-%s-%s" % (spec["kind"], token), "image": proxy_image,
                      "network": "bench-proxy-%s-%s" % (spec["kind"], token),
                      "config_dir": os.path.join(base, "proxy"), "ports": ["127.0.0.1:%d:8080" % self.port],
                      "user": "101:101"}

    def params(self, variant, action="deploy"):
        kind, spec = self.spec["kind"], self.spec
        params = dict(project_name=self.name, project_src=self.src, files=None, definition=None,
                      env=variant_env(self.product, variant) if variant else None, secrets=None,
                      images={kind: self.image}, pull_policy="missing", action=action, rollback_to=None,
                      wait_timeout=90, up_timeout=None, history_dir=self.history, keep_releases=10,
                      lock_timeout=30, triggered_by="bench", allow=[], docker_host=None, docker_cli=None,
                      http_checks=None)
        if action == "rollback":
            params["images"] = params["env"] = None
        if self.mode == "in-place":
            params["http_checks"] = [{"url": "http://127.0.0.1:%d%s" % (self.port, spec["health"]), "status": 200,
                                      "timeout": 30}]
        else:
            params.update(routes=[{"service": kind, "port": spec["port"], "hosts": [self.host], "path_prefix": "/",
                                   "health_path": spec["health"], "health_status": 200, "health_timeout": 30,
                                   "directives": [], "warmup_paths": [spec["path"]]}],
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

    def loop(self):
        return Loop(self.port, self.spec["path"], self.host if self.mode == "proxy" else None)

    def down(self):
        for project in (self.name, self.name + "-blue", self.name + "-green"):
            subprocess.run(["docker", "compose", "-p", project, "down", "--remove-orphans"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        if self.mode == "proxy":
            for argv in (["docker", "rm", "-f", self.proxy["name"]], ["docker", "network", "rm", self.proxy["network"]]):
                subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def scenario(product, name, steady_s, tail_s):
    variant, action = {"healthy": ("v2", "deploy"), "crash": ("crash", "deploy"),
                       "answers-500": ("answers-500", "deploy"), "rollback": (None, "rollback")}[name]
    loop = product.loop()
    loop.start()
    time.sleep(steady_s)
    steady_until = switch_from = time.monotonic()
    ok, message = product.deploy(variant, action)
    switch_until = time.monotonic()
    time.sleep(tail_s)
    loop.finish()
    out = figures(loop.samples, steady_until, switch_from, switch_until + tail_s)
    out.update(deploy_s=round(switch_until - switch_from, 2), deploy_ok=ok, deploy_message=message,
               load_average=[round(x, 2) for x in os.getloadavg()])
    return out


def warm(product, seconds):
    """Ask the product until it answers (a first Next.js render compiles nothing but loads lazily)."""
    loop = product.loop()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        loop.one()
        if loop.samples[-1][2] and len(loop.samples) >= 5:
            return
        time.sleep(0.1)
    raise common.BenchError("%s (%s) did not answer %s within %d s after its first deploy"
                            % (product.product, product.mode, product.spec["path"], seconds))


def run(quick, rebuild=False):
    standin, = common.need_env("BYTELYST_STANDIN_IMAGE")
    proxy_image = os.environ.get("BYTELYST_PROXY_IMAGE") or "bytelyst-standin.invalid/nginx:1.22"
    common.usage_core()  # the collection from this checkout on sys.path
    client = common.engine()
    refs, built = images(client, standin, rebuild)
    work = common.scratch("deploy")
    token = common.unique()
    steady_s, tail_s = (3.0, 0.5) if quick else (10.0, 1.0)
    data = {"quick": quick, "steady_s": steady_s, "tail_s": tail_s, "pause_s": PAUSE_S, "images": refs,
            "images_built_this_run": built,
            "products": dict((n, dict(path=s["path"], health=s["health"], crash=s["crash_how"],
                                      answers_500="NODE_OPTIONS --import of a module answering 500 on %s" % s["health"]))
                             for n, s in PRODUCTS.items()),
            "load_average_start": [round(x, 2) for x in os.getloadavg()], "modes": {}}
    for product_name in sorted(PRODUCTS):
        data["modes"][product_name] = {}
        for mode in ("in-place", "proxy"):
            product = Product(product_name, mode, work, refs[product_name], proxy_image, token)
            try:
                ok, message = product.deploy("v1")
                if not ok:
                    raise common.BenchError("the first deploy of %s (%s) failed: %s" % (product_name, mode, message))
                warm(product, 60)
                results = data["modes"][product_name][mode] = {}
                for name in SCENARIOS:
                    print("   %s, %s: %s" % (product_name, mode, name), flush=True)
                    results[name] = scenario(product, name, steady_s, tail_s)
            finally:
                product.down()
    data["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    common.save("deploy", data)
    return data


def rows(data):
    out = []
    for product in sorted(data["modes"]):
        for name in SCENARIOS:
            base, ours = data["modes"][product]["in-place"][name], data["modes"][product]["proxy"][name]
            label = "%s %s" % (product, name)
            out.append(["%s: failed requests (of in-place %d, proxy %d)" % (label, base["requests"], ours["requests"]),
                        base["failed"], ours["failed"], None])
            out.append(["%s: longest gap between answers (s)" % label, base["longest_gap_s"], ours["longest_gap_s"],
                        common.ratio(ours["longest_gap_s"], base["longest_gap_s"])])
            out.append(["%s: p50 steady / during (ms)" % label, "%s / %s" % (base["p50_steady"], base["p50_switch"]),
                        "%s / %s" % (ours["p50_steady"], ours["p50_switch"]), None])
            out.append(["%s: p99 steady / during (ms)" % label, "%s / %s" % (base["p99_steady"], base["p99_switch"]),
                        "%s / %s" % (ours["p99_steady"], ours["p99_switch"]), None])
            out.append(["%s: p99 during / steady" % label, base["p99_ratio"], ours["p99_ratio"], None])
    return out


def header(data):
    return ("Real products (notes backend, Next.js notes web; base mode; %s)%s; load average %s at the start"
            % ("images reused" if not data["images_built_this_run"] else "images built this run",
               " --quick: shorter steady and tail windows" if data["quick"] else "",
               ", ".join("%.1f" % x for x in data["load_average_start"])))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--quick", action="store_true", help="shorter steady and tail windows (same products)")
    parser.add_argument("--rebuild", action="store_true", help="build the product images even when kept ones match")
    args = parser.parse_args(argv)
    data = run(args.quick, args.rebuild)
    print(header(data))
    print(common.table(rows(data), ["measurement", "in place", "proxy", "proxy/in place"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
