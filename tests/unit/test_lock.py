"""The per-project deploy lock (a directory made with mkdir)."""

import json
import os
import socket
import subprocess
import sys

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._lock import ProjectLock, describe, pid_alive


class FakeTime(object):
    def __init__(self):
        self.now = 1795773600.0
        self.slept = 0.0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        self.slept += seconds


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def hold(path, pid, host=None, who="alice"):
    os.mkdir(path)
    with open(os.path.join(path, "holder.json"), "w") as f:
        json.dump({"who": who, "what": "deploy of notes", "pid": pid, "host": host or socket.gethostname(),
                   "since": "2026-11-27T09:00:00Z"}, f)


def test_acquire_writes_holder_and_release_removes_it(tmp_path):
    path = str(tmp_path / "lock")
    lock = ProjectLock(path, "ci job 7", "deploy of notes").acquire(timeout=1)
    holder = lock.holder()
    assert holder["who"] == "ci job 7" and holder["pid"] == os.getpid() and holder["what"] == "deploy of notes"
    assert lock.waited < 1 and lock.taken_over is None
    lock.release()
    assert not os.path.exists(path)
    lock.release()  # a second release is harmless


def test_second_taker_times_out_naming_the_holder(tmp_path):
    path = str(tmp_path / "lock")
    fake = FakeTime()
    with ProjectLock(path, "alice", "deploy of notes").acquire(1):
        other = ProjectLock(path, "bob", "deploy of notes", clock=fake.clock, sleep=fake.sleep)
        with pytest.raises(DeployError) as err:
            other.acquire(timeout=5)
    message = str(err.value)
    assert "Timed out after 5s waiting for the deploy lock" in message
    assert "held by alice (pid %d on %s)" % (os.getpid(), socket.gethostname()) in message
    assert fake.slept >= 5
    assert err.value.details["lock_holder"]["who"] == "alice"


def test_waiter_gets_the_lock_once_it_is_released(tmp_path):
    path = str(tmp_path / "lock")
    first = ProjectLock(path, "alice", "deploy").acquire(1)
    fake = FakeTime()

    def sleep(seconds):
        fake.sleep(seconds)
        if fake.slept >= 2:
            first.release()

    second = ProjectLock(path, "bob", "deploy", clock=fake.clock, sleep=sleep).acquire(timeout=10)
    assert second.held and second.waited >= 2 and second.holder()["who"] == "bob"
    second.release()


def test_stale_lock_of_a_dead_pid_on_this_host_is_taken_over(tmp_path):
    path = str(tmp_path / "lock")
    pid = dead_pid()
    hold(path, pid)
    lock = ProjectLock(path, "bob", "deploy").acquire(timeout=1)
    assert lock.taken_over["pid"] == pid and lock.holder()["who"] == "bob"
    assert [p for p in os.listdir(str(tmp_path)) if "stale" in p] == []
    lock.release()


def test_lock_of_another_host_is_never_taken_over(tmp_path):
    path = str(tmp_path / "lock")
    hold(path, dead_pid(), host="some-other-host")
    fake = FakeTime()
    with pytest.raises(DeployError) as err:
        ProjectLock(path, "bob", "deploy", clock=fake.clock, sleep=fake.sleep).acquire(timeout=3)
    assert "on some-other-host" in str(err.value)
    assert os.path.isdir(path)


def test_describe_and_pid_alive():
    assert "unknown holder" in describe(None)
    assert pid_alive(os.getpid()) and not pid_alive(dead_pid()) and not pid_alive("x")
