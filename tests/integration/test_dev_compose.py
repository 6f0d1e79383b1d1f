"""examples/dev: the dev compose recipe (the guide's Part 6.2) exercised once per service.

The dev base is built once by bytelyst.deploy.base_image from the packed sample workspace (under
a unique name, labelled as a test image) and shared by the tests. The backend test mounts a copy
of the clock product; the web test a copy of the notes web (next dev) with a common plat checkout
made of the packed tarballs (BYTELYST_PACKAGE_SOURCE=common-plat). Each service must come up
healthy, then pick up an edited source file without a restart by hand.
"""

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils import _tarball_manifest

import awx_fixtures
import packed_workspace
from ansible_runner_helper import run_module
from product_fixtures import copy_product

pytestmark = pytest.mark.integration

DEV_DIR = os.path.join(awx_fixtures.REPO, "examples", "dev")
RELOAD_WAIT = 120


def get_health(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=5) as response:
            return json.loads(response.read().decode("utf-8"))
    except (urllib.error.URLError, OSError, ValueError):
        return None


def compose(argv, env):
    return subprocess.run(["docker", "compose", "-f", os.path.join(DEV_DIR, "compose.dev.yml")] + argv,
                          capture_output=True, text=True, env=env, timeout=400, check=False, cwd=DEV_DIR)


@pytest.fixture(scope="module")
def dev_base(docker_client, standin_image):
    ansible_module = run_module
    prefix = "bytelyst-test-%s/" % uuid.uuid4().hex[:8]
    args = {"manifest": packed_workspace.packed_once(), "kind": "dev", "runtime_image": standin_image,
            "version": "1.0.0", "name": prefix + "base-dev", "date_tag": False,
            "labels": {"dev.bytelyst.test": "1"}}
    if os.environ.get("BYTELYST_CA_BUNDLE"):
        args["ca_bundle"] = os.environ["BYTELYST_CA_BUNDLE"]
    try:
        result, raw = ansible_module("base_image", args)
        assert not result.get("failed"), raw[-3000:]
        yield prefix + "base-dev:1.0.0"
    finally:
        awx_fixtures.remove_images_below(docker_client, prefix)


def test_dev_compose_hot_reload(dev_base):
    scratch = tempfile.mkdtemp(prefix="bytelyst-dev-")
    os.chmod(scratch, 0o755)  # the container's node user reads the mounted sources
    project = "bytelyst-test-dev-%s" % uuid.uuid4().hex[:8]
    port = awx_fixtures.free_port_block(1)
    env = dict(os.environ, BYTELYST_DEV_BASE=dev_base, PRODUCT_DIR=copy_product("clock", scratch),
               DEV_PROJECT=project, DEV_HOST_PORT=str(port), DEV_PORT="4017")
    argv_ca = []
    if os.environ.get("BYTELYST_CA_BUNDLE"):
        env["DEV_CA_BUNDLE"] = os.environ["BYTELYST_CA_BUNDLE"]
        argv_ca = ["-f", os.path.join(DEV_DIR, "compose.ca.yml")]
    try:
        up = compose(argv_ca + ["up", "-d", "--wait", "--wait-timeout", "240"], env)
        logs = compose(["logs", "--no-color", "--tail", "60"], env).stdout
        assert up.returncode == 0, up.stderr[-3000:] + logs
        first = get_health(port)
        assert first and first["status"] == "ok" and first["service"] == "clock-backend", logs
        assert first["version"] == "0.9.2"
        # nothing is written into the mounted checkout
        assert not os.path.exists(os.path.join(env["PRODUCT_DIR"], "backend", "dist"))

        marker = "clock-backend-hot-%s" % uuid.uuid4().hex[:6]
        source = os.path.join(env["PRODUCT_DIR"], "backend", "src", "server.ts")
        with open(source) as handle:
            text = handle.read()
        assert "const SERVICE = 'clock-backend';" in text
        with open(source, "w") as handle:
            handle.write(text.replace("const SERVICE = 'clock-backend';", "const SERVICE = '%s';" % marker))

        deadline, seen = time.time() + RELOAD_WAIT, None
        while time.time() < deadline:
            seen = get_health(port)
            if seen and seen["service"] == marker:
                break
            time.sleep(1)
        logs = compose(["logs", "--no-color", "--tail", "40"], env).stdout
        assert seen and seen["service"] == marker, "no reload within %ds: %r\n%s" % (RELOAD_WAIT, seen, logs)
    finally:
        compose(argv_ca + ["down", "--volumes", "--remove-orphans", "--timeout", "5"], env)
        shutil.rmtree(scratch, ignore_errors=True)


