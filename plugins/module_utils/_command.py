# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Commands: built first (pure data), run second. PRIVATE to the collection.

A Command is an argv plus what it needs (env, cwd, stdin). Secrets never go into
argv: they travel through stdin, files or env, and `secrets` lists the values to
scrub from anything we show (errors, logs, results).

What a command printed is kept as it was (Result.stdout, Result.stderr): the code
parses it, and scrubbing would corrupt it (a secret equal to a port number inside
`docker compose config` JSON). Only text shown to people is redacted: the error run()
raises, Command.display() and Result.output.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shlex
import subprocess

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

REDACTED = "********"
# Secrets at least this long are replaced wherever they occur; shorter ones only as whole tokens.
MIN_SUBSTRING_SECRET = 6
# What a token is made of: a short secret is replaced only where no such character touches it.
WORD = "A-Za-z0-9_"


def redact(text, secrets):
    """text with every secret value replaced by REDACTED, for showing to people.

    A secret of MIN_SUBSTRING_SECRET characters or more is replaced wherever it occurs,
    inside other words too. A shorter one is replaced only as a whole token, where no
    letter, digit or underscore touches it on either side: a one-letter secret "a" hides
    "a" in "PASS=a" and "set a value" but leaves "name" and "app" alone, so a short
    secret cannot turn every word of a message into asterisks. (A secret that short is
    guessable anyway; what this keeps is a readable message.) Longer secrets go first, so
    no secret is left half-replaced by a shorter one it contains. Empty and whitespace-only
    values are ignored: they cannot be told apart from the text around them.
    """
    if not text:
        return text
    values = set(str(s) for s in secrets or () if s is not None and str(s).strip())
    for secret in sorted(values, key=lambda s: (-len(s), s)):
        if len(secret) >= MIN_SUBSTRING_SECRET:
            text = text.replace(secret, REDACTED)
        else:
            pattern = "(?<![%s])%s(?![%s])" % (WORD, re.escape(secret), WORD)
            text = re.sub(pattern, REDACTED, text)
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
    """What a command did: stdout and stderr exactly as printed (for parsing), and
    `output`, both together with the command's secrets redacted (for showing)."""

    def __init__(self, command, rc, stdout, stderr):
        self.command = command
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    @property
    def output(self):
        """stdout and stderr as shown to people: the command's secrets redacted."""
        secrets = self.command.secrets if self.command is not None else ()
        return redact((self.stdout or "") + (self.stderr or ""), secrets)


def _text(data):
    """Bytes a process printed, as text (None, when it printed nothing before a timeout, is "")."""
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


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
    except subprocess.TimeoutExpired as exc:
        partial = Result(command, None, _text(exc.stdout), _text(exc.stderr))
        raise DeployError(
            "%s did not finish within %s seconds." % (what or command.argv[0], command.timeout),
            command=command.display(),
            output=tail(partial.output) or None,
        )
    # Raw: callers parse it. Result.output and the error below are what people see, redacted.
    result = Result(command, proc.returncode, _text(proc.stdout), _text(proc.stderr))
    if check and proc.returncode != 0:
        raise DeployError(
            "%s failed (exit code %d)." % (what or "Command", proc.returncode),
            command=command.display(),
            output=tail(result.output),
        )
    return result
