"""bytelyst.deploy.base_image through real Ansible, on the packed sample workspace, with the
stand-in runtime image, BuildKit and the real npm registry (through the CA bundle).

Each kind is built once per module (fixture `built`); the other tests reuse those images.
Every image is tagged under bytelyst-test/ with a unique name and removed at the end.
"""

import json
import os
import shutil
import subprocess
import time
import uuid

import pytest

import image_contents
from engine_listing import containers_started, remove_tags_under, tags_under
from packed_workspace import changed_copy, packed_once, run_many, runner

pytestmark = pytest.mark.integration

KINDS = ("backend", "web", "dev")
VERSION = "1.0.0"


@pytest.fixture(scope="module")
def session(tmp_path_factory, docker_client, standin_image):
    """Shared state: packed workspace, secrets with markers, a name prefix; cleans up every image."""
    token = uuid.uuid4().hex[:8]
    root = tmp_path_factory.mktemp("base-image")
    ca_marker = "BYTELYST-CA-MARKER-" + token
    ca_bundle = root / "ca.pem"
    with open(os.environ["BYTELYST_CA_BUNDLE"]) as handle:
        ca_bundle.write_text("# %s\n%s" % (ca_marker, handle.read()))
    state = {
        "root": root,
        "packed": packed_once(),
        "prefix": "bytelyst-test/base-%s" % token,
        "npm_token": "NPM-TOKEN-MARKER-" + token,
        "ca_marker": ca_marker,
        "ca_bundle": str(ca_bundle),
        "standin": standin_image,
        "run": runner(),
        "built": {},
    }
    try:
        yield state
    finally:
        remove_tags_under(docker_client, state["prefix"])


def args_for(state, kind, **extra):
    args = {
        "manifest": state["packed"],
        "kind": kind,
        "version": VERSION,
        "name": "%s-%s" % (state["prefix"], kind),
        "runtime_image": state["standin"],
        "npm_token": state["npm_token"],
        "ca_bundle": state["ca_bundle"],
        "labels": {"dev.bytelyst.test": "1"},
    }
    args.update(extra)
    return args


def tag_state(client, prefix):
    """{tag: image id} of every tag under prefix: what must not move when something fails."""
    return tags_under(client, prefix)


def node_in(client, image, script, workdir="/app/backend", user=None):
    """Run `node -e script` in a throwaway container; return its output."""
    out = client.containers.run(image, ["node", "-e", script], working_dir=workdir, remove=True,
                                entrypoint=[], user=user or "", labels={"dev.bytelyst.test": "1"})
    return out.decode()


