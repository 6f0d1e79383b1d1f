# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A per-project lock on the deploy host. PRIVATE to the collection.

The lock is a directory created with mkdir, which is atomic: whoever creates it
holds the lock. Inside, holder.json says who holds it, since when, with which
pid on which host, and what for, so a waiting deploy can say who it waits for.
A lock left by a process that died on this same host is stale: it is taken
over, and the taker says so (`taken_over`).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import json
import os
import shutil
import socket
import time

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

HOLDER_FILE = "holder.json"


def pid_alive(pid):
    """True when a process with this pid exists on this host."""
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError, TypeError) as exc:
        return getattr(exc, "errno", None) == errno.EPERM
    return True


def describe(holder):
    """A holder in words: 'ci-job-7 (pid 123 on vm) since 2026-... for deploy of notes'."""
    if not holder:
        return "an unknown holder (the lock has no holder file)"
    return "%s (pid %s on %s) since %s for %s" % (
        holder.get("who", "?"), holder.get("pid", "?"), holder.get("host", "?"),
        holder.get("since", "?"), holder.get("what", "?"))


class ProjectLock(object):
    """The lock of one project: `path` is the lock directory to create."""

    def __init__(self, path, who, what, clock=time.time, sleep=time.sleep):
        self.path = path
        self.who = who
        self.what = what
        self.clock = clock
        self.sleep = sleep
        self.held = False
        self.waited = 0.0
        self.taken_over = None  # the stale holder we replaced, if any

    def holder(self):
        """The current holder's record, or None (no lock, or no readable file)."""
        try:
            with open(os.path.join(self.path, HOLDER_FILE)) as f:
                return json.load(f)
        except (IOError, OSError, ValueError):
            return None

    def _stale(self, holder):
        return bool(holder) and holder.get("host") == socket.gethostname() and not pid_alive(holder.get("pid"))

    def _try_create(self):
        try:
            os.mkdir(self.path, 0o700)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                return False
            raise DeployError(
                "Cannot create the deploy lock %s: %s." % (self.path, exc),
                hint="Check that the history directory exists and is writable by the deploying user.")
        record = {
            "who": self.who, "what": self.what, "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock())),
        }
        tmp = os.path.join(self.path, HOLDER_FILE + ".tmp")
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.path, HOLDER_FILE))
        return True

    def acquire(self, timeout, interval=0.5):
        """Take the lock, waiting up to `timeout` seconds; raise DeployError naming the holder."""
        start = self.clock()
        while True:
            if self._try_create():
                self.held = True
                self.waited = self.clock() - start
                return self
            holder = self.holder()
            if self._stale(holder):
                # Move the dead holder's directory aside first: of two takers, only one
                # rename succeeds, and each then competes for mkdir as usual.
                aside = "%s.stale-%d-%d" % (self.path, os.getpid(), int(self.clock() * 1000))
                try:
                    os.rename(self.path, aside)
                    shutil.rmtree(aside, ignore_errors=True)
                    self.taken_over = holder
                except OSError:
                    pass
                continue
            if self.clock() - start >= timeout:
                raise DeployError(
                    "Timed out after %ss waiting for the deploy lock %s, held by %s."
                    % (timeout, self.path, describe(holder)),
                    hint="Wait for that deploy to finish and run again, or raise lock_timeout. If the holder "
                         "is gone (another host, or a reused pid), remove the lock directory by hand.",
                    lock_holder=holder)
            self.sleep(interval)

    def release(self):
        """Give the lock back (only if we hold it)."""
        if not self.held:
            return
        try:
            os.remove(os.path.join(self.path, HOLDER_FILE))
        except OSError:
            pass
        try:
            os.rmdir(self.path)
        except OSError:
            shutil.rmtree(self.path, ignore_errors=True)
        self.held = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
        return False
