"""Unit tests of product images whose shared packages come from an npm registry
(_registry_source.py, product_image mode=registry) on a fake registry and a fake
compatibility check: which versions satisfy, what is refused (naming the package, the range
and the registry's versions), what the Dockerfile and the generated .npmrc say, where the
token goes. The real build against Verdaccio is tests/integration/test_registry_source.py."""

import json
import os
import shutil

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils import _base_image, _dockerfile, _product_image, _registry_source
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._npm_registry import Answer, NpmRegistry
from ansible_collections.bytelyst.deploy.plugins.module_utils._scope import Shared
import datetime

from fakes import FakeClient, FakeImage

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples")
URL = "https://git.example.com/api/packages/bytelyst/npm/"
TOKEN = "npm-token-never-shown"
RUNTIME = "node:22-slim"
REGISTRY_OF = _registry_source.registry_of  # before any test replaces it


class FakeRegistry(object):
    """The `send` of an NpmRegistry: packuments of {name: [versions]}, every request recorded."""

    def __init__(self, held, status=200):
        self.held = held
        self.status = status
        self.requests = []
        self.latest = {}  # {name: the dist-tag latest}

    def __call__(self, request):
        method, url, headers, body = request
        self.requests.append((method, url, dict(headers)))
        if self.status != 200:
            return Answer(self.status, body=b'{"error":"bad token"}')
        name = url.rsplit("/", 1)[-1].replace("%2f", "/").replace("%2F", "/")
        if name not in self.held:
            return Answer(404, body=b'{"error":"not found"}')
        held = self.held[name]  # [versions], or {version: extra fields (dependencies ...)}
        doc = {"name": name, "versions": dict(
            (v, dict(held[v] if isinstance(held, dict) else {}, version=v,
                     dist={"integrity": "sha512-%s-%s" % (name, v)})) for v in held)}
        if name in self.latest:
            doc["dist-tags"] = {"latest": self.latest[name]}
        return Answer(200, body=json.dumps(doc).encode())


def satisfies(version, rng):
    """Enough of npm's semver for these tests: *, exact, ^X.Y.Z (X > 0), no prerelease unless exact."""
    if rng == "*":
        return "-" not in version
    if rng.startswith("^"):
        want = [int(p) for p in rng[1:].split(".")]
        if "-" in version:
            return False
        have = [int(p) for p in version.split(".")]
        return have[0] == want[0] and have >= want
    return version == rng


class FakeCompat(object):
    """The compatibility check: evaluates the payload's checks with satisfies(); records the images asked."""

    def __init__(self):
        self.asked = []

    def __call__(self, ref, payload, what, name=None):
        self.asked.append((ref, what, name))
        versions = payload["provides"]["third_party"]
        checks = []
        for c in payload["checks"]:
            valid = c["range"] != "not a range"
            checks.append(dict(c, version=versions[c["name"]], valid=valid,
                               ok=valid and satisfies(versions[c["name"]], c["range"])))
        return payload["provides"], set(c["name"] for c in checks if c["ok"]), checks


@pytest.fixture
def notes(tmp_path):
    target = tmp_path / "notes"
    shutil.copytree(os.path.join(EXAMPLES, "products", "notes"), str(target),
                    ignore=shutil.ignore_patterns("node_modules", ".next", "dist"))
    return str(target)


def opts(product_dir, **change):
    data = dict(product_dir=product_dir, kind="backend", mode="registry", base_image=None, dev_base_image=None,
                runtime_image=RUNTIME, manifest=None, name=None, version=None, revision=None, registry=None,
                port=4016, health_path=None, promote=False, force=False, npm_token=TOKEN, ca_bundle=None, verify=True,
                verify_timeout=90, pnpm_version="10.6.5", labels={}, docker_cli=None, docker_host=None,
                shared_registry=URL, shared_registry_allow_http=False, shared_scopes=["@bytelyst"])
    data.update(change)
    return data


SAMPLE = {"@bytelyst/config": ["1.0.0", "1.2.0"], "@bytelyst/errors": ["1.2.0", "2.0.0-rc.1"],
          "@bytelyst/http": ["1.1.0"], "@bytelyst/logger": ["0.9.0", "1.0.0"]}