@pytest.fixture(scope="module")
def built(session):
    """built(kind) -> the module result of building that kind (once per module)."""
    def get(kind):
        if kind not in session["built"]:
            result, raw = session["run"]("base_image", args_for(session, kind))
            assert not result.get("failed"), raw[-4000:]
            session["built"][kind] = result
        return session["built"][kind]
    return get


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_builds_and_verifies(kind, session, built, docker_client):
    result = built(kind)
    name = "%s-%s" % (session["prefix"], kind)
    assert result["changed"] and result["built"]
    assert result["builder"] in ("buildkit", "buildx")
    assert "%s:%s" % (name, VERSION) in result["tags"]
    assert not any(t.endswith(":latest") for t in result["tags"])
    image = docker_client.images.get("%s:%s" % (name, VERSION))
    assert image.id == result["image_id"]
    labels = image.labels
    for key in ("title", "description", "version", "created", "revision", "base.name", "base.digest"):
        assert labels["org.opencontainers.image." + key], key
    # no vendor unless the labels option gives one (the collection does not know the team's name)
    assert "org.opencontainers.image.vendor" not in labels
    assert labels["org.opencontainers.image.title"] == name
    assert labels["org.opencontainers.image.version"] == VERSION
    assert labels["org.opencontainers.image.base.name"] == session["standin"]
    assert labels["dev.bytelyst.fingerprint"] == result["fingerprint"]
    # the kind label, and for tools written for 0.1.0's bases the deprecated flavour label too
    assert labels["dev.bytelyst.base.kind"] == labels["dev.bytelyst.base.flavour"] == kind
    assert result["kind"] == result["flavour"] == kind
    provides = json.loads(labels["dev.bytelyst.base.provides"])
    assert provides == result["packages"]
    manifest = json.load(open(os.path.join(session["packed"], "bytelyst-manifest.json")))
    expected = {
        "backend": {"@bytelyst/auth", "@bytelyst/config", "@bytelyst/errors", "@bytelyst/format",
                    "@bytelyst/http", "@bytelyst/logger"},
        "web": {"@bytelyst/config", "@bytelyst/errors", "@bytelyst/format", "@bytelyst/logger", "@bytelyst/ui"},
        "dev": set(manifest["packages"]),
    }[kind]
    assert set(provides) == expected
    assert all(provides[n] == manifest["packages"][n]["version"] for n in provides)

    # The file in the image lists what is really installed, and every package loads from a product dir.
    in_image = json.loads(node_in(docker_client, image.id,
                                  "process.stdout.write(require('fs').readFileSync('/app/.bytelyst/provides.json'))"))
    assert in_image["packages"] == provides and in_image["fingerprint"] == result["fingerprint"]
    assert in_image["flavour"] == kind and in_image["version"] == VERSION  # provides.json keeps its key (fingerprinted)
    loaded = node_in(docker_client, image.id,
                     "for (const n of %s) require(n); console.log('loaded', process.getuid())" % json.dumps(sorted(provides)))
    assert loaded.strip() == "loaded 1000"
    env = dict(e.split("=", 1) for e in image.attrs["Config"]["Env"])
    assert env["NODE_ENV"] == ("development" if kind == "dev" else "production")
    assert image.attrs["Config"]["WorkingDir"] == "/app"
    pnpm = docker_client.containers.run(image.id, ["pnpm", "--version"], remove=True, entrypoint=[])
    assert pnpm.decode().strip() == "10.6.5"
    if kind == "web":
        assert "react" in in_image["third_party"]
    if kind == "dev":
        tsc = docker_client.containers.run(image.id, ["tsc", "--version"], working_dir="/app/backend",
                                           remove=True, entrypoint=[])
        assert tsc.decode().startswith("Version 5.")
        assert "typescript" in in_image["third_party"]
    else:
        assert "typescript" not in in_image["third_party"]


def test_non_root_user_owns_app(session, built, docker_client):
    image = docker_client.images.get(built("backend")["image_id"])
    assert image.attrs["Config"]["User"] == "node"
    out = docker_client.containers.run(image.id, ["sh", "-c", "id -u; stat -c %U /app /app/node_modules"],
                                       remove=True, entrypoint=[]).decode().split()
    assert out == ["1000", "node", "node"]


def test_pnpm_leaves_nothing_under_root_home(session, built, docker_client, tmp_path):
    """pnpm's store, metadata cache and state stay in the build's cache mount: the layers the base
    adds hold nothing under /root (pnpm's metadata cache once took 4.1 MB of the backend base)."""
    image_id = built("backend")["image_id"]
    runtime_layers = len(docker_client.images.get(session["standin"]).attrs["RootFS"]["Layers"])
    saved = image_contents.save(docker_client, image_id, tmp_path / "base.tar")
    own = [n for dummy, files in image_contents.layer_files(saved)[runtime_layers:] for n in files]
    assert any(n.startswith("app/node_modules/@bytelyst/") for n in own)
    assert [n for n in own if n.startswith("root/")] == []


def test_shared_packages_are_stored_once(session, built, docker_client):
    """The tarballs serve the install only: no *.tgz in the image, and the layers the base adds
    to the runtime hold the installed packages about once (not tarballs + a chown copy too)."""
    image = docker_client.images.get(built("backend")["image_id"])
    found = docker_client.containers.run(image.id, ["sh", "-c", "find / -xdev -name '*.tgz' | grep -c . || true"],
                                         remove=True, entrypoint=[]).decode().strip()
    assert found == "0"
    installed = int(docker_client.containers.run(
        image.id, ["sh", "-c", "du -sk /app/node_modules | cut -f1"], remove=True, entrypoint=[]).decode()) * 1024
    runtime = docker_client.images.get(session["standin"])
    added = image.attrs["Size"] - runtime.attrs["Size"]
    # pnpm itself (installed on top of the runtime when its version differs) adds at most a few MB.
    assert added < installed * 1.3 + 20 * 1024 * 1024, (added, installed)


