"""The registry API client over its own HTTP transport, against the fake registry served on loopback (no engine)."""

import base64
import hashlib
import json

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._image_registry import (
    SCHEMA2, AuthenticationError, ImageManifest, RegistryClient, backoff_delays, parse_challenge)
from fakes.registry import PASSWORD, USER, FakeRegistry

BODY = json.dumps({"schemaVersion": 2, "mediaType": SCHEMA2,
                   "config": {"digest": "sha256:" + "c" * 64, "size": 10},
                   "layers": [{"digest": "sha256:" + "1" * 64, "size": 100},
                              {"digest": "sha256:" + "2" * 64, "size": 20}]}).encode()
DIGEST = "sha256:" + hashlib.sha256(BODY).hexdigest()


@pytest.fixture
def fake():
    made = []

    def make(**kwargs):
        kwargs.setdefault("manifests", {("team/app", "1.0.0"): BODY, ("team/app", DIGEST): BODY})
        made.append(FakeRegistry(**kwargs).serve())
        return made[-1]
    yield make
    for f in made:
        f.close()


def client(fake_registry, sleeps=None, **kwargs):
    kwargs.setdefault("allow_http", True)
    kwargs.setdefault("retry_delay", 0.5)
    return RegistryClient(fake_registry.addr, sleep=(sleeps if sleeps is not None else []).append, **kwargs)


def test_manifest_head_get_put_and_blob(fake):
    reg = fake()
    c = client(reg)
    assert c.manifest_digest("team/app", "1.0.0") == DIGEST
    assert c.manifest_digest("team/app", "nope") is None
    manifest = c.get_manifest("team/app", "1.0.0")
    assert manifest.digest == DIGEST and manifest.media_type == SCHEMA2
    assert manifest.config_digest == "sha256:" + "c" * 64
    assert manifest.layers == [("sha256:" + "1" * 64, 100), ("sha256:" + "2" * 64, 20)]
    assert c.put_manifest("team/app", "stable", manifest) == DIGEST
    assert reg.manifests[("team/app", "stable")] == BODY
    assert c.blob_exists("team/app", "sha256:" + "1" * 64)
    assert not c.blob_exists("team/app", "sha256:" + "2" * 64)


def test_basic_auth_answers_the_challenge_once(fake):
    reg = fake(auth="basic")
    c = client(reg, username=USER, password=PASSWORD)
    assert c.manifest_digest("team/app", "1.0.0") == DIGEST
    assert c.manifest_digest("team/app", "1.0.0") == DIGEST
    auths = [r[2] for r in reg.requests]
    assert auths[0] is None and auths[1].startswith("Basic ") and auths[2].startswith("Basic ")


def test_bearer_token_is_fetched_with_basic_credentials(fake):
    reg = fake(auth="bearer")
    c = client(reg, username=USER, password=PASSWORD)
    manifest = c.get_manifest("team/app", "1.0.0")
    assert manifest.digest == DIGEST
    token_requests = [r for r in reg.requests if r[1].startswith("/token")]
    assert len(token_requests) == 1
    assert reg.token_queries[0]["scope"] == ["repository:team/app:pull,push"]
    assert reg.requests[-1][2] == "Bearer " + list(reg.tokens)[0]


def test_bearer_without_scope_in_challenge_asks_for_push_rights(fake):
    reg = fake(auth="bearer")
    reg.challenge_scope = False
    assert client(reg, username=USER, password=PASSWORD).manifest_digest("team/app", "1.0.0") == DIGEST
    assert reg.token_queries[0]["scope"] == ["repository:team/app:pull,push"]


@pytest.mark.parametrize("auth", ["basic", "bearer"])
def test_wrong_password_fails_at_once_and_never_shows_it(fake, auth):
    reg = fake(auth=auth)
    sleeps = []
    wrong = "wr0ng-" + PASSWORD
    c = client(reg, sleeps, username=USER, password=wrong, retries=5)
    with pytest.raises(AuthenticationError) as info:
        c.manifest_digest("team/app", "1.0.0")
    text = str(info.value) + repr(info.value.result())
    assert "Authentication failed for user %s at registry %s" % (USER, reg.addr) in text
    assert "Not retried" in text
    assert wrong not in text and PASSWORD not in text
    assert base64.b64encode(("%s:%s" % (USER, wrong)).encode()).decode() not in text
    assert sleeps == []
    assert len(reg.requests) == 2


def test_no_credentials_says_anonymous(fake):
    reg = fake(auth="basic")
    with pytest.raises(AuthenticationError) as info:
        client(reg).manifest_digest("team/app", "1.0.0")
    assert "anonymous access" in str(info.value)


def test_5xx_is_retried_with_backoff_then_succeeds(fake):
    reg = fake(fail_first=2)
    sleeps = []
    assert client(reg, sleeps, retries=3).manifest_digest("team/app", "1.0.0") == DIGEST
    assert sleeps == [0.5, 1.0]


