# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What must never enter a build context, and a product's `.dockerignore`. PRIVATE to the collection.

Pure functions over relative paths ('/'-separated, no leading slash). The matcher follows
Docker's rules for `.dockerignore` files:

- one pattern a line; blank lines and lines starting with `#` are ignored; surrounding
  blanks are trimmed; a leading `/` is dropped (every pattern is relative to the root);
- `*` is any run of characters but `/`, `?` one character but `/`, `[...]` a class
  (`[!...]` or `[^...]` negated), `\\` escapes the next character, `**` any number of
  directories (zero included);
- a pattern that matches a directory also matches everything below it;
- `!pattern` re-includes what an earlier pattern left out; the last pattern that matches
  decides.

NEVER holds what is left out of every context whatever a `.dockerignore` says: npm
credentials, environment files, private keys and git data (matched on each path part).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import os
import posixpath
import re

# Any path part matching one of these is left out of every build context (not re-includable).
NEVER = (".npmrc", ".env", ".env.*", ".envrc", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_dsa*",
         "id_ecdsa*", "id_ed25519*", ".ssh", ".git", ".gitconfig", ".netrc", ".yarnrc", ".yarnrc.yml")


def never(rel):
    """The NEVER pattern a part of rel matches, or None."""
    for part in rel.split("/"):
        for pattern in NEVER:
            if fnmatch.fnmatchcase(part, pattern):
                return pattern
    return None


def _translate(pattern):
    """A regular expression (text) for one cleaned pattern."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "*":
            if pattern.startswith("**", i):
                i += 2
                if pattern.startswith("/", i):  # `**/`: zero or more directories
                    i += 1
                    out.append("(?:.*/)?")
                else:
                    out.append(".*")
                continue
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i]))
        elif char == "[":
            end = pattern.find("]", i + 2 if pattern.startswith(("[!", "[^"), i) else i + 1)
            if end < 0:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1:end]
                if body[:1] in ("!", "^"):
                    body = "^" + body[1:]
                out.append("[%s]" % body.replace("\\", "\\\\"))
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


class Rule(object):
    def __init__(self, text, exclusion, regex):
        self.text = text
        self.exclusion = exclusion
        self.regex = regex

    def matches(self, rel):
        """True when rel or one of its parent directories matches."""
        parts = rel.split("/")
        return any(self.regex.match("/".join(parts[:i])) for i in range(len(parts), 0, -1))


def parse(text):
    """The rules of a .dockerignore text, in order."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        if exclusion:
            line = line[1:].strip()
        cleaned = posixpath.normpath(line).lstrip("/")
        if cleaned in ("", "."):
            continue
        rules.append(Rule(line, exclusion, re.compile("^%s$" % _translate(cleaned), re.DOTALL)))
    return rules


class Matcher(object):
    """rules: the parsed .dockerignore (see parse)."""

    def __init__(self, rules=None):
        self.rules = list(rules or [])

    @property
    def has_exclusions(self):
        return any(rule.exclusion for rule in self.rules)

    def ignored(self, rel):
        """True when the rules leave rel out of the context."""
        left_out = False
        for rule in self.rules:
            if rule.matches(rel):
                left_out = not rule.exclusion
        return left_out


def load(path):
    """The Matcher of the .dockerignore at path (no rules when there is none)."""
    if not os.path.isfile(path):
        return Matcher()
    with open(path) as handle:
        return Matcher(parse(handle.read()))
