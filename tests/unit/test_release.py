"""Release history and audit log (plain files, no engine)."""

import json

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._release import History, images_text


def clock():
    return 1795773600.0  # 2026-11-27T10:00:00Z


def deploy(history, images, result="success", action="deploy"):
    release = history.new_release(action, images, "ci job 7")
    release["result"] = result
    history.record(release, make_current=result == "success")
    return release


def test_new_history_is_empty_and_ids_count_up(tmp_path):
    history = History(str(tmp_path), "notes", clock=clock).load()
    assert history.current() is None and history.previous() is None
    first = deploy(history, {"web": "r/web@sha256:1"})
    second = deploy(history, {"web": "r/web@sha256:2"})
    assert (first["id"], second["id"]) == ("r1", "r2")
    assert first["time"] == "2026-11-27T10:00:00Z" and first["triggered_by"] == "ci job 7"
    assert history.current()["id"] == "r2"


def test_save_and_load_round_trip(tmp_path):
    history = History(str(tmp_path / "h"), "notes", clock=clock)
    deploy(history, {"web": "a"})
    history.save()
    again = History(str(tmp_path / "h"), "notes").load()
    assert again.current()["images"] == {"web": "a"}
    assert again.new_release("deploy", {}, "x")["id"] == "r2"
    assert json.loads((tmp_path / "h" / "releases.json").read_text())["project"] == "notes"


def test_previous_skips_failed_releases_and_same_images(tmp_path):
    history = History(str(tmp_path), "notes")
    deploy(history, {"web": "v1"})
    deploy(history, {"web": "v2"})
    deploy(history, {"web": "v3"}, result="failed")
    deploy(history, {"web": "v2"}, action="rollback")
    assert history.current()["id"] == "r4"
    assert history.previous()["images"] == {"web": "v1"}


def test_trimming_keeps_the_last_n_and_always_the_current(tmp_path):
    history = History(str(tmp_path), "notes", keep=3)
    deploy(history, {"web": "v1"})
    for n in range(5):
        deploy(history, {"web": "broken%d" % n}, result="failed")
    ids = [r["id"] for r in history.releases]
    assert ids == ["r1", "r4", "r5", "r6"]
    assert history.current()["id"] == "r1"


def test_invalid_history_file_is_named(tmp_path):
    (tmp_path / "releases.json").write_text("{oops")
    with pytest.raises(DeployError) as err:
        History(str(tmp_path), "notes").load()
    assert "releases.json is not valid JSON" in str(err.value)


def test_audit_appends_one_line_per_action(tmp_path):
    history = History(str(tmp_path), "notes", clock=clock)
    history.audit("deploy", "r1", "success", "ci job 7", "web: a\n")
    history.audit("rollback", "r3", "success", "ci job 7", "restores r1 after r2 failed")
    lines = (tmp_path / "audit.log").read_text().splitlines()
    assert lines == [
        '2026-11-27T10:00:00Z project=notes action=deploy release=r1 result=success by="ci job 7" "web: a"',
        '2026-11-27T10:00:00Z project=notes action=rollback release=r3 result=success by="ci job 7" '
        '"restores r1 after r2 failed"',
    ]


def test_images_text_is_sorted_lines():
    assert images_text({"web": "w", "api": "a"}) == "api: a\nweb: w\n"
    assert images_text(None) == ""
