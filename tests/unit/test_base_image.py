"""Unit tests of base image planning (_base_image.py): kinds, generated files, fingerprint,
labels, and the decisions of `ensure` with a fake engine (nothing is built here)."""

import datetime
import json
import os
import subprocess
import sys

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils import _base_image as base
from ansible_collections.bytelyst.deploy.plugins.module_utils import _tarball_manifest
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from fakes.engine import FakeClient, FakeImage

RUNTIME = {"id": "sha256:runtime1", "digests": ["node@sha256:d1"]}


def entry(name, version, kinds, internal=None, external=None, peers=None, dev=None):
    short = name.split("/")[1]
    return {"name": name, "version": version, "dir": "packages/" + short,
            "tarball": "bytelyst-%s-%s.tgz" % (short, version), "sha256": "sha-" + short, "fingerprint": "f",
            "kinds": kinds, "dependencies": {"internal": internal or {}, "external": external or {}},
            "peer_dependencies": peers or {}, "dev_dependencies": dev or {"typescript": "5.9.3"}}


@pytest.fixture
def manifest(tmp_path):
    packages = {
        "@bytelyst/errors": entry("@bytelyst/errors", "1.2.0", ["backend", "web"]),
        "@bytelyst/config": entry("@bytelyst/config", "2.0.0", ["backend", "web"],
                                  {"@bytelyst/errors": "workspace:^"}, {"zod": "^3.25.76"}),
        "@bytelyst/auth": entry("@bytelyst/auth", "0.7.3", ["backend"], {"@bytelyst/config": "workspace:^"},
                                dev={"typescript": "5.9.3", "@types/node": "22.20.5"}),
        "@bytelyst/format": entry("@bytelyst/format", "0.9.5", ["backend", "web"]),
        "@bytelyst/ui": entry("@bytelyst/ui", "0.2.0", ["web"], {"@bytelyst/format": "workspace:^"},
                              peers={"react": "^18.2.0 || ^19.0.0"}, dev={"react": "19.1.1", "typescript": "5.9.3"}),
    }
    order = ["@bytelyst/errors", "@bytelyst/config", "@bytelyst/auth", "@bytelyst/format", "@bytelyst/ui"]
    for data in packages.values():
        (tmp_path / data["tarball"]).write_bytes(data["name"].encode())
        data["sha256"] = _tarball_manifest.sha256_file(str(tmp_path / data["tarball"]))
    _tarball_manifest.write(str(tmp_path), packages, order, "@bytelyst/*")
    return _tarball_manifest.load(str(tmp_path))


def test_kinds_take_packages_of_their_kind(manifest):
    assert base.select_packages(manifest, "backend") == [
        "@bytelyst/errors", "@bytelyst/config", "@bytelyst/auth", "@bytelyst/format"]
    assert base.select_packages(manifest, "web") == [
        "@bytelyst/errors", "@bytelyst/config", "@bytelyst/format", "@bytelyst/ui"]
    assert len(base.select_packages(manifest, "dev")) == 5


def test_override_adds_internal_dependencies(manifest):
    assert base.select_packages(manifest, "web", ["@bytelyst/auth"]) == [
        "@bytelyst/errors", "@bytelyst/config", "@bytelyst/auth"]


def test_a_manifest_written_before_kinds_is_read_by_its_targets(manifest):
    """A tarball manifest of 0.1.0 names a package's kinds "targets" only."""
    for data in manifest["packages"].values():
        data["targets"] = data.pop("kinds")
    assert base.select_packages(manifest, "backend") == [
        "@bytelyst/errors", "@bytelyst/config", "@bytelyst/auth", "@bytelyst/format"]
    assert base.select_packages(manifest, "web")[-1] == "@bytelyst/ui"


