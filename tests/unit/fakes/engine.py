"""The Docker engine as the cores see it through the Docker SDK: one FakeClient with its image
store (client.images), the low-level API (client.api), containers and info().

    client = FakeClient({"node:22-slim": FakeImage("sha256:runtime")})
    client.images.get("node:22-slim")          # by reference or by id; ImageNotFound otherwise
    client.images.get("sha256:runtime").tag("team/app", "1.0.0")   # adds the reference
    client.images.remove("team/app:1.0.0")     # drops it (an id: the image and all its references)
    client.tags()                              # {reference: image id}, to compare before/after
    client.api.images()                        # the listing (summary form: Labels, no Created)
    client.api.inspect_image(id_or_ref)        # image.attrs (inspect form: Config.Labels, Created)
    client.api.history(id_or_ref)              # image.history, newest first as the engine answers

Also: images=[FakeImage] held under the tags they carry (and dangling ones, tagged <none>); registry={ref: manifest digest}
and pullable={ref: FakeImage} for what a registry holds (images.get_registry_data, images.pull, and
api.pull, which notes (name, tag, auth_config) in api.pulls; pull_error: the error event every
api.pull ends with, as an engine that cannot reach the registry reports it);
containers (client.containers.get(name), api.containers(all=True)); info=... for client.info();
push_scripts (the events of each api.push) with on_push(name, tag) -> the digest the registry
took; gone_on_inspect / gone_on_history: images another process removes at that call;
busy: image ids the engine refuses to remove; fail(name, error): that call raises.
client.connect stands for engine_client(docker_host): it counts the connections it opens.

Only what the cores call is there: a core that starts calling something else fails loudly
(AttributeError) instead of getting a made-up answer.
"""


class FakeImage(object):
    """A docker.models.images.Image: id, attrs in the inspect form, tags (its references)."""

    def __init__(self, image_id, labels=None, tags=None, digests=None, layers=("sha256:l1",), size=100,
                 created=None, history=None):
        self.id = image_id
        self.attrs = {"Id": image_id, "RepoTags": list(tags or []), "RepoDigests": list(digests or []),
                      "Created": created, "Size": size, "Config": {"Labels": dict(labels or {})},
                      "RootFS": {"Type": "layers", "Layers": list(layers)}}
        self.history = list(history or [])  # what `docker history` answers, newest first
        self.client = None  # the FakeClient holding it, set when it joins one
        self.tagged = []  # references given with tag(), in order

    @classmethod
    def from_attrs(cls, attrs, history=None):
        """An image whose inspect answer is attrs as given (Id, RepoTags, Config, RootFS ...)."""
        image = cls(attrs["Id"], history=history)
        image.attrs = attrs
        return image

    @property
    def tags(self):
        return [t for t in self.attrs.get("RepoTags") or [] if t != "<none>:<none>"]

    def tag(self, repository, tag=None):
        ref = repository if tag is None else "%s:%s" % (repository, tag)
        self.tagged.append(ref)
        if ref not in self.attrs["RepoTags"]:
            self.attrs["RepoTags"].append(ref)
        if self.client is not None:
            self.client.images.put(ref, self)
        return True

    def reload(self):
        """attrs are live already."""


