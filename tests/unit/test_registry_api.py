"""Where the registry API answers: registry_api validation and the engine's official index,
with fake engine info dicts (no engine, no network). Host names here are reserved example names."""

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._reference import parse
from ansible_collections.bytelyst.deploy.plugins.module_utils._registry_api import (
    check_api_url, may_be_official_index, official_index_api, official_index_names, resolve_api_url)
from fakes.engine import FakeClient

# An engine whose official index is called hub.example and served at index.hub.example.
INFO = {
    "IndexServerAddress": "https://index.hub.example/v1/",
    "RegistryConfig": {
        "InsecureRegistryCIDRs": ["127.0.0.0/8"],
        "IndexConfigs": {
            "hub.example": {"Name": "hub.example", "Mirrors": [], "Secure": True, "Official": True},
            "registry.example.com": {"Name": "registry.example.com", "Mirrors": [], "Secure": True, "Official": False},
        },
    },
}


@pytest.mark.parametrize("text, allow_http, expected", [
    ("https://registry.example.com", False, "https://registry.example.com"),
    ("https://registry.example.com/", False, "https://registry.example.com"),
    ("  https://registry.example.com:8443  ", False, "https://registry.example.com:8443"),
    ("http://localhost:5000", True, "http://localhost:5000"),
    ("https://[::1]:5000/", True, "https://[::1]:5000"),
    ("https://127.0.0.1:5000", False, "https://127.0.0.1:5000"),
])
def test_api_url_accepted(text, allow_http, expected):
    assert check_api_url(text, allow_http) == expected


@pytest.mark.parametrize("text, allow_http, words", [
    ("http://localhost:5000", False, ["'http://localhost:5000' uses plain HTTP", "allow_http"]),
    ("registry.example.com", False, ["'registry.example.com' is not an http(s) URL", "e.g. https://"]),
    ("ftp://registry.example.com", False, ["'ftp://registry.example.com' is not an http(s) URL"]),
    ("https://", False, ["is not an http(s) URL with a host"]),
    ("https://registry.example.com/v2/", False,
     ["has more than a scheme, host and port (path '/v2/')", "https://registry.example.com: the module adds /v2/"]),
    ("https://registry.example.com/team", False, ["path '/team'"]),
    ("https://registry.example.com?x=1", False, ["more than a scheme, host and port"]),
    ("https://registry.example.com#v2", False, ["more than a scheme, host and port"]),
    ("https://registry.example.com:99999", False, ["malformed host or port 'registry.example.com:99999'"]),
    ("https://registry.example.com:0", False, ["malformed host or port"]),
    ("https://bad_host!:5000", False, ["malformed host or port"]),
    ("", False, ["registry_api is empty"]),
])
def test_api_url_refused_naming_input_and_fix(text, allow_http, words):
    with pytest.raises(DeployError) as info:
        check_api_url(text, allow_http)
    for word in words:
        assert word in str(info.value)


def test_api_url_with_credentials_is_refused_without_repeating_them():
    with pytest.raises(DeployError) as info:
        check_api_url("https://bot:s3cret-Pa55@registry.example.com", False)
    text = str(info.value) + repr(info.value.result())
    assert "holds credentials" in text and "username and password" in text
    assert "s3cret-Pa55" not in text and "bot" not in text


@pytest.mark.parametrize("registry, maybe", [
    ("hub.example", True),
    ("index.hub.example", True),
    ("REGISTRY.Example.com", True),
    ("127.0.0.1:5000", False),
    ("registry.example.com:443", False),
    ("10.0.0.7", False),
    ("[::1]", False),
    ("localhost", False),
    ("myhost", False),
])
def test_may_be_official_index(registry, maybe):
    assert may_be_official_index(registry) is maybe


def test_official_index_names_only_official_entries():
    assert official_index_names(INFO) == {"hub.example"}
    # Name missing: the key names the index.
    assert official_index_names({"RegistryConfig": {"IndexConfigs": {"Hub.Example": {"Official": True}}}}) == {"hub.example"}
    assert official_index_names({}) == set()
    assert official_index_names({"RegistryConfig": None}) == set()


@pytest.mark.parametrize("registry", ["hub.example", "HUB.example", "index.hub.example"])
def test_official_index_api_from_name_or_index_host(registry):
    assert official_index_api(registry, INFO) == "https://index.hub.example"


@pytest.mark.parametrize("registry", ["registry.example.com", "127.0.0.1:5000", "other.example", "example"])
def test_other_registries_are_not_the_index(registry):
    assert official_index_api(registry, INFO) is None


def test_index_address_without_scheme_or_with_port():
    info = dict(INFO, IndexServerAddress="index.hub.example:8443/v1/")
    assert official_index_api("hub.example", info) == "https://index.hub.example:8443"


@pytest.mark.parametrize("address", [None, "", "https:///v1/"])
def test_official_index_without_usable_address_says_set_registry_api(address):
    info = dict(INFO, IndexServerAddress=address)
    with pytest.raises(DeployError) as info_err:
        official_index_api("hub.example", info)
    text = str(info_err.value)
    assert "The registry hub.example is the Docker engine's official index" in text
    assert "Set registry_api" in text


