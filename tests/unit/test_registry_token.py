"""Bearer-token authentication of the registry client: challenge parsing, scopes, the token
cache and its refresh, and the refusals, over a fake transport (no sockets)."""

import base64

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._image_registry import (
    AuthenticationError, RegistryClient, _Response, merge_scopes, parse_challenge, token_expiry, token_lifetime)
from fakes.clock import FakeClock
from fakes.registry import PASSWORD, REALM, USER, FakeRegistry, digest_of, jwt

REGISTRY = "registry.example.test"
BODY = b'{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}'
DIGEST = digest_of(BODY)


def token_registry(**kwargs):
    """The fake registry with token auth (in-process), holding team/app:1.0.0 and team/other:1.0.0."""
    return FakeRegistry({("team/app", "1.0.0"): BODY, ("team/other", "1.0.0"): BODY}, auth="bearer", **kwargs)


def client(fake, clock=None, **kwargs):
    kwargs.setdefault("username", USER)
    kwargs.setdefault("password", PASSWORD)
    c = RegistryClient(REGISTRY, sleep=lambda s: None, clock=clock or FakeClock(1000.0), retries=0, **kwargs)
    c._send = fake  # the transport: one HTTP exchange
    return c


def token_requests(fake):
    return [entry for entry in fake.requests if entry[1] == "/token"]


def assert_no_secret(text, fake):
    assert PASSWORD not in text
    assert base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode() not in text
    for token in fake.tokens:
        assert token not in text


@pytest.mark.parametrize("header, scheme, params", [
    ('Bearer realm="https://auth.example.test/token",service="reg",scope="repository:a/b:pull"',
     "bearer", {"realm": "https://auth.example.test/token", "service": "reg", "scope": "repository:a/b:pull"}),
    ('bearer realm="https://x/token", service="reg" ,error=invalid_token',
     "bearer", {"realm": "https://x/token", "service": "reg", "error": "invalid_token"}),
    ('Bearer realm="https://x/t",scope="repository:a:pull,push repository:b:pull",error="insufficient_scope"',
     "bearer", {"realm": "https://x/t", "scope": "repository:a:pull,push repository:b:pull", "error": "insufficient_scope"}),
    ('Basic realm="say \\"hi\\""', "basic", {"realm": 'say "hi"'}),
    ("", None, {}),
    (None, None, {}),
])
def test_challenge_parsing(header, scheme, params):
    assert parse_challenge(header) == (scheme, params)


def test_scopes_merge_per_resource_pull_before_push():
    assert merge_scopes("repository:team/app:pull", "repository:team/app:push,pull") == ["repository:team/app:pull,push"]
    assert merge_scopes("repository:a:pull repository:b:push", None, "registry:catalog:*") == [
        "repository:a:pull", "repository:b:push", "registry:catalog:*"]
    assert merge_scopes("", "nonsense") == []


def test_token_expiry_and_lifetime_read_only_what_is_there():
    assert token_expiry(jwt({"exp": 1234})) == 1234
    assert token_expiry("opaque-token") is None
    assert token_expiry("a.!!!.c") is None
    assert token_expiry(jwt({"exp": True})) is None
    assert token_lifetime({"expires_in": 300}) == 300
    assert token_lifetime({}) == 60
    assert token_lifetime({"expires_in": "soon"}) == 60


def test_challenge_then_token_with_basic_credentials_then_retry():
    fake = token_registry()
    assert client(fake).manifest_digest("team/app", "1.0.0") == DIGEST
    assert [(m, p) for m, p, _a in fake.requests] == [
        ("HEAD", "/v2/team/app/manifests/1.0.0"), ("GET", "/token"), ("HEAD", "/v2/team/app/manifests/1.0.0")]
    query = fake.token_queries[0]
    # The challenge asked for pull; with credentials the client asks for push as well (the same token pushes).
    assert query == {"service": ["fake-registry"], "account": [USER], "scope": ["repository:team/app:pull,push"]}
    assert fake.requests[1][2].startswith("Basic ") and fake.requests[2][2].startswith("Bearer ")


def test_token_is_cached_per_scope_and_a_new_scope_skips_the_401():
    fake = token_registry()
    c = client(fake)
    c.manifest_digest("team/app", "1.0.0")
    c.get_manifest("team/app", "1.0.0")
    c.put_manifest("team/app", "stable", c.get_manifest("team/app", "1.0.0"))
    assert len(token_requests(fake)) == 1
    c.manifest_digest("team/other", "1.0.0")
    assert len(token_requests(fake)) == 2
    assert fake.token_queries[1]["scope"] == ["repository:team/other:pull,push"]
    # Only the very first request went without a token: the second repository's was asked for up front.
    assert [p for _m, p, a in fake.requests if a is None] == ["/v2/team/app/manifests/1.0.0"]


