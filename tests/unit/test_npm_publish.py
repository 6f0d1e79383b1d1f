"""package_publish's core without a registry: request builders, ordering, dist-tags, scope
selection, the publish document, and the plan/act steps over a fake registry that records
every request (no network). Host names here are reserved example names."""

import base64
import gzip
import hashlib
import io
import json
import os
import tarfile

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils import _tarball_manifest
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._npm_publish import (
    Publisher, check_dist_tag, check_scopes, diff_of, dist_tag_for, integrity_of, is_prerelease,
    publish_document, publish_order, read_package_json, select)
from ansible_collections.bytelyst.deploy.plugins.module_utils._npm_registry import (
    Answer, NpmRegistry, Transient, build_request, check_registry_url, package_url, tarball_url)
from fakes.npm import FakeNpmRegistry

GITEA = "https://git.example.com/api/packages/bytelyst/npm/"
TOKEN = "s3cret-token-value"


# -- URLs and requests ------------------------------------------------------
@pytest.mark.parametrize("text, allow_http, expected", [
    ("https://git.example.com/api/packages/bytelyst/npm", False, GITEA),
    ("  https://git.example.com/api/packages/bytelyst/npm/  ", False, GITEA),
    ("https://npm.example.com", False, "https://npm.example.com/"),
    ("http://127.0.0.1:4873/", True, "http://127.0.0.1:4873/"),
])
def test_registry_url_normalised(text, allow_http, expected):
    assert check_registry_url(text, allow_http) == expected


@pytest.mark.parametrize("text, allow_http, words", [
    ("", False, "is empty"),
    ("git.example.com/api/packages/x/npm/", False, "is not an http(s) URL"),
    ("http://127.0.0.1:4873/", False, "uses plain HTTP, and allow_http is not set"),
    ("https://git.example.com/npm/?x=1", False, "has a query or fragment"),
])
def test_registry_url_refused(text, allow_http, words):
    with pytest.raises(DeployError) as err:
        check_registry_url(text, allow_http)
    assert words in err.value.message


def test_registry_url_with_credentials_is_not_repeated():
    with pytest.raises(DeployError) as err:
        check_registry_url("https://ci:hunter2@git.example.com/npm/")
    assert "holds credentials" in err.value.message and "hunter2" not in str(err.value)


def test_package_and_tarball_urls_escape_the_scope_slash_as_npm_does():
    assert package_url(GITEA, "@bytelyst/config") == GITEA + "@bytelyst%2Fconfig"
    assert package_url(GITEA, "left-pad") == GITEA + "left-pad"
    assert tarball_url(GITEA, "@bytelyst/config", "1.2.0") == GITEA + "@bytelyst/config/-/config-1.2.0.tgz"


def test_token_travels_only_in_the_authorization_header():
    method, url, headers, body = build_request("PUT", GITEA + "@bytelyst%2Fconfig", TOKEN, {"name": "@bytelyst/config"})
    assert (method, url) == ("PUT", GITEA + "@bytelyst%2Fconfig")
    assert headers["Authorization"] == "Bearer " + TOKEN
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"name": "@bytelyst/config"}
    assert TOKEN not in url and TOKEN.encode() not in body
    _m, _u, anonymous, nobody = build_request("GET", GITEA + "x", None)
    assert "Authorization" not in anonymous and nobody is None


# -- ordering, tags, scopes -------------------------------------------------
def entry(internal=(), peers=()):
    return {"dependencies": {"internal": dict((d, "workspace:^") for d in internal), "external": {}},
            "peer_dependencies": dict((p, "^1") for p in peers)}


def test_publish_order_puts_dependencies_first_and_keeps_the_given_order_otherwise():
    packages = {"@b/auth": entry(["@b/config", "@b/errors"]), "@b/config": entry(["@b/errors"]),
                "@b/errors": entry(), "@b/ui": entry(peers=["@b/format"]), "@b/format": entry()}
    order = publish_order(packages, ["@b/auth", "@b/ui", "@b/config", "@b/errors", "@b/format"])
    assert order == ["@b/errors", "@b/config", "@b/auth", "@b/format", "@b/ui"]
    # Dependencies outside the names given are not waited for.
    assert publish_order(packages, ["@b/auth", "@b/config"]) == ["@b/config", "@b/auth"]


