"""The sample workspace under examples/ really installs, builds and runs,
its .pnpmfile.cjs resolves each package source, and the synthetic generator
writes a sound, deterministic workspace.

Needs pnpm 10 and Node.js 22 on PATH (scripts/setup.sh provides both) and the
npm registry (reached directly or through the proxy whose CA bundle is in
BYTELYST_CA_BUNDLE).
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from net_helpers import free_port

pytestmark = pytest.mark.integration

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(REPO, "examples")
GENERATOR = os.path.join(EXAMPLES, "generate_workspace.py")
PACKAGES = ["auth", "config", "errors", "format", "http", "logger", "ui"]
PRODUCTS = {"notes": 4016, "clock": 4017, "trading": 4018}
IGNORED = shutil.ignore_patterns("node_modules", "dist", ".next", "vendor", "*.tgz", "*.tsbuildinfo")


def _tool_env():
    env = dict(os.environ)
    env.setdefault("NEXT_TELEMETRY_DISABLED", "1")
    bundle = os.environ.get("BYTELYST_CA_BUNDLE")
    if bundle and os.path.exists(bundle):
        env.setdefault("NODE_EXTRA_CA_CERTS", bundle)
        env.setdefault("npm_config_cafile", bundle)
    for name in ("BYTELYST_PACKAGE_SOURCE", "BYTELYST_COMMON_PLAT_ROOT"):
        env.pop(name, None)  # the defaults are under test
    return env


def run(args, cwd, timeout=600, env=None):
    proc = subprocess.run(args, cwd=cwd, env=env or _tool_env(), capture_output=True, text=True, timeout=timeout,
                          check=False)
    assert proc.returncode == 0, "%s failed in %s (exit %d):\n%s\n%s" % (
        " ".join(args), cwd, proc.returncode, proc.stdout[-4000:], proc.stderr[-4000:])
    return proc.stdout


def node(script, cwd, env=None):
    return run(["node", "-e", script], cwd, timeout=60, env=env)


@pytest.fixture(scope="module")
def tools():
    missing = [t for t in ("pnpm", "node") if shutil.which(t) is None]
    if missing:
        pytest.fail("%s not on PATH: run scripts/setup.sh and source the env.sh it writes "
                    "(it provides Node.js 22 and pnpm 10.6.5)" % " and ".join(missing))
    major = run(["node", "-p", "process.versions.node.split('.')[0]"], REPO).strip()
    assert int(major) >= 22, "Node.js 22 or newer is needed, found %s" % major


@pytest.fixture(scope="module")
def workspace(tools, tmp_path_factory):
    """A copy of examples/ whose common_plat is installed (frozen lockfile) and built."""
    root = tmp_path_factory.mktemp("examples") / "examples"
    shutil.copytree(EXAMPLES, str(root), ignore=IGNORED, symlinks=True)
    common = root / "common_plat"
    run(["pnpm", "install", "--frozen-lockfile"], str(common))
    run(["pnpm", "-r", "build"], str(common))
    return root


def get_json(url, deadline):
    """GET url until it answers or the deadline passes; return (status, parsed body)."""
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return resp.status, json.loads(resp.read().decode())
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()
        except (urllib.error.URLError, ConnectionError, OSError) as err:
            last = err
            time.sleep(0.25)
    raise AssertionError("%s did not answer in time: %s" % (url, last))


# ── common plat ──────────────────────────────────────────────────────────────

def test_common_plat_packages_are_well_formed():
    names = {}
    for d in PACKAGES:
        with open(os.path.join(EXAMPLES, "common_plat", "packages", d, "package.json")) as f:
            manifest = json.load(f)
        names[d] = manifest["name"]
        assert manifest["name"] == "@bytelyst/" + d
        assert manifest["main"] == "dist/index.js" and manifest["types"] == "dist/index.d.ts"
        assert manifest["files"] == ["dist"]
        assert manifest["scripts"]["build"] == "tsc -p tsconfig.json"
        assert manifest["devDependencies"]["typescript"] == "5.9.3"
        assert set(manifest.get("bytelyst", {}).get("targets", ["backend", "web"])) <= {"backend", "web"}
    assert len(set(names.values())) == len(PACKAGES)


def test_common_plat_builds_and_loads(workspace):
    packages_dir = workspace / "common_plat" / "packages"
    for d in PACKAGES:
        assert (packages_dir / d / "dist" / "index.js").is_file(), d
        assert (packages_dir / d / "dist" / "index.d.ts").is_file(), d
    # Each package by name, from a workspace package that depends on it, then real calls.
    script = r"""