def test_without_credentials_a_read_asks_for_pull_only():
    fake = token_registry()
    with pytest.raises(AuthenticationError) as info:
        client(fake, username=None, password=None).manifest_digest("team/app", "1.0.0")
    assert fake.token_queries[0]["scope"] == ["repository:team/app:pull"]
    assert "anonymous access" in str(info.value)


def test_a_token_about_to_expire_is_refreshed_before_use():
    fake = token_registry(lifetime=60)
    clock = FakeClock(1000.0)
    c = client(fake, clock)
    c.manifest_digest("team/app", "1.0.0")
    clock.now += 45
    c.manifest_digest("team/app", "1.0.0")
    assert len(token_requests(fake)) == 1  # 15 s left: still used
    clock.now += 7  # 8 s left, less than the 10 s margin
    c.manifest_digest("team/app", "1.0.0")
    assert len(token_requests(fake)) == 2
    # Refreshed ahead: no request went out with the old token and came back 401.
    assert [entry[0] for entry in fake.requests] == ["HEAD", "GET", "HEAD", "HEAD", "GET", "HEAD"]
    assert fake.requests[-1][2] != fake.requests[-3][2]


def test_a_token_the_registry_stops_accepting_is_replaced_once():
    fake = token_registry()
    c = client(fake)
    c.manifest_digest("team/app", "1.0.0")
    fake.revoked.update(fake.tokens)  # e.g. expired early by the registry's clock
    assert c.manifest_digest("team/app", "1.0.0") == DIGEST
    assert len(token_requests(fake)) == 2


def test_wrong_password_names_the_token_service_and_is_not_retried():
    fake = token_registry()
    wrong = "wr0ng-" + PASSWORD
    with pytest.raises(AuthenticationError) as info:
        client(fake, password=wrong).manifest_digest("team/app", "1.0.0")
    text = str(info.value) + repr(info.value.result())
    assert "Authentication failed for user %s at registry %s: its token service %s refused the credentials" % (
        USER, REGISTRY, REALM) in text
    assert "invalid credentials" in text and "Not retried" in text
    assert wrong not in text
    assert_no_secret(text, fake)
    assert len(fake.requests) == 2


def test_token_without_push_fails_naming_registry_scope_and_user():
    fake = token_registry(grants=("pull",))
    c = client(fake)
    manifest = c.get_manifest("team/app", "1.0.0")  # reading works
    with pytest.raises(AuthenticationError) as info:
        c.put_manifest("team/app", "stable", manifest, what="promotion of 1.0.0 to stable")
    text = str(info.value) + repr(info.value.result())
    assert ("The registry %s refused the promotion of 1.0.0 to stable for user %s: the token its token service "
            "issued does not grant repository:team/app:pull,push" % (REGISTRY, USER)) in text
    assert "push rights" in text and "Not retried" in text
    assert_no_secret(text, fake)
    assert [m for m, _p, _a in fake.requests].count("PUT") == 2  # the cached token, then one fresh one


def test_expired_token_says_so_with_its_exp_and_never_shows_it():
    fake = token_registry(expired=True)
    with pytest.raises(AuthenticationError) as info:
        client(fake).manifest_digest("team/app", "1.0.0", what="look-up of tag 1.0.0")
    text = str(info.value) + repr(info.value.result())
    assert ("The registry %s did not accept the token its token service issued for user %s, issued already "
            "expired (exp " % (REGISTRY, USER)) in text
    assert "for the look-up of tag 1.0.0 (error invalid_token)" in text
    assert "clocks" in text
    assert_no_secret(text, fake)
    assert len(token_requests(fake)) == 1


def test_plain_http_token_service_needs_allow_http():
    fake = token_registry()
    plain = dict(fake.challenge("repository:team/app:pull").headers)

    def transport(method, url, headers, body):
        fake.requests.append((method, url, headers.get("Authorization")))
        return _Response(401, {"WWW-Authenticate": plain["www-authenticate"].replace("https://", "http://")}, b"")

    c = client(fake)
    c._send = transport
    with pytest.raises(DeployError) as info:
        c.manifest_digest("team/app", "1.0.0")
    assert "over plain HTTP" in str(info.value)
    assert len(fake.requests) == 1  # the credentials were never sent