WEB_WAIT = 180
# The web's own packages (next, react-dom...) are installed by the entrypoint into this volume on
# the first run and found there by later runs, like the BuildKit cache: a warm run downloads nothing.
WEB_HOME_CACHE = "bytelyst-test-devweb-home"


def get_page(port, path="/"):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=60) as response:
            return response.status, response.read().decode("utf-8")
    except (urllib.error.URLError, OSError, ValueError):
        return None, ""


def common_plat_checkout(dest, marker):
    """A common plat checkout as the web sees it: each packed package's package.json and dist/ in
    packages/<dir> (as the manifest names it), not installed; @bytelyst/ui's card class carries marker."""
    packed = packed_workspace.packed_once()
    with open(os.path.join(packed, _tarball_manifest.MANIFEST_NAME)) as handle:
        manifest = json.load(handle)
    for entry in manifest["packages"].values():
        target = os.path.join(dest, entry["dir"])
        os.makedirs(target)
        with tarfile.open(os.path.join(packed, entry["tarball"])) as tar:
            for member in tar.getmembers():
                rel = os.path.normpath(member.name[len("package/"):])
                if not member.isfile() or not member.name.startswith("package/") or rel.startswith(".."):
                    continue
                os.makedirs(os.path.dirname(os.path.join(target, rel)), exist_ok=True)
                with open(os.path.join(target, rel), "wb") as handle:
                    handle.write(tar.extractfile(member).read())
    ui = os.path.join(dest, "packages", "ui", "dist", "index.js")
    with open(ui) as handle:
        text = handle.read()
    assert '"bl-card"' in text
    with open(ui, "w") as handle:
        handle.write(text.replace('"bl-card"', '"bl-card-%s"' % marker))
    return dest


def web_env(dev_base, scratch, **extra):
    project = "bytelyst-test-devweb-%s" % uuid.uuid4().hex[:8]
    env = dict(os.environ, BYTELYST_DEV_BASE=dev_base, PRODUCT_DIR=copy_product("notes", scratch),
               DEV_PROJECT=project, DEV_WEB_PORT="3000", COMPOSE_PROFILES="web")
    for name in ("BYTELYST_PACKAGE_SOURCE", "COMMON_PLAT_DIR", "DEV_WATCH_POLLING", "DEV_WEB_HOME"):
        env.pop(name, None)
    env.update(extra)
    files = []
    if os.environ.get("BYTELYST_CA_BUNDLE"):
        env["DEV_CA_BUNDLE"] = os.environ["BYTELYST_CA_BUNDLE"]
        files = ["-f", os.path.join(DEV_DIR, "compose.ca.yml")]
    return env, files


def checkout_files(root):
    return sorted(os.path.relpath(os.path.join(d, n), root) for d, dirs, names in os.walk(root) for n in dirs + names)


