"""Unit tests of stacked bases (_base_stack.py): the common base's name and packages, the top base's
packages and Dockerfile, and the decisions of `ensure` with a fake engine (nothing is built here)."""

import datetime

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils import _base_image as base
from ansible_collections.bytelyst.deploy.plugins.module_utils import _base_stack as stack
from ansible_collections.bytelyst.deploy.plugins.module_utils import _tarball_manifest as _manifest
from ansible_collections.bytelyst.deploy.plugins.module_utils._contract import BASE_DIGEST_LABEL, FINGERPRINT_LABEL
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from fakes.engine import FakeClient, FakeImage

NOW = datetime.datetime(2026, 11, 30, 10, 0, 0)


def entry(name, version, targets, internal=None, external=None, peers=None):
    short = name.split("/")[1]
    return {"name": name, "version": version, "dir": "packages/" + short,
            "tarball": "bytelyst-%s-%s.tgz" % (short, version), "sha256": "", "fingerprint": "f",
            "targets": targets, "dependencies": {"internal": internal or {}, "external": external or {}},
            "peer_dependencies": peers or {}, "dev_dependencies": {}}


def write_manifest(folder, packages):
    order = list(packages)
    for data in packages.values():
        (folder / data["tarball"]).write_bytes(data["name"].encode())
        data["sha256"] = _manifest.sha256_file(str(folder / data["tarball"]))
    _manifest.write(str(folder), packages, order, "@bytelyst/*")
    return _manifest.load(str(folder))


@pytest.fixture
def manifest(tmp_path):
    # http targets backend only but depends on logger (both); ui (web) depends on format (both);
    # auth (backend) depends on secret, which targets backend only.
    return write_manifest(tmp_path, {
        "@bytelyst/errors": entry("@bytelyst/errors", "1.2.0", ["backend", "web"]),
        "@bytelyst/config": entry("@bytelyst/config", "2.0.0", None, {"@bytelyst/errors": "workspace:^"},
                                  {"zod": "^3.25.76"}),
        "@bytelyst/secret": entry("@bytelyst/secret", "0.1.0", ["backend"]),
        "@bytelyst/auth": entry("@bytelyst/auth", "0.7.3", ["backend"], {"@bytelyst/secret": "workspace:^"}),
        "@bytelyst/format": entry("@bytelyst/format", "0.9.5", ["web", "backend"]),
        "@bytelyst/ui": entry("@bytelyst/ui", "0.2.0", ["web"], {"@bytelyst/format": "workspace:^"},
                              peers={"react": "^19.0.0"}),
    })


def test_common_takes_what_both_kinds_take_in_manifest_order(manifest):
    # config has no targets (= both); secret and auth are backend's, ui is web's.
    assert stack.common_packages(manifest) == ["@bytelyst/errors", "@bytelyst/config", "@bytelyst/format"]


def test_common_holds_the_internal_dependencies_of_its_packages(tmp_path):
    # logger targets backend only, but config (both) depends on it: it must load from the common base.
    found = write_manifest(tmp_path, {
        "@bytelyst/logger": entry("@bytelyst/logger", "0.4.1", ["backend"]),
        "@bytelyst/config": entry("@bytelyst/config", "2.0.0", ["backend", "web"], {"@bytelyst/logger": "workspace:^"}),
    })
    assert stack.common_packages(found) == ["@bytelyst/logger", "@bytelyst/config"]


def test_no_package_for_both_kinds_is_refused_with_a_hint(tmp_path):
    found = write_manifest(tmp_path, {
        "@bytelyst/auth": entry("@bytelyst/auth", "0.7.3", ["backend"]),
        "@bytelyst/ui": entry("@bytelyst/ui", "0.2.0", ["web"]),
    })
    with pytest.raises(DeployError) as info:
        stack.common_packages(found)
    assert "is for both backend and web" in str(info.value) and "stacked: false" in str(info.value)