const { createRequire } = require('module');
const path = require('path');
const from = (dir) => createRequire(path.resolve('packages', dir, 'package.json'));
const errors = from('config')('@bytelyst/errors');
const config = from('auth')('@bytelyst/config');
const logger = from('http')('@bytelyst/logger');
const format = from('ui')('@bytelyst/format');
const http = require(path.resolve('packages/http'));
const auth = require(path.resolve('packages/auth'));
const ui = require(path.resolve('packages/ui'));
const out = {};
out.error = new errors.NotFoundError('note 7').toPayload();
out.port = config.loadServiceConfig(4016, {}).PORT;
try { config.loadServiceConfig(4016, { PORT: 'x' }); } catch (e) { out.configError = e.code; }
const lines = [];
logger.createLogger('t', { sink: (l) => lines.push(JSON.parse(l)) }).info('hi', { a: 1 });
out.log = { msg: lines[0].msg, a: lines[0].a, level: lines[0].level };
out.duration = format.formatDuration(3725000);
out.health = http.healthPayload('svc', '9.9.9');
out.uiExports = Object.keys(ui).sort();
const cfg = auth.loadAuthConfig({ AUTH_SECRET: 's'.repeat(32) });
auth.signToken({ sub: 'u1' }, cfg).then((t) => auth.verifyToken(t, cfg)).then((claims) => {
  out.sub = claims.sub;
  return auth.verifyToken('not-a-token', cfg).catch((e) => { out.badToken = e.statusCode; });
}).then(() => console.log(JSON.stringify(out)));
"""
    out = json.loads(node(script, str(workspace / "common_plat")).strip().splitlines()[-1])
    assert out["error"] == {"error": "NOT_FOUND", "message": "note 7 not found", "statusCode": 404}
    assert out["port"] == 4016
    assert out["configError"] == "VALIDATION_FAILED"
    assert out["log"] == {"msg": "hi", "a": 1, "level": "info"}
    assert out["duration"] == "1h 2m 5s"
    assert list(out["health"]) == ["status", "service", "version"] and out["health"]["status"] == "ok"
    assert {"Badge", "Card", "DateLabel", "Stat"} <= set(out["uiExports"])
    assert out["sub"] == "u1" and out["badToken"] == 401


# ── products ─────────────────────────────────────────────────────────────────

def test_lockfiles_hold_no_machine_paths():
    for lock in ["common_plat/pnpm-lock.yaml"] + ["products/%s/pnpm-lock.yaml" % p for p in PRODUCTS]:
        with open(os.path.join(EXAMPLES, lock)) as f:
            text = f.read()
        assert "link:/" not in text and "file:/" not in text, lock
        if lock.startswith("products/"):
            assert "link:../../../common_plat/packages/" in text, lock


def test_pnpmfile_resolves_each_source(workspace):
    product = workspace / "products" / "trading"
    vendor = product / "vendor"
    vendor.mkdir(exist_ok=True)
    for name in ("bytelyst-config-2.0.0.tgz", "bytelyst-errors-1.2.0.tgz", "bytelyst-errors-extra-1.0.0.tgz"):
        (vendor / name).write_bytes(b"")
    script = r"""
const { hooks } = require('./.pnpmfile.cjs');
const m = hooks.readPackage({ name: 'trading-backend', dependencies: {
  '@bytelyst/config': 'workspace:^', '@bytelyst/errors': 'workspace:*', fastify: '^5.0.0' } });