def test_dev_compose_web_next_dev_hot_reload(dev_base):
    """next dev on the dev base: the shared packages from a mounted common plat checkout, the page
    served over HTTP, then an edited page served without a restart; nothing written to the checkouts."""
    scratch = tempfile.mkdtemp(prefix="bytelyst-devweb-")
    os.chmod(scratch, 0o755)  # the container's node user reads the mounted sources
    card = "cp%s" % uuid.uuid4().hex[:6]
    common = common_plat_checkout(os.path.join(scratch, "common_plat"), card)
    env, files = web_env(dev_base, scratch, COMMON_PLAT_DIR=common, DEV_WEB_HOME=WEB_HOME_CACHE,
                         DEV_WEB_HOST_PORT=str(awx_fixtures.free_port_block(1)))
    files = ["-f", os.path.join(DEV_DIR, "compose.common-plat.yml")] + files
    port = int(env["DEV_WEB_HOST_PORT"])
    web_dir = os.path.join(env["PRODUCT_DIR"], "web")
    before = (checkout_files(env["PRODUCT_DIR"]), checkout_files(common))
    try:
        up = compose(files + ["up", "-d", "--wait", "--wait-timeout", "300", "web"], env)
        logs = compose(["logs", "--no-color", "--tail", "60", "web"], env).stdout
        assert up.returncode == 0, up.stderr[-3000:] + logs
        status, body = get_page(port, "/api/health")
        assert status == 200 and json.loads(body) == {"status": "ok", "service": "notes-web", "version": "1.4.0"}
        assert "@bytelyst/ui from common plat (/src/common_plat/packages/ui)" in logs

        status, page = get_page(port)
        assert status == 200 and "ByteLyst Notes" in page, page[-2000:]
        # @bytelyst/ui came from the mounted checkout, not from the dev base
        assert 'class="bl-card-%s"' % card in page and 'class="bl-card"' not in page

        marker = "Hot Notes %s" % uuid.uuid4().hex[:6]
        source = os.path.join(web_dir, "src", "app", "page.tsx")
        with open(source) as handle:
            text = handle.read()
        assert "ByteLyst Notes <Badge" in text
        with open(source, "w") as handle:
            handle.write(text.replace("ByteLyst Notes <Badge", "%s <Badge" % marker))

        deadline, page = time.time() + WEB_WAIT, ""
        while time.time() < deadline:
            status, page = get_page(port)
            if marker in page:
                break
            time.sleep(1)
        logs = compose(["logs", "--no-color", "--tail", "40", "web"], env).stdout
        assert marker in page, "no reload within %ds\n%s" % (WEB_WAIT, logs)
        # next dev worked in its tmpfs: no .next, node_modules or next-env.d.ts rewrite in the checkouts
        assert (checkout_files(env["PRODUCT_DIR"]), checkout_files(common)) == before
        user = compose(["exec", "-T", "web", "id", "-u"], env)
        assert user.stdout.strip() == "1000", user.stderr  # next dev runs as the base's node user
    finally:
        compose(files + ["down", "--remove-orphans", "--timeout", "5"], env)  # keeps WEB_HOME_CACHE
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.mark.parametrize("source, message", [
    ("vendor", "BYTELYST_PACKAGE_SOURCE=vendor is not supported by the dev recipe; allowed values: base"),
    ("common-plat", "BYTELYST_PACKAGE_SOURCE=common-plat, but no common plat checkout is mounted"),
])
def test_dev_compose_web_refuses_unusable_package_source(dev_base, source, message):
    """An unusable BYTELYST_PACKAGE_SOURCE stops the web before anything is installed or started."""
    scratch = tempfile.mkdtemp(prefix="bytelyst-devweb-")
    os.chmod(scratch, 0o755)
    env, files = web_env(dev_base, scratch, BYTELYST_PACKAGE_SOURCE=source)
    before = checkout_files(env["PRODUCT_DIR"])
    try:
        run = compose(files + ["run", "--rm", "--no-deps", "-T", "web"], env)
        assert run.returncode == 2, run.stdout[-2000:] + run.stderr[-2000:]
        assert message in run.stderr, run.stderr[-2000:]
        assert "installing" not in run.stdout + run.stderr
        # nothing installed into the volume, nothing left running, the checkout untouched
        home = compose(["run", "--rm", "--no-deps", "-T", "--entrypoint", "ls", "web", "-A", "/home/node"], env)
        assert home.returncode == 0 and "web-deps" not in home.stdout.split(), home.stdout + home.stderr
        assert compose(["ps", "-q"], env).stdout.strip() == ""
        assert checkout_files(env["PRODUCT_DIR"]) == before
    finally:
        compose(files + ["down", "--volumes", "--remove-orphans", "--timeout", "5"], env)
        shutil.rmtree(scratch, ignore_errors=True)
