"""The modules against a remote engine reached over TCP with TLS (client certificates required):
a BuildKit build through the docker CLI, a push and a Compose deploy, the connection given once
through module_defaults of group/bytelyst.deploy.docker; a client certificate the engine does not
trust fails with a clear message and changes nothing. One extra engine for the whole file.
"""

import os
import uuid

import pytest
import yaml

from ansible_runner_helper import run_module_many
from registry_fixtures import tag_list
from remote_engine import TlsEngine

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
    eng = TlsEngine(tmp_path_factory.mktemp("tls-engine")).start()
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

        (pushed,), raw = on(engine, "image_push", [{"name": app.tag, "repository": app.repository,
                                                  "tags": ["1.0.0"], "allow_http": True}])
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