def plan_with(monkeypatch, product_dir, held=None, status=200, **change):
    fake = FakeRegistry(SAMPLE if held is None else held, status)
    monkeypatch.setattr(_registry_source, "registry_of", lambda o: NpmRegistry(
        o["shared_registry"], token=o.get("npm_token"), send=fake, retries=0))
    compat = FakeCompat()
    engine = FakeClient({RUNTIME: FakeImage("sha256:runtime", layers=("sha256:r1",))})
    plan = _product_image.plan(opts(product_dir, **change), engine, compat, revision_of=lambda path: None)
    return plan, fake, compat


def test_plan_reads_the_registry_and_keeps_the_ranges(monkeypatch, notes):
    plan, fake, compat = plan_with(monkeypatch, notes)
    # every shared dependency looked up once, the token only in the Authorization header
    assert sorted(url for method, url, headers in fake.requests) == [
        URL + "@bytelyst%2F" + n for n in ("config", "errors", "http", "logger")]
    assert all(headers["Authorization"] == "Bearer " + TOKEN and TOKEN not in url for m, url, headers in fake.requests)
    # the check ran in the runtime image, through the compatibility seam
    assert compat.asked == [(RUNTIME, "runtime image", URL)]
    # workspace: ranges as pnpm publishes them (no manifest: any version), the rest unchanged
    assert plan.runtime_package["dependencies"] == {
        "@bytelyst/config": "*", "@bytelyst/errors": "*", "@bytelyst/http": "*", "@bytelyst/logger": "*",
        "fastify": "^5.6.0"}
    assert "devDependencies" not in plan.runtime_package and plan.builder_package["devDependencies"]
    versions = dict((c["name"], c["versions"]) for c in plan.compatibility)
    assert versions["@bytelyst/errors"] == ["1.2.0"]  # a prerelease satisfies no `*`
    assert (plan.base_ref, plan.built_on.id, plan.vendor_files, plan.mode) == (RUNTIME, "sha256:runtime", [], "registry")
    assert plan.npmrc == "@bytelyst:registry=%s\n" % URL


def test_dockerfile_maps_the_scope_and_gives_the_token_to_this_registry_only(monkeypatch, notes):
    plan, _fake, _compat = plan_with(monkeypatch, notes)
    text = plan.dockerfile
    assert text.startswith("# Generated by bytelyst.deploy.product_image (mode=registry, kind=backend)")
    assert "FROM %s AS builder" % RUNTIME in text and "FROM %s AS deps" % RUNTIME in text
    assert text.count("COPY bytelyst/npmrc ./.npmrc") == 1 and text.count("COPY --chown=node:node bytelyst/npmrc ./.npmrc") == 1
    # every step that may reach a registry writes the token for the private registry, never the default one
    assert "npm config get registry" not in text
    assert text.count("reg=://git.example.com/api/packages/bytelyst/npm/;") == text.count("/run/secrets/npmrc ]") == 4
    assert TOKEN not in text and "vendor" not in text
    # the final stage copies node_modules only: no .npmrc, no pnpm in it
    final = text.rsplit("\nFROM ", 1)[1]
    assert ".npmrc" not in final and "pnpm install" not in final


def test_fingerprint_follows_the_registry_versions(monkeypatch, notes):
    first, _fake, _compat = plan_with(monkeypatch, notes)
    same, _fake, _compat = plan_with(monkeypatch, notes)
    held = dict(SAMPLE, **{"@bytelyst/config": ["1.0.0", "1.2.0", "1.3.0"]})
    newer, _fake, _compat = plan_with(monkeypatch, notes, held=held)
    assert first.fingerprint == same.fingerprint != newer.fingerprint
    other_registry, _fake, _compat = plan_with(monkeypatch, notes, shared_registry=URL.replace("bytelyst", "team"))
    assert other_registry.fingerprint != first.fingerprint


