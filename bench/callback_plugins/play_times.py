# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bench's own callback (not part of the collection): when each play (each batch of a
play with `serial`) started and ended, written as JSON to $BENCH_PLAY_TIMES at the end of the
run, so bench/fleet.py can time a rollout's phases apart from one ansible-playbook run.
Enabled only by the bench: ANSIBLE_CALLBACK_PLUGINS=bench/callback_plugins and
ANSIBLE_CALLBACKS_ENABLED=play_times."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: play_times
type: aggregate
short_description: Start and end time of every play and batch (bench only)
description:
  - Writes [{play, start, end}] (seconds since the epoch) to the file named by BENCH_PLAY_TIMES.
requirements:
  - enable in configuration
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "play_times"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.plays = []

    def _close(self, now):
        if self.plays and self.plays[-1]["end"] is None:
            self.plays[-1]["end"] = now

    def v2_playbook_on_play_start(self, play):
        now = time.time()
        self._close(now)
        self.plays.append({"play": play.get_name().strip(), "start": now, "end": None})

    def v2_playbook_on_stats(self, stats):
        self._close(time.time())
        target = os.environ.get("BENCH_PLAY_TIMES")
        if target:
            with open(target, "w") as handle:
                json.dump(self.plays, handle, indent=1)