def test_second_run_builds_nothing(session, built, docker_client):
    first = built("backend")
    before = tag_state(docker_client, session["prefix"])
    check, raw = session["run"]("base_image", args_for(session, "backend"), check=True)
    assert check["changed"] is False, raw[-3000:]
    since = time.time()
    again, raw = session["run"]("base_image", args_for(session, "backend"))
    assert again["changed"] is False and again["built"] is False and again["builder"] is None, raw[-3000:]
    assert containers_started(docker_client, since, session["prefix"]) == []  # no verification either
    assert again["image_id"] == first["image_id"]
    assert "already holds fingerprint" in again["reasons"][0]
    assert tag_state(docker_client, session["prefix"]) == before


def test_check_mode_plans_and_touches_nothing(session, built, docker_client):
    built("backend")
    before = tag_state(docker_client, session["prefix"])
    result, raw = session["run"]("base_image", args_for(session, "backend", version="1.0.1", promote=True),
                                 check=True)
    assert result["changed"] is True and result["image_id"] is None, raw[-3000:]
    assert "no image is tagged" in result["reasons"][0]
    assert result["dockerfile"].startswith("FROM " + session["standin"])
    assert any(t.endswith(":latest") for t in result["tags"])
    assert tag_state(docker_client, session["prefix"]) == before


def test_secrets_absent_from_layers_and_history(session, built, docker_client, buildkit_cli, tmp_path):
    image_id = built("backend")["image_id"]
    saved = tmp_path / "image.tar"
    subprocess.run([buildkit_cli.path, "save", "-o", str(saved), image_id], check=True)
    extracted = tmp_path / "x"
    extracted.mkdir()
    subprocess.run(["tar", "-xf", str(saved), "-C", str(extracted)], check=True)
    markers = [session["npm_token"].encode(), session["ca_marker"].encode()]
    # Layers are tarballs inside the saved tarball: search every byte of every one of them.
    for dirpath, _dirs, files in os.walk(str(extracted)):
        for name in files:
            data = open(os.path.join(dirpath, name), "rb").read()
            for marker in markers:
                assert marker not in data, "%s found in %s" % (marker, name)
    history = subprocess.run([buildkit_cli.path, "history", "--no-trunc", image_id], capture_output=True,
                             text=True, check=True).stdout
    assert "npm install" in history or "pnpm install" in history  # the history is really there
    for marker in markers:
        assert marker.decode() not in history
    assert session["npm_token"] not in json.dumps(docker_client.images.get(image_id).attrs)


def test_changed_package_needs_new_version(session, built, docker_client, tmp_path):
    old = built("backend")
    changed = changed_copy(session["packed"], str(tmp_path / "changed"), "@bytelyst/logger")
    name = "%s-backend" % session["prefix"]
    before = tag_state(docker_client, session["prefix"])

    refused, raw = session["run"]("base_image", args_for(session, "backend", manifest=changed))
    assert refused.get("failed"), raw[-3000:]
    assert "%s:%s already exists with different content" % (name, VERSION) in refused["msg"]
    assert "Bump version" in refused["msg"]
    assert tag_state(docker_client, session["prefix"]) == before

    new, raw = session["run"]("base_image", args_for(session, "backend", manifest=changed, version="1.1.0"))
    assert new["changed"] and new["built"], raw[-3000:]
    assert new["image_id"] != old["image_id"]
    assert new["fingerprint"] != old["fingerprint"]
    after = tag_state(docker_client, session["prefix"])
    assert after["%s:1.0.0" % name] == old["image_id"]
    assert after["%s:1.1.0" % name] == new["image_id"]
    loaded = node_in(docker_client, new["image_id"], "console.log(require('@bytelyst/logger/dist/changed.js'))")
    assert loaded.strip() == "changed"


def test_package_that_fails_to_load_moves_no_tag(session, built, docker_client, tmp_path):
    built("backend")
    broken = changed_copy(session["packed"], str(tmp_path / "broken"), "@bytelyst/errors",
                          files={"package/dist/index.js": "throw new Error('errors-boom');\n"})
    before = tag_state(docker_client, session["prefix"])
    result, raw = session["run"]("base_image", args_for(session, "backend", manifest=broken, version="3.0.0",
                                                        packages=["@bytelyst/errors"], promote=True))
    assert result.get("failed"), raw[-3000:]
    assert "Verification of" in result["msg"] and "@bytelyst/errors does not load" in result["msg"]
    assert "errors-boom" in result["msg"]
    assert tag_state(docker_client, session["prefix"]) == before  # the temporary tag is gone too


