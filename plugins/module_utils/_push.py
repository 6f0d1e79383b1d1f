# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pushing an image's tags and promoting channel tags. PRIVATE to the collection.

The engine sends the layers; the registry API (RegistryClient) decides whether
anything needs sending, checks the immutable-tag policy before anything is
sent, verifies the result, and moves extra and channel tags by re-putting an
image manifest (no layer is sent again).

`ensure(engine, options, check_mode)` is what the module bytelyst.deploy.image_push runs:
it reads the options, then pushes (Pusher.push) or promotes (promote). The engine is an
EngineOnDemand: a promotion connects to it only when only the engine can tell where the
registry's API is.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.bytelyst.deploy.plugins.module_utils._engine import DockerException, engine_client, image_or_none
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._reference import check_tag, is_digest, parse
from ansible_collections.bytelyst.deploy.plugins.module_utils._connection import Connection
from ansible_collections.bytelyst.deploy.plugins.module_utils._image_registry import RegistryClient, backoff_delays, stored_credentials
from ansible_collections.bytelyst.deploy.plugins.module_utils._registry_api import resolve_api_url

CHANNEL_TAGS = ("latest", "stable", "canary")
_AUTH_WORDS = ("unauthorized", "authentication required", "denied", "forbidden")


class PushStream(object):
    """What the engine's push stream said: layers sent, layers the registry had, the digest."""

    def __init__(self):
        self.pushed = set()
        self.existing = set()
        self.digest = None
        self.error = None
        self.retrying = None

    def feed(self, event):
        status = event.get("status") or ""
        layer = event.get("id")
        if event.get("error") or event.get("errorDetail"):
            self.error = (event.get("errorDetail") or {}).get("message") or event.get("error")
        elif status == "Pushed":
            self.pushed.add(layer)
        elif status == "Layer already exists" or status.startswith("Mounted from"):
            self.existing.add(layer)
        elif status.startswith("Retrying in"):
            # The engine's own retries wait up to a minute: we stop and retry on our terms.
            self.retrying = "the upload of layer %s broke off" % layer
        aux = event.get("aux") or {}
        if aux.get("Digest"):
            self.digest = aux["Digest"]

    @property
    def done(self):
        return bool(self.digest) and not self.error

    @property
    def auth_failed(self):
        return bool(self.error) and any(w in self.error.lower() for w in _AUTH_WORDS)


def layer_report(diff_ids, manifest_layers, pushed):
    """layers_pushed, layers_existing, bytes_pushed of an image, from the short layer ids
    the engine reported as sent and the registry's image manifest (same order as diff_ids)."""
    sizes = {}
    for index, diff_id in enumerate(diff_ids):
        size = manifest_layers[index][1] if index < len(manifest_layers) else 0
        sizes[diff_id.split(":", 1)[-1][:12]] = size
    sent = set(sizes) & set(pushed)
    return dict(layers_pushed=len(sent), layers_existing=len(sizes) - len(sent),
                bytes_pushed=sum(sizes[s] for s in sent))


def refusal(tag, previous, local, where):
    return ("The tag %s is immutable by policy and already points at %s in %s, not at the local %s."
            % (tag, previous, where, local))


def check_immutable(states, channel_tags, force, local, where):
    """Refuse (before anything is sent) to move a non-channel tag that points elsewhere."""
    if force:
        return
    bad = [refusal(s["tag"], s["previous_digest"], local, where) for s in states
           if s["previous_digest"] and not s["same"] and s["tag"] not in channel_tags]
    if bad:
        raise DeployError(" ".join(bad), hint="Push under a new tag, or set force=true to move it on purpose. Nothing was sent.")


def diff_of(tags, pending="(digest known after the push)"):
    before = "".join("%s: %s\n" % (t["tag"], t["previous_digest"] or "(absent)") for t in tags)
    after = "".join("%s: %s\n" % (t["tag"], t["digest"] or pending) for t in tags)
    return dict(before=before, after=after)