class FakeImages(object):
    """client.images over refs: {reference: FakeImage}; registry and pullable: see above."""

    def __init__(self, client, refs, registry=None, pullable=None, images=(), busy=()):
        self.client = client
        self.refs = {}
        self.held = []  # every image once, in the order it came
        self.registry = dict(registry or {})
        self.pullable = dict(pullable or {})
        self.pulled = []
        self.busy = set(busy)
        self.removed = []
        for ref, image in (refs or {}).items():
            self.put(ref, image)
        for image in images:
            self.hold(image)
            for ref in image.tags:
                self.refs[ref] = image

    def hold(self, image):
        image.client = self.client
        if all(image is not h for h in self.held):
            self.held.append(image)

    def put(self, ref, image):
        """ref now names image (taken from any image it named before)."""
        before = self.refs.get(ref)
        if before is not None and before is not image and ref in before.attrs["RepoTags"]:
            before.attrs["RepoTags"].remove(ref)
        self.hold(image)
        if ref not in image.attrs["RepoTags"]:
            image.attrs["RepoTags"].append(ref)
        self.refs[ref] = image

    def all(self):
        return list(self.held)

    def find(self, ref):
        if ref in self.refs:
            return self.refs[ref]
        for image in self.all():
            if image.id == ref:
                return image
        return None

    def get(self, ref):
        from docker.errors import ImageNotFound
        image = self.find(ref)
        if image is None:
            raise ImageNotFound("No such image: %s" % ref)
        return image

    def remove(self, image, noprune=False, force=False):
        if image in self.busy:
            raise RuntimeError("conflict: image %s has dependent child images" % image)
        self.removed.append(image)
        self.drop(image)

    def drop(self, image):
        """A reference: that name goes, and the image with its last name; an id: the image."""
        if image in self.refs:
            held = self.refs.pop(image)
            if image in held.attrs["RepoTags"]:
                held.attrs["RepoTags"].remove(image)
            if all(i is not held for i in self.refs.values()):
                self.held = [i for i in self.held if i is not held]
            return
        for ref in [r for r, i in self.refs.items() if i.id == image]:
            del self.refs[ref]
        self.held = [i for i in self.held if i.id != image]

    def get_registry_data(self, ref):
        from docker.errors import NotFound
        if ref not in self.registry:
            raise NotFound("manifest unknown")
        return type("RegistryData", (), {"id": self.registry[ref]})()

    def pull(self, ref):
        from docker.errors import NotFound
        self.pulled.append(ref)
        if ref not in self.pullable:
            raise NotFound("manifest for %s not found: manifest unknown" % ref)
        self.put(ref, self.pullable[ref])
        return self.refs[ref]


class FakeApi(object):
    """client.api: the low-level calls over the same images and containers."""

    def __init__(self, client, push_scripts=(), on_push=None, pull_error=None):
        self.client = client
        self.pull_error = pull_error
        self.pulls = []
        self.inspected = []
        self.container_kwargs = None
        self.push_scripts = list(push_scripts)  # one list of events per push attempt
        self.on_push = on_push
        self.pushes = []
        self.removed = []

    def _failing(self, name):
        error = self.client.failures.get(name)
        if error is not None:
            raise error

    def images(self, name=None):
        """The summary form: labels at the top, no inspect-only fields (Created is an epoch
        number there and left out, so a core that needs the date must inspect). name: only the
        images tagged in that repository, as the engine's reference filter gives them."""
        self._failing("images")
        listing = [{"Id": i.id, "RepoTags": i.attrs.get("RepoTags") or ["<none>:<none>"],
                    "RepoDigests": i.attrs.get("RepoDigests"), "Labels": (i.attrs.get("Config") or {}).get("Labels"),
                    "Size": i.attrs.get("Size")} for i in self.client.images.all()]
        if name is not None:
            listing = [s for s in listing if any(t.rsplit(":", 1)[0] == name for t in s["RepoTags"])]
        return listing

    def _image(self, ident, gone):
        from docker.errors import NotFound
        image = self.client.images.find(ident)
        if image is None or ident in gone or image.id in gone:
            raise NotFound("No such image: %s" % ident)
        return image

    def inspect_image(self, ident):
        self.inspected.append(ident)
        return self._image(ident, self.client.gone_on_inspect).attrs

    def history(self, ident):
        return self._image(ident, self.client.gone_on_history).history

    def containers(self, **kwargs):
        self.container_kwargs = kwargs
        return [{"Id": c.id, "ImageID": c.image_id, "Names": ["/" + c.name]} for c in self.client.containers.held]

    def push(self, name, tag, stream, decode, auth_config):
        self.pushes.append((name, tag, auth_config))
        events = self.push_scripts.pop(0)
        for e in events:
            if "aux" in e:
                e["aux"]["Digest"] = self.on_push(name, tag)
        return ClosableEvents(events)

    def pull(self, name, tag=None, auth_config=None, stream=False, decode=False):
        """The events of a pull of name@digest or name:tag; the image pulled joins the engine under that
        reference (with it among its RepoDigests when it is a digest)."""
        from docker.errors import NotFound
        self.pulls.append((name, tag, auth_config))
        if self.pull_error:
            return iter([{"status": "Pulling from %s" % name}, {"error": self.pull_error}])
        ref = "%s%s%s" % (name, "@" if tag and tag.startswith("sha256:") else ":", tag or "latest")
        image = self.client.images.pullable.get(ref)
        if image is None:
            raise NotFound("manifest for %s not found: manifest unknown" % ref)
        if "@" in ref:  # found by its digest from now on; not a tag
            if ref not in image.attrs["RepoDigests"]:
                image.attrs["RepoDigests"].append(ref)
            self.client.images.hold(image)
            self.client.images.refs[ref] = image
        else:
            self.client.images.put(ref, image)
        return iter([{"status": "Downloaded newer image for %s" % ref}])

    def remove_image(self, ref, noprune):
        self.removed.append(ref)
        self.client.images.drop(ref)


