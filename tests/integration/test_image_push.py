"""bytelyst.deploy.image_push through real Ansible, against Debian's docker-registry:
the environment's loopback registry (plain HTTP) and extra ones started here
(htpasswd + TLS with a CA made here; stopped before or killed during a push)."""

import os
import socket
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from registry_fixtures import (  # noqa: E402
    RecordingProxy, Registry, delete_repository, manifest_layers, tag_digest, tag_list)

pytestmark = pytest.mark.integration

USER, PASSWORD = "ci-pusher", "Tr1cky-pa55word-4-tests"


@pytest.fixture
def push(ansible_module):
    def run(args, check=False, diff=False):
        return ansible_module("image_push", args, check=check, diff=diff)
    return run


@pytest.fixture
def build(docker_client, tmp_path, unique):
    """build(base, {file: bytes}) -> image tagged i6test-<unique>-<n>:build (a test image, removed afterwards)."""
    made = []

    def make(base, files):
        tag = "i6test-%s-%d:build" % (unique, len(made))
        context = tmp_path / ("ctx%d" % len(made))
        context.mkdir()
        lines = ["FROM %s" % base]
        for name, data in files.items():
            (context / name).write_bytes(data)
            lines.append("COPY %s /%s" % (name, name))  # one layer per file
        (context / "Dockerfile").write_text("\n".join(lines) + "\n")
        image, _logs = docker_client.images.build(path=str(context), tag=tag, rm=True,
                                                  labels={"dev.bytelyst.test": "1"})
        made.append(image.id)
        return image
    yield make
    for image_id in reversed(made):
        try:
            docker_client.images.remove(image_id, force=True)
        except Exception:
            pass


@pytest.fixture
def loopback(registry_addr):
    """The environment's registry; every repository a test names is emptied afterwards."""
    used = []
    yield "http://" + registry_addr, used
    for repository in used:
        delete_repository("http://" + registry_addr, repository)


def local_tags(docker_client, image):
    return sorted(docker_client.images.get(image.id).tags)


def test_push_repush_and_promote(push, build, loopback, registry_addr, standin_image, unique, docker_client):
    url, used = loopback
    repository = "i6test/%s/notes" % unique
    used.append(repository)
    image = build(standin_image, {"app.js": b"console.log('notes %s')\n" % unique.encode(), "VERSION": b"1.0.0\n"})
    tags_before = local_tags(docker_client, image)
    args = dict(name=image.id, repository="%s/%s" % (registry_addr, repository), tags=["1.0.0", "1.0.0-b1"],
                allow_http=True)

    result, _raw = push(args, check=True, diff=True)
    assert result["changed"] is True, result
    assert [t["action"] for t in result["tags"]] == ["would_push", "would_push"]
    assert "1.0.0: (absent)" in result["diff"]["before"]
    assert tag_list(url, repository) == []

    result, _raw = push(args)
    assert result["changed"] is True, result
    digest = tag_digest(url, repository, "1.0.0")
    assert digest and tag_digest(url, repository, "1.0.0-b1") == digest
    assert [(t["tag"], t["digest"], t["previous_digest"], t["action"]) for t in result["tags"]] == [
        ("1.0.0", digest, None, "pushed"), ("1.0.0-b1", digest, None, "pushed")]
    assert result["layers_pushed"] >= 2 and result["image_id"] == image.id
    assert local_tags(docker_client, image) == tags_before

    result, _raw = push(args)
    assert result["changed"] is False, result
    assert [t["action"] for t in result["tags"]] == ["unchanged", "unchanged"]
    assert result["layers_pushed"] == 0 and result["bytes_pushed"] == 0

    promo = dict(repository="%s/%s" % (registry_addr, repository), allow_http=True,
                 promote={"from": "1.0.0", "to": ["latest", "stable"]})
    result, _raw = push(promo, check=True, diff=True)
    assert result["changed"] is True and [t["action"] for t in result["tags"]] == ["would_promote"] * 2
    assert result["diff"] == {"before": "latest: (absent)\nstable: (absent)\n",
                              "after": "latest: %s\nstable: %s\n" % (digest, digest)}
    assert tag_list(url, repository) == ["1.0.0", "1.0.0-b1"]

    result, _raw = push(promo)
    assert result["changed"] is True and [t["action"] for t in result["tags"]] == ["promoted"] * 2, result
    assert tag_digest(url, repository, "latest") == tag_digest(url, repository, "stable") == digest
    assert result["layers_pushed"] == 0 and result["bytes_pushed"] == 0

    result, _raw = push(promo)
    assert result["changed"] is False and [t["action"] for t in result["tags"]] == ["unchanged"] * 2


