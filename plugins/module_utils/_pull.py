# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The images a build starts from: the engine's own, or pulled from their registry. PRIVATE to
the collection.

Policies (the option `pull`): `missing` (the default) pulls only when the engine has no image
under the reference; `always` asks the registry which digest the reference names and pulls
unless the engine already holds that digest; `never` uses the engine's image or stops. An image
the reference already matches is never pulled over.

Before any pull the registry is asked for the digest through its HTTP API v2 (the client
image_push uses, with the same credentials options): a wrong password or an unreachable
registry stops there, in the registry's own words, before the engine does anything. The engine
then pulls exactly that digest and tags it with the reference, so what was checked is what
is built on.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.bytelyst.deploy.plugins.module_utils import _reference
from ansible_collections.bytelyst.deploy.plugins.module_utils._engine import image_or_none
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._image_registry import RegistryClient, stored_credentials
from ansible_collections.bytelyst.deploy.plugins.module_utils._registry_api import resolve_api_url

POLICIES = ("missing", "always", "never")
# The options of the modules that pull (doc fragment bytelyst.deploy.docker.pull), image_push's credentials.
PULL_ARGS = dict(
    pull=dict(type="str", default="missing", choices=list(POLICIES)),
    username=dict(type="str"),
    password=dict(type="str", no_log=True),
    ca_cert=dict(type="path"),
    allow_http=dict(type="bool", default=False),
)
# The registry the engine pulls from when a reference names none (node:22-slim).
DEFAULT_REGISTRY = "docker.io"


def registry_target(ref, what):
    """The Reference ref pulls from: its own registry, else the engine's default one."""
    target = _reference.parse(ref, what=what, require_registry=False)
    if target.registry is None:
        path = target.repository if "/" in target.repository else "library/" + target.repository
        target = _reference.Reference(DEFAULT_REGISTRY, path, target.tag, target.digest)
    return target


def has_digest(image, name, digest):
    """True when image carries digest in repository name (it was pulled from or pushed there)."""
    found = _reference.repo_digest((image.attrs or {}).get("RepoDigests"), name)
    return bool(found) and found.endswith("@" + digest)


class Puller(object):
    """Finds (and when needed pulls) the images of one run; each reference is resolved once.

    client: a Docker SDK client; options: the module options (pull, username, password, ca_cert,
    allow_http, timeout); registry_client: a seam for tests (RegistryClient's signature).
    """

    def __init__(self, client, options, registry_client=RegistryClient):
        self.client = client
        self.policy = options.get("pull") or "missing"
        if self.policy not in POLICIES:
            raise DeployError("pull is %r; it must be one of %s." % (self.policy, ", ".join(POLICIES)))
        self.options = options
        self.registry_client = registry_client
        self.pulled = []  # references pulled in this run, in order
        self._seen = {}

    def image(self, ref, option):
        """The engine's image for ref (the option naming it goes into messages), pulled if the policy says so."""
        if not ref:
            raise DeployError("%s is required with this mode." % option)
        if ref not in self._seen:
            self._seen[ref] = self._resolve(ref, option)
        return self._seen[ref]

    def _resolve(self, ref, option):
        local = image_or_none(self.client, ref)
        if local is not None and self.policy != "always":
            return local
        if local is None and self.policy == "never":
            raise DeployError("The %s %s is not on this Docker engine, and pull is never." % (option, ref),
                              hint="Build it first (bytelyst.deploy.base_image), load it, or set pull: missing "
                              "to pull it from its registry.")
        target = registry_target(ref, option)
        registry = self._registry(target)
        what = "look-up of %s" % ref
        try:
            digest = target.digest or registry.manifest_digest(target.repository, target.tag or "latest", what=what)
        except DeployError as err:  # the registry's own words, after what we were doing
            if local is None:
                err.message = "The %s %s is not on this Docker engine, and pulling it failed. %s" % (
                    option, ref, err.message)
                err.args = (err.message,)
            raise
        if digest is None:
            raise DeployError(
                "The %s %s is %s, and its registry %s has no such image." % (
                    option, ref, "not on this Docker engine" if local is None else "to be pulled (pull: always)",
                    registry.where),
                hint="Build and push it first (bytelyst.deploy.base_image, then bytelyst.deploy.image_push), or "
                "fix the reference. Nothing was pulled or built.", registry=target.registry)
        if local is not None and has_digest(local, target.name, digest):
            return local  # the registry holds what the engine has: nothing to pull
        return self._pull(ref, target, digest, registry)

    def _registry(self, target):
        opts = self.options
        username, password = opts.get("username"), opts.get("password")
        if not username:
            username, password = stored_credentials(target.registry)
        api_url = resolve_api_url(target, self.client.info, None, opts.get("allow_http"))
        return self.registry_client(target.registry, username=username, password=password,
                                    ca_file=opts.get("ca_cert"), allow_http=bool(opts.get("allow_http")),
                                    retries=2, retry_delay=0.5, timeout=opts.get("timeout") or 60, api_url=api_url)

    def _pull(self, ref, target, digest, registry):
        name = "%s/%s" % (target.registry, target.repository) if target.registry != DEFAULT_REGISTRY else (
            target.repository[len("library/"):] if target.repository.startswith("library/") else target.repository)
        auth = None
        if registry.username:
            auth = dict(username=registry.username, password=registry.password, serveraddress=target.registry)
        errors = []
        try:
            for event in self.client.api.pull(name, tag=digest, auth_config=auth, stream=True, decode=True):
                if isinstance(event, dict) and event.get("error"):
                    errors.append(event.get("error"))
            image = self.client.images.get("%s@%s" % (name, digest))
        except Exception as exc:  # the engine's words (a TLS or auth failure on its side, say)
            errors.append(str(exc))
            image = None
        if errors or image is None:
            raise DeployError(
                "The Docker engine could not pull %s (%s@%s): %s" % (ref, name, digest, "; ".join(errors)),
                hint="The registry answered this host; the engine must reach it too (for a plain-HTTP registry "
                "other than a loopback one, list it in the engine's insecure-registries). Nothing was built.",
                registry=target.registry)
        repo, tag, dummy = _reference.split(ref)
        if tag:
            image.tag(repo, tag)
        self.pulled.append(ref)
        return self.client.images.get(image.id)
