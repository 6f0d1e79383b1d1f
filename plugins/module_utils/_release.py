# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Release history and audit log of one Compose project on its host. PRIVATE to the collection.

A release is everything that was deployed. releases.json holds the last N, newest last:
  {"project": "notes", "next_id": 4, "current": "r3",
   "releases": [{"id": "r3", "action": "deploy", "time": "2026-...Z", "triggered_by": "ci",
                 "images": {"web": "registry/notes/web@sha256:..."}, "result": "success",
                 "reason": "", "rollback_of": null, "restores": null,
                 "dir": "r3", "files": ["1-compose.yml"], "project_dir": "/srv/notes",
                 "env": {"PORT": "4121"}, "secret_names": ["DB_PASSWORD"],
                 "definition_file": null, "fingerprint": "...",
                 "provenance": {"web": {"sbom_sha256": "...", "sbom": "...", "scanned": {...}}},
                 "sbom_files": {"web": "sbom-web.cdx.json"}}, ...]}
and releases/<dir>/ holds that release's compose files as deployed (their text, byte for
byte), compose.bytelyst.yml, the override that pins its images, and the SBOMs of its images
when the deploy was given them (provenance and sbom_files appear only then; they are not part
of the fingerprint: a new scan of the same images is the same release). A rollback release
shares the directory of the release it restores. Secret values are never recorded: only
their names. Releases written before this format have no `dir`; they record images only.

`current` is the release that runs now. Results: success (it runs or ran healthy), failed
(its gate failed and it was rolled back, or nothing could be restored).

Saving is atomic and durable: the new text is written and fsynced beside the file, the
file it replaces stays as releases.json.prev, and only then is it renamed into place.
audit.log gets one line per attempt and is only ever appended to; every field a person
or an input chose is JSON-quoted, so no input can start a line of its own.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import hashlib
import json
import os
import re
import shutil
import time

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._files import write_atomic
from ansible_collections.bytelyst.deploy.plugins.module_utils._provenance import state_lines

HISTORY_FILE = "releases.json"
PREVIOUS_SUFFIX = ".prev"
AUDIT_FILE = "audit.log"
RELEASES_DIR = "releases"
RELEASE_ID = re.compile(r"^r[1-9][0-9]*$")
PLAIN_TOKEN = re.compile(r"^[A-Za-z0-9_.:@/+-]+$")


def utc_now(clock=time.time):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock()))


def images_text(images):
    """`service: ref` lines, sorted: the diff view of a release's images."""
    return "".join("%s: %s\n" % (name, images[name]) for name in sorted(images or {}))


def state_text(images, env, secret_names, provenance=None):
    """The diff view of a release: its images, its plain env, the names of its secrets and
    where its images come from (their SBOMs and scan counts)."""
    text = images_text(images)
    text += "".join("env %s=%s\n" % (k, env[k]) for k in sorted(env or {}))
    text += "".join("secret %s\n" % k for k in sorted(secret_names or []))
    return text + state_lines(provenance)


def fingerprint(project_dir, texts, images, env, secret_names):
    """One digest of everything a release deploys (secret values excluded: Compose's config
    hash sees those, through the services they change)."""
    state = {"project_dir": project_dir, "files": [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts],
             "images": images, "env": env, "secret_names": sorted(secret_names)}
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode("utf-8")).hexdigest()


def same_state(release, other_fingerprint, images):
    """True when release deployed this state (a release of the old format: these images)."""
    if release.get("fingerprint"):
        return release["fingerprint"] == other_fingerprint
    return release.get("images") == images


def shape_problem(data):
    """What is wrong with the shape of a loaded releases.json, or None."""
    if not isinstance(data, dict):
        return "holds %s, not an object with a 'releases' list" % (json.dumps(data)[:40],)
    releases = data.get("releases")
    if not isinstance(releases, list):
        return "has no 'releases' list"
    seen = set()
    for index, release in enumerate(releases):
        if not isinstance(release, dict):
            return "has a release #%d that is not an object" % (index + 1)
        if not isinstance(release.get("id"), str) or not RELEASE_ID.match(release["id"]):
            return "has a release #%d without a valid id (such as r3): %s" % (index + 1, json.dumps(release.get("id")))
        if release["id"] in seen:
            return "has release %s twice" % release["id"]
        seen.add(release["id"])
        if not isinstance(release.get("images"), dict) or not isinstance(release.get("result"), str):
            return "has release %s without 'images' or 'result'" % release["id"]
    current = data.get("current")
    if current is not None and current not in seen:
        return "names %s as current, which is not among its releases" % json.dumps(current)
    if "next_id" in data and not isinstance(data["next_id"], int):
        return "has a 'next_id' that is not a number"
    return None