def test_second_product_on_same_base_sends_only_its_own_layers(push, build, loopback, registry_addr,
                                                               standin_image, unique):
    url, used = loopback
    names = ["i6test/%s/%s" % (unique, n) for n in ("base", "notes", "clock")]
    used.extend(names)
    base = build(standin_image, {"bytelyst-shared.tgz": os.urandom(300000)})
    apps = [build(base.id, {"server.js": os.urandom(40000 + 10000 * i), "VERSION": b"%d\n" % i}) for i in range(2)]

    result, _raw = push(dict(name=base.id, repository="%s/%s" % (registry_addr, names[0]), tags=["1"], allow_http=True))
    assert result["changed"] is True and result["layers_pushed"] >= 1, result
    base_layers = len(base.attrs["RootFS"]["Layers"])
    assert result["layers_pushed"] + result["layers_existing"] == base_layers

    for app, name in zip(apps, names[1:]):
        result, _raw = push(dict(name=app.id, repository="%s/%s" % (registry_addr, name), tags=["1"], allow_http=True))
        assert result["changed"] is True, result
        own = manifest_layers(url, name, "1")[base_layers:]
        assert len(own) == 2
        assert (result["layers_pushed"], result["layers_existing"]) == (2, base_layers)
        assert result["bytes_pushed"] == sum(size for _digest, size in own)


def test_immutable_tag_is_refused_unless_forced(push, build, loopback, registry_addr, standin_image, unique,
                                                docker_client):
    url, used = loopback
    repository = "i6test/%s/clock" % unique
    used.append(repository)
    first = build(standin_image, {"clock.js": b"v1 %s\n" % unique.encode()})
    second = build(standin_image, {"clock.js": b"v2 %s\n" % unique.encode()})
    target = "%s/%s" % (registry_addr, repository)
    result, _raw = push(dict(name=first.id, repository=target, tags=["2.0.0"], allow_http=True))
    assert result["changed"] is True, result
    old = tag_digest(url, repository, "2.0.0")
    tags_before = local_tags(docker_client, second)

    result, _raw = push(dict(name=second.id, repository=target, tags=["2.0.0", "latest"], allow_http=True))
    assert result.get("failed") is True
    assert "The tag 2.0.0 is immutable by policy and already points at %s" % old in result["msg"]
    assert second.id in result["msg"] and "force" in result["msg"]
    assert tag_list(url, repository) == ["2.0.0"] and tag_digest(url, repository, "2.0.0") == old
    assert local_tags(docker_client, second) == tags_before

    result, _raw = push(dict(name=second.id, repository=target, tags=["2.0.0"], force=True, allow_http=True))
    assert result["changed"] is True, result
    new = tag_digest(url, repository, "2.0.0")
    assert new != old and result["tags"][0]["previous_digest"] == old and result["tags"][0]["digest"] == new


@pytest.mark.parametrize("args, words", [
    (dict(name="i6test-missing-image:never"), "The local image 'i6test-missing-image:never' does not exist"),
    (dict(name="i6test-missing-image:never", repository="REGISTRY/Bad Name"), "malformed repository path"),
])
def test_bad_input_fails_clearly_and_changes_nothing(push, loopback, registry_addr, args, words):
    url, _used = loopback
    args = dict(args, allow_http=True, tags=["1.0.0"])
    args.setdefault("repository", "REGISTRY/i6test/missing")
    args["repository"] = args["repository"].replace("REGISTRY", registry_addr)
    result, _raw = push(args)
    assert result.get("failed") is True
    assert words in result["msg"]
    assert tag_list(url, "i6test/missing") == []


@pytest.fixture
def secure_registry(tmp_path):
    registry = Registry(tmp_path / "secure", tls=True, user=USER, password=PASSWORD).start()
    registry.trust_in_engine()
    yield registry
    registry.close()