def test_package_that_fails_to_install_moves_no_tag(session, built, docker_client, tmp_path):
    built("backend")
    broken = changed_copy(session["packed"], str(tmp_path / "garbage"), "@bytelyst/errors", raw=b"not a tarball")
    before = tag_state(docker_client, session["prefix"])
    result, raw = session["run"]("base_image", args_for(session, "backend", manifest=broken, version="3.0.1",
                                                        packages=["@bytelyst/errors"]))
    assert result.get("failed"), raw[-3000:]
    assert "The build of" in result["msg"] and "failed (exit code" in result["msg"]
    assert "The install reported: ERR_PNPM" in result["msg"] and "bytelyst-errors-1.2.0.tgz" in result["msg"]
    assert "pnpm install" in result["command"] or "build" in result["command"]
    assert result["output_tail"]
    assert session["npm_token"] not in raw
    assert tag_state(docker_client, session["prefix"]) == before


def _stale(session, tmp_path):
    stale = str(tmp_path / "stale")
    shutil.copytree(session["packed"], stale)
    with open(os.path.join(stale, "bytelyst-errors-1.2.0.tgz"), "ab") as handle:
        handle.write(b"\0")
    return stale


BAD_INPUTS = {
    "missing manifest": ({"manifest": "<tmp>/nowhere"}, "No tarball manifest"),
    "stale manifest": ({"manifest": "<stale>"}, "is stale: the tarball of @bytelyst/errors"),
    "runtime absent": ({"runtime_image": "bytelyst-test/absent-runtime:none", "pull": "never"},
                       "The runtime_image bytelyst-test/absent-runtime:none is not on this Docker engine, and pull is never"),
    "unknown kind": ({"kind": "mobile"}, "kind must be one of"),
    "invalid semver": ({"version": "1.2"}, "is not a semantic version"),
    "unknown package": ({"packages": ["@bytelyst/nope"]}, "@bytelyst/nope"),
}


def test_bad_inputs_fail_clearly_and_change_nothing(session, docker_client, tmp_path):
    """Every bad input of the issue, in one playbook (one task each, errors ignored)."""
    stale = _stale(session, tmp_path)
    cases = sorted(BAD_INPUTS)
    many = []
    for case in cases:
        args = args_for(session, "backend", version="9.9.9")
        for key, value in BAD_INPUTS[case][0].items():
            if value == "<stale>":
                value = stale
            elif isinstance(value, str):
                value = value.replace("<tmp>", str(tmp_path))
            args[key] = value
        many.append(args)
    before = tag_state(docker_client, session["prefix"])
    results, raw = run_many("base_image", many)
    for case, result in zip(cases, results):
        assert result.get("failed"), "%s: %s" % (case, result)
        assert BAD_INPUTS[case][1] in result["msg"], "%s: %s" % (case, result["msg"])
    assert session["npm_token"] not in raw
    assert tag_state(docker_client, session["prefix"]) == before


def test_verify_helpers_on_a_base_image(session, built, docker_client):
    """_verify.wait_http and check_packages (reused by product_image) against a real base image."""
    from ansible_collections.bytelyst.deploy.plugins.module_utils import _verify
    from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

    image_id = built("backend")["image_id"]
    server = ("const { healthPayload } = require('@bytelyst/http'); require('http').createServer((q, r) => {"
              " r.statusCode = q.url === '/health' ? 200 : 404; r.end(typeof healthPayload); }).listen(4123)")
    got = _verify.wait_http(docker_client, image_id, 4123, "/health", timeout=30, command=["node", "-e", server])
    assert got["status"] == 200
    with pytest.raises(DeployError) as info:
        _verify.wait_http(docker_client, image_id, 4123, "/missing", timeout=4, command=["node", "-e", server])
    assert "did not answer 200" in str(info.value) and "last: 404" in str(info.value)
    with pytest.raises(DeployError) as info:
        _verify.check_packages(docker_client, image_id, ["@bytelyst/http"], user="root")
    assert "runs as root" in str(info.value)
    leftover = {"label": _verify.VERIFY_LABEL + "=1", "ancestor": image_id}
    assert not docker_client.containers.list(all=True, filters=leftover)
