"""Token authentication for real: Debian's docker-registry with `auth: token`, trusting a token
issuer of the test's own (tests/integration/token_issuer.py, key made here by openssl).
image_push pushes and promotes through it (our registry client and the engine both answer the
Bearer challenge), a deploy host's engine logs in and pulls as compose_deploy does, and a wrong
password, a token issued expired and a token without push each fail clearly and push nothing."""

import io
import json
import os
import re
import sys
import tarfile
import urllib.error
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from registry_fixtures import Registry  # noqa: E402
from token_issuer import TokenIssuer  # noqa: E402

from ansible_collections.bytelyst.deploy.plugins.module_utils._compose import resolve_image  # noqa: E402

pytestmark = pytest.mark.integration

PUSHER, READER, STALE = "ci-pusher", "ci-reader", "ci-stale"
PASSWORDS = {PUSHER: "Pusher-pa55-4-tests", READER: "Reader-pa55-4-tests", STALE: "Stale-pa55-4-tests"}


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory):
    """One registry and its token issuer for the whole file."""
    root = tmp_path_factory.mktemp("token-registry")
    issuer = TokenIssuer(root / "issuer", {
        PUSHER: dict(password=PASSWORDS[PUSHER], actions=("pull", "push")),
        READER: dict(password=PASSWORDS[READER], actions=("pull",)),
        STALE: dict(password=PASSWORDS[STALE], actions=("pull", "push"), expired=True),
    })
    registry = Registry(root / "registry")
    with open(registry.config, "a") as f:
        f.write("\n".join(issuer.registry_auth_lines()) + "\n")
    registry.start()
    yield registry, issuer
    registry.close()
    issuer.close()


