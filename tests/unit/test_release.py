"""Release history and audit log (plain files, no engine)."""

import json
import os

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


@pytest.mark.parametrize("text, problem", [
    ("[]", "holds [], not an object with a 'releases' list"),
    ("null", "holds null, not an object with a 'releases' list"),
    ('{"releases": {}}', "has no 'releases' list"),
    ('{"releases": [{"images": {}, "result": "success"}]}', "has a release #1 without a valid id (such as r3): null"),
    ('{"releases": [{"id": "x\\n1", "images": {}, "result": "success"}]}', 'has a release #1 without a valid id (such as r3): "x\\n1"'),
    ('{"releases": [{"id": "r1", "result": "success"}]}', "has release r1 without 'images' or 'result'"),
    ('{"releases": [{"id": "r1", "images": {}, "result": "success"}], "current": "r2"}',
     'names "r2" as current, which is not among its releases'),
])
def test_a_history_of_the_wrong_shape_is_an_error_naming_the_file(tmp_path, text, problem):
    (tmp_path / "releases.json").write_text(text)
    with pytest.raises(DeployError) as err:
        History(str(tmp_path), "notes").load()
    assert err.value.message == "The release history %s %s." % (tmp_path / "releases.json", problem)
    assert err.value.hint.startswith("Restore it from a backup")


def test_saving_keeps_the_previous_copy_which_a_rollback_can_use(tmp_path):
    history = History(str(tmp_path), "notes", clock=clock)
    deploy(history, {"web": "v1"})
    history.save()
    first = (tmp_path / "releases.json").read_text()
    deploy(history, {"web": "v2"})
    history.save()
    assert (tmp_path / "releases.json.prev").read_text() == first
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    (tmp_path / "releases.json").write_text('{"releases": [{"images": {}}]}')  # damaged
    with pytest.raises(DeployError) as err:
        History(str(tmp_path), "notes").load()
    assert "Its previous copy %s is whole: move it into place" % (tmp_path / "releases.json.prev") in err.value.hint
    again = History(str(tmp_path), "notes").load(use_previous=True)
    assert again.loaded_from == str(tmp_path / "releases.json.prev") and again.current()["images"] == {"web": "v1"}


def test_a_failed_save_leaves_the_file_and_the_history_in_memory_as_they_were(tmp_path, monkeypatch):
    history = History(str(tmp_path), "notes", clock=clock)
    deploy(history, {"web": "v1"})
    history.save()
    before = (tmp_path / "releases.json").read_text()
    release = history.new_release("deploy", {"web": "v2"}, "ci")
    release["result"] = "success"

    def full(fd, *args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError):
        history.commit(release, make_current=True)
    monkeypatch.undo()
    assert (tmp_path / "releases.json").read_text() == before
    assert history.current()["images"] == {"web": "v1"} and [r["id"] for r in history.releases] == ["r1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["releases.json"]


def test_directories_of_trimmed_releases_are_removed_once_no_copy_uses_them(tmp_path):
    history = History(str(tmp_path), "notes", keep=2)
    for n in range(1, 5):
        os.makedirs(history.release_dir("r%d" % n))
        release = history.new_release("deploy", {"web": "v%d" % n}, "ci", dir="r%d" % n)
        release["result"] = "success"
        history.commit(release, make_current=True)
    os.makedirs(history.release_dir(".next"))  # a staging directory is never touched
    history.save()
    assert sorted(os.listdir(str(tmp_path / "releases"))) == [".next", "r3", "r4"]


def test_an_old_history_without_state_fields_still_loads_and_compares_images(tmp_path):
    (tmp_path / "releases.json").write_text(json.dumps({"project": "notes", "next_id": 3, "current": "r2", "releases": [
        {"id": "r1", "action": "deploy", "images": {"web": "v1"}, "result": "success"},
        {"id": "r2", "action": "deploy", "images": {"web": "v2"}, "result": "success"}]}))
    history = History(str(tmp_path), "notes").load()
    assert history.previous()["id"] == "r1" and history.new_release("deploy", {}, "x")["id"] == "r3"


def test_no_input_can_forge_an_audit_line(tmp_path):
    history = History(str(tmp_path), "notes\nFAKE project=x", clock=clock)
    history.audit("deploy", "r1", "success", 'eve"\n2026-11-27T10:00:00Z project=notes result=success', "a\nb\u2028c")
    text = (tmp_path / "audit.log").read_text()
    assert text.count("\n") == 1 and "\u2028" not in text
    assert text == ('2026-11-27T10:00:00Z project="notes\\nFAKE project=x" action=deploy release=r1 result=success '
                    'by="eve\\"\\n2026-11-27T10:00:00Z project=notes result=success" "a b c"\n')


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
