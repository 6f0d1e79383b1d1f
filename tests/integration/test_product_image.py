"""bytelyst.deploy.product_image against the real engine, BuildKit and pnpm: the sample
products built on base images made by bytelyst.deploy.base_image from the packed sample
workspace (and once in tarball mode), run through real Ansible.

Every image is named below a unique prefix, labelled dev.bytelyst.test=1 and removed at
the end. Products are copies in a scratch directory with no common plat repo beside them.
"""

import hashlib
import json
import os
import shutil
import subprocess
import time
import uuid

import pytest

import image_contents
from engine_listing import containers_started, remove_tags_under
import packed_workspace
from product_fixtures import copy_product

from ansible_collections.bytelyst.deploy.plugins.module_utils._verify import read_json, wait_http

pytestmark = pytest.mark.integration

TEST_LABELS = {"dev.bytelyst.test": "1"}


class Env(object):
    pass


@pytest.fixture(scope="module")
def env(tmp_path_factory, docker_client, standin_image):
    """Packed sample workspace, dev/backend/web bases (version 1.0.0), a scratch products dir."""
    work = tmp_path_factory.mktemp("product-image")
    state = Env()
    state.client = docker_client
    state.run = packed_workspace.runner()
    state.prefix = "bytelyst-test-%s" % uuid.uuid4().hex[:8]
    state.standin = standin_image
    state.ca = os.environ.get("BYTELYST_CA_BUNDLE")
    state.products = str(work / "products")
    state.built = {}
    os.makedirs(state.products)
    try:
        state.packed = packed_workspace.packed_once()
        kinds = ("dev", "backend", "web")
        many = []
        for kind in kinds:
            args = {"manifest": state.packed, "kind": kind, "runtime_image": standin_image,
                    "version": "1.0.0", "name": "%s/base-%s" % (state.prefix, kind), "date_tag": "false",
                    "labels": TEST_LABELS}
            if state.ca:
                args["ca_bundle"] = state.ca
            many.append(args)
        results, raw = packed_workspace.run_many("base_image", many)  # one Ansible start-up for the three
        for result in results:
            assert not result.get("failed"), raw[-3000:]
        state.bases = dict((kind, "%s/base-%s:1.0.0" % (state.prefix, kind)) for kind in kinds)
        yield state
    finally:
        remove_tags_under(docker_client, state.prefix + "/")


def product_args(env, product_dir, kind, **extra):
    args = {"product_dir": product_dir, "kind": kind, "base_image": env.bases[kind],
            "dev_base_image": env.bases["dev"], "manifest": env.packed,
            "name": "%s/%s-%s" % (env.prefix, os.path.basename(product_dir), kind), "labels": TEST_LABELS}
    if env.ca:
        args["ca_bundle"] = env.ca
    args.update(extra)
    return args


def tags_of(client, repo):
    """{tag: image id} of every tag in repo."""
    found = {}
    for image in client.images.list(name=repo):
        for tag in image.tags:
            if tag.rpartition(":")[0] == repo:
                found[tag] = image.id
    return found


def layers(client, ref):
    return client.images.get(ref).attrs["RootFS"]["Layers"]


@pytest.fixture(scope="module")
def notes_backend(env):
    """notes backend built once in base mode (port 4016)."""
    product = copy_product("notes", env.products)
    result, raw = env.run("product_image", product_args(env, product, "backend", port=4016))
    assert not result.get("failed"), raw[-4000:]
    return product, result


