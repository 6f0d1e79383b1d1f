# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image tags: immutable version tags, date tags, `latest`. PRIVATE to the collection.

The rules every image module follows:
- `<image>:<semver>` is immutable. If it exists, its fingerprint label decides:
  same fingerprint => nothing to build; different => refused unless `force`.
- `<image>:<YYYYMMDD>` names the day of the build (moves to the newest build of that day).
- `<image>:latest` only when promoted.
- Final tags are applied only after the image was verified (`apply_tags`), so a failed
  build or verification moves no tag.

API (client is a Docker SDK client, see _engine.engine_client):
    validate_semver(version) -> version               DeployError if not semver
    repository(name, registry=None) -> "reg/name"
    image_ref(name, tag, registry=None) -> "reg/name:tag"
    date_tag(today=None) -> "20261127"
    plan_tags(name, version, registry=None, date=None, promote=False) -> TagPlan
    check_version(client, ref, fingerprint, force=False) -> VersionState
    apply_tags(client, image_id, refs) -> [refs that moved or were created]
    remove_tag(client, ref) -> bool
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.bytelyst.deploy.plugins.module_utils import _reference
from ansible_collections.bytelyst.deploy.plugins.module_utils._contract import FINGERPRINT_LABEL
from ansible_collections.bytelyst.deploy.plugins.module_utils._engine import image_or_none
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

# semver.org 2.0.0, without a leading "v".
SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
# Docker tags allow [A-Za-z0-9_.-], 128 chars; '+' (semver build metadata) is not allowed.
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
NAME = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")


def validate_semver(version):
    """Return version if it is a semantic version usable as a tag, else raise DeployError."""
    text = str(version or "")
    if not SEMVER.match(text):
        raise DeployError("version %r is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.2.0)." % text,
                          hint="Set version to a value such as 1.2.0 or 1.3.0-rc.1 (no leading 'v').")
    if "+" in text:
        raise DeployError("version %r has build metadata ('+'), which an image tag cannot hold." % text,
                          hint="Drop the '+...' part, or use a pre-release such as 1.2.0-build.5.")
    return text


def validate_name(name):
    if not NAME.match(name or ""):
        raise DeployError("The image name %r is not a valid repository name (lowercase letters, digits, "
                          "'.', '_', '-', '/')." % name)
    return name


def repository(name, registry=None):
    """The repository for name, below the registry prefix when one is given."""
    validate_name(name)
    if registry:
        return "%s/%s" % (registry.rstrip("/"), name)
    return name


def image_ref(name, tag, registry=None):
    if not TAG.match(tag or ""):
        raise DeployError("%r is not a valid image tag." % tag)
    return "%s:%s" % (repository(name, registry), tag)


def date_tag(today=None):
    """YYYYMMDD of today (UTC) or of the given date."""
    return (today or datetime.datetime.utcnow().date()).strftime("%Y%m%d")


def is_date_tag(tag):
    """Whether a tag (without its repository) is a date tag, YYYYMMDD: it names the newest build of that day."""
    return bool(re.match(r"^[0-9]{8}$", tag or ""))


class TagPlan(object):
    """The refs one build gets: version (immutable), date (optional), latest (when promoted)."""

    def __init__(self, version_ref, date_ref=None, latest_ref=None):
        self.version = version_ref
        self.date = date_ref
        self.latest = latest_ref

    def all(self):
        return [ref for ref in (self.version, self.date, self.latest) if ref]


def plan_tags(name, version, registry=None, date=None, promote=False):
    """A TagPlan. date: a tag string ("20261127"), or None/False for no date tag."""
    validate_semver(version)
    return TagPlan(
        image_ref(name, version, registry),
        image_ref(name, date, registry) if date else None,
        image_ref(name, "latest", registry) if promote else None,
    )


class VersionState(object):
    """What exists under a version tag.

    state: "absent", "same" (same fingerprint: nothing to build) or "forced" (different
    fingerprint, rebuild allowed by force). image_id / fingerprint of the existing image.
    """

    def __init__(self, state, image_id=None, fingerprint=None):
        self.state = state
        self.image_id = image_id
        self.fingerprint = fingerprint


def _get(client, ref):
    return image_or_none(client, ref)


def check_version(client, ref, fingerprint, force=False):
    """Compare the image under ref with fingerprint; refuse a different one unless force."""
    image = _get(client, ref)
    if image is None:
        return VersionState("absent")
    labels = (image.attrs.get("Config") or {}).get("Labels") or {}
    existing = labels.get(FINGERPRINT_LABEL)
    if existing == fingerprint:
        return VersionState("same", image.id, existing)
    if not force:
        raise DeployError(
            "The tag %s already exists with different content (fingerprint %s, these inputs give %s); "
            "version tags are immutable." % (ref, existing or "none", fingerprint),
            hint="Bump version for the new content, or set force=true to replace the tag deliberately.",
            existing_image=image.id, existing_fingerprint=existing, fingerprint=fingerprint)
    return VersionState("forced", image.id, existing)


def split_ref(ref):
    """("repo", "tag") of "repo:tag" (a registry port is not a tag; no tag means latest)."""
    name, tag, dummy = _reference.split(ref)
    return name, tag or "latest"


def apply_tags(client, image_id, refs):
    """Point every ref at image_id; return the refs that changed (created or moved)."""
    image = client.images.get(image_id)
    changed = []
    for ref in refs:
        current = _get(client, ref)
        if current is not None and current.id == image.id:
            continue
        repo, tag = split_ref(ref)
        if not image.tag(repo, tag):
            raise DeployError("Tagging %s as %s failed." % (image_id, ref))
        changed.append(ref)
    return changed


def remove_tag(client, ref):
    """Remove one tag (the image stays while other tags or containers use it); True if it existed."""
    if _get(client, ref) is None:
        return False
    client.images.remove(ref, noprune=False)
    return True