@pytest.mark.parametrize("kind,packages,expected", [
    ("backend", None, ["@bytelyst/errors", "@bytelyst/config", "@bytelyst/secret", "@bytelyst/auth", "@bytelyst/format"]),
    ("web", None, ["@bytelyst/errors", "@bytelyst/config", "@bytelyst/format", "@bytelyst/ui"]),
    # An explicit list still keeps every common package named (pnpm would remove the others).
    ("backend", ["@bytelyst/auth"], ["@bytelyst/errors", "@bytelyst/config", "@bytelyst/secret", "@bytelyst/auth",
                                     "@bytelyst/format"]),
])
def test_top_packages_are_the_kinds_and_the_common_ones(manifest, kind, packages, expected):
    common = stack.common_packages(manifest)
    assert stack.top_packages(manifest, kind, common, packages) == expected


@pytest.mark.parametrize("name,kind,expected", [
    ("bytelyst-common-base-backend", "backend", "bytelyst-common-base-common"),
    ("bytelyst-common-base-web", "web", "bytelyst-common-base-common"),
    ("acme/base-backend", "backend", "acme/base-common"),
    ("acme/base", "web", "acme/base-common"),
    ("acme/web-backend", "web", "acme/web-backend-common"),
])
def test_common_name(name, kind, expected):
    assert stack.common_name(name, kind) == expected


@pytest.mark.parametrize("given,expected", [
    ({}, "bytelyst-common-base-common"),
    ({"name_prefix": "acme-base"}, "acme-base-common"),
    ({"name": "acme/base-web"}, "acme/base-common"),
])
def test_the_common_base_is_named_after_the_top_base_name_or_prefix(given, expected):
    assert stack.common_opts(dict(given, kind="web", stacked=True), "web")["name"] == expected


def test_is_stacked_only_for_backend_and_web():
    assert stack.is_stacked({"stacked": True, "kind": "backend"})
    assert stack.is_stacked({"stacked": True, "kind": "web"})
    assert not stack.is_stacked({"stacked": True, "kind": "dev"})
    assert not stack.is_stacked({"stacked": True, "kind": "common"})
    assert not stack.is_stacked({"stacked": False, "kind": "backend"})


def test_top_dockerfile_installs_on_the_common_base_and_chowns_only_new_files():
    text = stack.top_dockerfile("reg/base-common@sha256:" + "c" * 64, "web", "1.0.0", "10.6.5", lockfile=True)
    lines = text.splitlines()
    assert lines[0] == "FROM reg/base-common@sha256:" + "c" * 64
    # No user or pnpm set-up again: the common base has them (a second one would add a layer).
    assert "useradd" not in text and "npm install -g" not in text
    install = [line for line in lines if "pnpm install" in line][0]
    assert "--prod" in install and "--config.node-linker=hoisted" in install
    # chown -R over /app would copy every file of the common base up into this layer.
    assert "chown -R" not in text
    assert "-user root -exec chown -h node:node" in install and "-path /app/tarballs -prune" in install
    assert "ERR_BYTELYST_LOCKFILE" in install  # the lockfile's versions are checked as in every base
    assert "ENV NODE_ENV=production" in lines and lines[-2:] == ["USER node", "WORKDIR /app"]


def test_top_dockerfile_without_lockfile_copies_no_lockfile():
    text = stack.top_dockerfile("base-common:1.0.0", "backend", "1.0.0", "10.6.5")
    assert "COPY package.json .npmrc /app/" in text and "ERR_BYTELYST_LOCKFILE" not in text


# --- ensure() decisions with a fake engine --------------------------------------------------

def opts(manifest, **change):
    data = dict(manifest=manifest["path"], kind="backend", runtime_image="node:22-slim", pnpm_version="10.6.5",
                name="team/base-backend", version="1.0.0", registry=None, labels={}, packages=None, promote=False,
                force=False, npm_token=None, npm_registry=None, ca_bundle=None, date_tag=None,
                docker_cli="/nonexistent/docker", docker_host=None, stacked=True, pull="never")
    data.update(change)
    return data


def common_fingerprint(manifest):
    client = FakeClient({"node:22-slim": FakeImage("sha256:runtime1")})
    return base.ensure(client, stack.common_opts(opts(manifest), "backend"), check_mode=True, now=NOW)["fingerprint"]


def client_with_common(manifest, image_id="sha256:common1"):
    common = FakeImage(image_id, {FINGERPRINT_LABEL: common_fingerprint(manifest)}, ["team/base-common:1.0.0"])
    return FakeClient({"node:22-slim": FakeImage("sha256:runtime1"), "team/base-common:1.0.0": common})