def test_tls_and_htpasswd_registry(push, build, secure_registry, unique, docker_client):
    reg = secure_registry
    auth = dict(ca=reg.ca, user=USER, password=PASSWORD)
    # A tiny image FROM scratch: the stand-in's layers are big to send to a fresh registry.
    image = build("scratch", {"hello.txt": b"hello %s\n" % unique.encode(), "VERSION": b"1\n"})
    args = dict(name=image.id, repository="%s/team/hello" % reg.addr, tags=["1.0.0"], username=USER,
                password=PASSWORD, ca_cert=reg.ca)

    result, raw = push(args)
    assert result["changed"] is True, result
    assert result["tags"][0]["digest"] == tag_digest(reg.url, "team/hello", "1.0.0", **auth)
    assert (result["layers_pushed"], result["layers_existing"]) == (2, 0)
    assert PASSWORD not in raw

    wrong = "Wr0ng-" + PASSWORD
    result, raw = push(dict(args, password=wrong, tags=["1.0.1"]))
    assert result.get("failed") is True
    assert "Authentication failed for user %s at registry %s" % (USER, reg.addr) in result["msg"]
    assert "Not retried" in result["msg"]
    assert wrong not in raw and PASSWORD not in raw
    assert tag_list(reg.url, "team/hello", **auth) == ["1.0.0"]

    result, raw = push(args)
    assert result["changed"] is False and result["tags"][0]["action"] == "unchanged", result


@pytest.fixture
def plain_registry(tmp_path):
    registry = Registry(tmp_path / "plain").start()
    yield registry
    registry.close()


def test_registry_stopped_before_push_fails_after_retries(push, build, plain_registry, unique, docker_client):
    reg = plain_registry
    image = build("scratch", {"a.txt": b"%s\n" % unique.encode()})
    tags_before = local_tags(docker_client, image)
    reg.stop()
    started = time.time()
    result, _raw = push(dict(name=image.id, repository="%s/team/down" % reg.addr, tags=["1.0.0"],
                             allow_http=True, retries=2, retry_delay=0.5))
    assert result.get("failed") is True
    msg = result["msg"]
    assert "The registry %s failed look-up of tag 1.0.0 after 3 attempt(s)" % reg.addr in msg
    assert "Connection refused" in msg
    assert time.time() - started >= 1.5  # the two backoff waits (0.5 s, 1 s) happened
    reg.start()
    assert tag_list(reg.url, "team/down") == []
    assert local_tags(docker_client, image) == tags_before


def test_registry_killed_mid_push_then_rerun_completes(push, build, plain_registry, unique, docker_client):
    reg = plain_registry
    # Incompressible, so that the upload lasts long enough to be cut.
    image = build("scratch", {"big.bin": os.urandom(40 * 1024 * 1024), "small.txt": unique.encode()})
    tags_before = local_tags(docker_client, image)
    args = dict(name=image.id, repository="%s/team/big" % reg.addr, tags=["1.0.0"], allow_http=True,
                retries=1, retry_delay=0.5)
    outcome = {}
    runner = threading.Thread(target=lambda: outcome.update(run=push(args)))
    runner.start()
    deadline = time.time() + 120
    while not reg.uploads_started("team/big") and time.time() < deadline and runner.is_alive():
        time.sleep(0.02)
    assert reg.uploads_started("team/big"), "the push never started an upload"
    reg.kill()
    runner.join(timeout=300)
    result, _raw = outcome["run"]
    assert result.get("failed") is True, result
    assert "The push of 1.0.0 to registry %s failed after 2 attempt(s)" % reg.addr in result["msg"]
    assert "refused" in result["msg"]
    assert local_tags(docker_client, image) == tags_before

    reg.start()
    assert tag_list(reg.url, "team/big") == []
    result, _raw = push(args)
    assert result["changed"] is True, result
    assert result["tags"][0]["digest"] == tag_digest(reg.url, "team/big", "1.0.0")
    assert result["layers_pushed"] + result["layers_existing"] == 2


