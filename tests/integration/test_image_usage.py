"""image_usage on real images that share layers in known ways, cross-checked with `docker system df`."""

import io
import os
import tarfile
import uuid

import pytest

from engine_listing import image_exists

pytestmark = pytest.mark.integration

KIB = 1024
SHARED = 2048 * KIB  # the "shared packages": in the base once, in every tarball-style image again
OWN = {"notes": 200 * KIB, "clock": 300 * KIB}  # each product's own code
TARBALL_OWN = {"notes": 100 * KIB, "clock": 150 * KIB}
SLACK = 4 * KIB  # metadata a layer may carry besides the file we put in it


@pytest.fixture
def usage_module(ansible_module):
    """Runs image_usage through ansible-playbook: usage_module(args, check=False) -> (result, raw)."""
    def run(args, check=False):
        return ansible_module("image_usage", args, check=check)
    return run


def _build(client, tag, dockerfile, files):
    """Build with the engine's own builder from an in-memory context; return the image."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in dict(files, Dockerfile=dockerfile.encode()).items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    image, dummy = client.images.build(fileobj=buf, custom_context=True, tag=tag, rm=True, forcerm=True)
    return image


def _labels(run, **extra):
    labels = {"dev.bytelyst.test": "1", "dev.bytelyst.testrun": run}
    labels.update(extra)
    return " ".join('"%s"="%s"' % item for item in sorted(labels.items()))


@pytest.fixture(scope="module")
def scene(docker_client, standin_image):
    """A base with a SHARED layer, two products FROM it, and two tarball-style images
    FROM the runtime, each with its own code and then its own copy of the same SHARED bytes."""
    run = uuid.uuid4().hex[:8]
    repo = "bytelyst-usage-%s/" % run
    shared = os.urandom(SHARED)
    built = []
    try:
        base = _build(docker_client, repo + "base-backend:1.0.0", (
            "FROM %s\nCOPY shared.bin /app/node_modules/shared.bin\nLABEL %s\n" % (standin_image, _labels(
                run, **{"dev.bytelyst.base.flavour": "backend", "org.opencontainers.image.version": "1.0.0",
                        "org.opencontainers.image.base.name": standin_image}))), {"shared.bin": shared})
        built.append(base)
        images = {"base": base}
        for product in ("notes", "clock"):
            images[product] = _build(docker_client, repo + "%s-backend:2.0.0" % product, (
                "FROM %s\nCOPY code.bin /app/backend/code.bin\nLABEL %s\n" % (base.id, _labels(
                    run, **{"dev.bytelyst.product": "u%s-%s" % (run, product), "dev.bytelyst.kind": "backend",
                            "dev.bytelyst.mode": "base", "dev.bytelyst.base.ref": repo + "base-backend:1.0.0",
                            "dev.bytelyst.base.version": "1.0.0", "dev.bytelyst.base.digest": base.id}))),
                {"code.bin": os.urandom(OWN[product])})
            built.append(images[product])
            images["tar-" + product] = _build(docker_client, repo + "%s-backend:1.9.0" % product, (
                "FROM %s\nCOPY code.bin /app/backend/code.bin\nCOPY shared.bin /app/node_modules/shared.bin\n"
                "LABEL %s\n" % (standin_image, _labels(
                    run, **{"dev.bytelyst.product": "u%s-%s" % (run, product), "dev.bytelyst.kind": "backend",
                            "dev.bytelyst.mode": "tarball"}))),
                {"code.bin": os.urandom(TARBALL_OWN[product]), "shared.bin": shared})
            built.append(images["tar-" + product])
        yield dict(run=run, repo=repo, images=images, runtime=docker_client.images.get(standin_image).attrs["Size"])
    finally:
        for image in reversed(built):  # children before their base
            for tag in image.tags:
                docker_client.images.remove(tag, force=True)
            if image_exists(docker_client, image.id):
                docker_client.images.remove(image.id, force=True)


def _by_ref(result):
    return dict((row["ref"].rsplit("/", 1)[-1], row) for row in result["images"])


def _near(actual, expected):
    assert expected <= actual <= expected + SLACK, (actual, expected)


def _state(docker_client, scene):
    return sorted((i.id, tuple(sorted(i.tags))) for i in docker_client.images.list(
        filters={"label": "dev.bytelyst.testrun=" + scene["run"]}))


def test_per_image_figures_match_the_layers_built_and_system_df(scene, docker_client, usage_module):
    result, raw = usage_module({"labels": ["dev.bytelyst.testrun=" + scene["run"]]})
    assert not result.get("failed"), raw
    assert result["changed"] is False
    rows = _by_ref(result)
    assert sorted(rows) == ["base-backend:1.0.0", "clock-backend:1.9.0", "clock-backend:2.0.0",
                            "notes-backend:1.9.0", "notes-backend:2.0.0"]
    runtime = scene["runtime"]
    base = rows["base-backend:1.0.0"]
    assert (base["role"], base["kind"], base["flavour"], base["version"]) == ("base", "backend", "backend", "1.0.0")
    _near(base["size"], runtime + SHARED)
    assert base["shared"] == base["size"] and base["unique"] == 0  # every layer is also under a product
    for product in ("notes", "clock"):
        row = rows["%s-backend:2.0.0" % product]
        assert (row["role"], row["mode"], row["base"], row["base_version"]) == (
            "product", "base", scene["repo"] + "base-backend:1.0.0", "1.0.0")
        assert row["base_digest"] == scene["images"]["base"].id
        _near(row["size"], runtime + SHARED + OWN[product])
        assert row["shared"] == base["size"]
        _near(row["unique"], OWN[product])
        tar = rows["%s-backend:1.9.0" % product]
        assert (tar["mode"], tar["base"]) == ("tarball", None)
        assert tar["shared"] == runtime  # only the runtime's layers: its copy of SHARED is its own
        _near(tar["unique"], TARBALL_OWN[product] + SHARED)
    # the engine's own accounting agrees byte for byte
    df = dict((i["Id"], i) for i in docker_client.df()["Images"])
    for row in rows.values():
        assert (row["size"], row["shared"]) == (df[row["id"]]["Size"], df[row["id"]]["SharedSize"]), row["ref"]
    totals = result["totals"]
    assert totals["images"] == 5
    assert totals["sum_of_sizes"] == sum(r["size"] for r in rows.values())
    expected_used = runtime + SHARED + sum(OWN.values()) + sum(TARBALL_OWN.values()) + 2 * SHARED
    _near(totals["disk_used"], expected_used)
    assert totals["disk_used"] < expected_used + 5 * SLACK


def test_base_mode_against_tarball_mode(scene, usage_module):
    repo = scene["repo"]
    base_mode, raw = usage_module({"images": [
        repo + "base-backend:1.0.0", repo + "notes-backend:2.0.0", repo + "clock-backend:2.0.0"]}, check=True)
    assert not base_mode.get("failed"), raw
    assert base_mode["changed"] is False
    totals, runtime = base_mode["totals"], scene["runtime"]
    assert [r["ref"] for r in base_mode["images"]] == [
        repo + "base-backend:1.0.0", repo + "notes-backend:2.0.0", repo + "clock-backend:2.0.0"]
    _near(totals["sum_of_sizes"], 3 * (runtime + SHARED) + sum(OWN.values()))
    _near(totals["disk_used"], runtime + SHARED + sum(OWN.values()))
    assert totals["saved_bytes"] == totals["sum_of_sizes"] - totals["disk_used"]
    assert totals["saved_percent"] == round(100.0 * totals["saved_bytes"] / totals["sum_of_sizes"], 1)
    assert [r["shared_in_selection"] for r in base_mode["images"]] == [base_mode["images"][0]["size"]] * 3

    tarball, raw = usage_module({
        "labels": ["dev.bytelyst.testrun=" + scene["run"], "dev.bytelyst.mode=tarball"]})
    assert not tarball.get("failed"), raw
    totals = tarball["totals"]
    assert totals["images"] == 2
    _near(totals["disk_used"], runtime + 2 * SHARED + sum(TARBALL_OWN.values()))
    _near(totals["saved_bytes"], runtime)  # only the runtime is shared: the packages are stored twice


def test_product_and_repository_selection(scene, usage_module):
    result, raw = usage_module({
        "products": ["u%s-notes" % scene["run"]], "repositories": [scene["repo"] + "notes-"]})
    assert not result.get("failed"), raw
    assert sorted(_by_ref(result)) == ["notes-backend:1.9.0", "notes-backend:2.0.0"]
    assert [r["shared_in_selection"] for r in result["images"]] == [scene["runtime"]] * 2


def test_all_of_ours_takes_labelled_images_only(scene, usage_module, standin_image):
    result, raw = usage_module({})
    assert not result.get("failed"), raw
    refs = set(ref for row in result["images"] for ref in row["tags"])
    assert set(scene["repo"] + n for n in ("base-backend:1.0.0", "notes-backend:2.0.0", "notes-backend:1.9.0",
                                           "clock-backend:2.0.0", "clock-backend:1.9.0")) <= refs
    assert standin_image not in refs  # its inherited stand-in label does not make it ours


def test_missing_image_fails_and_changes_nothing(scene, docker_client, usage_module):
    before = _state(docker_client, scene)
    missing = scene["repo"] + "absent:0.0.1"
    result, raw = usage_module({"images": [scene["repo"] + "base-backend:1.0.0", missing]})
    assert result.get("failed"), raw
    assert "The image %s is not on this engine" % missing in result["msg"]
    assert "docker image ls" in result["msg"]
    assert _state(docker_client, scene) == before and len(before) == 5


def test_no_match_warns_and_totals_zero(scene, usage_module):
    result, raw = usage_module({"labels": ["dev.bytelyst.testrun=none-" + scene["run"]]})
    assert not result.get("failed"), raw
    assert result["images"] == [] and result["totals"]["disk_used"] == 0
    assert "No image matched the selection" in raw
