# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Commands: built first (pure data), run second. PRIVATE to the collection.

A Command is an argv plus what it needs (env, cwd, stdin). Secrets never go into
argv: they travel through stdin, files or env, and `secrets` lists the values to
scrub from anything we show (errors, logs, results).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shlex
import subprocess

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

REDACTED = "********"


def redact(text, secrets):
    """Replace every secret value in text."""
    if not text:
        return text
    for secret in secrets or ():
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def tail(text, lines=25):
    """The last lines of a command's output, for an error message."""
    if not text:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


class Command(object):
    """A command to run: argv and everything it needs besides."""

    def __init__(self, argv, env=None, cwd=None, stdin=None, secrets=None, timeout=None):
        self.argv = [str(a) for a in argv]
        self.env = dict(env or {})
        self.cwd = cwd
        self.stdin = stdin
        self.secrets = list(secrets or [])
        self.timeout = timeout

    def display(self):
        """The command line as shown to people (secrets scrubbed)."""
        return redact(" ".join(shlex.quote(a) for a in self.argv), self.secrets)

    def __repr__(self):
        return "Command(%s)" % self.display()


class Result(object):
    def __init__(self, command, rc, stdout, stderr):
        self.command = command
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    @property
    def output(self):
        return (self.stdout or "") + (self.stderr or "")


def run(command, check=True, what=None):
    """Run a Command; on failure (check=True) raise DeployError naming it.

    `what` says in words what the command was for ("build of @bytelyst/auth").
    """
    env = dict(os.environ)
    env.update(command.env)
    stdin = command.stdin
    if isinstance(stdin, str):
        stdin = stdin.encode("utf-8")
    try:
        proc = subprocess.run(
            command.argv,
            input=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=command.cwd,
            env=env,
            timeout=command.timeout,
            check=False,
        )
    except OSError as exc:
        raise DeployError(
            "Could not run %s: %s." % (command.argv[0], exc),
            hint="Check that it is installed and on PATH, or set the option that names it.",
            command=command.display(),
        )
    except subprocess.TimeoutExpired:
        raise DeployError(
            "%s did not finish within %s seconds." % (what or command.argv[0], command.timeout),
            command=command.display(),
        )
    stdout = redact(proc.stdout.decode("utf-8", "replace"), command.secrets)
    stderr = redact(proc.stderr.decode("utf-8", "replace"), command.secrets)
    result = Result(command, proc.returncode, stdout, stderr)
    if check and proc.returncode != 0:
        raise DeployError(
            "%s failed (exit code %d)." % (what or "Command", proc.returncode),
            command=command.display(),
            output=tail(result.output),
        )
    return result
