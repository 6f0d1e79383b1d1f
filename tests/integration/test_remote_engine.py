"""The modules against a remote engine reached over TCP with TLS (client certificates required):
a BuildKit build through the docker CLI, a push and a Compose deploy, the connection given once
through module_defaults of group/bytelyst.deploy.docker; a client certificate the engine does not
trust fails with a clear message and changes nothing. One extra engine for the whole file.
"""

import os
import uuid

import pytest
import yaml

import packed_workspace
from ansible_runner_helper import run_module_many
from product_fixtures import copy_product
from registry_fixtures import Registry, free_port, tag_digest, tag_list
from remote_engine import TlsEngine, shared_engine

from ansible_collections.bytelyst.deploy.plugins.module_utils._build import BuildSpec, build
from ansible_collections.bytelyst.deploy.plugins.module_utils._connection import Connection
from ansible_collections.bytelyst.deploy.plugins.module_utils._docker_cli import find_buildkit_cli

pytestmark = pytest.mark.integration

SMALL_BASE = "bytelyst-standin.invalid/debian:bookworm-minbase"
APP_DOCKERFILE = "\n".join([
    "FROM %s" % SMALL_BASE,
    "RUN echo built-remotely > /built-on",
    "USER 1000",
    'HEALTHCHECK --interval=1s --timeout=2s --retries=3 CMD ["test", "-f", "/built-on"]',
    # sh traps TERM between sleeps, so the container stops at once.
    "CMD [\"sh\", \"-c\", \"trap 'exit 0' TERM; while :; do sleep 1; done\"]",
    "",
])


@pytest.fixture(scope="module")
def engine(tmp_path_factory, docker_client):
    eng = shared_engine() or TlsEngine(tmp_path_factory.mktemp("tls-engine")).start()
    try:
        eng.load(docker_client, SMALL_BASE)
        yield eng
    finally:
        eng.stop()


def on(engine, module, many, wrong=False):
    """Run module once per args dict on the TLS engine, the connection set by module_defaults."""
    defaults = {"module_defaults": {"group/bytelyst.deploy.docker": engine.options(wrong=wrong)}}
    results, raw = run_module_many(module, many, play_keys=defaults)
    return results, raw


def project_containers(client, name):
    return sorted(c.name for c in client.containers.list(all=True, filters={"label": "com.docker.compose.project=%s" % name}))


@pytest.fixture(scope="module")
def app(engine, registry_addr, tmp_path_factory):
    """A tiny image built on the TLS engine by the docker CLI (BuildKit), and a compose project for it."""
    token = uuid.uuid4().hex[:8]
    root = tmp_path_factory.mktemp("remote-app")
    context = root / "context"
    context.mkdir()
    conn = Connection.from_options(engine.options(), environ={})
    cli = find_buildkit_cli(connection=conn)
    tag = "bytelyst-test/remote-%s:build" % token
    built = build(cli, BuildSpec(APP_DOCKERFILE, str(context), tag, labels={"dev.bytelyst.test": "1"}),
                  what="build on the TLS engine")
    src = root / "src"
    src.mkdir()
    (src / "compose.yml").write_text(yaml.safe_dump({"services": {"app": {"image": "placeholder"}}}))

    class App(object):
        pass

    a = App()
    a.token, a.image_id, a.tag, a.builder = token, built.image_id, tag, built.builder
    a.repository = "%s/bytelyst-test/remote-%s" % (registry_addr, token)
    a.name, a.src, a.history = "bl-remote-%s" % token, str(src), str(root / "history")
    a.deploy_args = lambda ref: dict(project_name=a.name, project_src=a.src, history_dir=a.history,
                                     images={"app": ref}, wait_timeout=60, triggered_by="pytest")
    return a