def test_publish_order_refuses_a_cycle_naming_it():
    packages = {"@b/a": entry(["@b/b"]), "@b/b": entry(["@b/c"]), "@b/c": entry(["@b/a"])}
    with pytest.raises(DeployError) as err:
        publish_order(packages, ["@b/a", "@b/b", "@b/c"])
    assert "@b/a -> @b/b -> @b/c -> @b/a" in err.value.message


@pytest.mark.parametrize("version, prerelease, tag", [
    ("1.2.0", False, "latest"), ("1.3.0-rc.1", True, "next"), ("2.0.0-0", True, "next"),
    ("1.2.0+build.5", False, "latest"), ("1.2.0-beta+exp-sha", True, "next"),
])
def test_prereleases_get_their_own_dist_tag(version, prerelease, tag):
    assert is_prerelease(version) is prerelease
    assert dist_tag_for(version) == tag
    assert dist_tag_for(version, "stable", "beta") == ("beta" if prerelease else "stable")


@pytest.mark.parametrize("tag", ["1.2.0", "v1", "", "la test", "^1"])
def test_dist_tags_that_read_as_versions_are_refused(tag):
    if tag == "v1":
        assert check_dist_tag(tag, "dist_tag") == "v1"  # a name, not a version
        return
    with pytest.raises(DeployError) as err:
        check_dist_tag(tag, "dist_tag")
    assert "is not a usable dist-tag" in err.value.message


def test_scopes_are_normalised_and_checked():
    assert check_scopes(["bytelyst", "@bytelyst", "@other"]) == ["@bytelyst", "@other"]
    with pytest.raises(DeployError) as err:
        check_scopes(["@Byte/Lyst"])
    assert "'@Byte/Lyst' is not an npm scope" in err.value.message


def manifest_of(packages, order):
    data = {"path": "/x/bytelyst-manifest.json", "order": order, "packages": {}}
    for name, deps in packages.items():
        data["packages"][name] = dict(entry(deps), name=name, version="1.0.0")
    return data


def test_select_by_scope_and_refuse_unknown_scopes_and_missing_dependencies():
    manifest = manifest_of({"@a/one": [], "@b/two": [], "@a/three": ["@a/one"]}, ["@a/one", "@b/two", "@a/three"])
    assert select(manifest, []) == (["@a/one", "@b/two", "@a/three"], [])
    names, skipped = select(manifest, ["@a"])
    assert names == ["@a/one", "@a/three"]
    assert skipped == [dict(name="@b/two", version="1.0.0", action="other_scope")]
    with pytest.raises(DeployError) as err:
        select(manifest, ["@c"])
    assert "The scope(s) @c are not in the manifest /x/bytelyst-manifest.json, whose packages are in @a, @b" \
        in err.value.message
    needy = manifest_of({"@a/one": ["@b/two"], "@b/two": []}, ["@b/two", "@a/one"])
    with pytest.raises(DeployError) as err:
        select(needy, ["@a"])
    assert "@a/one needs @b/two, whose scope is not published to this registry" in err.value.message


