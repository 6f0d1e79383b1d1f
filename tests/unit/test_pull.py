"""Base images found on the engine or pulled: the policies, the registry asked first, nothing pulled over a match."""

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._pull import Puller, registry_target
from ansible_collections.bytelyst.deploy.plugins.module_utils._image_registry import SCHEMA2, AuthenticationError, ImageManifest
from fakes.engine import FakeClient, FakeImage
from fakes.registry import FakeRegistryClient

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
REF = "reg.example.com:5000/team/base-dev:1.0.0"


NAME = "reg.example.com:5000/team/base-dev"


def engine_with(refs=None, pull_error=None):
    """An engine holding refs; what it can pull: the image sha256:pulled under NAME@D1 and NAME@D2."""
    pullable = dict((NAME + "@" + d, FakeImage("sha256:pulled")) for d in (D1, D2))
    return FakeClient(refs, pullable=pullable, info={}, pull_error=pull_error)


def registry_with(digest=None, fail=None):
    """The registry's client: team/base-dev:1.0.0 at digest (or no image at all)."""
    tags = {"1.0.0": ImageManifest(b"{}", SCHEMA2, digest)} if digest else {}
    return FakeRegistryClient(tags, repository="team/base-dev", fail=fail)


def opts(**kw):
    return dict(dict(pull="missing", username=None, password=None, ca_cert=None, allow_http=False, timeout=30), **kw)


def test_missing_uses_the_engines_image_without_asking_the_registry():
    local = FakeImage("sha256:local")
    engine, registry = engine_with({REF: local}), registry_with(fail=AssertionError("asked the registry"))
    puller = Puller(engine, opts(), registry_client=registry)
    assert puller.image(REF, "dev_base_image") is local
    assert engine.api.pulls == [] and puller.pulled == []


def test_missing_pulls_the_digest_the_registry_names_with_the_credentials_and_tags_it():
    engine = engine_with()
    registry = registry_with(D1)
    puller = Puller(engine, opts(username="ci", password="s3cret", ca_cert="/ca.pem", allow_http=True),
                    registry_client=registry)
    image = puller.image(REF, "dev_base_image")
    assert engine.api.pulls == [("reg.example.com:5000/team/base-dev", D1,
                                 {"username": "ci", "password": "s3cret", "serveraddress": "reg.example.com:5000"})]
    assert image.tagged == [REF]
    assert (registry.username, registry.password, registry.options["ca_file"], registry.options["allow_http"]) == (
        "ci", "s3cret", "/ca.pem", True)
    assert puller.pulled == [REF]
    engine.images.drop(REF)  # the engine forgets the tag: only the run's own memory can answer now
    assert puller.image(REF, "dev_base_image") is image and len(engine.api.pulls) == 1  # resolved once per run


def test_always_pulls_nothing_when_the_engine_has_the_registrys_digest():
    local = FakeImage("sha256:local", digests=["reg.example.com:5000/team/base-dev@" + D1])
    engine = engine_with({REF: local})
    puller = Puller(engine, opts(pull="always"), registry_client=registry_with(D1))
    assert puller.image(REF, "base_image") is local and engine.api.pulls == []


def test_always_pulls_when_the_tag_moved_in_the_registry():
    local = FakeImage("sha256:local", digests=["reg.example.com:5000/team/base-dev@" + D1])
    engine = engine_with({REF: local})
    puller = Puller(engine, opts(pull="always"), registry_client=registry_with(D2))
    assert puller.image(REF, "base_image").id == "sha256:pulled"
    assert engine.api.pulls[0][:2] == ("reg.example.com:5000/team/base-dev", D2)


def test_never_stops_when_the_engine_lacks_it():
    engine = engine_with()
    with pytest.raises(DeployError) as info:
        Puller(engine, opts(pull="never"), registry_client=registry_with()).image(REF, "base_image")
    assert "The base_image %s is not on this Docker engine, and pull is never." % REF in str(info.value)
    assert engine.api.pulls == []


def test_a_wrong_password_stops_before_the_engine_pulls():
    engine = engine_with()
    failure = AuthenticationError("Authentication failed for user ci at registry reg.example.com:5000 (HTTP 401).")
    with pytest.raises(AuthenticationError) as info:
        Puller(engine, opts(username="ci", password="wrong"), registry_client=registry_with(fail=failure)).image(
            REF, "base_image")
    assert str(info.value).startswith("The base_image %s is not on this Docker engine, and pulling it failed. "
                                      "Authentication failed for user ci" % REF)
    assert "wrong" not in str(info.value)
    assert engine.api.pulls == []


def test_an_image_the_registry_lacks_is_named():
    engine = engine_with()
    with pytest.raises(DeployError) as info:
        Puller(engine, opts(), registry_client=registry_with()).image(REF, "dev_base_image")
    assert "The dev_base_image %s is not on this Docker engine, and its registry reg.example.com:5000 has no such " \
        "image." % REF in str(info.value)
    assert engine.api.pulls == []


def test_an_engine_that_cannot_pull_says_so():
    engine = engine_with(pull_error="http: server gave HTTP response to HTTPS client")
    with pytest.raises(DeployError) as info:
        Puller(engine, opts(), registry_client=registry_with(D1)).image(REF, "base_image")
    assert "The Docker engine could not pull %s" % REF in str(info.value)
    assert "server gave HTTP response to HTTPS client" in str(info.value) and "insecure-registries" in str(info.value)


def test_a_reference_without_registry_pulls_from_the_default_one():
    target = registry_target("node:22-slim", "runtime_image")
    assert (target.registry, target.repository, target.tag) == ("docker.io", "library/node", "22-slim")
    assert registry_target("team/app@" + D1, "x").repository == "team/app"


def test_an_unknown_policy_is_refused():
    with pytest.raises(DeployError) as info:
        Puller(engine_with(), opts(pull="sometimes"))
    assert "pull is 'sometimes'; it must be one of missing, always, never." in str(info.value)