def test_check_mode_without_common_base_plans_both(manifest):
    client = FakeClient({"node:22-slim": FakeImage("sha256:runtime1")})
    before = client.tags()
    result = stack.ensure(client, opts(manifest), check_mode=True, now=NOW)
    assert result["changed"] is True and result["image_id"] is None
    assert result["tags"][0] == "team/base-backend:1.0.0"
    assert result["common"]["changed"] is True and result["common"]["tags"][0] == "team/base-common:1.0.0"
    assert "team/base-common:1.0.0 is built first" in result["reasons"][0]
    assert result["common"]["dockerfile"].startswith("FROM node:22-slim")
    assert client.tags() == before


def test_top_builds_from_the_common_base_with_its_digest_label(manifest):
    client = client_with_common(manifest)
    result = stack.ensure(client, opts(manifest), check_mode=True, now=NOW)
    assert result["common"]["changed"] is False and result["common"]["image_id"] == "sha256:common1"
    assert result["dockerfile"].startswith("FROM team/base-common:1.0.0\n")
    assert "useradd" not in result["dockerfile"]
    assert sorted(result["packages"]) == ["@bytelyst/auth", "@bytelyst/config", "@bytelyst/errors",
                                          "@bytelyst/format", "@bytelyst/secret"]
    labels = base.labels(base.Plan("backend", [], {}, {}, "", "fp", []), "1.0.0", "team/base-common:1.0.0",
                         {"id": "sha256:common1", "digests": []}, "now", "rev",
                         stack.top_opts(opts(manifest), "team/base-common:1.0.0", "sha256:common1", [])["labels"])
    assert labels[BASE_DIGEST_LABEL] == "sha256:common1"
    assert labels["org.opencontainers.image.base.name"] == "team/base-common:1.0.0"


def test_a_change_in_the_common_base_changes_the_top_fingerprint(manifest):
    first = stack.ensure(client_with_common(manifest, "sha256:common1"), opts(manifest), check_mode=True, now=NOW)
    second = stack.ensure(client_with_common(manifest, "sha256:common2"), opts(manifest), check_mode=True, now=NOW)
    assert first["fingerprint"] != second["fingerprint"]
    unstacked = base.ensure(client_with_common(manifest), opts(manifest, stacked=False), check_mode=True, now=NOW)
    assert unstacked["fingerprint"] not in (first["fingerprint"], second["fingerprint"])
    assert "common" not in unstacked


def test_up_to_date_top_is_a_no_op(manifest):
    client = client_with_common(manifest)
    fp = stack.ensure(client, opts(manifest), check_mode=True, now=NOW)["fingerprint"]
    client.add("team/base-backend:1.0.0", "sha256:top1", {FINGERPRINT_LABEL: fp}, tags=["team/base-backend:1.0.0"])
    before = client.tags()
    result = stack.ensure(client, opts(manifest), check_mode=False, now=NOW)
    assert result["changed"] is False and result["built"] is False and result["image_id"] == "sha256:top1"
    assert result["common"]["changed"] is False
    assert client.tags() == before


def test_common_tag_from_other_inputs_is_refused_and_nothing_moves(manifest):
    client = FakeClient({"node:22-slim": FakeImage("sha256:runtime1"),
                         "team/base-common:1.0.0": FakeImage("sha256:other", {FINGERPRINT_LABEL: "other"})})
    before = client.tags()
    with pytest.raises(DeployError) as info:
        stack.ensure(client, opts(manifest), check_mode=False, now=NOW)
    text = str(info.value)
    assert "stacked: the common base team/base-common:1.0.0, which the backend base is built on" in text
    assert "already exists with different content" in text and "Bump version" in text
    assert client.tags() == before


def test_stacked_dev_and_unstacked_go_the_plain_way(manifest):
    client = FakeClient({"node:22-slim": FakeImage("sha256:runtime1")})
    dev = stack.ensure(client, opts(manifest, kind="dev", name=None), check_mode=True, now=NOW)
    assert "common" not in dev and dev["dockerfile"].startswith("FROM node:22-slim")


def test_stacked_with_registry_source_is_refused(manifest):
    with pytest.raises(DeployError) as info:
        stack.ensure(FakeClient({}), opts(manifest, source="registry"), check_mode=True, now=NOW)
    assert "stacked: true needs source=tarballs" in str(info.value)