class Pusher(object):
    """One image pushed under tags of one repository."""

    def __init__(self, engine, registry, target, retries=3, retry_delay=1.0, sleep=time.sleep):
        self.engine = engine        # docker SDK DockerClient
        self.registry = registry    # RegistryClient
        self.target = target        # Reference (registry/repository)
        self.retries = retries
        self.retry_delay = retry_delay
        self.sleep = sleep

    def push(self, image, tags, channel_tags=CHANNEL_TAGS, force=False, check_mode=False, auth_config=None):
        repo = self.target.repository
        local_digests = set(d.split("@", 1)[1] for d in image.attrs.get("RepoDigests") or []
                            if d.split("@", 1)[0] == self.target.name)
        states = [self._state(image, tag, local_digests) for tag in tags]
        same = [s for s in states if s["same"]]
        local_digest = same[0]["previous_digest"] if same else (
            list(local_digests)[0] if len(local_digests) == 1 else None)
        local = "image %s" % image.id
        if local_digest:
            local = "manifest %s (image %s)" % (local_digest, image.id)
        check_immutable(states, channel_tags, force, local, "registry %s, repository %s" % (self.target.registry, repo))
        result = dict(layers_pushed=0, layers_existing=len(image.attrs["RootFS"]["Layers"]), bytes_pushed=0)
        todo = [s for s in states if not s["same"]]
        if not todo:
            result["tags"] = [self._row(s, s["previous_digest"], "unchanged") for s in states]
            return result
        if check_mode:
            result["tags"] = [self._row(s, s["previous_digest"], "unchanged") if s["same"]
                              else self._row(s, local_digest, "would_push") for s in states]
            return result
        manifest = None
        if same:
            manifest = self.registry.get_manifest(repo, same[0]["previous_digest"])
        if manifest is None:
            stream = self._engine_push(image, todo[0]["tag"], auth_config)
            manifest = self._verify(image, todo[0]["tag"], stream.digest)
            result.update(layer_report(image.attrs["RootFS"]["Layers"], manifest.layers, stream.pushed))
            todo[0]["pushed_by_engine"] = True
        for state in todo:
            if not state.get("pushed_by_engine"):
                self.registry.put_manifest(repo, state["tag"], manifest, what="tagging %s" % state["tag"])
                self._verify(image, state["tag"], manifest.digest)
        result["tags"] = [self._row(s, s["previous_digest"] if s["same"] else manifest.digest,
                                    "unchanged" if s["same"] else "pushed") for s in states]
        return result

    def _state(self, image, tag, local_digests):
        what = "look-up of tag %s" % tag
        previous = self.registry.manifest_digest(self.target.repository, tag, what=what)
        same = bool(previous) and previous in local_digests
        if previous and not same:
            manifest = self.registry.get_manifest(self.target.repository, previous, what=what)
            same = manifest is not None and manifest.config_digest == image.id
        return dict(tag=tag, previous_digest=previous, same=same)

    @staticmethod
    def _row(state, digest, action):
        return dict(tag=state["tag"], digest=digest, previous_digest=state["previous_digest"], action=action)

    def _engine_push(self, image, tag, auth_config):
        """Push through the engine with bounded retries; return the merged PushStream."""
        ref = self.target.with_tag(tag)
        delays = backoff_delays(self.retries, self.retry_delay)
        merged = PushStream()
        with _TemporaryTag(image, ref):
            for attempt in range(len(delays) + 1):
                stream = self._push_once(tag, auth_config)
                merged.pushed |= stream.pushed
                if stream.done:
                    merged.digest = stream.digest
                    return merged
                if stream.auth_failed:
                    who = " as user %s" % auth_config["username"] if (auth_config or {}).get("username") else ""
                    raise DeployError(
                        "Authentication failed at registry %s while pushing %s%s: %s. Not retried."
                        % (self.target.registry, ref, who, stream.error),
                        hint="Check the credentials and that the user may push to this repository "
                             "(on a token registry: that its token has write/push rights).")
                last = stream.error or stream.retrying or "the push ended without a digest"
                probe = self.registry.probe()
                if probe:
                    last = "%s; %s" % (last, probe)
                if attempt < len(delays):
                    self.sleep(delays[attempt])
        raise DeployError(
            "The push of %s to registry %s failed after %d attempt(s); last error: %s"
            % (tag, self.target.registry, len(delays) + 1, last),
            hint="Check that the registry runs and is reachable; a re-run sends only the layers still missing.",
            registry=self.target.registry, tag=tag)

    def _push_once(self, tag, auth_config):
        stream = PushStream()
        events = self.engine.api.push(self.target.name, tag=tag, stream=True, decode=True, auth_config=auth_config)
        try:
            for event in events:
                stream.feed(event)
                if stream.error or stream.retrying:
                    break
        finally:
            # Closing the stream drops the connection, which cancels the engine's push.
            events.close()
        return stream

    def _verify(self, image, tag, digest):
        what = "verification of tag %s" % tag
        now = self.registry.manifest_digest(self.target.repository, tag, what=what)
        manifest = self.registry.get_manifest(self.target.repository, now, what=what) if now else None
        if not digest or now != digest or manifest is None or manifest.config_digest != image.id:
            raise DeployError(
                "Verification failed: registry %s has %s for tag %s, expected %s of image %s."
                % (self.target.registry, now or "nothing", tag, digest or "a digest", image.id),
                hint="Something else may have pushed this tag at the same time; re-run to check.")
        return manifest