def engine_with(info=None, error=None):
    """The engine whose info() answers info, or raises error (a DeployError, as engine_info does)."""
    client = FakeClient(info=info)
    if error:
        client.fail("info", DeployError(error))
    return client


def test_registry_api_wins_and_the_engine_is_not_asked():
    engine = engine_with(INFO)
    target = parse("hub.example/myorg/app")
    assert resolve_api_url(target, engine.info, "https://api.hub.example/") == "https://api.hub.example"
    assert engine.info_calls == 0


def test_registry_api_is_validated_with_allow_http():
    target = parse("127.0.0.1:5000/team/app")
    assert resolve_api_url(target, engine_with(INFO).info, "http://localhost:5000", allow_http=True) == "http://localhost:5000"
    with pytest.raises(DeployError) as info:
        resolve_api_url(target, engine_with(INFO).info, "http://localhost:5000")
    assert "uses plain HTTP" in str(info.value)


@pytest.mark.parametrize("reference", ["127.0.0.1:5000/team/app", "localhost:5000/team/app", "[::1]:5000/team/app"])
def test_registry_that_cannot_be_the_index_never_asks_the_engine(reference):
    engine = engine_with(error="must not be asked")
    assert resolve_api_url(parse(reference), engine.info) is None
    assert engine.info_calls == 0


def test_official_index_is_found_through_the_engine():
    engine = engine_with(INFO)
    assert resolve_api_url(parse("hub.example/myorg/notes-backend"), engine.info) == "https://index.hub.example"
    assert engine.info_calls == 1


def test_other_host_name_asks_the_engine_and_keeps_its_own_api():
    engine = engine_with(INFO)
    assert resolve_api_url(parse("registry.example.com/team/app"), engine.info) is None
    assert engine.info_calls == 1


def test_unreachable_engine_fails_saying_to_set_registry_api():
    engine = engine_with(error="The Docker engine at tcp://127.0.0.1:9 does not answer: refused")
    with pytest.raises(DeployError) as info:
        resolve_api_url(parse("registry.example.com/team/app"), engine.info)
    text = str(info.value)
    assert "Cannot tell whether the registry registry.example.com is the Docker engine's official index" in text
    assert "tcp://127.0.0.1:9 does not answer" in text
    assert "Set registry_api" in text


def test_index_repository_without_organisation_is_refused():
    with pytest.raises(DeployError) as info:
        resolve_api_url(parse("hub.example/notes-backend"), engine_with(INFO).info)
    text = str(info.value)
    assert "'hub.example/notes-backend' names no organisation" in text
    assert "hub.example/<organisation>/notes-backend" in text


def test_stored_credentials_of_the_index_are_found_by_its_index_name(tmp_path, monkeypatch):
    """The docker CLI stores the index's credentials under the index server URL; a reference
    names the index by its index name. Both come from the Docker SDK, not from this test."""
    import base64
    import json

    docker_auth = pytest.importorskip("docker.auth")
    from ansible_collections.bytelyst.deploy.plugins.module_utils._push import stored_credentials
    pair = base64.b64encode(b"hub-bot:hub-Secret-1").decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {docker_auth.INDEX_URL: {"auth": pair}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert stored_credentials(docker_auth.INDEX_NAME) == ("hub-bot", "hub-Secret-1")
    assert stored_credentials("registry.example.com") == (None, None)


def push_options(**params):
    options = dict(name=None, repository=None, tags=None, promote=None, channel_tags=["latest"], force=False,
                   username=None, password=None, ca_cert=None, allow_http=False, registry_api=None,
                   retries=0, retry_delay=0.1, timeout=5, docker_host=None, docker_cli=None)
    options.update(params)
    return options


def closed_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_promotion_without_a_reachable_engine_asks_for_registry_api():
    pytest.importorskip("docker")
    from ansible_collections.bytelyst.deploy.plugins.module_utils._push import EngineOnDemand, ensure
    engine = "tcp://127.0.0.1:%d" % closed_port()
    with pytest.raises(DeployError) as info:
        ensure(EngineOnDemand(engine), push_options(repository="registry.example.com/team/app",
                                                    promote={"from": "1.0.0", "to": ["latest"]}))
    text = str(info.value)
    assert "Cannot tell whether the registry registry.example.com is the Docker engine's official index" in text
    assert engine in text and "Set registry_api" in text


def test_promotion_with_registry_api_needs_no_engine():
    from ansible_collections.bytelyst.deploy.plugins.module_utils._push import EngineOnDemand, ensure
    api = "http://localhost:%d" % closed_port()
    engine = EngineOnDemand("tcp://127.0.0.1:%d" % closed_port())
    with pytest.raises(DeployError) as info:
        ensure(engine, push_options(repository="registry.example.com/team/app", registry_api=api, allow_http=True,
                                    promote={"from": "1.0.0", "to": ["latest"]}))
    # It went to the API (closed here), not to the engine.
    text = str(info.value)
    assert "The registry registry.example.com (API at %s) failed look-up of 1.0.0" % api in text
    assert "Docker engine" not in text
    assert engine._client is None  # never connected