class History(object):
    """releases.json, releases/ and audit.log under one directory."""

    def __init__(self, directory, project, keep=10, clock=time.time):
        self.directory = directory
        self.project = project
        self.keep = max(int(keep), 2)
        self.clock = clock
        self.data = {"project": project, "next_id": 1, "current": None, "releases": []}
        self.loaded_from = None  # the file the history was read from (the previous copy, after a fallback)
        self.in_use = set()  # release directories this run will use though no saved release names them yet

    @property
    def path(self):
        return os.path.join(self.directory, HISTORY_FILE)

    @property
    def previous_path(self):
        return self.path + PREVIOUS_SUFFIX

    def release_dir(self, name):
        return os.path.join(self.directory, RELEASES_DIR, name)

    def _read(self, path):
        """(data, problem): problem is None for a well-formed file, data None when there is none."""
        try:
            with open(path) as f:
                text = f.read()
        except (IOError, OSError):
            return None, None
        try:
            data = json.loads(text)
        except ValueError as exc:
            return None, "is not valid JSON: %s" % exc
        return data, shape_problem(data)

    def load(self, use_previous=False):
        """Read the history. A damaged file is an error naming it; with use_previous (a rollback),
        the previous copy is used instead when it is whole."""
        data, problem = self._read(self.path)
        if problem is not None:
            previous, previous_problem = self._read(self.previous_path)
            usable = previous is not None and previous_problem is None
            if use_previous and usable:
                data, self.loaded_from = previous, self.previous_path
            else:
                raise DeployError(
                    "The release history %s %s." % (self.path, problem),
                    hint=("Its previous copy %s is whole: move it into place to continue (a rollback uses it by "
                          "itself), or move both aside to start a new history." % self.previous_path) if usable else
                    "Restore it from a backup, or move it aside to start a new history.",
                    history_file=self.path)
        elif data is not None:
            self.loaded_from = self.path
        if data is not None:
            self.data.update(data)
            numbers = [int(r["id"][1:]) for r in self.releases]
            self.data["next_id"] = max([self.data.get("next_id") or 1] + [n + 1 for n in numbers])
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
        """The newest healthy release before the current one that deployed something else."""
        current = self.current()
        if current is None:
            return None
        before = self.releases[:self.releases.index(current)]
        for release in reversed(before):
            if release["result"] == "success" and not same_state(release, current.get("fingerprint"),
                                                                 current["images"]):
                return release
        return None

    def new_release(self, action, images, triggered_by, rollback_of=None, **state):
        """A release record (not yet saved) with the next id; state: dir, files, env, ..."""
        release_id = "r%d" % self.data["next_id"]
        self.data["next_id"] += 1
        release = {
            "id": release_id, "action": action, "time": utc_now(self.clock),
            "triggered_by": triggered_by, "images": dict(images), "result": "pending",
            "reason": "", "rollback_of": rollback_of, "restores": None,
        }
        release.update(state)
        return release

    def record(self, release, make_current):
        """Add (or update) a release, trim to the last N, and make it current if asked."""
        if self.get(release["id"]) is None:
            self.releases.append(release)
        if make_current:
            self.data["current"] = release["id"]
        keep_ids = set(r["id"] for r in self.releases[-self.keep:])
        keep_ids.add(self.data.get("current"))
        self.data["releases"] = [r for r in self.releases if r["id"] in keep_ids]

    def commit(self, release, make_current):
        """record + save as one step: when saving fails, the history in memory is as before."""
        before = copy.deepcopy(self.data)
        self.record(release, make_current)
        try:
            self.save()
        except BaseException:
            self.data = before
            raise

    def save(self):
        if not os.path.isdir(self.directory):
            os.makedirs(self.directory, mode=0o750)
        text = json.dumps(self.data, indent=2, sort_keys=True) + "\n"
        write_atomic(self.path, text, mode=0o640, durable=True, keep_previous=self.previous_path)
        self.loaded_from = self.path
        self.remove_unused_dirs()

    def kept_dirs(self):
        """Release directories the kept releases (of this file and of the previous copy) use."""
        names = set(r.get("dir") for r in self.releases if r.get("dir"))
        previous, problem = self._read(self.previous_path)
        if previous is not None and problem is None:
            names.update(r.get("dir") for r in previous["releases"] if r.get("dir"))
        return names

    def remove_unused_dirs(self, keep=()):
        """Remove release directories no kept release uses (never one named in keep)."""
        root = os.path.join(self.directory, RELEASES_DIR)
        if not os.path.isdir(root):
            return
        used = self.kept_dirs() | self.in_use | set(keep)
        for name in os.listdir(root):
            if name not in used and not name.startswith("."):
                shutil.rmtree(os.path.join(root, name), ignore_errors=True)

    def audit_line(self, action, release_id, result, triggered_by, detail=""):
        """One line: time, project, action, release, result, who, detail. Every field an input
        chose is a single token or JSON-quoted (which escapes newlines), so it cannot forge a line."""
        def field(value):
            value = "-" if value in (None, "") else str(value)
            return value if PLAIN_TOKEN.match(value) else json.dumps(value)

        detail = " ".join(str(detail or "").split())
        return "%s project=%s action=%s release=%s result=%s by=%s%s\n" % (
            utc_now(self.clock), field(self.project), field(action), field(release_id), field(result),
            json.dumps(triggered_by or "unknown"), (" " + json.dumps(detail)) if detail else "")

    def audit(self, action, release_id, result, triggered_by, detail=""):
        if not os.path.isdir(self.directory):
            os.makedirs(self.directory, mode=0o750)
        line = self.audit_line(action, release_id, result, triggered_by, detail)
        # One write to a file opened for appending: concurrent lines never interleave.
        fd = os.open(os.path.join(self.directory, AUDIT_FILE), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
        return line
