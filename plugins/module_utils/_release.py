# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Release history and audit log of one Compose project on its host. PRIVATE to the collection.

releases.json holds the last N releases, newest last:
  {"project": "notes", "next_id": 4, "current": "r3",
   "releases": [{"id": "r3", "action": "deploy", "time": "2026-...Z", "triggered_by": "ci",
                 "images": {"web": "registry/notes/web@sha256:..."}, "result": "success",
                 "reason": "", "rollback_of": null}, ...]}
`current` is the release whose images run now. Results: success (it runs or ran healthy),
failed (its gate failed and it was rolled back, or nothing could be restored).
audit.log gets one line per action and is only ever appended to.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

HISTORY_FILE = "releases.json"
AUDIT_FILE = "audit.log"


def utc_now(clock=time.time):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock()))


def images_text(images):
    """`service: ref` lines, sorted: the diff view of a release."""
    return "".join("%s: %s\n" % (name, images[name]) for name in sorted(images or {}))


class History(object):
    """releases.json and audit.log under one directory."""

    def __init__(self, directory, project, keep=10, clock=time.time):
        self.directory = directory
        self.project = project
        self.keep = max(int(keep), 2)
        self.clock = clock
        self.data = {"project": project, "next_id": 1, "current": None, "releases": []}

    @property
    def path(self):
        return os.path.join(self.directory, HISTORY_FILE)

    def load(self):
        try:
            with open(self.path) as f:
                data = json.load(f)
        except (IOError, OSError):
            return self
        except ValueError as exc:
            raise DeployError(
                "The release history %s is not valid JSON: %s." % (self.path, exc),
                hint="Restore it from a backup, or move it aside to start a new history.")
        if not isinstance(data.get("releases"), list):
            raise DeployError("The release history %s has no 'releases' list." % self.path,
                              hint="Move it aside to start a new history.")
        self.data.update(data)
        return self

    @property
    def releases(self):
        return self.data["releases"]

    def get(self, release_id):
        for release in self.releases:
            if release["id"] == release_id:
                return release
        return None

    def current(self):
        return self.get(self.data.get("current")) if self.data.get("current") else None

    def previous(self):
        """The newest healthy release before the current one whose images differ from it."""
        current = self.current()
        if current is None:
            return None
        before = self.releases[:self.releases.index(current)]
        for release in reversed(before):
            if release["result"] == "success" and release["images"] != current["images"]:
                return release
        return None

    def new_release(self, action, images, triggered_by, rollback_of=None):
        """A release record (not yet saved) with the next id."""
        release_id = "r%d" % self.data["next_id"]
        self.data["next_id"] += 1
        return {
            "id": release_id, "action": action, "time": utc_now(self.clock),
            "triggered_by": triggered_by, "images": dict(images), "result": "pending",
            "reason": "", "rollback_of": rollback_of,
        }

    def record(self, release, make_current):
        """Add (or update) a release, trim to the last N, and make it current if asked."""
        if self.get(release["id"]) is None:
            self.releases.append(release)
        if make_current:
            self.data["current"] = release["id"]
        keep_ids = set(r["id"] for r in self.releases[-self.keep:])
        keep_ids.add(self.data.get("current"))
        self.data["releases"] = [r for r in self.releases if r["id"] in keep_ids]

    def save(self):
        os.makedirs(self.directory, exist_ok=True)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.data, f, indent=2, sort_keys=True)
            f.write("\n")
        os.rename(tmp, self.path)

    def audit_line(self, action, release_id, result, triggered_by, detail=""):
        """One line: time, project, action, release, result, who, detail (single line)."""
        detail = " ".join(str(detail).split())
        return "%s project=%s action=%s release=%s result=%s by=%s%s\n" % (
            utc_now(self.clock), self.project, action, release_id or "-", result,
            json.dumps(triggered_by or "unknown"), (" " + json.dumps(detail)) if detail else "")

    def audit(self, action, release_id, result, triggered_by, detail=""):
        os.makedirs(self.directory, exist_ok=True)
        line = self.audit_line(action, release_id, result, triggered_by, detail)
        with open(os.path.join(self.directory, AUDIT_FILE), "a") as f:
            f.write(line)
        return line
