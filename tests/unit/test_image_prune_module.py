"""image_prune's view of the engine when another process removes images while it reads them."""

from docker.errors import NotFound

from ansible_collections.bytelyst.deploy.plugins.modules import image_prune


class FakeApi(object):
    def __init__(self, images, gone):
        self._images, self._gone = images, gone

    def images(self):
        return [{"Id": i["Id"]} for i in self._images]

    def inspect_image(self, image_id):
        if image_id in self._gone:
            raise NotFound("No such image: %s" % image_id)
        return [i for i in self._images if i["Id"] == image_id][0]


class FakeContainers(object):
    def __init__(self):
        self.kwargs = None

    def list(self, **kwargs):
        self.kwargs = kwargs
        return []


class FakeClient(object):
    def __init__(self, images, gone):
        self.api = FakeApi(images, gone)
        self.containers = FakeContainers()


def test_images_removed_while_listing_are_skipped():
    images = [{"Id": "sha256:a", "RepoTags": ["x/notes-backend:1.0.0"], "Created": "2026-01-01",
               "Config": {"Labels": {"dev.bytelyst.product": "notes"}}},
              {"Id": "sha256:b", "RepoTags": ["x/notes-backend:0.9.0"]},
              {"Id": "sha256:c", "RepoTags": ["<none>:<none>"]}]
    client = FakeClient(images, gone={"sha256:b"})
    found, used = image_prune.describe(client)
    assert [i["id"] for i in found] == ["sha256:a", "sha256:c"]
    assert found[0]["tags"] == ["x/notes-backend:1.0.0"] and found[0]["labels"] == {"dev.bytelyst.product": "notes"}
    assert found[1]["tags"] == [] and found[1]["labels"] == {}
    assert used == set()
    assert client.containers.kwargs == {"all": True, "ignore_removed": True}
