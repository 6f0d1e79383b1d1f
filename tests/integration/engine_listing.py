"""The engine's image tags from one listing request.

docker's images.list() inspects every image it lists, one request per image. The test lanes
run side by side and remove images all the time, so an image listed and gone before its
inspect fails the caller with a 404. The listing alone holds the ids and tags needed here.
"""

import time

from docker.errors import NotFound


def tags_under(client, prefix):
    """{tag: image id} of every tag that starts with prefix."""
    found = {}
    for summary in client.api.images():
        for tag in summary.get("RepoTags") or []:
            if tag.startswith(prefix):
                found[tag] = summary["Id"]
    return found


def image_exists(client, image_id):
    return any(summary["Id"] == image_id for summary in client.api.images(all=True))


def remove_tags_under(client, prefix):
    """Untag (and so remove, once untagged) every image tag that starts with prefix."""
    for tag in tags_under(client, prefix):
        try:
            client.images.remove(tag, force=True)
        except NotFound:  # removed with another of its tags, or by someone else
            pass


def containers_started(client, since, prefix):
    """[(image, name)] of the containers started since `since` (time.time()) from an image
    reference under prefix (the compatibility check starts its container by reference).

    Not by image id: builds are reproducible, so another lane building the same sample gets the
    same image id and its verification containers would be counted here."""
    until = "%.6f" % time.time()
    events = client.events(since="%.6f" % since, until=until, decode=True,
                           filters={"type": "container", "event": "start"})
    found = []
    for event in events:
        attributes = (event.get("Actor") or {}).get("Attributes") or {}
        image = attributes.get("image") or ""
        if image.startswith(prefix):
            found.append((image, attributes.get("name")))
    return found
