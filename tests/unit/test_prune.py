import json
import os

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils import _prune
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._lock import ProjectLock, held_elsewhere, lock_path


def img(id_, tags, created, labels=None, digests=()):
    return {"id": id_, "tags": list(tags), "created": created, "repo_digests": list(digests),
            "labels": labels if labels is not None else {"dev.bytelyst.product": "notes"}}


def test_only_our_images_are_candidates():
    foreign = img("sha256:f", ["postgres:16"], "2020", labels={})
    reasons, remove = _prune.plan([foreign], set(), set(), keep=1)
    assert reasons == {} and remove == []


@pytest.mark.parametrize("label", ["dev.bytelyst.base.kind", "dev.bytelyst.base.flavour"])
def test_a_base_is_a_candidate_by_either_kind_label(label):
    """Bases built from 0.2.0 carry dev.bytelyst.base.kind (and the flavour label), older ones the flavour label only."""
    old = img("sha256:o", ["base-web:1.0.0"], "2020", labels={label: "web"})
    new = img("sha256:n", ["base-web:1.1.0"], "2021", labels={label: "web"})
    reasons, remove = _prune.plan([old, new], set(), set(), keep=1)
    assert [i["id"] for i in remove] == ["sha256:o"] and "sha256:n" in reasons


def test_keeps_newest_per_repository_and_removes_older():
    images = [img("sha256:%d" % i, ["reg/notes-backend:1.%d.0" % i], "2026-01-0%d" % i) for i in range(1, 5)]
    reasons, remove = _prune.plan(images, set(), set(), keep=2)
    assert sorted(reasons) == ["sha256:3", "sha256:4"]
    assert [i["id"] for i in remove] == ["sha256:1", "sha256:2"]


def test_used_and_recorded_images_are_never_removed():
    images = [img("sha256:%d" % i, ["reg/notes-backend:1.%d.0" % i], "2026-01-0%d" % i,
                  digests=["reg/notes-backend@sha256:d%d" % i]) for i in range(1, 5)]
    used = {"sha256:1"}
    recorded = {"reg/notes-backend@sha256:d2"}
    reasons, remove = _prune.plan(images, used, recorded, keep=1)
    assert reasons["sha256:1"] == ["used by a container"]
    assert reasons["sha256:2"] == ["recorded release reg/notes-backend@sha256:d2"]
    assert [i["id"] for i in remove] == ["sha256:3"]


def test_base_of_a_kept_product_is_kept():
    base_labels = {"dev.bytelyst.base.flavour": "backend"}
    old_base = img("sha256:b1", ["reg/base-backend:1.0.0"], "2026-01-01", base_labels, ["reg/base-backend@sha256:db1"])
    new_base = img("sha256:b2", ["reg/base-backend:1.1.0"], "2026-01-02", base_labels, ["reg/base-backend@sha256:db2"])
    product = img("sha256:p1", ["reg/notes-backend:1.0.0"], "2026-01-01",
                  {"dev.bytelyst.product": "notes", "dev.bytelyst.base.digest": "reg/base-backend@sha256:db1"})
    reasons, remove = _prune.plan([old_base, new_base, product], {"sha256:p1"}, set(), keep=1)
    assert "base of a kept product image" in reasons["sha256:b1"]
    assert remove == []


def test_recorded_refs_reads_every_history(tmp_path):
    for project, ref in (("notes", "r/notes@sha256:1"), ("clock", "r/clock@sha256:2")):
        d = tmp_path / project
        d.mkdir()
        (d / "releases.json").write_text(json.dumps({"releases": [{"id": "r1", "images": {"backend": ref}}]}))
    missing = tmp_path / "none"
    assert _prune.recorded_refs([str(tmp_path / "notes"), str(tmp_path / "clock"), str(missing)]) == {
        "r/notes@sha256:1", "r/clock@sha256:2"}


def test_repositories_handles_registry_ports():
    assert _prune.repositories({"tags": ["127.0.0.1:5000/a/b:1.0", "x:latest"]}) == ["127.0.0.1:5000/a/b", "x"]


def test_repository_prefixes_limit_the_scope():
    images = [img("sha256:1", ["reg/notes-backend:1"], "2026-01-01"), img("sha256:2", ["reg/notes-backend:2"], "2026-01-02"),
              img("sha256:3", ["reg/clock-backend:1"], "2026-01-01"), img("sha256:4", ["reg/clock-backend:2"], "2026-01-02")]
    reasons, remove = _prune.plan(images, set(), set(), keep=1, prefixes=["reg/notes-"])
    assert sorted(reasons) == ["sha256:2"]
    assert [i["id"] for i in remove] == ["sha256:1"]


@pytest.mark.parametrize("content, found", [
    ("[]", "has no 'releases' list (found list)"),
    ("null", "has no 'releases' list (found NoneType)"),
    ('{"releases": {"r1": {}}}', "has no 'releases' list (found dict)"),
    ("{not json", "is not valid JSON"),
    ('{"releases": [{"images": {"web": "r/w:1"}}]}', "release (number 1 in its list) without an id"),
    ('{"releases": [{"id": "r1", "images": ["r/w:1"]}]}', "without an id or an images mapping"),
    ('{"releases": [{"id": "r1", "images": {"web": "r/w:1"}}, "r2"]}', "release (number 2 in its list)"),
])
def test_a_history_that_cannot_be_read_is_an_error_naming_the_file(tmp_path, content, found):
    (tmp_path / "releases.json").write_text(content)
    with pytest.raises(DeployError) as err:
        _prune.recorded_refs([str(tmp_path)])
    assert "The release history %s" % (tmp_path / "releases.json") in str(err.value)
    assert found in str(err.value) and "Nothing was removed" in str(err.value)


