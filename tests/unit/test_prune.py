import json

from ansible_collections.bytelyst.deploy.plugins.module_utils import _prune


def img(id_, tags, created, labels=None, digests=()):
    return {"id": id_, "tags": list(tags), "created": created, "repo_digests": list(digests),
            "labels": labels if labels is not None else {"dev.bytelyst.product": "notes"}}


def test_only_our_images_are_candidates():
    foreign = img("sha256:f", ["postgres:16"], "2020", labels={})
    reasons, remove = _prune.plan([foreign], set(), set(), keep=1)
    assert reasons == {} and remove == []


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
        (d / "releases.json").write_text(json.dumps({"releases": [{"images": {"backend": ref}}]}))
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