def test_notes_backend_base_mode(env, notes_backend):
    product, result = notes_backend
    client = env.client
    # a workspace:* / workspace:^ product, and no common plat repo where its .pnpmfile.cjs would look
    assert not os.path.exists(os.path.join(env.products, "..", "common_plat"))
    assert result["changed"] and result["tags"] == ["%s/notes-backend:1.4.0" % env.prefix]
    assert result["verify"]["status"] == 200
    image = client.images.get(result["tags"][0])
    assert image.id == result["image_id"]
    labels = image.attrs["Config"]["Labels"]
    base = client.images.get(env.bases["backend"])
    assert labels["dev.bytelyst.base.ref"] == env.bases["backend"]
    assert labels["dev.bytelyst.base.version"] == "1.0.0"
    assert labels["dev.bytelyst.base.digest"] == base.id == result["base_digest"]
    assert labels["dev.bytelyst.fingerprint"] == result["fingerprint"]
    assert (labels["dev.bytelyst.mode"], labels["dev.bytelyst.kind"], labels["dev.bytelyst.product"]) == (
        "base", "backend", "notes")
    config = image.attrs["Config"]
    assert config["User"] == "node" and "4016/tcp" in config["ExposedPorts"] and config["Healthcheck"]["Test"]
    # shares the base's layers, adds little
    base_layers = base.attrs["RootFS"]["Layers"]
    assert layers(client, image.id)[:len(base_layers)] == base_layers
    assert 0 < result["unique_bytes"] < base.attrs["Size"] / 4
    assert result["unique_bytes"] == image.attrs["Size"] - base.attrs["Size"]
    # the product installed only what the base does not provide
    assert set(result["plan"]["runtime_package"]["dependencies"]) == {"fastify"}
    # answers /health on its own
    assert wait_http(client, image.id, 4016, "/health")["status"] == 200


def test_second_run_changes_nothing(env, notes_backend):
    product, first = notes_backend
    since = time.time()
    result, raw = env.run("product_image", product_args(env, product, "backend", port=4016))
    assert not result.get("failed"), raw[-3000:]
    assert result["changed"] is False and result["image_id"] == first["image_id"]
    assert result["fingerprint"] == first["fingerprint"] and "verify" not in result
    # No container either: the compatibility answers for these bases and inputs are recorded on the
    # image (one per base), so no check runs in a throwaway container of a base.
    assert containers_started(env.client, since, env.prefix + "/") == []
    recorded = json.loads(env.client.images.get(first["image_id"]).labels["dev.bytelyst.compat"])
    assert len(recorded) == 2 and all(answer["checks"] for answer in recorded.values())


def test_check_mode_reports_plan_and_builds_nothing(env, notes_backend):
    product, first = notes_backend
    repo = "%s/notes-backend" % env.prefix
    before = tags_of(env.client, repo)
    result, raw = env.run("product_image", product_args(env, product, "backend", port=4016, version="1.9.0"),
                          check=True)
    assert not result.get("failed"), raw[-3000:]
    assert result["changed"] and result["plan"]["build"] and result["image_id"] == ""
    assert "FROM %s AS builder" % env.bases["dev"] in result["plan"]["dockerfile"]
    assert {c["name"] for c in result["plan"]["compatibility"] if c["from"] == "packages"} == {
        "@bytelyst/config", "@bytelyst/errors", "@bytelyst/http", "@bytelyst/logger"}
    assert tags_of(env.client, repo) == before


def test_source_only_change_rebuilds_only_the_top_layer(env, notes_backend):
    product, first = notes_backend
    with open(os.path.join(product, "backend", "src", "server.ts"), "a") as handle:
        handle.write("\nexport const BUILD_MARK = 'source-only change';\n")
    try:
        result, raw = env.run("product_image", product_args(env, product, "backend", port=4016, version="1.4.1"))
        assert not result.get("failed"), raw[-3000:]
        old, new = layers(env.client, first["image_id"]), layers(env.client, result["image_id"])
        assert len(old) == len(new)
        # base, workdir, package.json and the dependency install are reused; only dist differs
        assert new[:-1] == old[:-1] and new[-1] != old[-1]
    finally:
        shutil.rmtree(product)
        copy_product("notes", env.products)


INCOMPATIBLE = ["range", "workspace_caret"]
BAD_INPUT = ["no_dir", "no_package_json", "no_base", "bad_kind", "tarball_without_manifest"]


def incompatible_case(env, case, work):
    """(args, expected texts) of a product whose @bytelyst/* range the base cannot meet."""
    product = copy_product("notes", work)
    manifest = env.packed
    if case == "range":
        path = os.path.join(product, "backend", "package.json")
        with open(path) as handle:
            package = json.load(handle)
        package["dependencies"]["@bytelyst/config"] = "^3.0.0"
        with open(path, "w") as handle:
            json.dump(package, handle)
        expect = ["@bytelyst/config ^3.0.0", "provides 2.0.0"]
    else:
        # the workspace moved on to errors 2.0.0: workspace:^ now means ^2.0.0, the base has 1.2.0
        manifest = os.path.join(work, "packed")
        shutil.copytree(env.packed, manifest)
        path = os.path.join(manifest, "bytelyst-manifest.json")
        with open(path) as handle:
            data = json.load(handle)
        data["packages"]["@bytelyst/http"]["version"] = "2.0.0"
        with open(path, "w") as handle:
            json.dump(data, handle)
        expect = ["@bytelyst/http ^2.0.0", "declared 'workspace:^'", "provides 1.3.0"]
    repo = "%s/notes-backend-bad-%s" % (env.prefix, case.replace("_", "-"))
    return product_args(env, product, "backend", manifest=manifest, name=repo), expect


