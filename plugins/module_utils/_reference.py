# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Image references: parsing and validation. PRIVATE to the collection.

The one parser of image references on the build side: tags, base and runtime images,
pushes. A reference is ``registry[:port]/path/name[:tag][@sha256:<hex>]``. For a push
the registry part must be written out (`parse` requires it by default): a name without
one would silently mean a public registry, and pushing somewhere the user did not name
is the one mistake a push module must never make. Images on the local engine may have
no registry part (`require_registry=False`, or `split`).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

# The grammar of the registry's reference format, written for this module.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
PATH_RE = re.compile(r"^%s(?:/%s)*$" % (_COMPONENT, _COMPONENT))
_HOST_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
HOST_RE = re.compile(r"^(?:%s(?:\.%s)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$" % (_HOST_LABEL, _HOST_LABEL))
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
MAX_NAME = 255


class Reference(object):
    """registry, repository (path inside the registry), tag and digest."""

    def __init__(self, registry, repository, tag=None, digest=None):
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest

    @property
    def name(self):
        """registry/repository (or the repository alone when no registry is named), as the engine names it."""
        return "%s/%s" % (self.registry, self.repository) if self.registry else self.repository

    def with_tag(self, tag):
        return "%s:%s" % (self.name, tag)

    def __str__(self):
        text = self.name
        if self.tag:
            text += ":" + self.tag
        if self.digest:
            text += "@" + self.digest
        return text

    def __eq__(self, other):
        return isinstance(other, Reference) and str(self) == str(other)

    def __repr__(self):
        return "Reference(%s)" % self


def _looks_like_host(part):
    return "." in part or ":" in part or part == "localhost" or part.startswith("[")


def check_tag(tag, what="tag"):
    """Return tag if it is valid, else raise a DeployError naming it."""
    if not isinstance(tag, str) or not TAG_RE.match(tag):
        raise DeployError(
            "The %s %r is not a valid image tag." % (what, tag),
            hint="A tag has 1 to 128 characters: letters, digits, '_', '.' and '-', not starting with '.' or '-'.",
        )
    return tag


def is_digest(text):
    return bool(DIGEST_RE.match(text or ""))


def parse(text, what="image reference", require_registry=True):
    """Parse a reference; raise DeployError saying what is wrong with it."""
    if not isinstance(text, str) or not text.strip():
        raise DeployError("The %s is empty." % what, hint="Give registry/path/name[:tag].")
    original = text
    text = text.strip()
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
        if not is_digest(digest):
            raise DeployError(
                "The %s %r has a malformed digest %r." % (what, original, digest),
                hint="A digest is sha256: followed by 64 lowercase hex digits.",
            )
    tag = None
    last = text.rsplit("/", 1)[-1]
    if ":" in last:
        text, tag = text.rsplit(":", 1)
        check_tag(tag, "tag in %s %r" % (what, original))
    parts = text.split("/")
    if len(parts) > 1 and _looks_like_host(parts[0]):
        registry, path = parts[0], "/".join(parts[1:])
        if not HOST_RE.match(registry):
            raise DeployError("The %s %r has a malformed registry host %r." % (what, original, registry))
    elif require_registry:
        raise DeployError(
            "The %s %r does not name a registry." % (what, original),
            hint="Write the registry host first, e.g. registry.example.com/team/app or 127.0.0.1:5000/team/app.",
        )
    else:
        registry, path = None, text
    if not PATH_RE.match(path) or len(path) > MAX_NAME:
        raise DeployError(
            "The %s %r has a malformed repository path %r." % (what, original, path),
            hint="Use lowercase letters, digits and single separators ('.', '_', '__', '-') between '/'-separated parts.",
        )
    return Reference(registry, path, tag, digest)


def split(text, what="image reference"):
    """(name, tag, digest) of a reference to an image on the engine; the registry is optional,
    name includes it when given: 'reg:5000/a/b:1.0@sha256:..' -> ('reg:5000/a/b', '1.0', 'sha256:..')."""
    ref = parse(text, what, require_registry=False)
    return ref.name, ref.tag, ref.digest


# The engine lists images of the default registry without its prefix (RepoDigests: node@sha256:..).
_DEFAULT_REGISTRY_PREFIXES = ("docker.io/library/", "docker.io/", "index.docker.io/library/", "index.docker.io/")


def familiar(name):
    """A repository name as the engine lists it (the default registry's prefix dropped)."""
    for prefix in _DEFAULT_REGISTRY_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def repo_digest(repo_digests, name):
    """'<name>@sha256:..' from an image's RepoDigests when it has a digest in repository name
    (it was pushed there or pulled from there), else None."""
    for entry in repo_digests or []:
        found, dummy, digest = entry.partition("@")  # the engine's own digest, taken as it is
        try:
            found = split(found, "repo digest")[0]
        except DeployError:  # '<none>@<none>' and the like: not a digest of anything
            continue
        if digest and familiar(found) == familiar(name):
            return "%s@%s" % (name, digest)
    return None