def test_the_fingerprint_is_the_one_bases_built_before_the_rename_carry(tmp_path):
    """kind was called flavour; its name is an input of the fingerprint, and a version tag may not move
    to new inputs: the same inputs must give the digests 0.1.0 gave (computed with that release)."""
    pkg = {"name": "@s/a", "version": "1.0.0", "dir": "packages/a", "tarball": "s-a-1.0.0.tgz", "sha256": "ab" * 32,
           "fingerprint": "f", "targets": ["backend"], "dependencies": {"internal": {}, "external": {"zod": "^3.0.0"}},
           "peer_dependencies": {}, "dev_dependencies": {"typescript": "5.9.3"}}
    _tarball_manifest.write(str(tmp_path), {"@s/a": pkg}, ["@s/a"], "@s/*")
    loaded = _tarball_manifest.load(str(tmp_path))
    runtime = {"id": "sha256:r", "digests": []}
    assert base.plan(loaded, "backend", "node:22-slim", runtime, "1.0.0", "10.6.5").fingerprint == (
        "984babdfbde52b00dcff0bf26e03d23bfed2147d1b4463c16a720b512e33c70a")
    assert base.plan(loaded, "dev", "node:22-slim", runtime, "1.0.0", "10.6.5").fingerprint == (
        "4e5a858d021411ae319bf819ba3e5af423479dd75e0c9a9b03c06d3b850914b0")


def test_unknown_package_and_kind_are_refused(manifest):
    with pytest.raises(DeployError) as info:
        base.select_packages(manifest, "backend", ["@bytelyst/nope"])
    assert "@bytelyst/nope" in str(info.value) and "does not hold" in str(info.value)
    with pytest.raises(DeployError) as info:
        base.select_packages(manifest, "mobile")
    assert "kind 'mobile'" in str(info.value)


def test_package_json_points_every_internal_package_at_its_tarball(manifest):
    names = base.select_packages(manifest, "web")
    data = json.loads(base.package_json(manifest, "web", names, "1.0.0"))
    assert data["name"] == "bytelyst-common-base-web"
    assert data["dependencies"]["@bytelyst/ui"] == "file:./tarballs/bytelyst-ui-0.2.0.tgz"
    assert data["pnpm"]["overrides"] == dict((n, data["dependencies"][n]) for n in names)
    assert data["dependencies"]["react"] == "^18.2.0 || ^19.0.0"  # peers of web packages are installed
    assert "devDependencies" not in data


def test_dev_package_json_adds_dev_tools_once(manifest):
    names = base.select_packages(manifest, "dev")
    data = json.loads(base.package_json(manifest, "dev", names, "1.0.0"))
    assert data["devDependencies"]["typescript"] == "5.9.3"
    assert data["devDependencies"]["@types/node"] == "22.20.5"
    assert "react" not in data["devDependencies"]  # already a dependency (peer): one copy


def test_npmrc_never_holds_a_token():
    text = base.npmrc("https://npm.example.com/")
    assert "node-linker=hoisted" in text and "registry=https://npm.example.com/" in text
    assert "_auth" not in text


@pytest.mark.parametrize("kind", base.BASE_KINDS)
def test_dockerfile_contract(kind):
    text = base.dockerfile("node:22-slim", kind, "1.2.0", "10.6.5")
    lines = text.splitlines()
    assert lines[0] == "FROM node:22-slim"
    assert lines[-2:] == ["USER node", "WORKDIR /app"]
    assert "pnpm@10.6.5" in text and "useradd -u 1000" in text
    # the same secret ids, token handling and pnpm store as a product image's install steps
    assert "--mount=type=secret,id=npmrc" in text and "--mount=type=secret,id=ca" in text
    assert "NODE_EXTRA_CA_CERTS=/run/secrets/ca" in text and "/run/secrets/npmrc" in text
    assert "--mount=type=cache,id=bytelyst-pnpm-store-0,target=/tmp/pnpm-store" in text
    install = [line for line in lines if "pnpm install " in line][0]
    for option in ("--config.store-dir=", "--config.cache-dir=", "--config.state-dir="):
        assert install.split(option, 1)[1].startswith("/tmp/pnpm-store"), option  # nothing of pnpm's in the layer
    assert "pnpm install --config.node-linker=hoisted" in text
    assert ("--prod" in text) == (kind != "dev")
    assert "ENV NODE_ENV=%s" % ("development" if kind == "dev" else "production") in text
    assert ("ENV PATH=/app/node_modules/.bin:$PATH" in text) == (kind == "dev")
    assert "ARG" not in text.split("pnpm install", maxsplit=1)[0]  # nothing secret or variable before the install
    assert "syntax=" not in text