class _TemporaryTag(object):
    """Tag the image as ref for the push, then put the engine's tags back as they were."""

    def __init__(self, image, ref):
        self.image = image
        self.ref = ref
        self.added = False

    def __enter__(self):
        tags = self.image.tags
        self.added = self.ref not in tags
        if self.added:
            self.image.tag(self.ref)
        return self

    def __exit__(self, *exc):
        if not self.added:
            return False
        try:
            self.image.reload()
            if len(self.image.tags) > 1:  # never the image's last name: that would delete it
                self.image.client.api.remove_image(self.ref, noprune=True)
        except Exception:  # best effort: the push's own outcome is what matters
            pass
        return False


def promote(registry, target, source, to_tags, channel_tags=CHANNEL_TAGS, force=False, check_mode=False):
    """Point each tag of to_tags at the manifest of source (a tag or digest): no layer is sent."""
    repo = target.repository
    manifest = registry.get_manifest(repo, source, what="look-up of %s" % source)
    if manifest is None:
        raise DeployError(
            "The promotion source %s is not in repository %s at registry %s." % (source, repo, target.registry),
            hint="Push that tag first, or name a tag or digest the registry has. Nothing was changed.")
    states = []
    for tag in to_tags:
        previous = registry.manifest_digest(repo, tag, what="look-up of tag %s" % tag)
        states.append(dict(tag=tag, previous_digest=previous, same=previous == manifest.digest))
    check_immutable(states, channel_tags, force, "manifest %s (from %s)" % (manifest.digest, source),
                    "registry %s, repository %s" % (target.registry, repo))
    rows = []
    for state in states:
        action = "unchanged" if state["same"] else ("would_promote" if check_mode else "promoted")
        if action == "promoted":
            registry.put_manifest(repo, state["tag"], manifest, what="promotion of %s to %s" % (source, state["tag"]))
            now = registry.manifest_digest(repo, state["tag"], what="verification of tag %s" % state["tag"])
            if now != manifest.digest:
                raise DeployError("Verification failed: registry %s has %s for tag %s after promotion, expected %s."
                                  % (target.registry, now or "nothing", state["tag"], manifest.digest))
        rows.append(dict(tag=state["tag"], digest=manifest.digest, previous_digest=state["previous_digest"], action=action))
    return dict(tags=rows, source_digest=manifest.digest, layers_pushed=0, layers_existing=len(manifest.layers), bytes_pushed=0)


# The module's options, read ----------------------------------------------------------------

def unique(items):
    """items without repeats, in order."""
    return list(dict.fromkeys(items))