def test_an_unreadable_history_file_is_an_error(tmp_path):
    (tmp_path / "releases.json").mkdir()  # a directory where the file should be: open() fails
    with pytest.raises(DeployError) as err:
        _prune.recorded_refs([str(tmp_path)])
    assert "Cannot read the release history %s" % (tmp_path / "releases.json") in str(err.value)


def history(directory, *refs):
    directory.mkdir(exist_ok=True)
    (directory / "releases.json").write_text(json.dumps(
        {"releases": [{"id": "r%d" % n, "images": {"web": ref}} for n, ref in enumerate(refs, 1)]}))
    return str(directory)


def test_take_locks_holds_every_projects_lock_and_releases_them(tmp_path):
    dirs = [history(tmp_path / "notes", "r/notes/web@sha256:1"), history(tmp_path / "clock", "r/clock/web:1"),
            str(tmp_path / "gone")]
    held, busy = _prune.take_locks(dirs, timeout=0)
    assert busy == {} and sorted(lock.path for lock in held) == sorted(lock_path(d) for d in dirs[:2])
    assert held_elsewhere(lock_path(dirs[0]))  # a deploy starting now waits
    _prune.release(held)
    assert not held_elsewhere(lock_path(dirs[0]))
    assert not os.path.exists(lock_path(dirs[0]) + ".json")  # no holder record left behind


def test_a_project_whose_deploy_holds_the_lock_keeps_its_repositories(tmp_path):
    notes = history(tmp_path / "notes", "reg:5000/notes/web@sha256:1", "reg:5000/notes/api:1.0.0")
    clock = history(tmp_path / "clock", "reg:5000/clock/web:1")
    deploying = ProjectLock(lock_path(notes), "ci job 9", "deploy of notes")
    deploying.acquire(1)
    try:
        held, busy = _prune.take_locks([notes, clock], timeout=0)
        assert [lock.path for lock in held] == [lock_path(clock)]
        assert "ci job 9" in busy[notes] and "deploy of notes" in busy[notes]
        _prune.release(held)
        checked_held, checked_busy = _prune.take_locks([notes, clock], timeout=0, check_mode=True)
        assert checked_held == [] and list(checked_busy) == [notes]  # check mode takes no lock
        assert not held_elsewhere(lock_path(clock)) and not os.path.exists(lock_path(clock) + ".json")
        repos = _prune.busy_repositories(busy)
        assert repos == {"reg:5000/notes/web": "deploy in progress in %s" % notes,
                         "reg:5000/notes/api": "deploy in progress in %s" % notes}
        about_to_run = img("sha256:new", ["reg:5000/notes/web:2.0.0"], "2026-03")
        newer = img("sha256:newer", ["reg:5000/notes/web:2.0.1"], "2026-04")
        other = img("sha256:c0", ["reg:5000/clock/web:0"], "2026-01")
        reasons, remove = _prune.plan([about_to_run, newer, other], set(), set(), keep=1, busy=repos)
        assert reasons["sha256:new"] == ["deploy in progress in %s" % notes]
        assert remove == []  # clock/web:0 is the newest of its repository
    finally:
        deploying.release()


def test_a_first_deploy_in_progress_stops_the_prune(tmp_path):
    first = tmp_path / "new"
    first.mkdir()
    with pytest.raises(DeployError) as err:
        _prune.busy_repositories({str(first): "ci job 1 (pid 7 on vm)"})
    assert "history records no images yet" in str(err.value) and str(first) in str(err.value)


def test_a_kept_stacked_base_keeps_its_common_base():
    common_labels = {"dev.bytelyst.base.flavour": "common"}
    old_common = img("sha256:c1", ["reg/base-common:1.0.0"], "2026-01-01", common_labels, ["reg/base-common@sha256:dc1"])
    new_common = img("sha256:c2", ["reg/base-common:1.1.0"], "2026-01-02", common_labels)
    old_top = img("sha256:b1", ["reg/base-backend:1.0.0"], "2026-01-01",
                  {"dev.bytelyst.base.flavour": "backend", "dev.bytelyst.base.digest": "reg/base-common@sha256:dc1"},
                  ["reg/base-backend@sha256:db1"])
    new_top = img("sha256:b2", ["reg/base-backend:1.1.0"], "2026-01-02",
                  {"dev.bytelyst.base.flavour": "backend", "dev.bytelyst.base.digest": "sha256:c2"})
    product = img("sha256:p1", ["reg/notes-backend:1.0.0"], "2026-01-01",
                  {"dev.bytelyst.product": "notes", "dev.bytelyst.base.digest": "reg/base-backend@sha256:db1"})
    images = [old_common, new_common, old_top, new_top, product]
    reasons, remove = _prune.plan(images, {"sha256:p1"}, set(), keep=1)
    assert reasons["sha256:b1"] == ["base of a kept product image"]
    assert reasons["sha256:c1"] == ["base of a kept base image"]
    assert "base of a kept base image" in reasons["sha256:c2"]  # the newest top's common, by image id
    assert remove == []
    # Without the product nothing keeps the old top, so nothing keeps the old common base either.
    reasons, remove = _prune.plan(images[:4], set(), set(), keep=1)
    assert sorted(i["id"] for i in remove) == ["sha256:b1", "sha256:c1"]