def test_fingerprint_follows_every_input(manifest):
    def fp(**change):
        opts = dict(manifest=manifest, kind="backend", runtime_image="node:22-slim", runtime=RUNTIME,
                    version="1.0.0", pnpm_version="10.6.5")
        opts.update(change)
        return base.plan(**opts).fingerprint
    reference = fp()
    assert fp() == reference
    assert fp(runtime={"id": "sha256:other", "digests": []}) != reference
    assert fp(pnpm_version="10.7.0") != reference
    assert fp(version="1.0.1") != reference
    assert fp(kind="web") != reference
    assert fp(npm_registry="https://npm.example.com/") != reference
    changed = json.loads(json.dumps(manifest))
    changed["packages"]["@bytelyst/errors"]["sha256"] = "different"
    assert fp(manifest=changed) != reference
    web_only = json.loads(json.dumps(manifest))
    web_only["packages"]["@bytelyst/ui"]["sha256"] = "not in backend"
    assert fp(manifest=web_only) == reference


def test_context_holds_only_tarballs_package_json_and_npmrc(manifest, tmp_path):
    the_plan = base.plan(manifest, "web", "node:22-slim", RUNTIME, "1.0.0", "10.6.5")
    context = tmp_path / "ctx"
    the_plan.write_context(str(context))
    assert sorted(os.listdir(str(context))) == [".npmrc", "package.json", "tarballs"]
    assert sorted(os.listdir(str(context / "tarballs"))) == sorted(
        manifest["packages"][n]["tarball"] for n in the_plan.packages)


def test_labels(manifest):
    the_plan = base.plan(manifest, "backend", "node:22-slim", RUNTIME, "1.0.0", "10.6.5")
    labels = base.labels(the_plan, "1.0.0", "node:22-slim", RUNTIME, "2026-11-27T10:00:00Z", "sha256:m",
                         {"org.opencontainers.image.vendor": "Acme", "dev.bytelyst.fingerprint": "forged",
                          "dev.bytelyst.base.flavour": "web"})
    assert labels["org.opencontainers.image.base.digest"] == "sha256:d1"
    # the kind under its name and, for tools written for 0.1.0's bases, under the deprecated one
    assert labels["dev.bytelyst.base.kind"] == labels["dev.bytelyst.base.flavour"] == "backend"
    assert labels["org.opencontainers.image.vendor"] == "Acme"
    assert labels["dev.bytelyst.fingerprint"] == the_plan.fingerprint
    assert json.loads(labels["dev.bytelyst.base.provides"]) == {
        "@bytelyst/errors": "1.2.0", "@bytelyst/config": "2.0.0", "@bytelyst/auth": "0.7.3", "@bytelyst/format": "0.9.5"}
    assert " " not in labels["dev.bytelyst.base.provides"]


def test_labels_name_no_vendor_and_describe_the_workspaces_scopes_unless_given(manifest):
    # (labels are no input of the fingerprint: the pinned fingerprints above hold with these labels)
    the_plan = base.plan(manifest, "web", "node:22-slim", RUNTIME, "1.0.0", "10.6.5")
    labels = base.labels(the_plan, "1.0.0", "node:22-slim", RUNTIME, "2026-11-27T10:00:00Z", "sha256:m",
                         title="acme-base-web")
    assert "org.opencontainers.image.vendor" not in labels
    assert labels["org.opencontainers.image.title"] == "acme-base-web"
    assert labels["org.opencontainers.image.description"].startswith("Shared base image (web kind) of @bytelyst/*: ")
    assert "ByteLyst" not in json.dumps(labels)
    given = base.labels(the_plan, "1.0.0", "node:22-slim", RUNTIME, "2026-11-27T10:00:00Z", "sha256:m",
                        {"org.opencontainers.image.vendor": "Acme", "org.opencontainers.image.description": "Acme web"})
    assert given["org.opencontainers.image.vendor"] == "Acme"
    assert given["org.opencontainers.image.description"] == "Acme web"
    assert given["org.opencontainers.image.title"] == "bytelyst-common-base-web"


def test_runtime_digest_falls_back_to_image_id():
    assert base.runtime_digest("node:22-slim", {"id": "sha256:i", "digests": []}) == "sha256:i"
    assert base.runtime_digest("reg:5000/node:22", {"id": "x", "digests": [
        "a/b@sha256:1", "reg:5000/node@sha256:2"]}) == "sha256:2"


