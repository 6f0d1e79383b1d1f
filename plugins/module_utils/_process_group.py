# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A long command run as the leader of its own process group. PRIVATE to the collection.

`docker compose up` is the docker CLI plus the Compose plugin it starts; stopping only the
first would leave Compose running. Run in a group of its own, the whole command is stopped
together when it passes its timeout or the run is interrupted, and the caller learns the
group id as soon as it starts (the deploy lock records it). Files named in keep_fds stay
open in the command (the deploy lock, so that the project stays locked while it runs).

Like _command.run, the Result carries the command's output as it is (code parses it);
only the DeployError raised here is redacted.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import signal
import subprocess
import tempfile
import time

from ansible_collections.bytelyst.deploy.plugins.module_utils._command import Result, redact, tail
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._lock import group_alive

STOP_GRACE = 10


def stop_group(proc, grace=STOP_GRACE):
    """SIGTERM the process group led by proc, SIGKILL what is left after `grace` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except OSError:
            pass
        deadline = time.time() + wait
        while time.time() < deadline:
            if proc.poll() is not None and not group_alive(proc.pid):
                return
            time.sleep(0.1)


def _read(f):
    f.seek(0)
    return f.read().decode("utf-8", "replace")


def run_in_group(command, check=True, what=None, keep_fds=(), started=None):
    """Run a Command in a new process group; on timeout or interruption stop the whole group."""
    env = dict(os.environ)
    env.update(command.env)
    stdin = command.stdin.encode("utf-8") if isinstance(command.stdin, str) else command.stdin
    # Output goes to unlinked files, not pipes: if this process dies, the command does not die
    # of SIGPIPE halfway through recreating containers; it finishes, holding the lock.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(command.argv, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                    stdout=out, stderr=err, cwd=command.cwd, env=env,
                                    start_new_session=True, pass_fds=tuple(keep_fds or ()))
        except OSError as exc:
            raise DeployError("Could not run %s: %s." % (command.argv[0], exc),
                              hint="Check that it is installed and on PATH, or set the option that names it.",
                              command=command.display())
        try:
            if started is not None:
                started(proc.pid)
            proc.communicate(input=stdin, timeout=command.timeout)
        except subprocess.TimeoutExpired:
            stop_group(proc)
            raise DeployError(
                "%s did not finish within %s seconds and was stopped." % (what or command.argv[0], command.timeout),
                command=command.display(), output=redact(tail(_read(out) + _read(err)), command.secrets),
                timed_out=True)
        except BaseException:
            stop_group(proc)  # interrupted: leave no Compose behind us
            raise
        stdout, stderr = _read(out), _read(err)
    result = Result(command, proc.returncode, stdout, stderr)
    if check and proc.returncode != 0:
        raise DeployError("%s failed (exit code %d)." % (what or "Command", proc.returncode),
                          command=command.display(), output=redact(tail(result.output), command.secrets))
    return result
