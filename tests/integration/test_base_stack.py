"""Stacked bases through real Ansible: bytelyst.deploy.base_image with stacked=true builds the common
base and the backend and web bases on it from the packed sample workspace (stand-in runtime image,
BuildKit, the real npm registry through the CA bundle), a product is built on the stacked backend
base and answers its health check. Every image is tagged under one unique prefix, removed at the end.
"""

import json
import os
import uuid

import pytest

import image_contents
from engine_listing import remove_tags_under, tags_under
from packed_workspace import packed_once, run_many, runner
from product_fixtures import copy_product

pytestmark = pytest.mark.integration

VERSION = "1.0.0"
LABELS = {"dev.bytelyst.test": "1"}
COMMON = ["@bytelyst/config", "@bytelyst/errors", "@bytelyst/format", "@bytelyst/logger"]


def base_args(state, kind, stacked=True, prefix=None):
    args = {"manifest": state["packed"], "kind": kind, "version": VERSION, "stacked": stacked,
            "name": "%s/base-%s" % (prefix or state["prefix"], kind), "runtime_image": state["standin"],
            "date_tag": "false", "labels": LABELS}
    if os.environ.get("BYTELYST_CA_BUNDLE"):
        args["ca_bundle"] = os.environ["BYTELYST_CA_BUNDLE"]
    return args


@pytest.fixture(scope="module")
def stack(tmp_path_factory, docker_client, standin_image):
    """dev (unstacked), backend and web (stacked: the common base first) in one Ansible run, twice."""
    state = {"prefix": "bytelyst-test/stack-%s" % uuid.uuid4().hex[:8], "packed": packed_once(),
             "standin": standin_image, "work": tmp_path_factory.mktemp("base-stack")}
    try:
        many = [base_args(state, "dev", stacked=True), base_args(state, "backend"), base_args(state, "web")]
        results, raw = run_many("base_image", many)
        assert not any(r.get("failed") for r in results), raw[-4000:]
        state["first"] = dict(zip(("dev", "backend", "web"), results))
        state["second"], raw = run_many("base_image", many)
        yield state
    finally:
        remove_tags_under(docker_client, state["prefix"] + "/")


def ref(state, kind):
    return "%s/base-%s:%s" % (state["prefix"], kind, VERSION)


def test_common_base_is_built_once_and_both_tops_sit_on_its_layers(stack, docker_client):
    backend, web, dev = stack["first"]["backend"], stack["first"]["web"], stack["first"]["dev"]
    assert backend["common"]["built"] is True and web["common"]["built"] is False  # web found it up to date
    assert backend["common"]["image_id"] == web["common"]["image_id"]
    assert backend["common"]["tags"] == [ref(stack, "common")] and "common" not in dev
    common = docker_client.images.get(ref(stack, "common"))
    assert sorted(json.loads(common.labels["dev.bytelyst.base.provides"])) == COMMON
    bottom = common.attrs["RootFS"]["Layers"]
    for kind in ("backend", "web"):
        image = docker_client.images.get(ref(stack, kind))
        assert image.attrs["RootFS"]["Layers"][:len(bottom)] == bottom
        assert image.labels["dev.bytelyst.base.digest"] == common.id
        assert image.labels["org.opencontainers.image.base.name"] == ref(stack, "common")
    # dev is not stacked: it starts from the runtime image, not from the common base's install
    assert docker_client.images.get(ref(stack, "dev")).attrs["RootFS"]["Layers"][:len(bottom)] != bottom


def test_top_layers_hold_only_the_kinds_own_packages(stack, docker_client):
    """pnpm's second install keeps what the common base installed: no file of it is copied up."""
    common_layers = len(docker_client.images.get(ref(stack, "common")).attrs["RootFS"]["Layers"])
    expected = {"backend": {"@bytelyst/auth", "@bytelyst/http", "jose"}, "web": {"@bytelyst/ui", "react"}}
    for kind, own in expected.items():
        saved = image_contents.save(docker_client, ref(stack, kind), stack["work"] / ("%s.tar" % kind))
        names = [n for dummy, files in image_contents.layer_files(saved)[common_layers:] for n in files]
        os.remove(saved)
        packages = set()
        for name in names:
            parts = name.split("/")
            if parts[:2] == ["app", "node_modules"] and not parts[2].startswith("."):
                packages.add("/".join(parts[2:4]) if parts[2].startswith("@") else parts[2])
        assert packages == own, (kind, sorted(packages))
        assert [n for n in names if not n.startswith("app/")] == []
        # provides lists the union, and every package loads as the non-root user
        result = stack["first"][kind]
        assert set(COMMON) < set(result["packages"]) and set(result["packages"]) - set(COMMON) == {
            p for p in own if p.startswith("@bytelyst/")}


def test_second_run_is_a_no_op(stack):
    for result in stack["second"]:
        assert result.get("failed") is not True, result.get("msg")
        assert result["changed"] is False and result["built"] is False
    backend = dict(zip(("dev", "backend", "web"), stack["second"]))["backend"]
    assert backend["common"]["changed"] is False and backend["image_id"] == stack["first"]["backend"]["image_id"]


def test_product_on_the_stacked_backend_answers_its_health_check(stack, docker_client):
    product = copy_product("clock", stack["work"] / "products")
    args = {"product_dir": product, "kind": "backend", "base_image": ref(stack, "backend"),
            "dev_base_image": ref(stack, "dev"), "manifest": stack["packed"], "port": 4021,
            "name": "%s/clock-backend" % stack["prefix"], "labels": LABELS}
    if os.environ.get("BYTELYST_CA_BUNDLE"):
        args["ca_bundle"] = os.environ["BYTELYST_CA_BUNDLE"]
    result, raw = runner()("product_image", args)
    assert not result.get("failed"), raw[-4000:]
    assert result["verify"]["status"] == 200
    image = docker_client.images.get(result["image_id"])
    base = docker_client.images.get(ref(stack, "backend"))
    assert image.labels["dev.bytelyst.base.digest"] == base.id
    assert image.attrs["RootFS"]["Layers"][:len(base.attrs["RootFS"]["Layers"])] == base.attrs["RootFS"]["Layers"]
    answer = image_contents.serve(docker_client, image.id, 4021, "/health")
    assert json.loads(answer["body"])["status"] == "ok"
    # the shared packages come from the stacked base: only fastify is the product's own
    assert set(result["plan"]["runtime_package"]["dependencies"]) == {"fastify"}


def test_common_tag_from_other_inputs_fails_clearly_and_tags_nothing(stack, docker_client):
    """A common base version tag that holds another image: refused, no top base is tagged."""
    prefix = "%s/other" % stack["prefix"]
    docker_client.images.get(stack["standin"]).tag("%s/base-common" % prefix, VERSION)
    before = tags_under(docker_client, prefix + "/")
    result, raw = runner()("base_image", base_args(stack, "backend", prefix=prefix))
    assert result.get("failed"), raw[-2000:]
    assert "stacked: the common base %s/base-common:1.0.0, which the backend base is built on" % prefix in result["msg"]
    assert "already exists with different content" in result["msg"]
    assert tags_under(docker_client, prefix + "/") == before