# --- ensure() decisions with a fake engine --------------------------------------------------

def opts(manifest, **change):
    data = dict(manifest=manifest["path"], kind="backend", runtime_image="node:22-slim", pnpm_version="10.6.5",
                name=None, version="1.0.0", registry=None, labels={}, packages=None, promote=False, force=False,
                npm_token=None, npm_registry=None, ca_bundle=None, date_tag=None, docker_cli="/nonexistent/docker",
                docker_host=None)
    data.update(change)
    return data


NOW = datetime.datetime(2026, 11, 27, 10, 0, 0)


def test_runtime_absent_says_how_to_get_it(manifest):
    with pytest.raises(DeployError) as info:
        base.ensure(FakeClient({}), opts(manifest, pull="never"), check_mode=True, now=NOW)
    assert "The runtime_image node:22-slim is not on this Docker engine, and pull is never" in str(info.value)
    assert "set pull: missing" in str(info.value)


def test_the_runtime_image_is_named_by_digest_when_it_has_one(manifest):
    runtime = FakeImage("sha256:runtime1")
    runtime.attrs["RepoDigests"] = ["node@sha256:" + "a" * 64]
    result = base.ensure(FakeClient({"node:22-slim": runtime}), opts(manifest), check_mode=True, now=NOW)
    assert result["dockerfile"].startswith("FROM node@sha256:%s\n" % ("a" * 64))


def test_the_name_is_the_prefix_and_the_kind_unless_given(manifest):
    client = FakeClient({"node:22-slim": FakeImage("sha256:runtime1")})
    result = base.ensure(client, opts(manifest, name_prefix="acme-base", kind="web"), check_mode=True, now=NOW)
    assert result["tags"][0] == "acme-base-web:1.0.0"
    assert (result["kind"], result["flavour"]) == ("web", "web")  # flavour: the deprecated key, kept until 1.0.0
    named = base.ensure(client, opts(manifest, name_prefix="acme-base", name="mine"), check_mode=True, now=NOW)
    assert named["tags"][0] == "mine:1.0.0"


def test_check_mode_plans_a_build(manifest):
    client = FakeClient({"node:22-slim": FakeImage("sha256:runtime1")})
    result = base.ensure(client, opts(manifest, registry="reg:5000/team", promote=True), check_mode=True, now=NOW)
    assert result["changed"] is True and result["image_id"] is None
    assert result["tags"] == ["reg:5000/team/bytelyst-common-base-backend:1.0.0",
                              "reg:5000/team/bytelyst-common-base-backend:20261127",
                              "reg:5000/team/bytelyst-common-base-backend:latest"]
    assert result["tag_names"] == ["1.0.0", "20261127", "latest"] and result["date_tag_names"] == ["20261127"]
    assert result["dockerfile"].startswith("FROM node:22-slim")


def test_same_fingerprint_is_up_to_date(manifest):
    runtime = FakeImage("sha256:runtime1")
    client = FakeClient({"node:22-slim": runtime})
    fp = base.ensure(client, opts(manifest), check_mode=True, now=NOW)["fingerprint"]
    built = FakeImage("sha256:built", {base.FINGERPRINT_LABEL: fp, base.PROVIDES_LABEL: '{"@bytelyst/errors":"1.2.0"}'},
                      ["bytelyst-common-base-backend:1.0.0"])
    client = FakeClient({"node:22-slim": runtime, "bytelyst-common-base-backend:1.0.0": built})
    result = base.ensure(client, opts(manifest), check_mode=False, now=NOW)
    assert result["changed"] is False and result["built"] is False
    assert result["image_id"] == "sha256:built"
    promoted = base.ensure(client, opts(manifest, promote=True), check_mode=True, now=NOW)
    assert promoted["changed"] is True and promoted["moved_tags"] == ["bytelyst-common-base-backend:latest"]