console.log(JSON.stringify(m.dependencies));
"""

    def resolve(source, **extra):
        env = _tool_env()
        if source:
            env["BYTELYST_PACKAGE_SOURCE"] = source
        env.update(extra)
        return json.loads(node(script, str(product), env=env).strip())

    assert resolve(None) == {"@bytelyst/config": "link:../../../common_plat/packages/config",
                             "@bytelyst/errors": "link:../../../common_plat/packages/errors",
                             "fastify": "^5.0.0"}
    assert resolve("vendor")["@bytelyst/config"] == "file:../vendor/bytelyst-config-2.0.0.tgz"
    assert resolve("vendor")["@bytelyst/errors"] == "file:../vendor/bytelyst-errors-1.2.0.tgz"
    gitea = resolve("gitea")
    assert gitea["@bytelyst/config"] == "^2.0.0" and gitea["@bytelyst/errors"] == "*"
    assert resolve("gitea", BYTELYST_COMMON_PLAT_ROOT="does-not-exist")["@bytelyst/config"] == "*"

    env = _tool_env()
    env["BYTELYST_PACKAGE_SOURCE"] = "artifactory"
    proc = subprocess.run(["node", "-e", script], cwd=str(product), env=env, capture_output=True, text=True, check=False)
    assert proc.returncode != 0
    for word in ("BYTELYST_PACKAGE_SOURCE", "artifactory", "common-plat", "vendor", "gitea"):
        assert word in proc.stderr


def test_notes_backend_serves_health(workspace):
    product = workspace / "products" / "notes"
    run(["pnpm", "install", "--frozen-lockfile", "--filter", "notes-backend"], str(product))
    run(["pnpm", "--filter", "notes-backend", "build"], str(product))
    backend = product / "backend"
    assert (backend / "dist" / "server.js").is_file()
    # The linked packages load from the product, by name.
    node("require('@bytelyst/config'); require('@bytelyst/http'); require('fastify')", str(backend))
    with open(str(backend / "package.json")) as f:
        version = json.load(f)["version"]

    port = free_port()
    env = _tool_env()
    env["PORT"] = str(port)
    log_path = workspace / "notes-backend.log"
    with open(str(log_path), "wb") as log:
        proc = subprocess.Popen(["node", "dist/server.js"], cwd=str(backend), env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        try:
            status, body = get_json("http://127.0.0.1:%d/health" % port, time.monotonic() + 30)
        except AssertionError as err:
            raise AssertionError("%s\nserver output:\n%s" % (err, log_path.read_text())) from None
        assert status == 200
        assert body == {"status": "ok", "service": "notes-backend", "version": version}
        assert proc.poll() is None, "server exited"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ── generator ────────────────────────────────────────────────────────────────

def generate(out, *extra):
    subprocess.run([sys.executable, GENERATOR, str(out), "--packages", "8", "--products", "2",
                    "--plain-js"] + list(extra), check=True, capture_output=True, text=True, timeout=120)


def tree_digest(root):
    digest = {}
    for dirpath, _dirs, files in os.walk(str(root)):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                digest[os.path.relpath(path, str(root))] = hashlib.sha256(f.read()).hexdigest()
    return digest


def test_generator_help_documents_options():
    out = subprocess.run([sys.executable, GENERATOR, "--help"], capture_output=True, text=True, check=True).stdout
    for option in ("--packages", "--products", "--seed", "--payload-kib", "--plain-js"):
        assert option in out


def test_generator_writes_a_sound_deterministic_workspace(tmp_path):
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(first, "--payload-kib", "2")
    generate(second, "--payload-kib", "2")
    generate(other, "--payload-kib", "2", "--seed", "7")
    assert tree_digest(first) == tree_digest(second)
    assert tree_digest(first) != tree_digest(other)

    packages_dir = first / "common_plat" / "packages"
    manifests = {}
    for d in sorted(os.listdir(str(packages_dir))):
        with open(str(packages_dir / d / "package.json")) as f:
            m = json.load(f)
        manifests[m["name"]] = m
        assert (packages_dir / d / "assets" / "payload.bin").stat().st_size == 2048
    assert len(manifests) == 8
    targets = {n: set(m.get("bytelyst", {}).get("targets", ["backend", "web"])) for n, m in manifests.items()}
    graph = {}
    for name, m in manifests.items():
        deps = {d: s for d, s in m.get("dependencies", {}).items() if d.startswith("@bytelyst/")}
        for dep, spec in deps.items():
            assert dep in manifests, "%s depends on unknown %s" % (name, dep)
            assert spec in ("workspace:^", "workspace:*")
            assert targets[name] <= targets[dep], "%s needs %s in every kind it is for" % (name, dep)
        graph[name] = set(deps)
    # Kahn's algorithm: every package gets ordered only if the graph has no cycle.
    remaining = {n: set(d) for n, d in graph.items()}
    while remaining:
        ready = [n for n, d in remaining.items() if not d]
        assert ready, "dependency cycle among %s" % sorted(remaining)
        for n in ready:
            del remaining[n]
        for d in remaining.values():
            d.difference_update(ready)

    products = sorted(os.listdir(str(first / "products")))
    assert products == ["product-01", "product-02"]
    for product in products:
        assert (first / "products" / product / ".pnpmfile.cjs").is_file()
        for part in ("backend", "web"):
            with open(str(first / "products" / product / part / "package.json")) as f:
                deps = json.load(f)["dependencies"]
            assert deps and all(d in manifests and part in targets[d] for d in deps)


def test_generated_workspace_installs_builds_and_serves(tools, tmp_path):
    out = tmp_path / "ws"
    generate(out)
    run(["pnpm", "install"], str(out / "common_plat"))
    run(["pnpm", "-r", "build"], str(out / "common_plat"))
    product = out / "products" / "product-01"
    run(["pnpm", "install"], str(product))
    run(["pnpm", "-r", "build"], str(product))
    port = free_port()
    env = _tool_env()
    env["PORT"] = str(port)
    proc = subprocess.Popen(["node", "dist/server.js"], cwd=str(product / "backend"), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        status, body = get_json("http://127.0.0.1:%d/health" % port, time.monotonic() + 30)
        assert status == 200 and body["status"] == "ok" and body["service"] == "product-01-backend"
        status, body = get_json("http://127.0.0.1:%d/" % port, time.monotonic() + 10)
        assert status == 200 and body["packages"] and all(p["name"].startswith("@bytelyst/pkg-") for p in body["packages"])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
