"""The rest of a real product, in ONE real build (the real module through Ansible, BuildKit,
pnpm, apt and the Debian mirror): a small product made here whose backend lives in api/
(kind_dir), with the guide's product-level shared/ (reached as ../../shared from the
built server), a build argument compiled into the build output, an .npmrc of its own with a
token line, a Debian package for the final image, and planted files that must never enter a
build (.env files, private keys, .git, the .npmrc itself) or that its .dockerignore leaves out.

The image is checked from the outside: what its server answers, which files it holds, and
that no layer, no history entry and no file the engine wrote during the build (layers, build
cache, the context BuildKit received) holds a planted byte string. A secret-looking build
argument is refused with nothing tagged.
"""

import json
import os
import subprocess
import time
import uuid

import pytest

import image_contents
from engine_listing import remove_tags_under
import packed_workspace

pytestmark = pytest.mark.integration

TEST_LABELS = {"dev.bytelyst.test": "1"}
PORT = 4077
API_URL = "https://shop.example.test/api"

BUILD = """// the build: dist/ is src/ plus what the build saw (its build argument, its .npmrc)
import { cpSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
rmSync('dist', { recursive: true, force: true });
cpSync('src', 'dist', { recursive: true });
writeFileSync('dist/build-info.json', JSON.stringify({
  api: process.env.NEXT_PUBLIC_API_URL || null,
  npmrc: existsSync('.npmrc') ? readFileSync('.npmrc', 'utf8') : null,
}));
"""
SERVER = """const http = require('node:http');
const info = require('./build-info.json');
const { greeting } = require('../../shared/greeting.js');
http.createServer((req, res) => {
  res.writeHead(req.url === '/health' ? 200 : 404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ api: info.api, npmrc: info.npmrc, greeting }));
}).listen(Number(process.env.PORT), '0.0.0.0');
"""


def ca_args():
    ca = os.environ.get("BYTELYST_CA_BUNDLE")
    return {"ca_bundle": ca} if ca else {}


def write(root, files):
    for rel, text in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            handle.write(text)


class Env(object):
    pass


@pytest.fixture(scope="module")
def built(tmp_path_factory, docker_client, standin_image):
    state = Env()
    state.client = docker_client
    state.prefix = "bytelyst-test-%s" % uuid.uuid4().hex[:8]
    state.marker = "CONTEXT-MARKER-%s" % uuid.uuid4().hex  # must reach the engine and the image
    state.planted = dict((name, "PLANTED-%s-%s" % (name.upper(), uuid.uuid4().hex)) for name in (
        "env", "env_production", "pem", "key", "id_rsa", "git", "npmrc_token", "ignored", "kind_ignored"))
    root = str(tmp_path_factory.mktemp("extras") / "tiny")
    p = state.planted
    write(root, {
        "api/package.json": json.dumps({"name": "tiny-api", "version": "1.0.0", "private": True,
                                        "main": "dist/server.js", "scripts": {"build": "node build.mjs"}}),
        "api/build.mjs": BUILD,
        "api/src/server.js": SERVER,
        "api/.env.production": "SECRET=%s\n" % p["env_production"],
        "api/certs/server.pem": p["pem"],
        "api/deploy.key": p["key"],
        "api/notes/draft.md": p["kind_ignored"],
        "api/.dockerignore": "notes\n",
        "shared/greeting.js": "exports.greeting = 'hello from shared';\n",
        "shared/marker-%s.txt" % state.marker: state.marker,
        "shared/keys/id_rsa": p["id_rsa"],
        "shared/tmp/scratch.txt": p["ignored"],
        ".dockerignore": "# the product's own\nshared/tmp\n",
        ".env": "TOKEN=%s\n" % p["env"],
        ".git/config": "[core]\n# %s\n" % p["git"],
        ".npmrc": "@tiny:registry=https://npm.tiny.invalid/\nfetch-retries=4\n"
                  "//npm.tiny.invalid/:_authToken=%s\n" % p["npmrc_token"],
    })
    state.root = root
    state.run = packed_workspace.runner()
    state.args = dict(ca_args(), product_dir=root, kind="backend", kind_dir="api", mode="tarball",
                      runtime_image=standin_image, manifest=packed_workspace.packed_once(), port=PORT,
                      name="%s/tiny-backend" % state.prefix, labels=TEST_LABELS, revision="abc1234",
                      build_args={"NEXT_PUBLIC_API_URL": API_URL}, os_packages=["tree"])
    state.started = time.time() - 2
    try:
        state.result, raw = state.run("product_image", state.args)
        assert not state.result.get("failed"), raw[-4000:]
        state.ref = state.result["tags"][0]
        state.archive = image_contents.save(docker_client, state.ref, str(tmp_path_factory.mktemp("saved") / "i.tar"))
        yield state
    finally:
        remove_tags_under(docker_client, state.prefix + "/")