def test_unsatisfiable_range_refused_naming_package_range_and_registry_versions(monkeypatch, notes):
    path = os.path.join(notes, "backend", "package.json")
    with open(path) as handle:
        package = json.load(handle)
    package["dependencies"]["@bytelyst/config"] = "^3.0.0"
    package["dependencies"]["@bytelyst/http"] = "not a range"
    with open(path, "w") as handle:
        json.dump(package, handle)
    with pytest.raises(DeployError) as err:
        plan_with(monkeypatch, notes)
    text = str(err.value)
    assert ("@bytelyst/config ^3.0.0 (declared '^3.0.0') but the registry has 1.0.0, 1.2.0" in text)
    assert "@bytelyst/http: 'not a range' is not a valid semver range" in text
    assert text.startswith("The npm registry %s cannot serve" % URL) and "package_publish" in text
    assert [p["name"] for p in err.value.details["incompatible"]] == ["@bytelyst/config", "@bytelyst/http"]
    assert err.value.details["incompatible"][0]["registry_versions"] == ["1.0.0", "1.2.0"]


def test_package_the_registry_lacks_is_refused(monkeypatch, notes):
    held = dict(SAMPLE)
    del held["@bytelyst/logger"]
    with pytest.raises(DeployError, match=r"@bytelyst/logger \* \(declared 'workspace:\*'\) but the registry has "
                                          r"no version of it"):
        plan_with(monkeypatch, notes, held=held)


def test_wrong_token_refused_before_any_check(monkeypatch, notes):
    fake = FakeRegistry(SAMPLE, status=401)
    monkeypatch.setattr(_registry_source, "registry_of", lambda o: NpmRegistry(
        o["shared_registry"], token=o.get("npm_token"), send=fake, retries=0))
    compat = FakeCompat()
    engine = FakeClient({RUNTIME: FakeImage("sha256:runtime")})
    with pytest.raises(DeployError) as err:
        _product_image.plan(opts(notes), engine, compat, revision_of=lambda path: None)
    assert "refused the token given" in str(err.value) and TOKEN not in str(err.value)
    assert compat.asked == [] and len(fake.requests) == 1


def test_registry_mode_needs_scopes_or_a_manifest_and_a_registry(monkeypatch, notes):
    with pytest.raises(DeployError, match="no manifest and no shared_scopes"):
        plan_with(monkeypatch, notes, shared_scopes=[])
    with pytest.raises(DeployError, match="shared_registry is required with product_image mode=registry"):
        REGISTRY_OF({"shared_registry": None})
    with pytest.raises(DeployError, match="plain HTTP"):
        REGISTRY_OF({"shared_registry": "http://127.0.0.1:4873/"})
    with pytest.raises(DeployError, match="not an npm scope"):
        _registry_source.shared_of(Shared(), ["@a/b"])
    shared = _registry_source.shared_of(Shared(["@acme/core"]), ["bytelyst"])
    assert "@bytelyst/anything" in shared and "@acme/core" in shared and "@other/x" not in shared
    assert _registry_source.npmrc_text(URL, shared) == "@acme:registry=%s\n@bytelyst:registry=%s\n" % (URL, URL)


def test_lockfile_versions_must_be_in_the_registry_and_in_range():
    reqs = [("@bytelyst/config", "^1.0.0", "^1.0.0")]
    held = {"@bytelyst/config": {"1.0.0": "i1", "1.2.0": "i2"}, "@bytelyst/errors": {"1.2.0": "i3"}}
    good = {"@bytelyst/config": ["1.0.0", "1.2.0"]}
    _registry_source.check(URL, reqs, held, good, set(), {"@bytelyst/config": ["1.2.0"], "@bytelyst/errors": ["1.2.0"]})
    with pytest.raises(DeployError) as err:
        _registry_source.check(URL, reqs, held, good, set(), {"@bytelyst/errors": ["1.1.0"]})
    assert "the lockfile pins @bytelyst/errors 1.1.0, which the registry does not have (it has 1.2.0)" in str(err.value)
    with pytest.raises(DeployError, match="which does not satisfy"):
        _registry_source.check(URL, reqs, held, {"@bytelyst/config": ["1.2.0"]}, set(), {"@bytelyst/config": ["1.0.0"]})


def test_link_spec_and_unscoped_shared_package_refused():
    with pytest.raises(DeployError, match="declared as 'link:../x', which names no version"):
        _registry_source.check(URL, [("@bytelyst/x", "link:../x", None)], {"@bytelyst/x": {}}, {}, set(), {})
    with pytest.raises(DeployError, match="tools has no scope"):
        _registry_source.stage(opts("."), FakeImage("sha256:r"), RUNTIME, FakeCompat(), {},
                               [("tools", "^1.0.0", "^1.0.0")], Shared(["tools"]), None,
                               registry=NpmRegistry(URL, send=FakeRegistry({})))