def bad_input_case(env, case, work):
    """(args, expected text) of an input the module must refuse before building."""
    product = copy_product("notes", work)
    repo = "%s/notes-bad-%s" % (env.prefix, case.replace("_", "-"))
    args = product_args(env, product, "backend", name=repo)
    expect = {
        "no_dir": "does not exist",
        "no_package_json": "has no package.json",
        "no_base": "is not on this Docker engine",
        "bad_kind": "value of kind must be one of: backend, web",
        "tarball_without_manifest": "manifest is required with mode=tarball",
    }[case]
    if case == "no_dir":
        args["product_dir"] = product + "-missing"
    elif case == "no_package_json":
        os.remove(os.path.join(product, "backend", "package.json"))
    elif case == "no_base":
        args["base_image"] = "%s/base-backend:0.0.1" % env.prefix
        args["pull"] = "never"  # pulling (the default) is tested in test_remote_engine.py
    elif case == "bad_kind":
        args["kind"] = "frontend"
    else:
        args.update(mode="tarball", runtime_image=env.standin)
        del args["manifest"]
    return args, [expect]


@pytest.fixture(scope="module")
def refused(env, tmp_path_factory):
    """Every refused input of this file, run as one play (one Ansible start-up for all):
    {case: (args, expected texts, result)}."""
    cases = []
    for case in INCOMPATIBLE:
        cases.append((case,) + incompatible_case(env, case, str(tmp_path_factory.mktemp(case))))
    for case in BAD_INPUT:
        cases.append((case,) + bad_input_case(env, case, str(tmp_path_factory.mktemp(case))))
    results, raw = packed_workspace.run_many("product_image", [case[1] for case in cases])
    return dict((case, (args, expect, result, raw)) for (case, args, expect), result in zip(cases, results))


@pytest.mark.parametrize("case", INCOMPATIBLE)
def test_incompatible_range_is_refused_before_any_build(env, refused, case):
    args, expect, result, raw = refused[case]
    assert result.get("failed"), raw[-3000:]
    assert result["msg"].startswith("Incompatible base image %s" % env.bases["backend"])
    for text in expect:
        assert text in result["msg"]
    assert "command" not in result  # refused before any build ran
    assert tags_of(env.client, args["name"]) == {}


def test_failed_health_check_keeps_previous_tags(env, notes_backend):
    product, first = notes_backend
    repo = "%s/notes-backend" % env.prefix
    before = tags_of(env.client, repo)
    result, raw = env.run("product_image", product_args(env, product, "backend", port=4016, force=True,
                                                        health_path="/not-there", verify_timeout=15))
    assert result.get("failed"), raw[-3000:]
    assert "did not answer 200" in result["msg"] and "/not-there" in result["msg"]
    assert tags_of(env.client, repo) == before
    assert before["%s:1.4.0" % repo] == first["image_id"]


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_fails_clearly_and_changes_nothing(env, refused, case):
    args, expect, result, raw = refused[case]
    assert result.get("failed"), raw[-3000:]
    assert expect[0] in result["msg"]
    assert tags_of(env.client, args["name"]) == {}


def scratch_product(env, name):
    """The module's scratch copy of examples/products/<name> (made once)."""
    path = os.path.join(env.products, name)
    return path if os.path.isdir(path) else copy_product(name, env.products)


def built(env, name, kind, mode, port):
    """Build product name's kind once per module (mode base or tarball); return (product dir, result)."""
    key = (name, kind, mode)
    if key not in env.built:
        product = scratch_product(env, name)
        repo = "%s/%s-%s%s" % (env.prefix, name, kind, "-tarball" if mode == "tarball" else "")
        args = product_args(env, product, kind, port=port, name=repo)
        if mode == "tarball":
            args.update(mode="tarball", runtime_image=env.standin)
            del args["base_image"], args["dev_base_image"]
        result, raw = env.run("product_image", args)
        assert not result.get("failed"), raw[-4000:]
        env.built[key] = (product, result)
    return env.built[key]