def test_the_server_reaches_shared_and_sees_the_build_argument_and_the_npmrc_settings(built):
    answer = image_contents.serve(built.client, built.ref, PORT)
    body = json.loads(answer["body"])
    assert body["greeting"] == "hello from shared" and body["api"] == API_URL
    # the build saw the product's settings, never its token line
    assert body["npmrc"] == "@tiny:registry=https://npm.tiny.invalid/\nfetch-retries=4\n"
    assert all(proc["uid"] == 1000 for proc in answer["procs"])
    plan = built.result["plan"]
    assert plan["kind_dir"] == "api" and plan["extra_dirs"] == ["shared"]
    assert plan["build_args"] == {"NEXT_PUBLIC_API_URL": API_URL} and plan["os_packages"] == ["tree"]
    assert [d["key"] for d in plan["npmrc_left_out"]] == ["//npm.tiny.invalid/:_authToken"]


def test_the_os_package_is_installed_without_apt_lists(built):
    out = built.client.containers.run(built.ref, ["sh", "-c", "tree --version; ls /var/lib/apt/lists | wc -l"],
                                      entrypoint=[], remove=True, network_disabled=True, labels=TEST_LABELS)
    lines = out.decode("utf-8").split()
    assert lines[0] == "tree" and lines[-1] == "0"


def test_the_image_holds_shared_beside_the_kind_and_no_planted_file(built):
    names = set(image_contents.filesystem_names(built.client, built.ref))
    assert {"app/shared/greeting.js", "app/backend/dist/server.js", "app/backend/dist/build-info.json"} <= names
    assert "app/shared/marker-%s.txt" % built.marker in names
    for name in ("app/shared/keys/id_rsa", "app/shared/tmp/scratch.txt", "app/backend/.env.production",
                 "app/.env", "app/backend/.npmrc"):
        assert name not in names


def test_no_layer_no_history_and_no_config_holds_a_planted_secret(built):
    needles = list(built.planted.values()) + [built.marker]
    hits, read = image_contents.find_bytes(built.archive, needles)
    assert read > 3 and hits[built.marker.encode()], "the scan must see the image's own files"
    assert dict((n, where) for n, where in hits.items() if where and n != built.marker.encode()) == {}
    history = json.dumps(built.client.api.history(built.ref))
    assert not any(secret in history for secret in built.planted.values())


def test_nothing_the_engine_wrote_during_the_build_holds_a_planted_file(built):
    """The build cache and the context BuildKit received live under the engine's data root: every
    file written there since the build started whose name is a planted file's (or the marker's,
    which must be there: the context did reach the engine) is read."""
    root = built.client.info()["DockerRootDir"]
    minutes = max(1, int((time.time() - built.started) / 60) + 1)
    names = [".env", ".env.production", "server.pem", "deploy.key", "id_rsa", "config", ".npmrc", "draft.md",
             "scratch.txt", "marker-%s.txt" % built.marker]
    expr = []
    for name in names:
        expr += ["-o", "-name", name]
    proc = subprocess.run(["find", root, "-xdev", "-type", "f", "-mmin", "-%d" % minutes, "("] + expr[1:] + [")"],
                          capture_output=True, text=True, timeout=120, check=False)
    found = [path for path in proc.stdout.splitlines() if path]
    marker_copies = [path for path in found if path.endswith("marker-%s.txt" % built.marker)]
    assert marker_copies, "the context was expected under %s (%s)" % (root, proc.stderr[-500:])
    holding = []
    for path in found:
        try:
            with open(path, "rb") as handle:
                data = handle.read(1 << 20)
        except OSError:
            continue
        holding += [path for secret in built.planted.values() if secret.encode() in data]
    assert holding == []


def test_the_same_inputs_again_build_nothing(built):
    result, raw = built.run("product_image", built.args)
    assert not result.get("failed"), raw[-3000:]
    assert result["changed"] is False and result["plan"]["build"] is False
    assert result["fingerprint"] == built.result["fingerprint"] and result["image_id"] == built.result["image_id"]


def test_a_secret_looking_build_argument_is_refused_with_nothing_tagged(built):
    before = sorted(t for image in built.client.images.list() for t in image.tags if t.startswith(built.prefix))
    args = dict(built.args, name="%s/refused" % built.prefix, build_args={"NPM_TOKEN": "abc123-not-public"})
    result, raw = built.run("product_image", args)
    assert result.get("failed"), raw[-2000:]
    assert "build_args: NPM_TOKEN looks like a secret" in result["msg"] and "BuildKit secret" in result["msg"]
    after = sorted(t for image in built.client.images.list() for t in image.tags if t.startswith(built.prefix))
    assert after == before and not any("refused" in t for t in after)