def test_build_push_and_deploy_over_tls(engine, app, docker_client, registry_addr):
    remote = engine.client()
    try:
        # The build ran on the TLS engine through the docker CLI: the image is there, not on the main engine.
        assert remote.images.get(app.tag).id == app.image_id
        assert app.builder in ("buildx", "buildkit")
        assert not docker_client.images.list(name="bytelyst-test/remote-%s" % app.token)
        # BuildKit did the build (the CLI got the engine's TLS settings): its history says so.
        assert "buildkit" in str(remote.images.get(app.tag).history()).lower()

        push_args = {"name": app.tag, "repository": app.repository, "tags": ["1.0.0"], "allow_http": True}
        (pushed,), raw = on(engine, "image_push", [push_args])
        assert not pushed.get("failed"), raw[-3000:]
        assert pushed["changed"] and pushed["image_id"] == app.image_id
        assert tag_list("http://" + registry_addr, app.repository.split("/", 1)[1]) == ["1.0.0"]

        ref = "%s:1.0.0" % app.repository
        (deployed, again), raw = on(engine, "compose_deploy", [app.deploy_args(ref), app.deploy_args(ref)])
        assert not deployed.get("failed"), raw[-3000:]
        assert deployed["changed"] and not again["changed"], raw[-3000:]
        (container,) = remote.containers.list(filters={"label": "com.docker.compose.project=%s" % app.name})
        assert container.image.id == app.image_id
        assert container.attrs["State"]["Health"]["Status"] == "healthy"
        assert not project_containers(docker_client, app.name)  # nothing ran on the main engine
    finally:
        remote.close()


def test_a_client_certificate_the_engine_does_not_trust_fails_clearly_and_changes_nothing(
        engine, app, docker_client, registry_addr):
    remote = engine.client()
    try:
        before_tags = tag_list("http://" + registry_addr, app.repository.split("/", 1)[1])
        before_containers = [(c.name, c.id, c.status) for c in remote.containers.list(all=True)]
        before_images = sorted(i.id for i in remote.images.list(all=True))
        history = sorted(os.listdir(app.history)) if os.path.isdir(app.history) else []
        ref = "%s:1.0.0" % app.repository
        (push,), raw = on(engine, "image_push", [
            {"name": app.tag, "repository": app.repository, "tags": ["1.0.1"], "allow_http": True}], wrong=True)
        (deploy,), raw = on(engine, "compose_deploy", [app.deploy_args(ref)], wrong=True)
        for result in (push, deploy):
            assert result.get("failed"), result
            assert "The Docker engine at %s (TLS, verified) does not answer" % engine.host in result["msg"], result["msg"]
            assert "The engine refused the client certificate %s" % engine.certs["wrong_cert"] in result["msg"], result
        assert tag_list("http://" + registry_addr, app.repository.split("/", 1)[1]) == before_tags
        assert [(c.name, c.id, c.status) for c in remote.containers.list(all=True)] == before_containers
        assert sorted(i.id for i in remote.images.list(all=True)) == before_images
        assert (sorted(os.listdir(app.history)) if os.path.isdir(app.history) else []) == history
    finally:
        remote.close()


# Base images from the registry: bases built and pushed from the main engine, a product built on the
# TLS engine, which has never seen them.

PASSWORD = "pull-Secret-7"


@pytest.fixture(scope="module")
def pushed_bases(tmp_path_factory, docker_client, standin_image):
    """The dev and backend bases built on the main engine and pushed to a registry that wants a password."""
    registry = Registry(tmp_path_factory.mktemp("auth-registry"), user="ci", password=PASSWORD).start()
    token = uuid.uuid4().hex[:8]
    refs = {}
    try:
        many = []
        for kind in ("dev", "backend"):
            many.append({"manifest": packed_workspace.packed_once(), "kind": kind, "runtime_image": standin_image,
                         "version": "1.0.0", "name": "bytelyst-test/base-%s-%s" % (kind, token),
                         "registry": registry.addr, "date_tag": "false", "labels": {"dev.bytelyst.test": "1"}})
            if os.environ.get("BYTELYST_CA_BUNDLE"):
                many[-1]["ca_bundle"] = os.environ["BYTELYST_CA_BUNDLE"]
        results, raw = packed_workspace.run_many("base_image", many)
        for kind, result in zip(("dev", "backend"), results):
            assert not result.get("failed"), raw[-3000:]
            refs[kind] = result["tags"][0]
            repo, tag = refs[kind].rsplit(":", 1)
            for event in docker_client.api.push(repo, tag, auth_config={"username": "ci", "password": PASSWORD},
                                                stream=True, decode=True):
                assert "error" not in event, event
        yield registry, refs
    finally:
        for ref in refs.values():
            try:
                docker_client.images.remove(ref)
            except Exception:
                pass
        registry.close()