def test_5xx_exhausts_retries_naming_registry_and_last_error(fake):
    reg = fake(fail_first=10)
    sleeps = []
    with pytest.raises(DeployError) as info:
        client(reg, sleeps, retries=2).get_manifest("team/app", "1.0.0", what="look-up of tag 1.0.0")
    text = str(info.value)
    assert "The registry %s failed look-up of tag 1.0.0 after 3 attempt(s)" % reg.addr in text
    assert "HTTP 503" in text and "UNAVAILABLE: busy" in text
    assert sleeps == [0.5, 1.0]


def test_unreachable_registry_is_retried_then_named():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        addr = "127.0.0.1:%d" % s.getsockname()[1]
    sleeps = []
    c = RegistryClient(addr, allow_http=True, retries=2, retry_delay=0.25, sleep=sleeps.append)
    with pytest.raises(DeployError) as info:
        c.manifest_digest("team/app", "1.0.0", what="look-up of tag 1.0.0")
    text = str(info.value)
    assert addr in text and "look-up of tag 1.0.0" in text and "refused" in text.lower()
    assert sleeps == [0.25, 0.5]
    assert c.probe() and "refused" in c.probe().lower()


def test_https_to_a_plain_http_registry_says_what_to_do(fake):
    reg = fake()
    c = RegistryClient(reg.addr, retries=3, sleep=[].append)
    with pytest.raises(DeployError) as info:
        c.manifest_digest("team/app", "1.0.0")
    assert "TLS with the registry %s failed" % reg.addr in str(info.value)
    assert "allow_http" in str(info.value)


def test_challenge_parsing_and_backoff():
    scheme, params = parse_challenge('Bearer realm="https://auth.example.com/token",service="reg",scope="a:b:pull"')
    assert scheme == "bearer"
    assert params == {"realm": "https://auth.example.com/token", "service": "reg", "scope": "a:b:pull"}
    assert parse_challenge(None) == (None, {})
    assert backoff_delays(3, 1.0) == [1.0, 2.0, 4.0]
    assert backoff_delays(8, 10)[-1] == 30.0
    assert backoff_delays(0, 1) == []


def test_manifest_without_layers():
    m = ImageManifest(b'{"mediaType": "x"}', "x", "sha256:0")
    assert m.layers == [] and m.config_digest is None


def test_default_api_is_the_registry_host():
    assert RegistryClient("registry.example.com").base_url == "https://registry.example.com"
    assert RegistryClient("127.0.0.1:5000", allow_http=True).base_url == "http://127.0.0.1:5000"
    c = RegistryClient("registry.example.com", api_url="https://registry.example.com/")
    assert c.base_url == "https://registry.example.com" and c.where == "registry.example.com"


def test_api_url_carries_every_request_while_messages_name_the_registry(fake):
    reg = fake(auth="bearer")
    # The reference's registry does not resolve: only the API address reaches the fake.
    c = RegistryClient("registry.invalid", api_url="http://%s/" % reg.addr, allow_http=True,
                       username=USER, password=PASSWORD, sleep=[].append)
    assert c.base_url == "http://" + reg.addr
    assert c.manifest_digest("team/app", "1.0.0") == DIGEST
    assert c.put_manifest("team/app", "stable", c.get_manifest("team/app", "1.0.0")) == DIGEST
    assert reg.manifests[("team/app", "stable")] == BODY
    assert [r[1] for r in reg.requests if not r[1].startswith("/token")][-1] == "/v2/team/app/manifests/stable"
    with pytest.raises(AuthenticationError) as info:
        RegistryClient("registry.invalid", api_url="http://" + reg.addr, allow_http=True, username=USER,
                       password="wrong").manifest_digest("team/app", "1.0.0")
    assert "at registry registry.invalid (API at http://%s)" % reg.addr in str(info.value)


def test_unreachable_api_url_is_named_with_the_registry():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        api = "http://localhost:%d" % s.getsockname()[1]
    sleeps = []
    c = RegistryClient("127.0.0.1:5000", api_url=api, allow_http=True, retries=1, retry_delay=0.25,
                       sleep=sleeps.append)
    with pytest.raises(DeployError) as info:
        c.manifest_digest("team/app", "1.0.0", what="look-up of tag 1.0.0")
    text = str(info.value)
    assert "The registry 127.0.0.1:5000 (API at %s) failed look-up of tag 1.0.0 after 2 attempt(s)" % api in text
    assert "cannot connect to %s" % api in text
    assert sleeps == [0.25]


def test_tls_failure_at_api_url_suggests_an_http_registry_api(fake):
    reg = fake()
    c = RegistryClient("registry.invalid", api_url="https://" + reg.addr, retries=0, sleep=[].append)
    with pytest.raises(DeployError) as info:
        c.manifest_digest("team/app", "1.0.0")
    text = str(info.value)
    assert "TLS with the registry registry.invalid (API at https://%s) failed" % reg.addr in text
    assert "allow_http and an http:// registry_api" in text
