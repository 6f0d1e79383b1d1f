"""One stand-in for the Docker SDK's image store, shared by the unit tests of the cores that
read and tag images (_base_image, _product_image, _tags, _compose).

    client = FakeClient({"node:22-slim": FakeImage("sha256:runtime")})
    client.images.get("node:22-slim")          # by reference or by id; ImageNotFound otherwise
    client.images.get("sha256:runtime").tag("team/app", "1.0.0")   # adds the reference
    client.images.remove("team/app:1.0.0")     # drops it
    client.tags()                              # {reference: image id}, to compare before/after

With registry={ref: manifest digest} and pullable={ref: FakeImage} it also stands for what a
registry holds: images.get_registry_data(ref) and images.pull(ref) (recorded in images.pulled).

Only what the cores call is there: a core that starts calling something else fails loudly
(AttributeError) instead of getting a made-up answer.
"""


class FakeImage(object):
    """A docker.models.images.Image: id, tags and the attrs the cores read."""

    def __init__(self, image_id, labels=None, tags=None, digests=None, layers=("sha256:l1",), size=100):
        self.id = image_id
        self.tags = list(tags or [])
        self.attrs = {"Config": {"Labels": dict(labels or {})}, "RepoDigests": list(digests or []), "Size": size,
                      "RootFS": {"Layers": list(layers)}}
        self.client = None  # the FakeClient holding it, set when it joins one

    def tag(self, repository, tag):
        self.client.images.refs["%s:%s" % (repository, tag)] = self
        return True


class FakeImages(object):
    """client.images over refs: {reference: FakeImage}; registry and pullable: see above."""

    def __init__(self, client, refs, registry=None, pullable=None):
        self.client = client
        self.refs = dict(refs or {})
        self.registry = dict(registry or {})
        self.pullable = dict(pullable or {})
        self.pulled = []

    def get(self, ref):
        from docker.errors import ImageNotFound
        if ref in self.refs:
            return self.refs[ref]
        for image in self.refs.values():
            if image.id == ref:
                return image
        raise ImageNotFound("No such image: %s" % ref)

    def remove(self, ref, noprune=False, force=False):
        del self.refs[ref]

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
        self.refs[ref] = self.pullable[ref]
        self.refs[ref].client = self.client
        return self.refs[ref]


class FakeClient(object):
    """A Docker SDK client whose images are refs: {reference: FakeImage}."""

    def __init__(self, refs=None, registry=None, pullable=None):
        self.images = FakeImages(self, refs, registry, pullable)
        for image in self.images.refs.values():
            image.client = self

    def add(self, ref, image_id, labels=None, **attrs):
        """Put a new image under ref (an image already there under another reference: use its tag())."""
        image = FakeImage(image_id, labels, **attrs)
        image.client = self
        self.images.refs[ref] = image
        return image

    def tags(self):
        """{reference: image id} of every reference."""
        return dict((ref, image.id) for ref, image in self.images.refs.items())
