# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Disk usage of images, from their layer chains. PRIVATE to the collection.

The engine stores a layer once per chain ID (the layer's diff ID chained to
all the layers below it), so two images share bytes exactly when they share
chain IDs. A layer's size is the size the engine reports for it in the image
history; history entries are aligned with the image's layers by align_sizes.
Everything here except measure() is pure and works on inspect dicts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib

from ansible_collections.bytelyst.deploy.plugins.module_utils._connection import Connection
from ansible_collections.bytelyst.deploy.plugins.module_utils._contract import (
    BASE_DIGEST_LABEL, BASE_KIND_LABELS, BASE_REF_LABEL, BASE_VERSION_LABEL, KIND_LABEL, MODE_LABEL,
    OCI_VERSION_LABEL, PRODUCT_LABEL)
from ansible_collections.bytelyst.deploy.plugins.module_utils._engine import (
    DockerException, NotFound, engine_client, image_or_none,
)
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

# The diff ID of a layer that holds nothing (an empty tar archive).
EMPTY_LAYER = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

# Dockerfile instructions that only change the image config, never the filesystem.
_METADATA_INSTRUCTIONS = (
    "ARG", "CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL",
    "MAINTAINER", "ONBUILD", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
)

# Labels every image built on the stand-in runtime inherits, and the test marker:
# neither makes an image one of ours.
_INHERITED_PREFIX = "dev.bytelyst.standin."
_TEST_MARKER = "dev.bytelyst.test"


def chain_ids(diff_ids):
    """The chain ID of every layer: what the engine stores a layer under."""
    chains = []
    for diff_id in diff_ids:
        if not chains:
            chains.append(diff_id)
        else:
            chains.append("sha256:" + hashlib.sha256((chains[-1] + " " + diff_id).encode("ascii")).hexdigest())
    return chains


def _is_metadata(created_by):
    text = (created_by or "").strip()
    if "#(nop)" in text:  # the legacy builder marks steps that run nothing
        step = text.split("#(nop)", 1)[1].strip()
        return not step.startswith(("COPY", "ADD", "WORKDIR"))
    return text.split(" ", 1)[0].upper() in _METADATA_INSTRUCTIONS


def align_sizes(diff_ids, history, image="image"):
    """The size of each layer (same order as diff_ids) from the engine's history.

    history is what GET /images/{id}/history returns (newest first). Entries
    with a size are layers; a layer can also have size 0 (a step that wrote
    nothing), and so can a metadata-only step, so the zero-sized entries that
    are layers are chosen by dynamic programming: steps that touch the
    filesystem before metadata steps, and the empty diff ID only on a zero.
    """
    entries = list(reversed(history or []))
    n, m = len(diff_ids), len(entries)
    inf = float("inf")
    # best[i][j]: lowest cost of explaining the first i entries with the first j layers.
    best = [[inf] * (n + 1) for dummy in range(m + 1)]
    best[0][0] = 0
    for i, entry in enumerate(entries):
        size = entry.get("Size") or 0
        penalty = 1 if _is_metadata(entry.get("CreatedBy")) else 0
        for j in range(n + 1):
            cost = best[i][j]
            if cost == inf:
                continue
            if size == 0 and cost < best[i + 1][j]:
                best[i + 1][j] = cost
            if j < n and not (size and diff_ids[j] == EMPTY_LAYER):
                taken = cost + (penalty if size == 0 else 0)
                if taken < best[i + 1][j + 1]:
                    best[i + 1][j + 1] = taken
    if best[m][n] == inf:
        raise DeployError(
            "The history of %s does not match its layers: %d layers, %d history entries of which %d have a size."
            % (image, n, m, sum(1 for e in entries if e.get("Size"))),
            hint="The image may have been squashed or edited; rebuild it, or leave it out of the selection.",
        )
    sizes = []
    j = n
    for i in range(m, 0, -1):  # walk back through the choices that reached best[m][n]
        size = entries[i - 1].get("Size") or 0
        if size == 0 and best[i - 1][j] == best[i][j]:
            continue
        sizes.append(size)
        j -= 1
    return list(reversed(sizes))


def parse_label_filters(labels):
    """["key", "key=value"] -> [(key, value or None)]; a bad entry raises DeployError."""
    parsed = []
    for item in labels or []:
        key, sep, value = (item or "").partition("=")
        if not key.strip():
            raise DeployError(
                "The label filter %r has no key." % item,
                hint="Write each label filter as KEY or KEY=VALUE, e.g. dev.bytelyst.product=notes.",
            )
        parsed.append((key.strip(), value if sep else None))
    return parsed


def labels_of(image):
    return (image.get("Config") or {}).get("Labels") or {}


def tags_of(image):
    return [t for t in image.get("RepoTags") or [] if t and t != "<none>:<none>"]


def is_ours(image):
    return any(k.startswith("dev.bytelyst.") and not k.startswith(_INHERITED_PREFIX) and k != _TEST_MARKER
               for k in labels_of(image))


def matches(image, labels=None, products=None, repositories=None):
    """Whether an inspect dict passes every given criterion (criteria not given pass)."""
    found = labels_of(image)
    for key, value in labels or []:
        if key not in found or (value is not None and found[key] != value):
            return False
    if products and found.get(PRODUCT_LABEL) not in products:
        return False
    if repositories and not any(t.startswith(p) for t in tags_of(image) for p in repositories):
        return False
    return True


def select(images, labels=None, products=None, repositories=None, include_untagged=False, ours=True):
    """The images (inspect dicts) the criteria pick, in the order given, each once."""
    chosen, seen = [], set()
    for image in images:
        if image["Id"] in seen or (not include_untagged and not tags_of(image)):
            continue
        if ours and not is_ours(image):
            continue
        if matches(image, labels, products, repositories):
            chosen.append(image)
            seen.add(image["Id"])
    return chosen