def test_different_fingerprint_is_refused_without_force(manifest):
    client = FakeClient({"node:22-slim": FakeImage("sha256:runtime1"),
                         "bytelyst-common-base-backend:1.0.0": FakeImage("sha256:old", {base.FINGERPRINT_LABEL: "old"})})
    with pytest.raises(DeployError) as info:
        base.ensure(client, opts(manifest), check_mode=True, now=NOW)
    assert "already exists with different content" in str(info.value)
    forced = base.ensure(client, opts(manifest, force=True), check_mode=True, now=NOW)
    assert forced["changed"] is True and "force:" in forced["reasons"][0]


@pytest.mark.parametrize("change,message", [
    ({"version": "1.2"}, "not a semantic version"),
    ({"pnpm_version": "latest"}, "pnpm_version"),
    ({"ca_bundle": "/nonexistent/ca.pem"}, "ca_bundle"),
    ({"kind": "mobile"}, "kind 'mobile'"),
])
def test_bad_options(manifest, change, message):
    with pytest.raises(DeployError) as info:
        base.ensure(FakeClient({}), opts(manifest, **change), check_mode=True, now=NOW)
    assert message in str(info.value)


def test_stale_manifest_is_refused(manifest):
    with open(_tarball_manifest.tarball_path(manifest, "@bytelyst/errors"), "ab") as handle:
        handle.write(b"x")
    client = FakeClient({"node:22-slim": FakeImage("sha256:runtime1")})
    with pytest.raises(DeployError) as info:
        base.ensure(client, opts(manifest), check_mode=True, now=NOW)
    assert "is stale" in str(info.value)


def test_date_tag_option():
    assert base._date({"date_tag": None}, NOW) == "20261127"
    assert base._date({"date_tag": "false"}, NOW) is None
    assert base._date({"date_tag": "20250101"}, NOW) == "20250101"


def test_install_error_line_is_lifted_into_the_message():
    err = DeployError("The build of x failed (exit code 1).", output="\n".join([
        "#11 9.1 Progress: resolved 1",
        "#11 25.28  ERR_PNPM_TARBALL_EXTRACT  Failed to add tarball from \"/app/tarballs/bytelyst-errors-1.2.0.tgz\"",
        "#11 ERROR: executor failed running"]))
    lifted = base._with_install_error(err)
    assert str(lifted).startswith("The build of x failed (exit code 1). The install reported: ERR_PNPM_TARBALL_EXTRACT")
    assert "bytelyst-errors-1.2.0.tgz" in lifted.message


def test_created_time_follows_source_date_epoch(monkeypatch):
    import datetime

    from ansible_collections.bytelyst.deploy.plugins.module_utils import _base_image

    now = datetime.datetime(2026, 11, 27, 10, 0, 0)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    assert _base_image.created_time(now) == datetime.datetime(2026, 1, 1)
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert _base_image.created_time(now) == now


# --- the module's options: kind, and flavour, its deprecated alias ---------------------------

def run_module(args):
    """The real module, with an engine that is not there: it fails after parsing its options,
    and reports what parsing found (the options it took, the deprecations)."""
    args = dict(args, version="1.0.0", manifest="/nonexistent/m", docker_host="unix:///nonexistent/docker.sock")
    out = subprocess.run([sys.executable, "-m", "ansible_collections.bytelyst.deploy.plugins.modules.base_image"],
                         input=json.dumps({"ANSIBLE_MODULE_ARGS": args}), capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=os.environ["ANSIBLE_COLLECTIONS_PATH"]), timeout=60,
                         check=False)
    return json.loads(out.stdout)


def test_the_old_option_name_flavour_still_works_and_is_reported_deprecated():
    result = run_module({"flavour": "web"})
    assert "/nonexistent/docker.sock does not answer" in result["msg"]  # the options were accepted
    assert result["invocation"]["module_args"]["kind"] == "web"
    text = json.dumps(result.get("deprecations"))
    assert "Alias 'flavour' is deprecated" in text and "1.0.0" in text and "bytelyst.deploy" in text


def test_the_option_kind_reports_nothing_and_is_checked():
    result = run_module({"kind": "dev"})
    assert result["invocation"]["module_args"]["kind"] == "dev" and not result.get("deprecations")
    assert result["invocation"]["module_args"]["name_prefix"] == "bytelyst-common-base"
    wrong = run_module({"kind": "mobile"})
    assert wrong["msg"] == "value of kind must be one of: backend, web, dev, common, got: mobile"