def test_other_modes_keep_their_dockerfile():
    """The registry hooks change nothing in the text of base and tarball builds."""
    for mode in ("base", "tarball"):
        spec = _dockerfile.DockerfileSpec(mode, "backend", "img@sha256:1", "img@sha256:2", ["node", "dist/server.js"], 3000)
        text = _dockerfile.render(spec)
        assert ".npmrc" not in text and "reg=:" not in text
        assert text.count("reg=$(npm config get registry)") == text.count("/run/secrets/npmrc ]") > 0


# --- base_image source=registry ------------------------------------------------------------------

TEAM = {
    "@bytelyst/http": {"1.0.0": {}, "1.1.0": {"dependencies": {"@bytelyst/errors": "^1.0.0", "fastify": "^5.0.0"},
                                              "peerDependencies": {"pino": "^9.0.0", "@bytelyst/logger": "^1.0.0"},
                                              "devDependencies": {"typescript": "^5.6.0"}},
                       "2.0.0-rc.1": {}},
    "@bytelyst/errors": {"1.0.0": {}, "1.2.0": {}, "2.0.0": {}},
    "@bytelyst/logger": {"1.0.0": {"dependencies": {"@bytelyst/errors": "^1.2.0"}}, "1.1.0": {}},
}
NOW = datetime.datetime(2026, 11, 27, 10, 0, 0)


def base_opts(**change):
    data = dict(source="registry", manifest=None, kind="backend", runtime_image=RUNTIME, pnpm_version="10.6.5",
                name=None, version="1.0.0", registry=None, labels={}, packages={"@bytelyst/http": "^1.0.0"},
                promote=False, force=False, npm_token=TOKEN, npm_registry=None, ca_bundle=None, date_tag=None,
                docker_cli=None, docker_host=None, shared_registry=URL, shared_registry_allow_http=False)
    data.update(change)
    return data


def base_ensure(monkeypatch, client, held=None, latest=None, check_mode=True, **change):
    fake = FakeRegistry(TEAM if held is None else held)
    fake.latest = latest or {}
    monkeypatch.setattr(_registry_source, "registry_of", lambda o: NpmRegistry(
        o["shared_registry"], token=o.get("npm_token"), send=fake, retries=0))
    compat = FakeCompat()
    monkeypatch.setattr(_base_image, "find_buildkit_cli", lambda *a, **k: "cli")
    monkeypatch.setattr(_base_image, "engine_compat", lambda cli: compat)
    return _base_image.ensure(client, base_opts(**change), check_mode=check_mode, now=NOW), fake, compat


def test_resolve_picks_what_npm_installs_and_adds_the_shared_dependencies():
    fake = FakeRegistry(TEAM)
    compat = FakeCompat()
    resolved, docs = _registry_source.resolve(NpmRegistry(URL, send=fake), compat, RUNTIME,
                                              [("@bytelyst/http", "^1.0.0", "^1.0.0")])
    # the newest 1.x (no prerelease), its shared dependency and peer; fastify and pino stay third-party
    assert resolved == {"@bytelyst/http": "1.1.0", "@bytelyst/errors": "1.2.0", "@bytelyst/logger": "1.1.0"}
    # one check per round: http, then errors and logger (logger 1.1.0 depends on no shared package)
    assert compat.asked == [(RUNTIME, "runtime image", URL)] * 2
    assert sorted(docs) == sorted(TEAM) and len(fake.requests) == 3
    # the dist-tag latest wins when it satisfies (as npm and pnpm pick)
    fake.latest = {"@bytelyst/errors": "1.0.0"}
    with pytest.raises(DeployError) as err:  # ... and then logger's ^1.2.0 cannot accept it
        _registry_source.resolve(NpmRegistry(URL, send=fake), FakeCompat(), RUNTIME,
                                 [("@bytelyst/http", "1.1.0", "1.1.0"), ("@bytelyst/logger", "1.0.0", "1.0.0")])
    assert ("@bytelyst/errors ^1.2.0 (declared '^1.2.0' by @bytelyst/logger@1.0.0) does not accept 1.0.0, which "
            "@bytelyst/http@1.1.0 asked for") in str(err.value)