def base_kind(labels):
    """A base image's kind from its labels: the kind label, else the deprecated flavour label that
    bases built before 0.2.0 carry alone; None when neither is there."""
    return next((labels[name] for name in BASE_KIND_LABELS if labels.get(name)), None)


def describe(image):
    """What an image is for: product, kind, mode, and which base it runs on."""
    found = labels_of(image)
    product = found.get(PRODUCT_LABEL)
    kind = base_kind(found)
    if product:  # a product inherits its base's labels: its own kind is the product's label
        role, base, base_version = "product", found.get(BASE_REF_LABEL), found.get(BASE_VERSION_LABEL)
        kind = found.get(KIND_LABEL)
    elif kind:
        role, base, base_version = "base", found.get("org.opencontainers.image.base.name"), None
    else:
        role, base, base_version = "other", None, None
    tags = tags_of(image)
    return dict(
        ref=tags[0] if tags else image["Id"][len("sha256:"):][:12], tags=tags, id=image["Id"], role=role,
        product=product, kind=kind, mode=found.get(MODE_LABEL),
        flavour=kind if role == "base" else None,  # deprecated: a base's kind under its old name
        version=found.get(OCI_VERSION_LABEL), base=base, base_version=base_version,
        base_digest=found.get(BASE_DIGEST_LABEL),
    )


def account(selected, every_image, layer_sizes):
    """Per-image and total bytes for the selected images (pure).

    selected / every_image: inspect dicts (every_image = all the engine's images,
    as `docker system df` counts them); layer_sizes: chain ID -> bytes for every
    layer of the selected images. "shared" counts layers some other image on the
    engine also uses, "shared_in_selection" layers another selected image uses.
    """
    refs_all, refs_selected = {}, {}
    chains = {}
    for image in every_image:
        chains[image["Id"]] = chain_ids(image["RootFS"]["Layers"])
        for chain in set(chains[image["Id"]]):
            refs_all[chain] = refs_all.get(chain, 0) + 1
    rows, distinct = [], set()
    for image in selected:
        own = chains.get(image["Id"]) or chain_ids(image["RootFS"]["Layers"])
        chains[image["Id"]] = own
        for chain in set(own):
            refs_selected[chain] = refs_selected.get(chain, 0) + 1
    for image in selected:
        own = chains[image["Id"]]
        size = sum(layer_sizes[c] for c in own)
        shared = sum(layer_sizes[c] for c in own if refs_all.get(c, 1) > 1)
        in_selection = sum(layer_sizes[c] for c in own if refs_selected[c] > 1)
        distinct.update(own)
        row = describe(image)
        row.update(size=size, shared=shared, unique=size - shared, shared_in_selection=in_selection,
                   unique_in_selection=size - in_selection, layers=len(own))
        rows.append(row)
    total = sum(r["size"] for r in rows)
    used = sum(layer_sizes[c] for c in distinct)
    totals = dict(images=len(rows), layers=len(distinct), sum_of_sizes=total, disk_used=used,
                  saved_bytes=total - used, saved_percent=round(100.0 * (total - used) / total, 1) if total else 0.0)
    return rows, totals


def _inspect_all(client):
    """Inspect dicts of the engine's images, as `docker system df` lists them (no intermediate images)."""
    found = []
    for summary in client.api.images():
        try:
            found.append(client.api.inspect_image(summary["Id"]))
        except NotFound:  # removed since the listing: it no longer uses disk
            continue
    return found


def measure(client, refs=None, labels=None, products=None, repositories=None, include_untagged=False):
    """Select images on an engine and account for their bytes. Returns (images, totals).

    With refs, exactly those images (each must exist) narrowed by the other
    criteria; without refs, the engine's images that carry our labels.
    """
    label_filters = parse_label_filters(labels)
    pool = []
    for ref in refs or []:  # before the engine's whole listing: a wrong name fails at once
        image = image_or_none(client, ref)
        if image is None:
            raise DeployError(
                "The image %s is not on this engine." % ref,
                hint="Check the name and tag (docker image ls), build or pull it, or remove it from images.",
            )
        pool.append(image.attrs)
    every_image = _inspect_all(client)
    if refs:
        known = set(img["Id"] for img in every_image)
        every_image += [img for img in pool if img["Id"] not in known]
        selected = select(pool, label_filters, products, repositories, include_untagged=True, ours=False)
    else:
        selected = select(every_image, label_filters, products, repositories, include_untagged)
    layer_sizes, measured = {}, []
    for image in selected:
        try:
            history = client.api.history(image["Id"])
        except NotFound:
            if refs:
                raise DeployError("The image %s was removed while it was being measured." % describe(image)["ref"],
                                  hint="Run again once nothing removes images on this engine.")
            continue  # removed while we looked: it is no longer on disk
        diff_ids = image["RootFS"]["Layers"]
        layer_sizes.update(zip(chain_ids(diff_ids), align_sizes(diff_ids, history, image=describe(image)["ref"])))
        measured.append(image)
    return account(measured, every_image, layer_sizes)


def measure_on(connection=None, **criteria):
    """measure() on the engine connection names (see _connection.Connection.of; default: the environment's)."""
    conn = Connection.of(connection)
    client = engine_client(conn)
    try:
        return measure(client, **criteria)
    except DeployError:
        raise
    except DockerException as exc:
        raise DeployError(
            "The Docker engine at %s failed while its images were measured: %s" % (conn.describe(), exc),
            hint="Check that the engine is healthy (docker system df), then run again.",
        )
    finally:
        client.close()
