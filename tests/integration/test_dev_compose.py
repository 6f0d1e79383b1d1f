"""examples/dev: the dev compose recipe (the guide's Part 6.2) exercised once.

The dev base is built by bytelyst.deploy.base_image from the packed sample workspace (under a
unique name, labelled as a test image); a copy of the clock product is mounted; the service
must come up healthy, then pick up an edited source file without a restart by hand.
"""

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import pytest

import awx_fixtures
import packed_workspace
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


@pytest.fixture
def dev_base(docker_client, standin_image, ansible_module):
    prefix = "bytelyst-test-%s/" % uuid.uuid4().hex[:8]
    args = {"manifest": packed_workspace.packed_once(), "flavour": "dev", "runtime_image": standin_image,
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
