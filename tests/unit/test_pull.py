"""Base images found on the engine or pulled: the policies, the registry asked first, nothing pulled over a match."""

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._pull import Puller, registry_target
from ansible_collections.bytelyst.deploy.plugins.module_utils._registry import AuthenticationError

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
REF = "reg.example.com:5000/team/base-dev:1.0.0"


class Image(object):
    def __init__(self, image_id, repo_digests=()):
        self.id = image_id
        self.attrs = {"RepoDigests": list(repo_digests)}
        self.tagged = []

    def tag(self, repo, tag):
        self.tagged.append((repo, tag))


class Engine(object):
    """images.get by reference; api.pull records what was pulled and adds the image (or reports an error)."""

    def __init__(self, refs=None, pull_error=None):
        self.refs = dict(refs or {})
        self.pull_error = pull_error
        self.pulls = []
        self.images = self
        self.api = self

    def get(self, ref):
        from docker.errors import ImageNotFound
        if ref in self.refs:
            return self.refs[ref]
        for image in self.refs.values():
            if image.id == ref:
                return image
        raise ImageNotFound(ref)

    def pull(self, name, tag=None, auth_config=None, stream=False, decode=False):
        self.pulls.append((name, tag, auth_config))
        if self.pull_error:
            return iter([{"status": "Pulling"}, {"error": self.pull_error}])
        image = Image("sha256:pulled", ["%s@%s" % (name, tag)])
        self.refs["%s@%s" % (name, tag)] = image
        return iter([{"status": "Downloaded newer image"}])

    def info(self):
        return {}


class Registry(object):
    """A RegistryClient stand-in: digests by (repository, reference); auth or connection failures."""
    made = []

    def __init__(self, digests=None, fail=None):
        self.digests = digests or {}
        self.fail = fail

    def __call__(self, registry, username=None, password=None, **kw):
        self.registry, self.username, self.password, self.kw = registry, username, password, kw
        self.where = registry
        Registry.made.append(self)
        return self

    def manifest_digest(self, repository, reference, what=None):
        if self.fail:
            raise self.fail
        return self.digests.get((repository, reference))


def opts(**kw):
    return dict(dict(pull="missing", username=None, password=None, ca_cert=None, allow_http=False, timeout=30), **kw)


def test_missing_uses_the_engines_image_without_asking_the_registry():
    local = Image("sha256:local")
    engine, registry = Engine({REF: local}), Registry(fail=AssertionError("asked the registry"))
    puller = Puller(engine, opts(), registry_client=registry)
    assert puller.image(REF, "dev_base_image") is local
    assert engine.pulls == [] and puller.pulled == []


def test_missing_pulls_the_digest_the_registry_names_with_the_credentials_and_tags_it():
    engine = Engine()
    registry = Registry({("team/base-dev", "1.0.0"): D1})
    puller = Puller(engine, opts(username="ci", password="s3cret", ca_cert="/ca.pem", allow_http=True),
                    registry_client=registry)
    image = puller.image(REF, "dev_base_image")
    assert engine.pulls == [("reg.example.com:5000/team/base-dev", D1,
                             {"username": "ci", "password": "s3cret", "serveraddress": "reg.example.com:5000"})]
    assert image.tagged == [("reg.example.com:5000/team/base-dev", "1.0.0")]
    assert (registry.username, registry.password, registry.kw["ca_file"], registry.kw["allow_http"]) == (
        "ci", "s3cret", "/ca.pem", True)
    assert puller.pulled == [REF]
    assert puller.image(REF, "dev_base_image") is image and len(engine.pulls) == 1  # resolved once per run


def test_always_pulls_nothing_when_the_engine_has_the_registrys_digest():
    local = Image("sha256:local", ["reg.example.com:5000/team/base-dev@" + D1])
    engine = Engine({REF: local})
    puller = Puller(engine, opts(pull="always"), registry_client=Registry({("team/base-dev", "1.0.0"): D1}))
    assert puller.image(REF, "base_image") is local and engine.pulls == []


def test_always_pulls_when_the_tag_moved_in_the_registry():
    local = Image("sha256:local", ["reg.example.com:5000/team/base-dev@" + D1])
    engine = Engine({REF: local})
    puller = Puller(engine, opts(pull="always"), registry_client=Registry({("team/base-dev", "1.0.0"): D2}))
    assert puller.image(REF, "base_image").id == "sha256:pulled"
    assert engine.pulls[0][:2] == ("reg.example.com:5000/team/base-dev", D2)


def test_never_stops_when_the_engine_lacks_it():
    engine = Engine()
    with pytest.raises(DeployError) as info:
        Puller(engine, opts(pull="never"), registry_client=Registry()).image(REF, "base_image")
    assert "The base_image %s is not on this Docker engine, and pull is never." % REF in str(info.value)
    assert engine.pulls == []


def test_a_wrong_password_stops_before_the_engine_pulls():
    engine = Engine()
    failure = AuthenticationError("Authentication failed for user ci at registry reg.example.com:5000 (HTTP 401).")
    with pytest.raises(AuthenticationError) as info:
        Puller(engine, opts(username="ci", password="wrong"), registry_client=Registry(fail=failure)).image(
            REF, "base_image")
    assert str(info.value).startswith("The base_image %s is not on this Docker engine, and pulling it failed. "
                                      "Authentication failed for user ci" % REF)
    assert "wrong" not in str(info.value)
    assert engine.pulls == []


def test_an_image_the_registry_lacks_is_named():
    engine = Engine()
    with pytest.raises(DeployError) as info:
        Puller(engine, opts(), registry_client=Registry()).image(REF, "dev_base_image")
    assert "The dev_base_image %s is not on this Docker engine, and its registry reg.example.com:5000 has no such " \
        "image." % REF in str(info.value)
    assert engine.pulls == []


def test_an_engine_that_cannot_pull_says_so():
    engine = Engine(pull_error="http: server gave HTTP response to HTTPS client")
    with pytest.raises(DeployError) as info:
        Puller(engine, opts(), registry_client=Registry({("team/base-dev", "1.0.0"): D1})).image(REF, "base_image")
    assert "The Docker engine could not pull %s" % REF in str(info.value)
    assert "server gave HTTP response to HTTPS client" in str(info.value) and "insecure-registries" in str(info.value)


def test_a_reference_without_registry_pulls_from_the_default_one():
    target = registry_target("node:22-slim", "runtime_image")
    assert (target.registry, target.repository, target.tag) == ("docker.io", "library/node", "22-slim")
    assert registry_target("team/app@" + D1, "x").repository == "team/app"


def test_an_unknown_policy_is_refused():
    with pytest.raises(DeployError) as info:
        Puller(Engine(), opts(pull="sometimes"))
    assert "pull is 'sometimes'; it must be one of missing, always, never." in str(info.value)