def admin_get(registry, issuer, path, repository=None):
    """(status, parsed body) of a GET with a token for everything: the test's own look."""
    req = urllib.request.Request(registry.url + path, headers={
        "Authorization": "Bearer " + issuer.admin_token(repository),
        "Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}"), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, None, dict(exc.headers)


def catalog(registry, issuer):
    status, body, _headers = admin_get(registry, issuer, "/v2/_catalog")
    assert status == 200, status
    return body.get("repositories") or []


def tags(registry, issuer, repository):
    status, body, _headers = admin_get(registry, issuer, "/v2/%s/tags/list" % repository, repository)
    return sorted(body.get("tags") or []) if status == 200 else []


def digest_of(registry, issuer, repository, tag):
    status, _body, headers = admin_get(registry, issuer, "/v2/%s/manifests/%s" % (repository, tag), repository)
    return headers.get("Docker-Content-Digest") if status == 200 else None


def secrets_in(text, issuer):
    found = [p for p in PASSWORDS.values() if p in text]
    found += ["a token" for t in issuer.issued if t in text or t.split(".")[2] in text]
    return found


@pytest.fixture
def tiny_image(docker_client, unique):
    """An image FROM scratch with one small file, removed afterwards (pulled copies too)."""
    made = []

    def make(text):
        dockerfile = b"FROM scratch\nCOPY app.txt /app.txt\nLABEL dev.bytelyst.test=1\n"
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for name, data in (("Dockerfile", dockerfile), ("app.txt", text.encode())):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        buf.seek(0)
        image, _logs = docker_client.images.build(fileobj=buf, custom_context=True,
                                                  tag="h13test-%s-%d:build" % (unique, len(made)))
        made.append(image.id)
        return image
    yield make
    for image_id in made:
        try:
            docker_client.images.remove(image_id, force=True)
        except Exception:
            pass


def test_push_promote_and_pull_through_token_auth(ansible_module, token_registry, tiny_image, docker_client, unique):
    registry, issuer = token_registry
    repository = "h13/%s/notes" % unique
    image = tiny_image("notes %s\n" % unique)
    args = dict(name=image.id, repository="%s/%s" % (registry.addr, repository), tags=["1.0.0"],
                username=PUSHER, password=PASSWORDS[PUSHER], allow_http=True)

    result, raw = ansible_module("image_push", args)
    assert result["changed"] is True, result
    pushed = result["tags"][0]["digest"]
    assert pushed == digest_of(registry, issuer, repository, "1.0.0")
    asked = [r for r in issuer.requests if r["user"] == PUSHER]
    # Our client's look-ups and the engine's push each got their token from the issuer, with push.
    assert asked and all(r["granted"] and "push" in r["granted"][0]["actions"] for r in asked), asked
    assert secrets_in(raw, issuer) == []

    promote = dict((k, v) for k, v in args.items() if k not in ("name", "tags"))
    result, raw = ansible_module("image_push", dict(promote, promote={"from": "1.0.0", "to": ["stable"]}))
    assert result["changed"] is True and result["tags"][0]["action"] == "promoted", result
    assert digest_of(registry, issuer, repository, "stable") == pushed
    assert secrets_in(raw, issuer) == []

    # A pull-only user may read but not move a tag: refused, naming the registry and the scope.
    result, raw = ansible_module("image_push", dict(promote, username=READER, password=PASSWORDS[READER],
                                                    promote={"from": "1.0.0", "to": ["canary"]}))
    assert result.get("failed") is True, result
    # The registry names the scope as its challenge does; the order of the actions varies (a Go map).
    assert re.search(re.escape("The registry %s refused the promotion of 1.0.0 to canary for user %s: the token its "
                               "token service issued does not grant repository:%s:" % (registry.addr, READER, repository))
                     + r"(pull,push|push,pull)", result["msg"]), result["msg"]
    assert secrets_in(raw, issuer) == []
    assert tags(registry, issuer, repository) == ["1.0.0", "stable"]

    # A deploy host: the engine logs in (pull-only user) and pulls as compose_deploy does.
    import docker
    host_engine = docker.from_env(timeout=120)
    try:
        host_engine.login(username=READER, password=PASSWORDS[READER], registry=registry.addr, reauth=True)
        docker_client.images.remove(image.id, force=True)
        pulled = resolve_image(host_engine, "%s/%s:stable" % (registry.addr, repository), "always")
    finally:
        host_engine.close()
    assert pulled["image_id"] == image.id
    assert pulled["pinned"] == "%s/%s@%s" % (registry.addr, repository, pushed)
    assert pulled["source"] == "pulled"


@pytest.mark.parametrize("user, password, words", [
    (PUSHER, "Wr0ng-" + PASSWORDS[PUSHER],
     ["Authentication failed for user %s at registry {addr}: its token service http://127.0.0.1:" % PUSHER,
      "refused the credentials (HTTP 401: UNAUTHORIZED: invalid credentials)", "Not retried"]),
    (STALE, PASSWORDS[STALE],
     ["The registry {addr} did not accept the token its token service issued for user %s, issued already expired"
      % STALE, "(error invalid_token)", "clocks"]),
    (READER, PASSWORDS[READER],
     ["Authentication failed at registry {addr} while pushing {addr}/{repository}:1.0.0 as user %s: denied: "
      "requested access to the resource is denied" % READER, "push rights"]),
], ids=["wrong-password", "expired-token", "no-push-scope"])
def test_refused_push_says_why_and_pushes_nothing(ansible_module, token_registry, tiny_image, docker_client,
                                                  unique, user, password, words):
    registry, issuer = token_registry
    repository = "h13/%s/refused" % unique
    image = tiny_image("refused %s\n" % unique)
    tags_before = sorted(docker_client.images.get(image.id).tags)
    args = dict(name=image.id, repository="%s/%s" % (registry.addr, repository), tags=["1.0.0"],
                username=user, password=password, allow_http=True, retries=1, retry_delay=0.1)

    result, raw = ansible_module("image_push", args)
    assert result.get("failed") is True, result
    for word in words:
        assert word.format(addr=registry.addr, repository=repository) in result["msg"], result["msg"]
    assert password not in raw and secrets_in(raw, issuer) == []
    assert repository not in catalog(registry, issuer)
    assert not os.path.exists(os.path.join(registry.data, "docker", "registry", "v2", "repositories", repository))
    assert sorted(docker_client.images.get(image.id).tags) == tags_before
