# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A per-project deploy lock on the deploy host. PRIVATE to the collection.

The lock is flock(2) on a file (deploy.lock in the history directory). The kernel grants
it to one open file at a time and drops it when the last process that has that file open
ends, so:
- two waiters can never both take it, not even when both find a holder that died;
- a holder that dies at any moment (even between taking the lock and saying who it is)
  leaves no lock behind;
- `docker compose up` is started with the lock file open (see _process_group.py), so a
  deploy killed during `up` keeps the project locked until that Compose process ends too.

Beside it, deploy.lock.json says who holds the lock (who, what, pid, host, since, and the
process group of a running `compose up`), for the messages of waiting deploys. A holder
file still there when the lock is free was left by a run that was interrupted: the next
taker reports it (`taken_over`) so that the audit log can say so.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import json
import os
import socket
import time

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._files import write_atomic

LOCK_FILE = "deploy.lock"


def lock_path(history_dir):
    """The lock file of the project whose history lives in history_dir."""
    return os.path.join(history_dir, LOCK_FILE)


def pid_alive(pid):
    """True when a process with this pid exists on this host."""
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError, TypeError) as exc:
        return getattr(exc, "errno", None) == errno.EPERM
    return True


def group_alive(pgid):
    """True when some process of process group pgid still runs on this host (zombies, which an
    init that does not reap orphans may keep around, do not count)."""
    try:
        pgid = int(pgid)
    except (ValueError, TypeError):
        return False
    if not os.path.isdir("/proc/self"):
        try:
            os.killpg(pgid, 0)
        except OSError as exc:
            return exc.errno == errno.EPERM
        return True
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (IOError, OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def describe(holder):
    """A holder in words: 'ci-job-7 (pid 123 on vm) since 2026-... for deploy of notes'."""
    if not holder:
        return "a deploy that is starting (it has not written its holder file yet)"
    text = "%s (pid %s on %s) since %s for %s" % (
        holder.get("who", "?"), holder.get("pid", "?"), holder.get("host", "?"),
        holder.get("since", "?"), holder.get("what", "?"))
    if holder.get("release"):
        text += ", release %s" % holder["release"]
    if holder.get("host") == socket.gethostname() and not pid_alive(holder.get("pid")):
        group = holder.get("compose_pgid")
        if group and group_alive(group):
            text += "; that process is gone, but its docker compose up (process group %s) still runs" % group
    return text


def held_elsewhere(path):
    """True when some process holds the lock file at path; probes without taking it or writing."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return False  # no lock file: no deploy has ever run, none runs now
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except (IOError, OSError) as exc:
        return exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK)
    finally:
        os.close(fd)  # closing drops the probe's shared lock
    return False


class ProjectLock(object):
    """The lock of one project: `path` is the lock file (see lock_path)."""

    def __init__(self, path, who, what, clock=time.time, sleep=time.sleep):
        self.path = path
        self.holder_path = path + ".json"
        self.who = who
        self.what = what
        self.clock = clock
        self.sleep = sleep
        self.fd = None
        self.waited = 0.0
        self.taken_over = None  # the holder file an interrupted run left behind, if any
        self.record = None

    @property
    def held(self):
        return self.fd is not None

    def holder(self):
        """The holder's record, or None (no holder file, or one being written)."""
        try:
            with open(self.holder_path) as f:
                data = json.load(f)
        except (IOError, OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _open(self):
        try:
            # O_CLOEXEC: only the processes we pass it to (compose up) inherit the lock.
            return os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError as exc:
            raise DeployError(
                "Cannot open the deploy lock %s: %s." % (self.path, exc),
                hint="Check that the history directory exists and is writable by the deploying user.")

    def _write_holder(self, record):
        write_atomic(self.holder_path, json.dumps(record), mode=0o644)

    def acquire(self, timeout, interval=0.5):
        """Take the lock, waiting up to `timeout` seconds; raise DeployError naming the holder."""
        start = self.clock()
        fd = self._open()
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except (IOError, OSError) as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                        raise DeployError("Cannot lock %s: %s." % (self.path, exc))
                if self.clock() - start >= timeout:
                    holder = self.holder()
                    raise DeployError(
                        "Timed out after %ss waiting for the deploy lock %s, held by %s."
                        % (timeout, self.path, describe(holder)),
                        hint="Wait for that deploy to finish and run again, or raise lock_timeout.",
                        lock_holder=holder)
                self.sleep(interval)
            self.taken_over = self.holder()
            self.record = {
                "who": self.who, "what": self.what, "pid": os.getpid(), "host": socket.gethostname(),
                "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock())),
            }
            self._write_holder(self.record)
        except BaseException:
            os.close(fd)  # closing the only open file drops the lock: no orphan
            raise
        self.fd = fd
        self.waited = self.clock() - start
        return self

    def note(self, **fields):
        """Add fields to the holder file (the release being applied, the compose process group)."""
        if not self.held:
            return
        self.record.update(fields)
        try:
            self._write_holder(self.record)
        except (IOError, OSError):
            pass  # only messages of waiting deploys read it; the lock itself holds

    def release(self):
        """Give the lock back (only if we hold it): the holder file goes first."""
        if not self.held:
            return
        try:
            os.remove(self.holder_path)
        except OSError:
            pass
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
        return False
