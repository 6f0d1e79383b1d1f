"""bytelyst.deploy.package_publish through real Ansible, against Verdaccio: the shared one
scripts/setup.sh starts (every test publishes the packed sample under a scope of its own, removed
afterwards) and, for the kill test, a Verdaccio of the test's own on another loopback port."""

import base64
import hashlib
import os
import subprocess
import shutil
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from npm_registry_fixtures import (  # noqa: E402
    Verdaccio, login, packument, registry_user, rescoped_copy, state, tarball, unpublish)
from packed_workspace import changed_copy, packed_once, run_many  # noqa: E402

from ansible_collections.bytelyst.deploy.plugins.module_utils import _tarball_manifest  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def npm_registry():
    """(url, token) of the shared registry, logged in as the test user."""
    url = os.environ.get("BYTELYST_NPM_REGISTRY")
    if not url:
        pytest.fail("BYTELYST_NPM_REGISTRY is not set: run scripts/setup.sh (it starts the npm registry) "
                    "and source its env.sh.")
    return url, login(url, *registry_user())


@pytest.fixture
def scoped(tmp_path, unique, npm_registry):
    """The packed sample under scope @t<unique>: (manifest dir, scope, names in manifest order)."""
    scope = "@t" + unique
    out = rescoped_copy(packed_once(), str(tmp_path / "packed"), scope)
    names = _tarball_manifest.load(out)["order"]
    yield out, scope, names
    url, token = npm_registry
    for name in names:
        unpublish(url, token, name)


@pytest.fixture
def publish(ansible_module):
    def run(args, check=False, diff=False):
        return ansible_module("package_publish", args, check=check, diff=diff)
    return run


def sha512_integrity(path):
    with open(path, "rb") as handle:
        return "sha512-" + base64.b64encode(hashlib.sha512(handle.read()).digest()).decode()


def test_publish_check_diff_republish(publish, scoped, npm_registry):
    out, scope, names = scoped
    url, token = npm_registry
    manifest = _tarball_manifest.load(out)
    args = dict(manifest=out, registry=url, token=token, allow_http=True)

    result, _raw = publish(args, check=True, diff=True)
    assert result["changed"] is True, result
    assert [p["action"] for p in result["packages"]] == ["would_publish"] * len(names)
    assert "%s/errors@1.2.0: (absent)" % scope in result["diff"]["before"]
    assert state(url, token, names) == dict((n, None) for n in names)  # check mode published nothing

    result, raw = publish(args, diff=True)
    assert result["changed"] is True, result
    assert token not in raw
    order = [p["name"] for p in result["packages"]]
    assert sorted(order) == sorted(names)
    for name in names:  # dependencies first
        for dep in manifest["packages"][name]["dependencies"]["internal"]:
            assert order.index(dep) < order.index(name), (dep, name, order)
    assert result["published"] == ["%s@%s" % (n, manifest["packages"][n]["version"]) for n in order]
    for name in names:
        entry = manifest["packages"][name]
        path = _tarball_manifest.tarball_path(manifest, name)
        doc = packument(url, token, name)
        assert doc["versions"][entry["version"]]["dist"]["integrity"] == sha512_integrity(path)
        assert doc["dist-tags"] == {"latest": entry["version"]}
        with open(path, "rb") as handle:
            assert tarball(url, token, name, entry["version"]) == handle.read()
    # pnpm replaced the workspace: ranges; the published manifest names the scope's own versions.
    auth = packument(url, token, scope + "/auth")["versions"]["0.7.3"]
    assert auth["dependencies"][scope + "/config"] == "^2.0.0"

    before = state(url, token, names)
    result, _raw = publish(args, diff=True)
    assert result["changed"] is False, result
    assert [p["action"] for p in result["packages"]] == ["unchanged"] * len(names)
    assert result["published"] == []
    assert result["diff"]["before"] == result["diff"]["after"]
    assert state(url, token, names) == before


def test_changed_content_refused_nothing_published(publish, scoped, npm_registry, tmp_path):
    out, scope, names = scoped
    url, token = npm_registry
    args = dict(manifest=out, registry=url, token=token, allow_http=True)
    result, _raw = publish(args)
    assert result["changed"] is True, result
    # The registry lacks ui now, so a run that went ahead would publish it.
    unpublish(url, token, scope + "/ui")
    before = state(url, token, names)
    assert before[scope + "/ui"] is None
    changed = changed_copy(out, str(tmp_path / "changed"), scope + "/config")
    new_integrity = sha512_integrity(_tarball_manifest.tarball_path(_tarball_manifest.load(changed), scope + "/config"))
    old_integrity = before[scope + "/config"]["2.0.0"]
    assert new_integrity != old_integrity

    result, _raw = publish(dict(args, manifest=changed))
    assert result.get("failed") is True, result
    msg = result["msg"]
    assert "%s/config@2.0.0 is already in the npm registry %s with other content" % (scope, url) in msg
    assert "the registry holds %s, the local tarball is %s" % (old_integrity, new_integrity) in msg
    assert "Nothing was published." in msg
    assert state(url, token, names) == before