def check_runs(env, result, service, version, port, page=None):
    """The image answers its health endpoint as the product's own server, with no process as root.

    Beyond the module's own verification: the answer names the service and its version, every
    process in the container runs as the image's non-root user, and page (path, text) renders."""
    assert result["verify"]["status"] == 200 and result["verify"]["url"].endswith(":%d/health" % port)
    image = env.client.images.get(result["image_id"])
    assert image.attrs["Config"]["User"] == "node"
    answer = image_contents.serve(env.client, image.id, port, "/health")
    health = json.loads(answer["body"])
    assert (health["status"], health["service"], health["version"]) == ("ok", service, version)
    assert answer["procs"] and 1 in [p["pid"] for p in answer["procs"]]
    assert all(p["uid"] == 1000 for p in answer["procs"]), answer["procs"]
    if page:
        answer = image_contents.serve(env.client, image.id, port, page[0])
        assert page[1] in answer["body"]


def check_on_base(env, result, product, kind):
    """Labels name the base the image is built on, and its layers start with the base's."""
    image = env.client.images.get(result["image_id"])
    labels = image.attrs["Config"]["Labels"]
    base = env.client.images.get(env.bases[kind])
    assert labels["dev.bytelyst.base.ref"] == labels["org.opencontainers.image.base.name"] == env.bases[kind]
    assert labels["dev.bytelyst.base.version"] == "1.0.0" == result["base_version"]
    assert labels["dev.bytelyst.base.digest"] == base.id == result["base_digest"]
    assert (labels["dev.bytelyst.mode"], labels["dev.bytelyst.kind"], labels["dev.bytelyst.product"]) == (
        "base", kind, product)
    assert labels["dev.bytelyst.fingerprint"] == result["fingerprint"]
    base_layers = base.attrs["RootFS"]["Layers"]
    assert layers(env.client, image.id)[:len(base_layers)] == base_layers
    assert 0 < result["unique_bytes"] < base.attrs["Size"] / 4


def check_no_tarballs(env, result, kind, tmp_path):
    """No *.tgz in the image's filesystem, nor in any layer the build added on top of the runtime
    image (no bytes spent on a tarball deleted later either), while the @bytelyst/* packages the
    tarballs held are installed. (The runtime image's own layers are not the product's doing.)"""
    names = image_contents.filesystem_names(env.client, result["image_id"])
    assert [name for name in names if name.endswith(".tgz")] == []
    installed = "app/%s/node_modules/@bytelyst/config/package.json" % kind
    assert installed in names and "app/%s/package.json" % kind in names
    assert not [name for name in names if name.startswith("app/%s/vendor" % kind)]
    saved = image_contents.save(env.client, result["image_id"], tmp_path / "image.tar")
    found = image_contents.layer_names(saved)
    runtime_layers = layers(env.client, env.standin)
    assert len(found) == len(layers(env.client, result["image_id"])) > len(runtime_layers)
    added = found[len(runtime_layers):]
    assert [(layer, name) for layer, names in added for name in names if ".tgz" in name] == []
    assert any(installed in names for layer, names in added)


def test_tarball_mode_clock_backend(env, tmp_path):
    product, result = built(env, "clock", "backend", "tarball", 4017)
    check_runs(env, result, "clock-backend", "0.9.2", 4017)
    image = env.client.images.get(result["image_id"])
    labels = image.attrs["Config"]["Labels"]
    assert labels["dev.bytelyst.mode"] == "tarball" and labels["dev.bytelyst.base.ref"] == env.standin
    runtime_layers = env.client.images.get(env.standin).attrs["RootFS"]["Layers"]
    assert image.attrs["RootFS"]["Layers"][:len(runtime_layers)] == runtime_layers
    # the @bytelyst/* packages are the product's own, installed from the tarballs
    deps = result["plan"]["runtime_package"]["dependencies"]
    assert deps["@bytelyst/config"].startswith("file:./vendor/bytelyst-config-")
    # ... and the tarballs themselves stay out of the final image
    check_no_tarballs(env, result, "backend", tmp_path)