# -- tarballs and the publish document --------------------------------------
def make_tarball(path, package_json, extra=b"module.exports = 1;\n"):
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w") as tar:
        for name, data in (("package/package.json", json.dumps(package_json).encode()), ("package/index.js", extra)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_integrity_and_package_json_of_a_tarball(tmp_path):
    path = make_tarball(str(tmp_path / "a.tgz"), {"name": "@b/a", "version": "1.0.0"})
    data = open(path, "rb").read()
    integrity, shasum = integrity_of(path)
    assert integrity == "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    assert shasum == hashlib.sha1(data).hexdigest()
    assert read_package_json(path) == {"name": "@b/a", "version": "1.0.0"}
    (tmp_path / "bad.tgz").write_bytes(b"not a tarball")
    with pytest.raises(DeployError) as err:
        read_package_json(str(tmp_path / "bad.tgz"))
    assert "cannot be read as a package" in err.value.message


def test_publish_document_carries_dist_the_tag_and_the_attachment():
    meta = {"name": "@b/config", "version": "1.3.0-rc.1", "description": "Config", "dependencies": {"@b/errors": "^1.0.0"}}
    doc = publish_document(meta, GITEA, b"TARBALL", "sha512-abc", "f00", "next")
    assert doc["_id"] == doc["name"] == "@b/config"
    assert doc["dist-tags"] == {"next": "1.3.0-rc.1"}
    version = doc["versions"]["1.3.0-rc.1"]
    assert version["_id"] == "@b/config@1.3.0-rc.1"
    assert version["dependencies"] == {"@b/errors": "^1.0.0"}
    assert version["dist"] == {"integrity": "sha512-abc", "shasum": "f00",
                               "tarball": GITEA + "@b/config/-/config-1.3.0-rc.1.tgz"}
    attachment = doc["_attachments"]["@b/config-1.3.0-rc.1.tgz"]
    assert base64.b64decode(attachment["data"]) == b"TARBALL" and attachment["length"] == 7
    assert doc["description"] == "Config"
    assert "dist" not in meta  # the package.json given is not changed


# -- the client's retries and errors, over the fake registry's scripted answers ---
def client(script, **kwargs):
    slept = []
    registry = NpmRegistry(GITEA, token=TOKEN, retries=2, retry_delay=0.5, sleep=slept.append, send=script, **kwargs)
    return registry, slept


def test_connection_errors_and_5xx_are_retried_with_backoff():
    script = FakeNpmRegistry({"@b/a": {"versions": {}}}, script=[
        Transient("cannot connect: refused"), Answer(502, body=b'{"error":"bad gateway"}')])
    registry, slept = client(script)
    assert registry.packument("@b/a") == {"versions": {}}
    assert slept == [0.5, 1.0]
    assert len(script.requests) == 3


def test_retries_run_out_with_the_last_error():
    script = FakeNpmRegistry(script=[Transient("cannot connect: refused"), Answer(503),
                                     Answer(500, body=b'{"error":"disk full"}')])
    registry, _slept = client(script)
    with pytest.raises(DeployError) as err:
        registry.packument("@b/a")
    assert "failed the look-up of @b/a after 3 attempt(s); last error: HTTP 500: disk full" in err.value.message
    assert "a re-run publishes only what is still missing" in str(err.value)


@pytest.mark.parametrize("status, words", [
    (401, "refused the token given for the look-up of @b/a (HTTP 401: bad token). Not retried."),
    (403, "does not allow the look-up of @b/a with this token (HTTP 403: bad token)"),
    (307, "answered the look-up of @b/a with a redirect"),
])
def test_auth_failures_are_not_retried(status, words):
    script = FakeNpmRegistry(script=[Answer(status, {"Location": "https://elsewhere.example.com/"}, b'{"error":"bad token"}')])
    registry, slept = client(script)
    with pytest.raises(DeployError) as err:
        registry.packument("@b/a")
    assert words in err.value.message
    assert slept == [] and len(script.requests) == 1
    assert TOKEN not in str(err.value)


def test_a_404_to_a_publish_says_registry_or_scope_not_found():
    registry, _slept = client(FakeNpmRegistry(script=[Answer(404, body=b"Not Found")]))
    with pytest.raises(DeployError) as err:
        registry.publish("@b/a", {"name": "@b/a"})
    assert "answered HTTP 404 to the publish of @b/a (Not Found): no npm registry at that URL, or it does not " \
           "take scope @b" in err.value.message
    assert "/api/packages/<owner>/npm/" in err.value.hint


def test_an_html_error_page_is_reduced_to_its_words():
    page = b'<!DOCTYPE html><html><head><title>Error</title></head><body><pre>Cannot PUT /x</pre></body></html>'
    assert Answer(404, body=page).error_text() == "Cannot PUT /x"
    assert Answer(409, body=b'{"error": "this package is already present"}').error_text() == \
        "this package is already present"


# -- plan and act over the fake registry, through the client -----------------
@pytest.fixture
def packed(tmp_path):
    """A manifest directory with @b/errors 1.0.0, @b/config 1.1.0-rc.1 (needs errors), @b/ui 0.1.0."""
    specs = {"@b/config": ("1.1.0-rc.1", ["@b/errors"]), "@b/errors": ("1.0.0", []), "@b/ui": ("0.1.0", [])}
    packages = {}
    for name, (version, deps) in specs.items():
        tarball = "%s-%s.tgz" % (name[1:].replace("/", "-"), version)
        path = make_tarball(str(tmp_path / tarball), {"name": name, "version": version,
                                                      "dependencies": dict((d, "^1.0.0") for d in deps)})
        packages[name] = dict(entry(deps), name=name, version=version, tarball=tarball,
                              sha256=_tarball_manifest.sha256_file(path))
    _tarball_manifest.write(str(tmp_path), packages, ["@b/config", "@b/errors", "@b/ui"], "@b/*")
    return str(tmp_path)


def test_publish_in_dependency_order_with_tags_then_nothing_to_do(packed):
    registry = FakeNpmRegistry(url=GITEA)
    result = Publisher(registry.client(), packed).publish()
    assert [name for name, _doc in registry.puts] == ["@b/errors", "@b/config", "@b/ui"]
    assert result["published"] == ["@b/errors@1.0.0", "@b/config@1.1.0-rc.1", "@b/ui@0.1.0"]
    assert registry.held["@b/config"]["dist-tags"] == {"next": "1.1.0-rc.1"}
    assert registry.held["@b/errors"]["dist-tags"] == {"latest": "1.0.0"}
    again = Publisher(registry.client(), packed).publish()
    assert [p["action"] for p in again["packages"]] == ["unchanged"] * 3
    assert len(registry.puts) == 3
    assert diff_of(again["packages"])["before"] == diff_of(again["packages"])["after"]


def test_check_mode_publishes_nothing(packed):
    registry = FakeNpmRegistry(url=GITEA)
    result = Publisher(registry.client(), packed).publish(check_mode=True)
    assert [p["action"] for p in result["packages"]] == ["would_publish"] * 3
    assert registry.puts == [] and result["published"] == []
    assert "@b/errors@1.0.0: (absent)" in diff_of(result["packages"])["before"]


def test_other_content_under_a_held_version_refuses_everything_before_any_put(packed):
    local, _sha = integrity_of(os.path.join(packed, "b-ui-0.1.0.tgz"))
    held = {"@b/ui": {"versions": {"0.1.0": {"dist": {"integrity": "sha512-other", "shasum": "0"}}}}}
    registry = FakeNpmRegistry(url=GITEA, held=held)
    with pytest.raises(DeployError) as err:
        Publisher(registry.client(), packed).publish()
    assert ("@b/ui@0.1.0 is already in the npm registry %s with other content: the registry holds sha512-other, "
            "the local tarball is %s." % (GITEA, local)) in err.value.message
    assert "Nothing was published." in str(err.value)
    assert registry.puts == []


def test_a_registry_with_only_shasum_is_compared_by_shasum(packed):
    _integrity, sha = integrity_of(os.path.join(packed, "b-ui-0.1.0.tgz"))
    registry = FakeNpmRegistry(url=GITEA, held={"@b/ui": {"versions": {"0.1.0": {"dist": {"shasum": sha}}}}})
    result = Publisher(registry.client(), packed, scopes=["@b"]).publish()
    assert dict((p["name"], p["action"]) for p in result["packages"])["@b/ui"] == "unchanged"


def test_a_409_for_a_version_that_landed_with_our_content_counts_as_published(packed):
    registry = FakeNpmRegistry(url=GITEA, conflict_on=["@b/errors"])
    result = Publisher(registry.client(), packed).publish()
    assert "@b/errors@1.0.0" in result["published"]


def test_a_stale_manifest_is_refused_before_the_registry_is_asked(packed):
    with open(os.path.join(packed, "b-ui-0.1.0.tgz"), "ab") as handle:
        handle.write(b"tampered")
    registry = FakeNpmRegistry(url=GITEA)
    with pytest.raises(DeployError) as err:
        Publisher(registry.client(), packed).publish()
    assert "is stale" in err.value.message and registry.puts == []


@pytest.mark.parametrize("retries,delay,message", [
    (-1, 1.0, "retries and retry_delay must not be negative (got -1 and 1.0)."),
    (3, -0.5, "retries and retry_delay must not be negative (got 3 and -0.5)."),
])
def test_ensure_refuses_negative_retries_before_any_request(tmp_path, retries, delay, message):
    from ansible_collections.bytelyst.deploy.plugins.module_utils import _npm_publish
    opts = dict(manifest=str(tmp_path), registry="http://127.0.0.1:9", token="t0ken", scopes=[], dist_tag="latest",
                prerelease_dist_tag="next", ca_cert=None, allow_http=True, retries=retries, retry_delay=delay, timeout=5)
    with pytest.raises(DeployError) as info:
        _npm_publish.ensure(None, opts)
    assert str(info.value) == message
    assert "t0ken" not in str(info.value) and os.listdir(str(tmp_path)) == []