def test_refusals_publish_nothing(scoped, npm_registry, tmp_path):
    """Wrong token, no token, a scope the manifest does not hold, a URL where no registry takes
    the scope (Gitea's layout with an owner that does not exist): each fails clearly, in one playbook."""
    out, scope, names = scoped
    url, token = npm_registry
    base = dict(manifest=out, registry=url, allow_http=True, retries=1, retry_delay=0.1)
    cases = [
        dict(base, token="not-a-valid-token"),
        dict(base),
        dict(base, token=token, scopes=["@nosuch"]),
        dict(base, token=token, registry=url + "api/packages/nobody/npm/"),
        dict(base, token=token, registry=url.replace("http://", "https://")),
    ]
    results, raw = run_many("package_publish", cases)
    assert all(r.get("failed") for r in results), results
    wrong, anonymous, unknown_scope, not_found, tls = (r["msg"] for r in results)
    assert "refused the token given for the look-up of %s/errors (HTTP 401" % scope in wrong
    assert "Not retried." in wrong and "write:package" in wrong
    assert "not-a-valid-token" not in raw
    assert "refused anonymous access (no token given)" in anonymous
    assert "The scope(s) @nosuch are not in the manifest" in unknown_scope
    assert "whose packages are in %s" % scope in unknown_scope
    assert "answered HTTP 404 to the publish of %s/errors" % scope in not_found
    assert "does not take scope %s" % scope in not_found
    assert "/api/packages/<owner>/npm/" in not_found
    assert "TLS with the npm registry https://" in tls and "ca_cert" in tls
    assert state(url, token, names) == dict((n, None) for n in names)


@pytest.fixture(scope="module")
def own_registry(tmp_path_factory):
    """A Verdaccio of this module's own (the kill test stops it; the pnpmfile test publishes the
    sample's real @bytelyst scope into it, which the shared registry must not hold)."""
    registry = Verdaccio(tmp_path_factory.mktemp("verdaccio")).start()
    yield registry
    registry.close()


def test_registry_killed_mid_publish_then_rerun_completes(publish, own_registry, tmp_path, unique):
    reg = own_registry
    token = login(reg.url, "killtest", "kill-test-" + unique)
    scope = "@k" + unique
    # auth (third in order) carries 8 MB that do not compress: the kill, once config is stored,
    # comes before the last package is sent.
    out = rescoped_copy(packed_once(), str(tmp_path / "packed"), scope,
                        extra={"@bytelyst/auth": {"package/dist/blob.bin": os.urandom(8 * 1024 * 1024)}})
    names = _tarball_manifest.load(out)["order"]
    assert names[:3] == [scope + "/errors", scope + "/config", scope + "/auth"], names
    args = dict(manifest=out, registry=reg.url, token=token, allow_http=True, retries=1, retry_delay=0.5)
    outcome = {}
    runner = threading.Thread(target=lambda: outcome.update(run=publish(args)))
    runner.start()
    deadline = time.time() + 120
    while not reg.listed(scope + "/config") and time.time() < deadline and runner.is_alive():
        time.sleep(0.01)
    reg.kill()
    runner.join(timeout=300)
    result, _raw = outcome["run"]
    assert result.get("failed") is True, result
    assert "The npm registry %s failed the publish of %s/" % (reg.url, scope) in result["msg"]
    assert "after 2 attempt(s)" in result["msg"] and "a re-run publishes only what is still missing" in result["msg"]
    answered = result["published"]  # the versions whose publish the registry confirmed
    for version in answered:
        assert "Published before the failure: " in result["msg"] and version in result["msg"]

    reg.start()
    held = state(reg.url, token, names)
    assert held[scope + "/errors"]  # stored before the kill (config may be stored half: a document, no version)
    assert not held[names[-1]]  # stopped part-way
    result, _raw = publish(args)
    assert result["changed"] is True, result
    actions = dict(("%s@%s" % (p["name"], p["version"]), p["action"]) for p in result["packages"])
    assert all(actions[v] == "unchanged" for v in answered), (answered, actions)
    manifest = _tarball_manifest.load(out)
    assert actions["%s@%s" % (names[-1], manifest["packages"][names[-1]]["version"])] == "published"
    for name in names:
        entry = manifest["packages"][name]
        assert packument(reg.url, token, name)["versions"][entry["version"]]["dist"]["integrity"] == \
            sha512_integrity(_tarball_manifest.tarball_path(manifest, name))
    result, _raw = publish(args)
    assert result["changed"] is False, result