def test_precedence_is_semver_order():
    versions = ["1.0.0", "1.0.0-rc.1", "1.0.0-beta.11", "1.0.0-beta.2", "1.0.0-alpha", "1.0.0-alpha.1", "0.9.10",
                "0.9.9", "10.0.0", "2.0.0"]
    assert sorted(versions, key=_registry_source.precedence) == [
        "0.9.9", "0.9.10", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0",
        "2.0.0", "10.0.0"]


def test_base_from_the_registry_records_the_resolved_versions(monkeypatch):
    client = FakeClient({RUNTIME: FakeImage("sha256:runtime1")})
    result, fake, compat = base_ensure(monkeypatch, client)
    assert result["changed"] is True and result["image_id"] is None and result["tags"][0] == (
        "bytelyst-common-base-backend:1.0.0")
    assert result["packages"] == {"@bytelyst/http": "1.1.0", "@bytelyst/errors": "1.2.0", "@bytelyst/logger": "1.1.0"}
    text = result["dockerfile"]
    # the token is written for the shared registry only, in the pnpm set-up and the install
    assert "npm config get registry" not in text and TOKEN not in text
    assert text.count("reg=://git.example.com/api/packages/bytelyst/npm/;") == 2
    # the plan behind it: exact versions in dependencies and overrides (provides.json's own packages), the scope mapped
    monkeypatch.setattr(_base_image, "plan", _spy(_base_image.plan))
    base_ensure(monkeypatch, client)
    files = _spy.last.files
    package = json.loads(files["package.json"])
    assert package["pnpm"]["overrides"] == result["packages"]
    assert package["dependencies"] == dict(result["packages"], pino="^9.0.0")
    assert "devDependencies" not in package and _spy.last.tarballs == []
    assert files[".npmrc"].endswith("@bytelyst:registry=%s\n" % URL) and TOKEN not in files[".npmrc"]
    assert _spy.last.revision.startswith("sha256:")
    # the dev kind takes the packages' dev tools
    dev, _fake, _compat = base_ensure(monkeypatch, client, kind="dev")
    assert json.loads(_spy.last.files["package.json"])["devDependencies"] == {"typescript": "^5.6.0"}
    # a newer version in the registry is a new fingerprint; the same registry answer, the same one
    again, _fake, _compat = base_ensure(monkeypatch, client)
    held = dict(TEAM, **{"@bytelyst/errors": {"1.0.0": {}, "1.2.0": {}, "1.3.0": {}}})
    newer, _fake, _compat = base_ensure(monkeypatch, client, held=held)
    assert again["fingerprint"] == result["fingerprint"] != newer["fingerprint"]
    assert newer["packages"]["@bytelyst/errors"] == "1.3.0"


def _spy(function):
    def spy(*args, **kwargs):
        _spy.last = function(*args, **kwargs)
        return _spy.last
    return spy


def test_base_version_the_registry_lacks_is_refused_before_any_build(monkeypatch):
    client = FakeClient({RUNTIME: FakeImage("sha256:runtime1")})
    before = client.tags()
    with pytest.raises(DeployError) as err:
        base_ensure(monkeypatch, client, check_mode=False, packages={"@bytelyst/http": "1.4.0"})
    assert str(err.value).startswith("The npm registry %s cannot serve the shared packages the base image asks for: "
                                     "@bytelyst/http 1.4.0 (declared '1.4.0') but the registry has 1.0.0, 1.1.0, "
                                     "2.0.0-rc.1" % URL)
    assert client.tags() == before


@pytest.mark.parametrize("change,message", [
    ({"packages": ["@bytelyst/http"]}, "source=registry needs packages as a mapping"),
    ({"packages": {"tools": "1.0.0"}}, "tools has no scope"),
    ({"packages": {"@bytelyst/http": ""}}, "declared as '', which names no version"),
    ({"source": "tarballs", "manifest": "/nonexistent", "packages": {"@bytelyst/http": "1.1.0"}},
     "only source=registry takes"),
])
def test_base_registry_options_refused(monkeypatch, change, message):
    client = FakeClient({RUNTIME: FakeImage("sha256:runtime1")})
    with pytest.raises(DeployError, match=message):
        base_ensure(monkeypatch, client, **change)
