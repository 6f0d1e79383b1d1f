# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which of our images may go: the guide's `docker image prune -a`, made safe.
PRIVATE to the collection.

Only images carrying our labels (dev.bytelyst.product, or a base's kind label) are
candidates. An image is kept when a container uses it (running or stopped), when any
recorded release (releases.json) names it, when it is among the newest `keep` images of
its repository, or when a kept product image is built on it. Planning is pure: it takes
plain dicts, so the rules are unit-tested without an engine.

Failing closed: a history that cannot be read stops the prune before anything is removed,
and each project's deploy lock is held while pruning (take_locks), so a deploy cannot start
in between; a project whose lock another deploy holds keeps every image of the
repositories it records (busy_repositories).

`ensure(client, options, check_mode)` is what the module bytelyst.deploy.image_prune runs:
read every history, take the locks, read the engine (engine_images), plan, remove.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

from ansible_collections.bytelyst.deploy.plugins.module_utils import _reference
from ansible_collections.bytelyst.deploy.plugins.module_utils._contract import BASE_DIGEST_LABEL, BASE_KIND_LABELS, PRODUCT_LABEL
from ansible_collections.bytelyst.deploy.plugins.module_utils._engine import NotFound
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._lock import ProjectLock, describe, held_elsewhere, lock_path

HISTORY_FILE = "releases.json"
OUR_LABELS = (PRODUCT_LABEL,) + BASE_KIND_LABELS


def is_ours(image):
    labels = image.get("labels") or {}
    return any(label in labels for label in OUR_LABELS)


def repositories(image):
    """Repository names of an image (tags without the tag part)."""
    return sorted(set(_reference.split(tag, "tag")[0] for tag in image.get("tags") or []))


def read_history(directory):
    """The image references a release history records, or None when the directory has none.

    A history that is there but cannot be read, or is not what compose_deploy writes (an
    object with a 'releases' list of releases, each with an id and an images mapping), is a
    DeployError naming the file: pruning without knowing what a rollback needs could remove it."""
    path = os.path.join(directory, HISTORY_FILE)
    if not os.path.lexists(path):
        return None
    hint = ("Nothing was removed. Restore the file (from its previous copy or a backup) or move the "
            "project's history directory out of history_dirs, then prune again.")
    try:
        with open(path) as handle:
            data = json.load(handle)
    except (IOError, OSError) as exc:
        raise DeployError("Cannot read the release history %s: %s." % (path, exc.strerror or exc), hint=hint,
                          history=path)
    except ValueError as exc:
        raise DeployError("The release history %s is not valid JSON (%s)." % (path, exc), hint=hint, history=path)
    if not isinstance(data, dict) or not isinstance(data.get("releases"), list):
        raise DeployError("The release history %s has no 'releases' list (found %s)." % (
            path, type(data.get("releases") if isinstance(data, dict) else data).__name__), hint=hint, history=path)
    refs = set()
    for index, release in enumerate(data["releases"]):
        images = release.get("images") if isinstance(release, dict) else None
        if not isinstance(release, dict) or not release.get("id") or not isinstance(images, dict) or not all(
                isinstance(ref, str) for ref in images.values()):
            raise DeployError("The release history %s has a release (number %d in its list) without an id or an "
                              "images mapping of service to reference." % (path, index + 1), hint=hint, history=path)
        refs.update(images.values())
    return refs


def recorded_refs(history_dirs):
    """Every image reference any recorded release names (DeployError on a history that cannot be read)."""
    refs = set()
    for directory in history_dirs or []:
        refs.update(read_history(directory) or ())
    return refs


def ref_repository(ref):
    """The repository a reference names: 'r/notes/web@sha256:..' and 'r/notes/web:1' -> 'r/notes/web'."""
    name = ref.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    return None if name.startswith("sha256") else name


def take_locks(history_dirs, timeout, check_mode=False, lock_class=ProjectLock):
    """Hold the deploy lock of every project in history_dirs, so no deploy starts while we prune.

    Returns (held locks, busy) where busy maps each directory whose lock another process holds
    (still after timeout) to that holder in words. Check mode takes no lock: a lock that is
    there counts as busy. A lock that cannot be made (no permission) releases the others and
    raises."""
    held, busy = [], {}
    for directory in history_dirs or []:
        if not os.path.isdir(directory):
            continue
        lock = lock_class(lock_path(directory), "image_prune", "image prune")
        if check_mode:
            if held_elsewhere(lock.path):
                busy[directory] = describe(lock.holder())
            continue
        try:
            lock.acquire(timeout)
        except DeployError as err:
            if "lock_holder" not in err.details:
                release(held)
                raise
            busy[directory] = describe(err.details["lock_holder"])
            continue
        held.append(lock)
    return held, busy


def release(locks):
    for lock in locks:
        lock.release()


def busy_repositories(busy):
    """repository -> why its images stay, for the projects whose deploy is in progress.

    A deploy in progress may be about to run any image of the repositories its project
    records. One whose history records none yet (a first deploy) leaves no way to tell which
    images it needs: DeployError, nothing removed."""
    repos = {}
    for directory in sorted(busy):
        names = set(filter(None, (ref_repository(ref) for ref in read_history(directory) or ())))
        if not names:
            raise DeployError(
                "A deploy holds the lock of %s (%s) and its history records no images yet, so image_prune cannot "
                "tell which images that deploy is about to run." % (directory, busy[directory]),
                hint="Nothing was removed. Prune again once that deploy has finished.", history_dir=directory)
        for name in names:
            repos.setdefault(name, busy_reason(directory))
    return repos


def busy_reason(directory):
    return "deploy in progress in %s" % directory


def matches_ref(image, ref):
    """Does the reference (tag, repo@digest or image id) name this image?"""
    if ref == image["id"]:
        return True
    if ref in (image.get("tags") or []):
        return True
    if "@" in ref:
        repo, digest = ref.split("@", 1)
        for repo_digest in image.get("repo_digests") or []:
            if repo_digest.split("@", 1)[1] == digest:
                return True
    return False


def in_scope(image, prefixes):
    """Is the image ours and, when prefixes are given, in one of those repositories?"""
    if not is_ours(image):
        return False
    if not prefixes:
        return True
    return any(repo.startswith(prefix) for repo in repositories(image) for prefix in prefixes)


def plan(images, used_ids, recorded, keep, prefixes=None, busy=None):
    """Split our images into keep (id -> reasons) and remove (list of images).

    images: dicts {id, tags, repo_digests, labels, created}; used_ids: ids of images that
    containers use; recorded: references named by release histories; keep: newest per repo;
    prefixes: only repositories starting with one of these are considered (None: all of ours);
    busy: repository -> reason, repositories whose every image stays (a deploy in progress).
    """
    ours = [img for img in images if in_scope(img, prefixes)]
    reasons = {}

    def add(image, why):
        reasons.setdefault(image["id"], [])
        if why not in reasons[image["id"]]:
            reasons[image["id"]].append(why)

    for image in ours:
        if image["id"] in used_ids:
            add(image, "used by a container")
        for repo in repositories(image) + [ref_repository(d) for d in image.get("repo_digests") or []]:
            if repo in (busy or {}):
                add(image, busy[repo])
        for ref in recorded:
            if matches_ref(image, ref):
                add(image, "recorded release %s" % ref)
    by_repo = {}
    for image in ours:
        for repo in repositories(image):
            by_repo.setdefault(repo, []).append(image)
    for repo, members in by_repo.items():
        members.sort(key=lambda img: img.get("created") or "", reverse=True)
        for image in members[:keep]:
            add(image, "among the %d newest of %s" % (keep, repo))
    # A kept product image keeps the base it is built on, and a kept stacked base the common
    # base it is built on (the same label): repeated until nothing more is kept.
    kept_bases, grew = {}, True  # digest or id -> what keeps it (product or base)
    while grew:
        grew = False
        for image in ours:
            base = (image.get("labels") or {}).get(BASE_DIGEST_LABEL) if image["id"] in reasons else None
            if base and base.split("@", 1)[-1] not in kept_bases:
                # The label holds repo@sha256:... (registry digest) or a bare image id.
                kept_bases[base.split("@", 1)[-1]] = "product" if (image.get("labels") or {}).get(
                    "dev.bytelyst.product") else "base"
                grew = True
        for image in ours:
            for key in [image["id"]] + [d.split("@", 1)[-1] for d in image.get("repo_digests") or []]:
                if key in kept_bases:
                    add(image, "base of a kept %s image" % kept_bases[key])
    remove = [img for img in ours if img["id"] not in reasons]
    return reasons, remove


# Running a prune ----------------------------------------------------------------------------

def engine_images(client, prefixes=None):
    """Our view of the engine's images and the image ids containers use.

    The engine's listing carries tags, digests and labels; only images in scope (ours, in
    prefixes) are inspected, for their creation time to the nanosecond (images built within
    one second still sort newest first). Images and containers another process removes while
    we read them are skipped: they need no pruning."""
    images = []
    for summary in client.api.images():
        image = {
            "id": summary["Id"],
            "tags": [t for t in summary.get("RepoTags") or [] if t != "<none>:<none>"],
            "repo_digests": [d for d in summary.get("RepoDigests") or [] if d != "<none>@<none>"],
            "labels": summary.get("Labels") or {},
        }
        if not in_scope(image, prefixes):
            continue
        try:
            image["created"] = client.api.inspect_image(summary["Id"]).get("Created") or ""
        except NotFound:
            continue
        images.append(image)
    used = set(c.get("ImageID") for c in client.api.containers(all=True))
    return images, used


def remove(client, images, check_mode=False):
    """Remove each image (none in check mode); return (removed, failed) as {id, tags[, error]}."""
    removed, failed = [], []
    for image in images:
        entry = {"id": image["id"], "tags": image["tags"]}
        if check_mode:
            removed.append(entry)
            continue
        try:
            client.images.remove(image["id"], force=False, noprune=False)
            removed.append(entry)
        except Exception as exc:  # the engine says why (e.g. a child image); report, go on
            entry["error"] = str(exc)
            failed.append(entry)
    return removed, failed


def diff_of(images, removed):
    before = sorted(t for img in images for t in (img["tags"] or [img["id"]]))
    gone = set(t for img in removed for t in (img["tags"] or [img["id"]]))
    return {"before": "\n".join(before) + "\n", "after": "\n".join(t for t in before if t not in gone) + "\n"}


def ensure(client, params, check_mode=False, diff=False, lock_class=ProjectLock):
    """Prune our images on the engine; return the module result (warnings included).

    params: the module options (history_dirs, keep, lock_timeout, repositories)."""
    if params["keep"] < 1:
        raise DeployError("keep must be at least 1, got %d." % params["keep"],
                          hint="Keep at least the newest image of each repository.")
    history_dirs = params["history_dirs"]
    # Every history is read before any lock is taken or image removed: one that cannot be read stops here.
    recorded = recorded_refs(history_dirs)
    locks, busy = take_locks(history_dirs, params["lock_timeout"], check_mode, lock_class=lock_class)
    try:
        busy_repos = busy_repositories(busy)
        warnings = ["A deploy holds the lock of %s (%s): the images of %s are kept." % (
            directory, busy[directory],
            ", ".join(sorted(r for r, why in busy_repos.items() if why == busy_reason(directory))))
            for directory in sorted(busy)]
        # Read again under the locks: a deploy that finished meanwhile may have recorded a release.
        recorded |= recorded_refs(history_dirs)
        images, used = engine_images(client, params["repositories"])
        reasons, doomed = plan(images, used, recorded, params["keep"], params["repositories"], busy_repos)
        removed, failed = remove(client, doomed, check_mode)
    finally:
        release(locks)
    kept = [{"id": img["id"], "tags": img["tags"], "reasons": reasons[img["id"]]}
            for img in images if img["id"] in reasons]
    result = dict(changed=bool(removed), removed=removed, kept=kept, failed_removals=failed, busy=busy)
    if warnings:
        result["warnings"] = warnings
    if diff:
        result["diff"] = diff_of(images, removed)
    return result
