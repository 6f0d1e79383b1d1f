# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registry: bytes pushed for each product after the first, against the bytes only it holds.

The images built for the disk comparison are pushed, one mode at a time, to a fresh
registry of the bench's own with the core of bytelyst.deploy.image_push (Pusher), in
the order a pipeline pushes them: in base mode the base images first, then each
product; in tarball mode each product. For every push we record the compressed bytes the
engine sent and the compressed size of the layers no image pushed before it had (what
an ideal push sends), the uncompressed bytes unique to the image, and the compressed size
of each layer (bench/model.py reads what a host pulls for a new base or product from them).
"""

from __future__ import absolute_import, division, print_function

import common


def _cores():
    common.usage_core()
    from ansible_collections.bytelyst.deploy.plugins.module_utils import _push, _reference, _image_registry
    return _push, _reference, _image_registry


def push_in_order(client, refs, registry):
    """Push refs (in order) to registry/<name>; one row per image."""
    push, reference, reg = _cores()
    usage = common.usage_core()
    api = reg.RegistryClient(registry, allow_http=True)
    seen_blobs, seen_chains, rows = set(), set(), []
    for ref in refs:
        name, tag = ref.rsplit("/", 1)[-1].rsplit(":", 1)
        target = reference.parse("%s/%s" % (registry, name), what="bench target", require_registry=True)
        image = client.images.get(ref)
        result = push.Pusher(client, api, target).push(image, [tag])
        manifest = api.get_manifest(target.repository, tag)
        new_blobs = [(d, s) for d, s in manifest.layers if d not in seen_blobs]
        diff_ids = image.attrs["RootFS"]["Layers"]
        sizes = dict(zip(usage.chain_ids(diff_ids), usage.align_sizes(diff_ids, client.api.history(image.id), ref)))
        rows.append(dict(ref=ref, size=sum(sizes.values()), compressed=sum(s for dummy, s in manifest.layers),
                         layers=[s for dummy, s in manifest.layers],
                         bytes_pushed=result["bytes_pushed"], layers_pushed=result["layers_pushed"],
                         new_compressed=sum(s for dummy, s in new_blobs),
                         unique_uncompressed=sum(s for c, s in sizes.items() if c not in seen_chains)))
        seen_blobs.update(d for d, dummy in manifest.layers)
        seen_chains.update(sizes)
    return rows


def measure(client, refs, bases, work):
    """The hook footprint.compare calls while the images exist: both modes, fresh registries."""
    # The runtime image's layers come first in every image: a host has them before any base.
    out = {"runtime_layers": len(client.images.get(common.need_env("BYTELYST_STANDIN_IMAGE")[0]).attrs["RootFS"]["Layers"])}
    order = sorted(refs["base"])
    for mode in ("base", "tarball"):
        chain = (list(bases) if mode == "base" else []) + [r for name in order for r in refs[mode][name]]
        with common.throwaway_registry(work) as registry:
            rows = push_in_order(client, chain, registry)
        for row in rows:
            row["role"] = "base" if row["ref"] in bases else "product"
        first = len(bases) + len(refs[mode][order[0]]) if mode == "base" else len(refs[mode][order[0]])
        later = rows[first:]
        out[mode] = dict(pushes=rows, later=dict(
            images=len(later), bytes_pushed=sum(r["bytes_pushed"] for r in later),
            new_compressed=sum(r["new_compressed"] for r in later),
            compressed=sum(r["compressed"] for r in later),
            unique_uncompressed=sum(r["unique_uncompressed"] for r in later)))
    return out


def hook(work):
    """measure() bound to a scratch directory, in the shape footprint.compare's hooks take."""
    return lambda client, refs, bases: measure(client, refs, bases, work)


def rows(data):
    """Table rows: bytes pushed for the 2nd and later products, base vs tarball mode."""
    base, tarball = data["base"]["later"], data["tarball"]["later"]
    return [
        ["pushed, 2nd+ products (%d images)" % base["images"], common.mb(tarball["bytes_pushed"]),
         common.mb(base["bytes_pushed"]), common.ratio(base["bytes_pushed"], tarball["bytes_pushed"])],
        ["pushed / their new layers (compressed)", common.ratio(tarball["bytes_pushed"], tarball["new_compressed"]),
         common.ratio(base["bytes_pushed"], base["new_compressed"]), ""],
        ["pushed / their full images (compressed)", common.ratio(tarball["bytes_pushed"], tarball["compressed"]),
         common.ratio(base["bytes_pushed"], base["compressed"]), ""],
    ]


def run(quick=False):
    """Registry alone: builds the sample products (as the disk comparison does) and pushes them."""
    import footprint  # pylint: disable=import-outside-toplevel
    work = common.scratch("registry")
    data = footprint.sample(quick, {"registry": hook(work)})["registry"]
    data["json"] = common.save("registry", dict(data, quick=quick))
    return data
