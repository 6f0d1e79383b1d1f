"""Test support: saves the result of every task that registers a variable, as the registered
variable holds it, to the JSON file named by $BYTELYST_TEST_RESULTS ({register name: result}).

tests/ansible_runner_helper.py reads that file back. A callback costs nothing per task; the
copy task it replaces ran two module processes on every playbook run (~1.9 CPU-s).
"""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bytelyst_test_results"
    CALLBACK_NEEDS_ENABLED = False

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._path = os.environ.get("BYTELYST_TEST_RESULTS")
        self._saved = {}

    def _save(self, result, failed):
        register = getattr(result.task, "register", None)
        if not self._path or not register:
            return
        # What register stores: the module's return without invocation or internal keys, plus failed.
        saved = {k: v for k, v in result.result.items() if k != "invocation" and not k.startswith("_ansible_")}
        saved["failed"] = failed
        self._saved[register] = saved

    def v2_runner_on_ok(self, result):
        self._save(result, False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._save(result, True)

    def v2_playbook_on_stats(self, stats):
        if not self._path:
            return
        with open(self._path + ".tmp", "w") as handle:
            json.dump(self._saved, handle)
        os.rename(self._path + ".tmp", self._path)
