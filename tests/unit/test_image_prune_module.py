"""image_prune's view of the engine: what it reads from the listing, what it inspects, and
images another process removes while it reads them."""

from docker.errors import NotFound

from ansible_collections.bytelyst.deploy.plugins.modules import image_prune

OURS = {"dev.bytelyst.product": "notes"}


class FakeApi(object):
    def __init__(self, images, gone, containers=()):
        self._images, self._gone, self._containers = images, gone, list(containers)
        self.inspected, self.container_kwargs = [], None

    def images(self):
        return [dict((k, v) for k, v in i.items() if k != "Created") for i in self._images]

    def inspect_image(self, image_id):
        self.inspected.append(image_id)
        if image_id in self._gone:
            raise NotFound("No such image: %s" % image_id)
        return [i for i in self._images if i["Id"] == image_id][0]

    def containers(self, **kwargs):
        self.container_kwargs = kwargs
        return self._containers


class FakeClient(object):
    def __init__(self, images, gone=(), containers=()):
        self.api = FakeApi(images, gone, containers)


def image(id_, tags, labels=None, created="", digests=None):
    return {"Id": id_, "RepoTags": tags, "RepoDigests": digests, "Labels": labels, "Created": created}


def test_images_removed_while_listing_are_skipped():
    images = [image("sha256:a", ["x/notes-backend:1.0.0"], OURS, "2026-01-01T00:00:00.5Z"),
              image("sha256:b", ["x/notes-backend:0.9.0"], OURS),
              image("sha256:c", ["<none>:<none>"], OURS, digests=["<none>@<none>"])]
    client = FakeClient(images, gone={"sha256:b"})
    found, used = image_prune.describe(client)
    assert [i["id"] for i in found] == ["sha256:a", "sha256:c"]
    assert found[0]["tags"] == ["x/notes-backend:1.0.0"] and found[0]["labels"] == OURS
    assert found[0]["created"] == "2026-01-01T00:00:00.5Z"
    assert found[1]["tags"] == [] and found[1]["repo_digests"] == []
    assert used == set()


def test_only_images_in_scope_are_inspected_and_containers_come_from_the_listing():
    images = [image("sha256:a", ["x/notes-backend:1.0.0"], OURS),
              image("sha256:b", ["x/clock-backend:1.0.0"], {"dev.bytelyst.product": "clock"}),
              image("sha256:c", ["postgres:16"], None)]
    containers = [{"Id": "c1", "ImageID": "sha256:a"}, {"Id": "c2", "ImageID": "sha256:c"}]
    client = FakeClient(images, containers=containers)
    found, used = image_prune.describe(client, ["x/notes"])
    assert [i["id"] for i in found] == ["sha256:a"]
    assert client.api.inspected == ["sha256:a"]
    assert used == {"sha256:a", "sha256:c"}
    assert client.api.container_kwargs == {"all": True}
