"""image_prune's core on a fake engine: what it reads from the listing, what it inspects,
images another process removes while it reads them, and ensure() from options to result."""

import json

import pytest
from ansible_collections.bytelyst.deploy.plugins.module_utils import _prune
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from fakes.engine import FakeClient, FakeContainer, FakeImage

OURS = {"dev.bytelyst.product": "notes"}


def image(id_, tags, labels=None, created="", digests=None):
    return FakeImage(id_, labels, tags=tags, digests=digests, created=created)


def engine(images, containers=(), **kwargs):
    """The images as the engine holds them (dangling ones too), containers as (id, image id)."""
    return FakeClient(images=images, containers=[FakeContainer(c, image_id=i) for c, i in containers], **kwargs)


def test_images_removed_while_listing_are_skipped():
    images = [image("sha256:a", ["x/notes-backend:1.0.0"], OURS, "2026-01-01T00:00:00.5Z"),
              image("sha256:b", ["x/notes-backend:0.9.0"], OURS),
              image("sha256:c", ["<none>:<none>"], OURS, digests=["<none>@<none>"])]
    client = engine(images, gone_on_inspect={"sha256:b"})
    found, used = _prune.engine_images(client)
    assert [i["id"] for i in found] == ["sha256:a", "sha256:c"]
    assert found[0]["tags"] == ["x/notes-backend:1.0.0"] and found[0]["labels"] == OURS
    assert found[0]["created"] == "2026-01-01T00:00:00.5Z"
    assert found[1]["tags"] == [] and found[1]["repo_digests"] == []
    assert used == set()


def test_only_images_in_scope_are_inspected_and_containers_come_from_the_listing():
    images = [image("sha256:a", ["x/notes-backend:1.0.0"], OURS),
              image("sha256:b", ["x/clock-backend:1.0.0"], {"dev.bytelyst.product": "clock"}),
              image("sha256:c", ["postgres:16"], None)]
    containers = [("c1", "sha256:a"), ("c2", "sha256:c")]
    client = engine(images, containers)
    found, used = _prune.engine_images(client, ["x/notes"])
    assert [i["id"] for i in found] == ["sha256:a"]
    assert client.api.inspected == ["sha256:a"]
    assert used == {"sha256:a", "sha256:c"}
    assert client.api.container_kwargs == {"all": True}


def options(**change):
    data = dict(history_dirs=[], keep=1, lock_timeout=1, repositories=[])
    data.update(change)
    return data


def scene():
    """notes-backend 1.0.0 (newest) .. 0.8.0, an image of someone else's, a container on 0.8.0."""
    images = [image("sha256:a", ["x/notes-backend:1.0.0"], OURS, "2026-01-03T00:00:00Z"),
              image("sha256:b", ["x/notes-backend:0.9.0"], OURS, "2026-01-02T00:00:00Z"),
              image("sha256:c", ["x/notes-backend:0.8.0"], OURS, "2026-01-01T00:00:00Z"),
              image("sha256:d", ["postgres:16"], None, "2025-01-01T00:00:00Z")]
    return images, [("c1", "sha256:c")]


def test_ensure_removes_what_nothing_needs_and_says_why_the_rest_stays(tmp_path):
    history = tmp_path / "notes"
    history.mkdir()
    (history / "releases.json").write_text(json.dumps({"releases": [
        {"id": "r1", "images": {"backend": "x/notes-backend:0.9.0"}}]}))
    images, containers = scene()
    client = engine(images, containers)
    result = _prune.ensure(client, options(history_dirs=[str(history)]), diff=True)
    assert client.images.removed == [] and result["changed"] is False
    kept = dict((k["id"], k["reasons"]) for k in result["kept"])
    assert kept == {"sha256:a": ["among the 1 newest of x/notes-backend"],
                    "sha256:b": ["recorded release x/notes-backend:0.9.0"], "sha256:c": ["used by a container"]}
    # without the history, 0.9.0 goes; the diff shows it
    client = engine(images, containers)
    result = _prune.ensure(client, options(), diff=True)
    assert client.images.removed == ["sha256:b"] and result["changed"] is True
    assert result["removed"] == [{"id": "sha256:b", "tags": ["x/notes-backend:0.9.0"]}]
    assert "x/notes-backend:0.9.0" in result["diff"]["before"] and "0.9.0" not in result["diff"]["after"]
    assert "postgres" not in result["diff"]["before"]


def test_ensure_in_check_mode_removes_nothing_and_reports_the_same(tmp_path):
    images, containers = scene()
    client = engine(images, containers)
    result = _prune.ensure(client, options(), check_mode=True)
    assert client.images.removed == []
    assert result["removed"] == [{"id": "sha256:b", "tags": ["x/notes-backend:0.9.0"]}] and result["changed"] is True


def test_ensure_reports_an_image_the_engine_refuses_and_goes_on():
    images, dummy = scene()
    client = engine(images, busy={"sha256:b"})
    result = _prune.ensure(client, options())
    assert client.images.removed == ["sha256:c"]
    assert [(f["id"], "dependent child images" in f["error"]) for f in result["failed_removals"]] == [("sha256:b", True)]


def test_ensure_refuses_keep_below_one_before_reading_the_engine():
    images, containers = scene()
    client = engine(images, containers)
    with pytest.raises(DeployError) as info:
        _prune.ensure(client, options(keep=0))
    assert "keep must be at least 1, got 0." in str(info.value)
    assert client.api.inspected == [] and client.images.removed == []
