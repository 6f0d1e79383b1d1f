# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which of our images may go: the guide's `docker image prune -a`, made safe.
PRIVATE to the collection.

Only images carrying our labels (dev.bytelyst.product or dev.bytelyst.base.flavour) are
candidates. An image is kept when a container uses it (running or stopped), when any
recorded release (releases.json) names it, when it is among the newest `keep` images of
its repository, or when a kept product image is built on it. Planning is pure: it takes
plain dicts, so the rules are unit-tested without an engine.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

OUR_LABELS = ("dev.bytelyst.product", "dev.bytelyst.base.flavour")


def is_ours(image):
    labels = image.get("labels") or {}
    return any(label in labels for label in OUR_LABELS)


def repositories(image):
    """Repository names of an image (tags without the tag part)."""
    names = set()
    for tag in image.get("tags") or []:
        names.add(tag.rsplit(":", 1)[0] if ":" in tag.rsplit("/", 1)[-1] else tag)
    return sorted(names)


def recorded_refs(history_dirs):
    """Every image reference any recorded release names, per history file."""
    refs = set()
    for directory in history_dirs or []:
        path = os.path.join(directory, "releases.json")
        if not os.path.exists(path):
            continue
        with open(path) as handle:
            data = json.load(handle)
        for release in data.get("releases") or []:
            refs.update((release.get("images") or {}).values())
    return refs


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


def plan(images, used_ids, recorded, keep, prefixes=None):
    """Split our images into keep (id -> reasons) and remove (list of images).

    images: dicts {id, tags, repo_digests, labels, created}; used_ids: ids of images that
    containers use; recorded: references named by release histories; keep: newest per repo;
    prefixes: only repositories starting with one of these are considered (None: all of ours).
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
    # A kept product image keeps the base it is built on.
    kept_bases = set()
    for image in ours:
        if image["id"] in reasons:
            base = (image.get("labels") or {}).get("dev.bytelyst.base.digest")
            if base:
                # The label holds repo@sha256:... (registry digest) or a bare image id.
                kept_bases.add(base.split("@", 1)[-1])
    for image in ours:
        if image["id"] in kept_bases or any(d.split("@", 1)[-1] in kept_bases for d in image.get("repo_digests") or []):
            add(image, "base of a kept product image")
    remove = [img for img in ours if img["id"] not in reasons]
    return reasons, remove
