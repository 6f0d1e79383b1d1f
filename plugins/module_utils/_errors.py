# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors of the collection's core. PRIVATE to the collection.

A DeployError says which input is wrong, what was found, and what to do next.
It may carry the failing command (already redacted) and the tail of its output.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class DeployError(Exception):
    """A failure the user can act on; modules turn it into fail_json."""

    def __init__(self, message, hint=None, command=None, output=None, **details):
        super(DeployError, self).__init__(message)
        self.message = message
        self.hint = hint
        self.command = command
        self.output = output
        self.details = details

    def __str__(self):
        text = self.message
        if self.hint:
            text += " " + self.hint
        if self.command:
            text += "\nCommand: " + self.command
        if self.output:
            text += "\nOutput (last lines):\n" + self.output
        return text

    def result(self):
        """The extra keys a module returns with the failure."""
        out = dict(self.details)
        if self.command:
            out["command"] = self.command
        if self.output:
            out["output_tail"] = self.output
        return out