def test_role_publishes_a_scope_of_the_manifest(scoped, npm_registry, tmp_path, unique):
    """The role as playbooks/publish.yml includes it; with scopes naming one of two scopes."""
    from ansible_runner_helper import _run_play

    out, scope, names = scoped
    url, token = npm_registry
    # A second scope in the same manifest: only the role's scope goes to the registry.
    both = str(tmp_path / "both")
    other = rescoped_copy(packed_once(), str(tmp_path / "other"), "@o" + unique)
    shutil.copytree(out, both)
    merged = _tarball_manifest.load(out)
    extra = _tarball_manifest.load(other)
    for name in extra["order"]:
        shutil.copy(_tarball_manifest.tarball_path(extra, name), both)
        merged["packages"][name] = extra["packages"][name]
    _tarball_manifest.write(both, merged["packages"], merged["order"] + extra["order"], "*")
    task = {"name": "publish", "ansible.builtin.include_role": {"name": "bytelyst.deploy.package_publish"},
            "vars": {"package_publish_manifest": both, "package_publish_registry": url,
                     "package_publish_token": token, "package_publish_scopes": [scope],
                     "package_publish_allow_http": True}}
    (result,), raw = _run_play([task], ["package_publish_result"], False, False, None, 600)
    assert result["changed"] is True, raw[-2000:]
    assert token not in raw
    actions = dict((p["name"], p["action"]) for p in result["packages"])
    assert [actions[n] for n in names] == ["published"] * len(names)
    assert [actions[n] for n in extra["order"]] == ["other_scope"] * len(extra["order"])
    assert all(state(url, token, names).values())
    assert state(url, token, extra["order"]) == dict((n, None) for n in extra["order"])


PRODUCT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       "examples", "products", "clock")
SAMPLE = os.path.join(os.path.dirname(PRODUCT), "..", "common_plat")


def test_pnpmfile_gitea_source_installs_from_the_registry(own_registry, tmp_path):
    """The sample products' .pnpmfile.cjs with BYTELYST_PACKAGE_SOURCE=gitea: @bytelyst/* come from
    the registry (scoped .npmrc, token from the environment), at the versions the ranges select."""
    from ansible_collections.bytelyst.deploy.plugins.module_utils._npm_publish import Publisher
    from ansible_collections.bytelyst.deploy.plugins.module_utils._npm_registry import NpmRegistry

    reg = own_registry
    token = login(reg.url, "pnpmfile", "pnpmfile-test-pass")
    packed = packed_once()
    Publisher(NpmRegistry(reg.url, token, allow_http=True), packed).publish()
    product = str(tmp_path / "clock")
    shutil.copytree(PRODUCT, product, ignore=shutil.ignore_patterns("node_modules", "dist", "*.tsbuildinfo"))
    os.remove(os.path.join(product, "pnpm-lock.yaml"))  # it records the common-plat links
    host = reg.url.split("//", 1)[1]
    with open(os.path.join(product, ".npmrc"), "a") as handle:
        handle.write("@bytelyst:registry=%s\n//%s:_authToken=${BYTELYST_NPM_TOKEN}\n" % (reg.url, host))
    env = dict(os.environ, BYTELYST_PACKAGE_SOURCE="gitea", BYTELYST_COMMON_PLAT_ROOT=os.path.abspath(SAMPLE))

    refused = subprocess.run(["pnpm", "install", "--no-frozen-lockfile"], cwd=product, capture_output=True,
                             text=True, env=dict(env, BYTELYST_NPM_TOKEN="not-a-valid-token"), timeout=300, check=False)
    assert refused.returncode != 0
    assert "401" in refused.stdout + refused.stderr, refused.stdout[-2000:]
    assert not os.path.exists(os.path.join(product, "backend", "node_modules", "@bytelyst"))

    done = subprocess.run(["pnpm", "install", "--no-frozen-lockfile"], cwd=product, capture_output=True,
                          text=True, env=dict(env, BYTELYST_NPM_TOKEN=token), timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    manifest = _tarball_manifest.load(packed)
    with open(os.path.join(product, "pnpm-lock.yaml")) as handle:
        lock = handle.read()
    for name in ("@bytelyst/config", "@bytelyst/http"):
        version = manifest["packages"][name]["version"]
        installed = os.path.realpath(os.path.join(product, "backend", "node_modules", name))
        assert "node_modules/.pnpm/%s@%s/" % (name.replace("/", "+"), version) in installed  # not a link to common plat
        # The lockfile pins what the registry serves: the packed tarball, byte for byte.
        integrity = sha512_integrity(_tarball_manifest.tarball_path(manifest, name))
        assert "'%s@%s':\n    resolution: {integrity: %s}" % (name, version, integrity) in lock
    loaded = subprocess.run(["node", "-e", "require('@bytelyst/config'); console.log('ok')"],
                            cwd=os.path.join(product, "backend"), capture_output=True, text=True, timeout=60, check=False)
    assert loaded.stdout.strip() == "ok", loaded.stderr