def target_of(params):
    """The Reference pushed to: the repository option, else the registry and repository of name."""
    if params["repository"]:
        target = parse(params["repository"], what="repository")
        if target.tag or target.digest:
            raise DeployError("The repository %r has a tag or digest." % params["repository"],
                              hint="Give registry/path/name only, and the tags in tags.")
        return target
    if not params["name"] or is_digest(params["name"]) or params["name"].startswith("sha256:"):
        raise DeployError("The option repository is missing.",
                          hint="Give repository (registry/path/name), or a name that includes the registry.")
    return parse(params["name"], what="image name")


def tags_of(params):
    """The tags to push: the tags option, else the tag of name."""
    tags = params["tags"]
    if not tags:
        ref = parse(params["name"], what="image name", require_registry=False)
        if not ref.tag:
            raise DeployError("No tag to push: name %r has no tag and tags is empty." % params["name"],
                              hint="Add a tag to name, or list the tags in tags.")
        tags = [ref.tag]
    return unique([check_tag(t) for t in tags])


def registry_client(params, target, api_url, hide=None):
    """The RegistryClient for target, with the given or the stored credentials; hide(value) is
    told every password used, so the caller keeps it out of everything it shows."""
    username, password = params["username"], params["password"]
    if not username:
        username, password = stored_credentials(target.registry)
    if password and hide:
        hide(password)
    return RegistryClient(target.registry, username=username, password=password, ca_file=params["ca_cert"],
                          allow_http=params["allow_http"], retries=params["retries"],
                          retry_delay=params["retry_delay"], timeout=Connection.from_options(params).timeout,
                          api_url=api_url)


class EngineOnDemand(object):
    """The Docker engine the connection options name, connected on first use."""

    def __init__(self, connection=None, connect=engine_client):
        self.connection = connection
        self.connect = connect
        self._client = None

    def client(self):
        if self._client is None:
            self._client = self.connect(self.connection)
        return self._client

    def info(self):
        client = self.client()
        try:
            return client.info()
        except DockerException as exc:
            raise DeployError("The Docker engine did not report its configuration: %s" % exc)


def ensure(engine, params, check_mode=False, diff=False, hide=None):
    """Push name's tags to their repository, or promote tags there; return the module result.

    engine: an EngineOnDemand; params: the module options (name, repository, tags, promote,
    channel_tags, force, username, password, ca_cert, allow_http, registry_api, retries,
    retry_delay, timeout); hide: told every password used (module.no_log_values.add)."""
    target = target_of(params)
    channel = params["channel_tags"]
    source = to_tags = tags = None
    if params["promote"]:
        spec = params["promote"]
        source = spec["from"] if is_digest(spec["from"]) else check_tag(spec["from"], "promote.from tag")
        to_tags = unique([check_tag(t, "promote.to tag") for t in spec["to"]])
    else:
        tags = tags_of(params)
        engine.client()
    # Promotion needs no engine, unless only the engine can tell where the registry's API is.
    api_url = resolve_api_url(target, engine.info, params["registry_api"], params["allow_http"])
    registry = registry_client(params, target, api_url, hide)
    if params["promote"]:
        result = promote(registry, target, source, to_tags, channel, params["force"], check_mode)
    else:
        client = engine.client()
        image = image_or_none(client, params["name"])
        if image is None:
            raise DeployError("The local image %r does not exist on the Docker engine." % params["name"],
                              hint="Build or load it first, or fix the name. Nothing was pushed.")
        auth_config = (dict(username=registry.username, password=registry.password, serveraddress=target.registry)
                       if registry.username else None)
        pusher = Pusher(client, registry, target, retries=params["retries"], retry_delay=params["retry_delay"])
        result = pusher.push(image, tags, channel, params["force"], check_mode, auth_config)
        result["image_id"] = image.id
    result["changed"] = any(t["action"] in ("pushed", "promoted", "would_push", "would_promote")
                            for t in result["tags"])
    if diff:
        result["diff"] = diff_of(result["tags"])
    return result