@pytest.fixture
def proxy(registry_addr):
    """The environment's registry under another name and port (http://localhost:<port>)."""
    recorder = RecordingProxy(registry_addr)
    yield recorder
    recorder.close()


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_registry_api_carries_push_repush_and_promote(push, build, loopback, registry_addr, standin_image, unique,
                                                      proxy):
    url, used = loopback
    repository = "i6test/%s/api" % unique
    used.append(repository)
    image = build(standin_image, {"api.js": b"console.log('api %s')\n" % unique.encode()})
    manifests = "/v2/%s/manifests/" % repository
    # The reference names the registry as 127.0.0.1:<port> (the engine pushes there); its API is
    # asked under another name and port, which only the proxy answers.
    args = dict(name=image.id, repository="%s/%s" % (registry_addr, repository), tags=["1.0.0", "1.0.0-r1"],
                allow_http=True, registry_api=proxy.url + "/")

    result, _raw = push(args)
    assert result["changed"] is True, result
    digest = tag_digest(url, repository, "1.0.0")
    assert digest and [(t["tag"], t["digest"], t["action"]) for t in result["tags"]] == [
        ("1.0.0", digest, "pushed"), ("1.0.0-r1", digest, "pushed")]
    assert proxy.seen("HEAD", manifests + "1.0.0")            # the look-up before the push
    assert proxy.seen("PUT", manifests + "1.0.0-r1")          # the second tag, from the manifest
    assert proxy.seen("GET", manifests + digest)              # the verification

    del proxy.requests[:]
    result, _raw = push(args)
    assert result["changed"] is False, result
    assert [t["action"] for t in result["tags"]] == ["unchanged", "unchanged"]
    assert proxy.seen("HEAD", manifests + "1.0.0") and proxy.seen("HEAD", manifests + "1.0.0-r1")

    del proxy.requests[:]
    # Promotion through registry_api needs no engine: the one named here does not answer.
    promo = dict(repository="%s/%s" % (registry_addr, repository), allow_http=True, registry_api=proxy.url,
                 promote={"from": "1.0.0", "to": ["latest"]}, docker_host="tcp://127.0.0.1:%d" % closed_port())
    result, _raw = push(promo)
    assert result["changed"] is True and result["tags"][0]["action"] == "promoted", result
    assert proxy.seen("PUT", manifests + "latest")
    assert tag_digest(url, repository, "latest") == digest


def test_registry_api_unreachable_fails_naming_it_and_pushes_nothing(push, build, loopback, registry_addr,
                                                                     standin_image, unique, docker_client):
    url, used = loopback
    repository = "i6test/%s/closed" % unique
    used.append(repository)
    image = build(standin_image, {"closed.js": b"%s\n" % unique.encode()})
    tags_before = local_tags(docker_client, image)
    api = "http://localhost:%d" % closed_port()
    result, _raw = push(dict(name=image.id, repository="%s/%s" % (registry_addr, repository), tags=["1.0.0"],
                             allow_http=True, registry_api=api, retries=1, retry_delay=0.2))
    assert result.get("failed") is True, result
    assert "The registry %s (API at %s) failed look-up of tag 1.0.0 after 2 attempt(s)" % (registry_addr, api) \
        in result["msg"]
    assert "cannot connect to %s" % api in result["msg"]
    assert tag_digest(url, repository, "1.0.0") is None and tag_list(url, repository) == []
    assert local_tags(docker_client, image) == tags_before


def test_registry_api_option_errors_name_the_input_and_the_fix(ansible_module, registry_addr):
    from ansible_runner_helper import run_module_many
    secret = "Url-pa55-" + registry_addr.replace(":", "-")
    base = dict(repository="%s/i6test/options" % registry_addr, promote={"from": "1.0.0", "to": ["latest"]})
    cases = [
        (dict(base, registry_api="http://localhost:5000", allow_http=False), ["uses plain HTTP", "allow_http"]),
        (dict(base, registry_api="https://localhost:5000/v2/"), ["path '/v2/'", "the module adds /v2/"]),
        (dict(base, registry_api="localhost:5000"), ["is not an http(s) URL", "e.g. https://"]),
        (dict(base, registry_api="https://bot:%s@localhost:5000" % secret), ["holds credentials", "username and password"]),
    ]
    # Verbose, so that the module's invocation (its arguments) is shown: the URL's password must be masked.
    results, raw = run_module_many("image_push", [args for args, _words in cases], env={"ANSIBLE_VERBOSITY": "3"})
    for (args, words), result in zip(cases, results):
        assert result.get("failed") is True, (args, result)
        for word in words:
            assert word in result["msg"], (args, result["msg"])
    assert secret not in raw and secret not in repr(results)


def test_engine_reports_its_official_index_as_the_module_reads_it(docker_client):
    """The real engine's info() has the shape official_index_api reads (no request is sent anywhere)."""
    from urllib.parse import urlsplit

    from ansible_collections.bytelyst.deploy.plugins.module_utils._reference import parse
    from ansible_collections.bytelyst.deploy.plugins.module_utils._registry_api import (
        official_index_names, resolve_api_url)
    info = docker_client.info()
    names = official_index_names(info)
    assert names, info.get("RegistryConfig")
    index_host = urlsplit(info["IndexServerAddress"]).netloc
    for name in sorted(names) + [index_host]:
        assert resolve_api_url(parse("%s/myorg/notes-backend" % name), lambda: info) == "https://" + index_host
    assert resolve_api_url(parse("registry.example.com/myorg/notes-backend"), lambda: info) is None
