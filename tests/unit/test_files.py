"""Unit tests of the atomic file writer (_files.py)."""

import os

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils._files import write_atomic


def test_write_atomic_replaces_content_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("old")
    write_atomic(str(path), "new")
    assert path.read_text() == "new"
    assert os.listdir(str(tmp_path)) == ["state.json"]


def test_write_atomic_private_mode(tmp_path):
    path = tmp_path / "secret"
    write_atomic(str(path), "x", mode=0o600)
    assert os.stat(str(path)).st_mode & 0o777 == 0o600


def test_write_atomic_failure_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "state.json"
    path.write_text("old")

    def broken_rename(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "rename", broken_rename)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(str(path), "new")
    assert path.read_text() == "old"
    assert os.listdir(str(tmp_path)) == ["state.json"]