class ClosableEvents(object):
    """The event stream of a push, which the core closes."""

    def __init__(self, events):
        self.events = iter(events)
        self.closed = False

    def __iter__(self):
        return self.events

    def close(self):
        self.closed = True


class FakeContainer(object):
    """A docker.models.containers.Container: name, image, state, labels, networks."""

    def __init__(self, name="bytelyst-proxy", image_id=None, started="t1", running=True, labels=None,
                 networks=None):
        self.id = self.name = name
        self.image_id = image_id
        self.attrs = {"State": {"Running": running, "StartedAt": started, "Status": "running" if running else "exited"},
                      "Config": {"Labels": dict(labels or {})},
                      "NetworkSettings": {"Networks": dict(
                          (net, {"IPAddress": ip}) for net, ip in (networks or {"bytelyst-proxy": "10.0.0.2"}).items())}}


class FakeContainers(object):
    """client.containers over held: [FakeContainer]."""

    def __init__(self, held):
        self.held = list(held)

    def get(self, name):
        from docker.errors import NotFound
        for container in self.held:
            if name in (container.name, container.id):
                return container
        raise NotFound("No such container: %s" % name)

    def replace(self, container):
        """The container of that name is now this one (restarted, stopped ...)."""
        self.held = [c for c in self.held if c.name != container.name] + [container]


class FakeClient(object):
    """A Docker SDK client whose images are refs: {reference: FakeImage} and images: [FakeImage]."""

    def __init__(self, refs=None, registry=None, pullable=None, images=(), containers=(), info=None,
                 busy=(), gone_on_inspect=(), gone_on_history=(), push_scripts=(), on_push=None, pull_error=None):
        self.failures = {}
        self.gone_on_inspect, self.gone_on_history = set(gone_on_inspect), set(gone_on_history)
        self.images = FakeImages(self, refs, registry, pullable, images, busy)
        self.api = FakeApi(self, push_scripts, on_push, pull_error)
        self.containers = FakeContainers(containers)
        self._info = info
        self.info_calls = 0
        self.opened = 0
        self.closed = False

    def add(self, ref, image_id, labels=None, **attrs):
        """Put a new image under ref (an image already there under another reference: use its tag())."""
        image = FakeImage(image_id, labels, **attrs)
        self.images.put(ref, image)
        return image

    def tags(self):
        """{reference: image id} of every reference."""
        return dict((ref, image.id) for ref, image in self.images.refs.items())

    def fail(self, name, error):
        """Make the call `name` (info, images) raise error from now on."""
        self.failures[name] = error

    def info(self):
        self.info_calls += 1
        self._failing("info")
        return self._info

    def _failing(self, name):
        if name in self.failures:
            raise self.failures[name]

    def connect(self, docker_host=None):
        """Stands for engine_client(docker_host)."""
        self.opened += 1
        return self

    def close(self):
        self.closed = True


class FakeTLSConfig(object):
    """docker.tls.TLSConfig: keeps what it was given."""

    def __init__(self, client_cert=None, ca_cert=None, verify=None):
        self.client_cert, self.ca_cert, self.verify = client_cert, ca_cert, verify
