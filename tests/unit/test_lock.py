"""The per-project deploy lock (flock on a file, a holder file beside it), with real processes."""

import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils._command import Command
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._lock import (
    ProjectLock, describe, group_alive, lock_path, pid_alive)
from ansible_collections.bytelyst.deploy.plugins.module_utils._process_group import run_in_group
from fakes.clock import FakeClock


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def leave_holder_file(path, pid, who="alice"):
    """What a run killed while holding the lock leaves: the holder file (the kernel dropped the lock)."""
    with open(path + ".json", "w") as f:
        json.dump({"who": who, "what": "deploy of notes", "pid": pid, "host": socket.gethostname(),
                   "since": "2026-11-27T09:00:00Z", "action": "deploy"}, f)


def test_acquire_writes_holder_and_release_removes_it(tmp_path):
    path = lock_path(str(tmp_path))
    lock = ProjectLock(path, "ci job 7", "deploy of notes").acquire(timeout=1)
    holder = lock.holder()
    assert holder["who"] == "ci job 7" and holder["pid"] == os.getpid() and holder["what"] == "deploy of notes"
    assert lock.waited < 1 and lock.taken_over is None
    lock.note(release="r4", compose_pgid=77)
    assert lock.holder()["release"] == "r4" and lock.holder()["compose_pgid"] == 77
    lock.release()
    assert not os.path.exists(path + ".json")
    lock.release()  # a second release is harmless
    ProjectLock(path, "bob", "deploy").acquire(0).release()  # free again


def test_second_taker_times_out_naming_the_holder(tmp_path):
    path = lock_path(str(tmp_path))
    fake = FakeClock()
    with ProjectLock(path, "alice", "deploy of notes").acquire(1):
        other = ProjectLock(path, "bob", "deploy of notes", clock=fake.clock, sleep=fake.sleep)
        with pytest.raises(DeployError) as err:
            other.acquire(timeout=5)
    message = str(err.value)
    assert "Timed out after 5s waiting for the deploy lock" in message
    assert "held by alice (pid %d on %s)" % (os.getpid(), socket.gethostname()) in message
    assert fake.slept >= 5
    assert err.value.details["lock_holder"]["who"] == "alice"
    assert not other.held


def test_waiter_gets_the_lock_once_it_is_released(tmp_path):
    path = lock_path(str(tmp_path))
    first = ProjectLock(path, "alice", "deploy").acquire(1)
    fake = FakeClock()

    def sleep(seconds):
        fake.sleep(seconds)
        if fake.slept >= 2:
            first.release()

    second = ProjectLock(path, "bob", "deploy", clock=fake.clock, sleep=sleep).acquire(timeout=10)
    assert second.held and second.waited >= 2 and second.holder()["who"] == "bob"
    assert second.taken_over is None  # released properly: nothing was interrupted
    second.release()


def test_the_holder_file_of_a_dead_run_is_reported_as_taken_over(tmp_path):
    path = lock_path(str(tmp_path))
    pid = dead_pid()
    leave_holder_file(path, pid)
    lock = ProjectLock(path, "bob", "deploy").acquire(timeout=1)
    assert lock.taken_over["pid"] == pid and lock.holder()["who"] == "bob"
    lock.release()


def test_two_waiters_finding_the_same_dead_holder_make_exactly_one_holder(tmp_path):
    """Both see the holder file of a dead run at the same moment; the kernel grants the lock once."""
    path = lock_path(str(tmp_path))
    leave_holder_file(path, dead_pid())
    barrier = threading.Barrier(8)
    outcomes = []

    def take(n):
        lock = ProjectLock(path, "waiter %d" % n, "deploy")
        barrier.wait()
        try:
            outcomes.append(lock.acquire(timeout=0))
        except DeployError as err:
            outcomes.append(err)

    threads = [threading.Thread(target=take, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    holders = [o for o in outcomes if isinstance(o, ProjectLock)]
    assert len(holders) == 1 and len(outcomes) == 8
    assert holders[0].holder()["who"] == holders[0].who
    assert all("Timed out after 0s waiting for the deploy lock" in str(o) for o in outcomes
               if isinstance(o, DeployError)), outcomes
    holders[0].release()


def test_a_failure_between_taking_the_lock_and_writing_the_holder_leaves_no_lock(tmp_path, monkeypatch):
    path = lock_path(str(tmp_path))

    def disk_full(self, record):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ProjectLock, "_write_holder", disk_full)
    with pytest.raises(OSError):
        ProjectLock(path, "alice", "deploy").acquire(1)
    monkeypatch.undo()
    lock = ProjectLock(path, "bob", "deploy").acquire(timeout=0)  # not orphaned: free at once
    assert lock.taken_over is None
    lock.release()


def test_a_compose_process_started_with_the_lock_keeps_it_after_the_module_dies(tmp_path):
    """`up` runs with the lock file open: a module killed mid-`up` (here: its lock file closed
    without unlocking, as the kernel does for a dead process) leaves the project locked until
    that process ends; the waiter's message names the process group still running."""
    path = lock_path(str(tmp_path))
    module = ProjectLock(path, "alice", "deploy of notes").acquire(1)
    started = []
    marker = tmp_path / "started"
    command = Command([sys.executable, "-c", "import sys, time; open(sys.argv[1], 'w').close(); time.sleep(3)",
                       str(marker)], timeout=30)
    thread = threading.Thread(target=lambda: run_in_group(command, keep_fds=(module.fd,), started=started.append))
    thread.start()
    # The child may write its marker before run_in_group has reported the group: wait for both.
    while not (marker.exists() and started):
        time.sleep(0.05)
    module.note(compose_pgid=started[0])
    os.close(module.fd)  # the module dies: its own descriptor is gone, without LOCK_UN or holder removal
    module.fd = None
    original_pid = module.record["pid"]
    module.record["pid"] = dead_pid()  # and the holder file names a process that is gone
    module._write_holder(module.record)
    with pytest.raises(DeployError) as err:
        ProjectLock(path, "bob", "deploy").acquire(timeout=0.5, interval=0.1)
    assert "that process is gone, but its docker compose up (process group %d) still runs" % started[0] in str(err.value)
    assert group_alive(started[0]) and original_pid == os.getpid()
    thread.join()
    lock = ProjectLock(path, "bob", "deploy").acquire(timeout=1)  # the Compose process ended: free
    assert lock.taken_over["compose_pgid"] == started[0]
    lock.release()


def running(pid):
    """True while pid runs (a zombie, which nobody may reap on a machine whose init does not, does not)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except IOError:
        return False


def test_run_in_group_stops_the_whole_group_at_its_timeout(tmp_path):
    child_pid = tmp_path / "child"
    script = ("import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
              "open(sys.argv[1], 'w').write(str(p.pid)); time.sleep(60)")
    started = []
    before = time.time()
    with pytest.raises(DeployError) as err:
        run_in_group(Command([sys.executable, "-c", script, str(child_pid)], timeout=2), what="compose up of notes",
                     started=started.append)
    assert "compose up of notes did not finish within 2 seconds and was stopped." == err.value.message
    assert err.value.details["timed_out"] is True
    assert time.time() - before < 20
    assert not group_alive(started[0]) and not running(int(child_pid.read_text()))


def test_describe_and_pid_alive():
    assert "is starting" in describe(None)
    assert pid_alive(os.getpid()) and not pid_alive(dead_pid()) and not pid_alive("x")
    assert not group_alive(dead_pid())