def product_args(product, refs, **extra):
    args = {"product_dir": product, "kind": "backend", "port": 4019, "base_image": refs["backend"],
            "dev_base_image": refs["dev"], "name": "bytelyst-test/clock-remote", "version": "0.9.2",
            "revision": "remote1", "allow_http": True, "labels": {"dev.bytelyst.test": "1"}}
    if os.environ.get("BYTELYST_CA_BUNDLE"):
        args["ca_bundle"] = os.environ["BYTELYST_CA_BUNDLE"]
    args.update(extra)
    return args


def engine_state(client):
    return sorted((i.id, tuple(sorted(i.tags))) for i in client.images.list(all=True)), sorted(
        c.id for c in client.containers.list(all=True))


def test_a_product_builds_on_an_engine_that_never_saw_its_bases(engine, pushed_bases, tmp_path):
    registry, refs = pushed_bases
    product = copy_product("clock", tmp_path)
    remote = engine.client()
    try:
        assert not [r for r in refs.values() if remote.images.list(name=r.rsplit(":", 1)[0])]  # never seen
        before = engine_state(remote)
        closed = "127.0.0.1:%d" % free_port()
        (wrong, unreachable), raw = on(engine, "product_image", [
            product_args(product, refs, username="ci", password="not-the-password"),
            product_args(product, dict(refs, backend="%s/bytelyst-test/base-backend:1.0.0" % closed))])
        assert wrong.get("failed") and "Authentication failed for user ci at registry %s" % registry.addr in wrong["msg"]
        assert "not-the-password" not in raw
        assert unreachable.get("failed"), unreachable
        assert "is not on this Docker engine, and pulling it failed. The registry %s failed look-up of " \
            "%s/bytelyst-test/base-backend:1.0.0" % (closed, closed) in \
            unreachable["msg"] and "cannot connect" in unreachable["msg"], unreachable["msg"]
        assert engine_state(remote) == before  # nothing pulled, built or tagged

        (built,), raw = on(engine, "product_image", [product_args(product, refs, username="ci", password=PASSWORD)])
        assert not built.get("failed"), raw[-4000:]
        assert built["changed"] and sorted(built["pulled"]) == sorted([refs["backend"], refs["dev"]])
        assert PASSWORD not in raw
        # Both stages start FROM the digest the registry named, resolved once; the labels keep the reference.
        digests = dict((f, remote.images.get(r).attrs["RepoDigests"][0]) for f, r in refs.items())
        assert digests["backend"] == registry_digest(registry, refs["backend"])
        dockerfile = built["plan"]["dockerfile"]
        assert "FROM %s AS builder" % digests["dev"] in dockerfile or "FROM %s" % digests["dev"] in dockerfile
        assert "FROM %s" % digests["backend"] in dockerfile and "FROM %s\n" % refs["backend"] not in dockerfile
        labels = remote.images.get(built["image_id"]).labels
        assert labels["dev.bytelyst.base.ref"] == refs["backend"]
        assert labels["dev.bytelyst.base.digest"] == digests["backend"] == built["base_digest"]
        assert built["verify"]["status"] == 200
        assert not docker_client_has(built["image_id"])

        (again,), raw = on(engine, "product_image", [product_args(product, refs, username="ci", password=PASSWORD)])
        assert not again.get("failed") and not again["changed"] and again["pulled"] == [], raw[-3000:]
    finally:
        remote.close()


def registry_digest(registry, ref):
    repo, tag = ref.split("/", 1)[1].rsplit(":", 1)
    return "%s@%s" % (ref.rsplit(":", 1)[0], tag_digest(registry.url, repo, tag, user="ci", password=PASSWORD))


def docker_client_has(image_id):
    import docker
    client = docker.from_env()
    try:
        return any(i.id == image_id for i in client.images.list(all=True))
    finally:
        client.close()