def test_tarball_mode_trading_web(env, tmp_path):
    """A plain Node web in tarball mode: the page renders with the packages from the tarballs."""
    product, result = built(env, "trading", "web", "tarball", 3001)
    check_runs(env, result, "trading-web", "2.1.0", 3001, page=("/", "BLST"))
    labels = env.client.images.get(result["image_id"]).attrs["Config"]["Labels"]
    assert (labels["dev.bytelyst.mode"], labels["dev.bytelyst.kind"]) == ("tarball", "web")
    deps = result["plan"]["runtime_package"]["dependencies"]
    assert sorted(deps) == ["@bytelyst/config", "@bytelyst/format"]
    check_no_tarballs(env, result, "web", tmp_path)


def test_clock_backend_base_mode(env):
    product, result = built(env, "clock", "backend", "base", 4019)
    check_on_base(env, result, "clock", "backend")
    check_runs(env, result, "clock-backend", "0.9.2", 4019)
    # @bytelyst/format, config, errors, http, logger come from the base; only fastify is the product's
    assert set(result["plan"]["runtime_package"]["dependencies"]) == {"fastify"}
    # the product's own layers hold /app/backend only: pnpm's store, metadata cache and state
    # stay in the build's cache mount (the cache under /home/node once took 7.8 MB a product)
    base_count = len(layers(env.client, env.bases["backend"]))
    saved = image_contents.save(env.client, result["image_id"], product + ".tar")
    own = [n for dummy, files in image_contents.layer_files(saved)[base_count:] for n in files]
    assert any(n.startswith("app/backend/node_modules/") for n in own)
    assert [n for n in own if not n.startswith("app/backend/")] == []
    os.remove(saved)


@pytest.mark.parametrize("name,port,text", [("clock", 3002, "ByteLyst Clock"), ("trading", 3003, "BLST")])
def test_plain_node_web_base_mode(env, name, port, text):
    """clock and trading webs (plain Node servers): everything they need is in the web base."""
    product, result = built(env, name, "web", "base", port)
    check_on_base(env, result, name, "web")
    check_runs(env, result, "%s-web" % name, "0.9.2" if name == "clock" else "2.1.0", port, page=("/", text))
    assert result["image_id"] == env.client.images.get(result["tags"][0]).id
    # nothing left to install in the final stage: @bytelyst/config and format are the base's
    assert not result["plan"]["runtime_package"].get("dependencies")
    assert "pnpm install --prod" not in result["plan"]["dockerfile"]


def test_trading_backend_base_mode(env):
    """A second product on the same base: @bytelyst/auth and its jose come from the base too."""
    product = scratch_product(env, "trading")
    result, raw = env.run("product_image", product_args(env, product, "backend", port=4018))
    assert not result.get("failed"), raw[-4000:]
    assert result["verify"]["status"] == 200
    base = env.client.images.get(env.bases["backend"])
    base_layers = base.attrs["RootFS"]["Layers"]
    assert layers(env.client, result["image_id"])[:len(base_layers)] == base_layers
    assert 0 < result["unique_bytes"] < base.attrs["Size"] / 4
    assert set(result["plan"]["runtime_package"]["dependencies"]) == {"fastify"}


def test_notes_web_next_standalone_base_mode(env):
    product = os.path.join(env.products, "notes")
    if not os.path.isdir(product):
        product = copy_product("notes", env.products)
    result, raw = env.run("product_image", product_args(env, product, "web", port=3000))
    assert not result.get("failed"), raw[-4000:]
    assert result["verify"]["url"].endswith("/api/health") and result["verify"]["status"] == 200
    image = env.client.images.get(result["image_id"])
    base = env.client.images.get(env.bases["web"])
    base_layers = base.attrs["RootFS"]["Layers"]
    assert image.attrs["RootFS"]["Layers"][:len(base_layers)] == base_layers
    assert image.attrs["Config"]["Cmd"] == ["node", "server.js"]
    # the page renders with @bytelyst/ui from the base
    assert wait_http(env.client, image.id, 3000, "/")["status"] == 200


