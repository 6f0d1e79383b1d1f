"""image_prune on the real engine: only our images, never one in use or recorded."""

import json
import os
import uuid

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils._lock import ProjectLock, lock_path

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def prune_images(docker_client, standin_image, tmp_path_factory):
    """Four images of one repository (distinct by a label: no container runs to build them),
    the second used by a container. The tests of this file run in order: the refusal first."""
    unique = uuid.uuid4().hex[:8]
    repo = "bytelyst-test/prune-%s" % unique
    context = tmp_path_factory.mktemp("prune")
    ids = {}
    for n in range(4):
        (context / "Dockerfile").write_text(
            "FROM %s\nLABEL dev.bytelyst.product=prune-%s dev.bytelyst.test=1 dev.bytelyst.test.n=%d\n"
            % (standin_image, unique, n))
        image, dummy = docker_client.images.build(path=str(context), tag="%s:%d" % (repo, n), rm=True)
        ids[n] = image.id
    container = docker_client.containers.create("%s:1" % repo, ["true"])
    yield repo, ids
    container.remove(force=True)
    for n in range(4):
        try:
            docker_client.images.remove("%s:%d" % (repo, n), force=True)
        except Exception:
            pass


def tags_left(docker_client, repo):
    return sorted(t for img in docker_client.images.list(name=repo) for t in img.tags)


def test_prune_refuses_keep_below_one(ansible_module, docker_client, prune_images):
    repo, ids = prune_images
    before = tags_left(docker_client, repo)
    result, raw = ansible_module("image_prune", {"keep": 0, "repositories": [repo]})
    assert result["failed"] is True
    assert "keep must be at least 1, got 0" in result["msg"]
    assert tags_left(docker_client, repo) == before


@pytest.mark.parametrize("content, message", [
    ("[]", "has no 'releases' list (found list)"),
    ('{"releases": [{"images": {"web": "x:1"}}]}', "without an id"),
    ("{broken", "is not valid JSON"),
])
def test_prune_refuses_when_a_history_cannot_be_read(ansible_module, docker_client, prune_images, tmp_path,
                                                     content, message):
    repo, ids = prune_images
    good, bad = tmp_path / "good", tmp_path / "bad"
    for directory in (good, bad):
        directory.mkdir()
    (good / "releases.json").write_text(json.dumps({"releases": [{"id": "r1", "images": {"web": "%s:3" % repo}}]}))
    (bad / "releases.json").write_text(content)
    before = tags_left(docker_client, repo)
    result, raw = ansible_module("image_prune", {"history_dirs": [str(good), str(bad)], "keep": 1,
                                                 "repositories": [repo]})
    assert result["failed"] is True, raw
    assert "The release history %s" % (bad / "releases.json") in result["msg"] and message in result["msg"]
    assert "Nothing was removed" in result["msg"]
    assert tags_left(docker_client, repo) == before
    assert sorted(os.listdir(str(good))) == ["releases.json"]  # no lock left behind


def test_prune_keeps_the_images_of_a_project_whose_deploy_holds_the_lock(ansible_module, docker_client,
                                                                         prune_images, tmp_path):
    repo, ids = prune_images
    history = tmp_path / "history"
    history.mkdir()
    (history / "releases.json").write_text(json.dumps({"releases": [{"id": "r1", "images": {"web": "%s:2" % repo}}]}))
    deploying = ProjectLock(lock_path(str(history)), "ci job 12", "deploy of prune-test")
    deploying.acquire(1)
    before = tags_left(docker_client, repo)
    try:
        args = {"history_dirs": [str(history)], "keep": 1, "repositories": [repo], "lock_timeout": 1}
        for check in (True, False):
            result, raw = ansible_module("image_prune", args, check=check)
            assert not result.get("failed") and result["changed"] is False, raw
            assert result["removed"] == [] and "ci job 12" in result["busy"][str(history)]
            assert any("A deploy holds the lock of %s" % history in w and repo in w for w in result["warnings"]), raw
            reasons = {k["tags"][0]: k["reasons"] for k in result["kept"]}
            assert "deploy in progress in %s" % history in reasons["%s:0" % repo]
            assert tags_left(docker_client, repo) == before
        assert deploying.holder()["who"] == "ci job 12"  # prune neither took nor removed the deploy's lock
    finally:
        deploying.release()


def test_prune_keeps_used_recorded_and_newest(ansible_module, docker_client, prune_images, tmp_path):
    repo, ids = prune_images
    history = tmp_path / "history"
    history.mkdir()
    (history / "releases.json").write_text(json.dumps({"releases": [{"id": "r1", "images": {"backend": "%s:2" % repo}}]}))
    args = {"history_dirs": [str(history)], "keep": 1, "repositories": [repo]}
    before = tags_left(docker_client, repo)

    result, raw = ansible_module("image_prune", args, check=True, diff=True)
    assert result["changed"] is True, raw
    assert [r["tags"] for r in result["removed"]] == [["%s:0" % repo]]
    assert tags_left(docker_client, repo) == before  # check mode removed nothing

    result, raw = ansible_module("image_prune", args)
    assert result["changed"] is True, raw
    reasons = {k["tags"][0]: k["reasons"] for k in result["kept"]}
    assert reasons["%s:1" % repo] == ["used by a container"]
    assert reasons["%s:2" % repo] == ["recorded release %s:2" % repo]
    assert reasons["%s:3" % repo] == ["among the 1 newest of %s" % repo]
    assert tags_left(docker_client, repo) == ["%s:%d" % (repo, n) for n in (1, 2, 3)]

    result, raw = ansible_module("image_prune", args)
    assert result["changed"] is False, raw
