import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._reference import check_tag, is_digest, parse, repo_digest, split

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize("text, registry, repository, tag, digest", [
    ("127.0.0.1:5000/team/app:1.2.0", "127.0.0.1:5000", "team/app", "1.2.0", None),
    ("registry.example.com/app", "registry.example.com", "app", None, None),
    ("localhost/a/b/c:latest", "localhost", "a/b/c", "latest", None),
    ("registry.example.com:443/x/y@" + DIGEST, "registry.example.com:443", "x/y", None, DIGEST),
    ("registry.example.com/x/y:v1@" + DIGEST, "registry.example.com", "x/y", "v1", DIGEST),
    ("[::1]:5000/team/app:1", "[::1]:5000", "team/app", "1", None),
    ("r.example.com/my_org/app-name.x__y:1", "r.example.com", "my_org/app-name.x__y", "1", None),
])
def test_parses_valid_references(text, registry, repository, tag, digest):
    ref = parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repository, tag, digest)
    assert str(ref) == text
    assert ref.name == "%s/%s" % (registry, repository)
    assert ref.with_tag("stable") == "%s/%s:stable" % (registry, repository)


@pytest.mark.parametrize("text, words", [
    ("team/app:1", "does not name a registry"),
    ("app", "does not name a registry"),
    ("127.0.0.1:5000/Team/App:1", "malformed repository path"),
    ("127.0.0.1:5000/team//app", "malformed repository path"),
    ("127.0.0.1:5000/team/app:-bad", "not a valid image tag"),
    ("127.0.0.1:5000/team/app:" + "x" * 129, "not a valid image tag"),
    ("127.0.0.1:5000/team/app@sha256:123", "malformed digest"),
    ("bad_host.example.com:5000/app", "malformed registry host"),
    ("", "is empty"),
])
def test_rejects_malformed_references_saying_what_is_wrong(text, words):
    with pytest.raises(DeployError) as info:
        parse(text)
    assert words in str(info.value)


def test_registry_optional_when_asked():
    ref = parse("app:1", require_registry=False)
    assert (ref.registry, ref.repository, ref.tag) == (None, "app", "1")


def test_tags_and_digests():
    assert check_tag("1.2.0-rc.1_b") == "1.2.0-rc.1_b"
    for bad in ("", ".x", "a/b", "a:b", None):
        with pytest.raises(DeployError):
            check_tag(bad)
    assert is_digest(DIGEST)
    assert not is_digest("sha256:ABC")
    assert not is_digest(None)


@pytest.mark.parametrize("text, expected", [
    ("node:22-slim", ("node", "22-slim", None)),
    ("bytelyst-test-1/base-dev:1.0.0", ("bytelyst-test-1/base-dev", "1.0.0", None)),
    ("reg:5000/a/b", ("reg:5000/a/b", None, None)),
    ("reg:5000/a/b:1.0.0@" + DIGEST, ("reg:5000/a/b", "1.0.0", DIGEST)),
])
def test_split_engine_references(text, expected):
    assert split(text) == expected


def test_split_names_the_bad_input():
    with pytest.raises(DeployError, match="runtime_image 'Node:22' has a malformed repository path"):
        split("Node:22", "runtime_image")


def test_repo_digest_matches_the_named_repository_only():
    digests = ["<none>@<none>", "other/web@sha256:1", "127.0.0.1:5000/a/web@sha256:2", "node@sha256:3"]
    assert repo_digest(digests, "127.0.0.1:5000/a/web") == "127.0.0.1:5000/a/web@sha256:2"
    assert repo_digest(digests, "docker.io/library/node") == "docker.io/library/node@sha256:3"
    assert repo_digest(digests, "127.0.0.1:5000/a/api") is None
    assert repo_digest([], "node") is None