# Run by pnpm as the root project's postinstall in every install step: records what the step saw
# of the build secrets (sha256 of each npmrc value and of the CA bundle), never the secrets themselves.
SECRETS_SEEN = (
    "node -e \"const fs = require('fs'), crypto = require('crypto');"
    " const h = (b) => crypto.createHash('sha256').update(b).digest('hex');"
    " const r = (f) => { try { return fs.readFileSync(f, 'utf8'); } catch (e) { return null; } };"
    " const npmrc = r('/run/secrets/npmrc'), ca = r('/run/secrets/ca');"
    " fs.writeFileSync('secrets-seen.json', JSON.stringify({"
    " npmrc: npmrc === null ? null : npmrc.split('\\n').filter(Boolean).map((l) => h(l.slice(l.indexOf('=') + 1))),"
    " ca: ca === null ? null : h(ca) }));\"")


def test_secrets_absent_from_product_layers(env, tmp_path):
    """npm_token and ca_bundle reach the install steps (as BuildKit secrets) and nothing else:
    not the history, the image config, any layer's bytes, nor the module's result or output."""
    run_id = uuid.uuid4().hex
    token = "npm_BytelystSecretToken" + run_id
    marker = "BYTELYST-SECRET-CA-" + run_id
    ca_bundle = tmp_path / "ca.pem"
    system_ca = ""
    if env.ca:
        with open(env.ca) as handle:
            system_ca = handle.read()
    ca_bundle.write_text("# %s\n%s" % (marker, system_ca))
    product = copy_product("notes", str(tmp_path))
    path = os.path.join(product, "backend", "package.json")
    with open(path) as handle:
        package = json.load(handle)
    # unique per run: BuildKit's cache key has no secrets in it, so the install steps must not be cached
    package["description"] = "secrets test %s" % run_id
    package["scripts"]["postinstall"] = SECRETS_SEEN
    with open(path, "w") as handle:
        json.dump(package, handle, indent=2)
    repo = "%s/notes-backend-secrets" % env.prefix
    logs = tmp_path / "logs"
    result, raw = env.run("product_image", product_args(env, product, "backend", port=4016, name=repo,
                                                        npm_token=token, ca_bundle=str(ca_bundle),
                                                        build_log_dir=str(logs)))
    assert not result.get("failed"), raw[-4000:]
    assert result["verify"]["status"] == 200
    image_id = result["image_id"]
    secrets = [token, marker]

    # the final stage's install step saw both secrets (the test is not vacuous) ...
    seen = read_json(env.client, image_id, "/app/backend/secrets-seen.json")
    assert hashlib.sha256(token.encode()).hexdigest() in seen["npmrc"]
    assert seen["ca"] == hashlib.sha256(ca_bundle.read_bytes()).hexdigest()
    install_lines = [line for line in result["plan"]["dockerfile"].splitlines() if line.startswith("RUN --mount")]
    assert install_lines and all("--mount=type=secret,id=npmrc" in line and "--mount=type=secret,id=ca" in line
                                 for line in install_lines)

    # ... and left nothing of them behind: the history,
    history = subprocess.run([os.environ.get("BYTELYST_DOCKER_CLI") or "docker", "history", "--no-trunc", image_id],
                             capture_output=True, text=True, check=True).stdout
    assert "pnpm install" in history
    for secret in secrets:
        assert secret not in history
    # the image config (env, labels, cmd, healthcheck and the rest),
    attrs = json.dumps(env.client.images.get(image_id).attrs)
    assert "dev.bytelyst.fingerprint" in attrs
    for secret in secrets:
        assert secret not in attrs
    # every byte of every layer, the config file and the manifest of the saved image,
    saved = image_contents.save(env.client, image_id, tmp_path / "image.tar")
    hits, read = image_contents.find_bytes(saved, secrets + ["secrets-seen.json"])
    assert read >= len(layers(env.client, image_id)) + 1
    assert hits[b"secrets-seen.json"]  # the scan does find what is there
    assert hits[token.encode()] == [] and hits[marker.encode()] == []
    # the module's result and everything Ansible printed,
    for secret in secrets:
        assert secret not in json.dumps(result) and secret not in raw
    # and the build log, which holds BuildKit's whole plain progress of the install steps.
    assert os.path.dirname(result["build_log"]) == str(logs)
    assert os.path.basename(result["build_log"]).startswith("notes-backend-secrets-")
    with open(result["build_log"]) as handle:
        log = handle.read()
    assert "--progress plain" in log.splitlines()[0]
    assert "pnpm install" in log and "DONE" in log
    for secret in secrets:
        assert secret not in log
