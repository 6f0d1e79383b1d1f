# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Disk: the same products built in tarball mode and in base mode, against the physical limit.

Each mode is built by the collection's own playbooks (base.yml + product.yml with
bytelyst_product_mode=tarball|base) under a bench-only registry prefix, then measured
with bench/disk.py (the _usage core of bytelyst.deploy.image_usage). The deploy hosts'
view is counted: product images, plus in base mode the backend and web bases (the dev
base only lives on build hosts). The physical limit is the runtime image once, every
distinct npm package version once and each product's own built code, read from the
/app trees of the tarball-mode images (which hold everything a product runs).

With stacked=True a third set is built and measured side by side: base mode with stacked
bases (bytelyst_base_stacked: the common base, backend and web on it; docs/base-images.md).
With extras=True (the sample only) another: base mode on bases carrying the frameworks the
products use (bytelyst_base_extra_packages: EXTRAS, at the products' lockfile versions; Fastify in
the backend base, nothing in the web base, see EXTRAS).
"""

from __future__ import absolute_import, division, print_function

import io
import json
import os
import shutil
import tarfile

import common
import disk

RUNTIME_KINDS = ("backend", "web")
# The frameworks of the guide's base Dockerfiles, per kind (docs/base-images.md, Extra packages).
# The frameworks of the guide's base Dockerfiles worth a place in a base: Fastify for backends. The
# sample's web products are Next.js standalone builds, whose output copies the node_modules files it
# traces (next, react, react-dom ...) into each image: in the web base they would be stored twice
# (a full run measured 2.0x the limit with them; docs/benchmarks.md), so the web base gets none.
EXTRAS = {"backend": ["fastify"], "web": []}


def export_tree(client, ref, path, dest):
    """Copy path out of image ref into dest (a container is created, never started, then removed)."""
    container = client.containers.create(ref, command=["true"], labels={"dev.bytelyst.test": "1"})
    try:
        stream, dummy = container.get_archive(path)
        data = io.BytesIO(b"".join(stream))
    finally:
        container.remove(force=True)
    with tarfile.open(fileobj=data) as archive:
        members = [m for m in archive.getmembers() if m.isfile() or m.isdir() or m.issym()]
        archive.extractall(dest, members=members)  # nosec: our own freshly built image
    return os.path.join(dest, os.path.basename(path.rstrip("/")))


def _kind_of(ref):
    """backend or web, from the repository name (host:port/path/notes-web:1.4.0 -> web)."""
    repository = ref.rsplit(":", 1)[0] if ":" in ref.rsplit("/", 1)[-1] else ref
    return "web" if repository.endswith("-web") else "backend"


def product_trees(client, refs, work):
    """{ref: (packages {name@version: bytes}, own code bytes, all bytes)} from each image's /app/<kind>."""
    found = {}
    for index, ref in enumerate(refs):
        dest = os.path.join(work, "tree-%d" % index)
        os.makedirs(dest)
        top = export_tree(client, ref, "/app/%s" % _kind_of(ref), dest)
        found[ref] = (disk.package_versions(top), disk.tree_bytes(top, skip=("node_modules", "vendor")),
                      disk.tree_bytes(top, skip=()))
        shutil.rmtree(dest)
    return found


def base_packages(client, refs, work):
    """{name@version: bytes} installed in the base images' /app."""
    found = {}
    for index, ref in enumerate(refs):
        dest = os.path.join(work, "base-%d" % index)
        os.makedirs(dest)
        for key, size in disk.package_versions(export_tree(client, ref, "/app", dest)).items():
            found.setdefault(key, size)
        shutil.rmtree(dest)
    return found


def limit_for(runtime, trees, refs):
    """The physical limit of the products whose images are refs (trees from the tarball images)."""
    packages, code = {}, {}
    for ref in refs:
        pkgs, own, dummy = trees[ref]
        for key, size in pkgs.items():
            packages.setdefault(key, size)
        code[ref] = own
    return disk.physical_limit(runtime, packages, code)


def duplicates(base_pkgs, product_pkgs):
    """Package versions stored more than once in base mode: [(name@version, copies, bytes wasted)]."""
    copies = {}
    for key, size in base_pkgs.items():
        copies[key] = [size]
    for pkgs in product_pkgs.values():
        for key, size in pkgs.items():
            copies.setdefault(key, []).append(size)
    rows = [(key, len(sizes), sum(sizes[1:])) for key, sizes in copies.items() if len(sizes) > 1]
    return sorted(rows, key=lambda r: -r[2])


def _where(key, base_pkgs, product_pkgs):
    holders = [ref.rsplit("/", 1)[-1] for ref, pkgs in sorted(product_pkgs.items()) if key in pkgs]
    return (["base"] if key in base_pkgs else []) + holders


def used_extras(products_root, products, kinds):
    """EXTRAS per kind, only the names some built product of that kind depends on (a base carrying
    Next.js for web products that do not use it would only add its size)."""
    found = {}
    for kind in kinds:
        for name in EXTRAS.get(kind, []):
            for product, spec in sorted(products.items()):
                path = os.path.join(products_root, spec.get("dir") or product, kind, "package.json")
                if kind in (spec.get("services") or {}) and os.path.isfile(path):
                    with open(path) as handle:
                        if name in (json.load(handle).get("dependencies") or {}):
                            found.setdefault(kind, []).append(name)
                            break
    return found


def build(work, workspace, products_root, products, mode, kinds, prefix):
    """Run base.yml + product.yml for one mode (tarball, base, stacked: base mode on stacked
    bases, or extras: base mode on bases with EXTRAS); return the seconds it took."""
    inventory = common.build_inventory(os.path.join(work, "inventory-%s.json" % mode))
    extra = common.stack_vars(work, workspace, products_root, prefix, products,
                              "base" if mode in ("stacked", "extras") else mode, kinds)
    extra["bytelyst_base_stacked"] = mode == "stacked"
    if mode == "extras":
        extra["bytelyst_base_extra_packages"] = used_extras(products_root, products, kinds)
        extra["bytelyst_base_extra_packages_from"] = [products_root]
    return common.playbook(["base.yml", "product.yml"], inventory, extra, work)


def compare(label, work, workspace, products_root, products, kinds, hooks=None, stacked=False, extras=False):
    """Build both modes, measure both sets and the limit, per number of products too.

    hooks: {name: fn(client, refs, bases)} called while the images exist (refs: {mode:
    {product: [refs]}}, bases: the runtime base refs); their results land under name.
    """
    with common.throwaway_registry(work) as registry:
        return _compare(label, work, workspace, products_root, products, kinds, hooks or {}, registry, stacked, extras)


def stacked_bases(client, prefix, kinds):
    """The stacked layout's runtime bases: backend/web and the common base they are built on."""
    dummy, bases = common.image_refs(prefix, {}, [k for k in kinds if k in RUNTIME_KINDS] + ["common"])
    return [ref for ref in bases if client.images.list(name=ref)]


def layout_bases(client, mode, prefix, products, kinds):
    """The runtime bases of a side-by-side layout (stacked or extras)."""
    if mode == "stacked":
        return stacked_bases(client, prefix, kinds)
    return common.image_refs(prefix, products, [k for k in kinds if k in RUNTIME_KINDS])[1]


def _compare(label, work, workspace, products_root, products, kinds, hooks, registry, stacked=False, extras=False):
    client = common.engine()
    run_id = common.unique()
    layouts = (["stacked"] if stacked else []) + (["extras"] if extras else [])
    modes = tuple(["tarball", "base"] + layouts)
    prefixes = dict((mode, "%s/bench-%s-%s" % (registry, run_id, mode)) for mode in modes)
    base_kinds = sorted(set(kinds) | {"dev"})
    usage = common.usage_core()
    try:
        seconds = {}
        for mode in modes:
            print("  %s: building %d product(s) in %s mode ..." % (label, len(products), mode), flush=True)
            seconds[mode] = build(work, workspace, products_root, products, mode, base_kinds, prefixes[mode])
        order = sorted(products)
        refs = {}
        for mode in modes:
            repos, dummy = common.image_refs(prefixes[mode], products)
            refs[mode] = dict((name, common.resolve(client, repos[name])) for name in order)
        dummy, bases = common.image_refs(prefixes["base"], products, [k for k in kinds if k in RUNTIME_KINDS])
        tarball_refs = [r for name in order for r in refs["tarball"][name]]
        base_refs = bases + [r for name in order for r in refs["base"][name]]
        measured = {"tarball": tarball_refs, "base": base_refs}
        for layout in layouts:
            measured[layout] = layout_bases(client, layout, prefixes[layout], products, kinds) + [
                r for name in order for r in refs[layout][name]]
        sets = disk.measure_sets(usage, client, measured)
        runtime_image = common.need_env("BYTELYST_STANDIN_IMAGE")[0]
        runtime = usage.measure(client, refs=[runtime_image])[1]["disk_used"]
        trees = product_trees(client, tarball_refs, work)
        limit = limit_for(runtime, trees, tarball_refs)
        base_pkgs = base_packages(client, bases, work)
        base_trees = product_trees(client, [r for r in base_refs if r not in bases], work)
        own = dict((ref, tree[0]) for ref, tree in base_trees.items())
        # What a base-mode product adds beyond /app/<kind> (caches, files written elsewhere).
        unique = dict((row["id"], row["unique_in_selection"]) for row in sets["base"]["images"])
        outside = dict((ref, unique[client.images.get(ref).id] - tree[2]) for ref, tree in base_trees.items())
        dups = [dict(package=key, copies=n, bytes_wasted=wasted, held_by=_where(key, base_pkgs, own))
                for key, n, wasted in duplicates(base_pkgs, own)]
        curve = []
        for count in range(1, len(order) + 1):
            chosen = order[:count]
            t_refs = [r for name in chosen for r in refs["tarball"][name]]
            b_refs = bases + [r for name in chosen for r in refs["base"][name]]
            chosen_sets = {"tarball": t_refs, "base": b_refs}
            for layout in layouts:
                chosen_sets[layout] = layout_bases(client, layout, prefixes[layout], products, kinds) + [
                    r for name in chosen for r in refs[layout][name]]
            point = disk.measure_sets(usage, client, chosen_sets)
            curve.append(dict(products=count, limit=limit_for(runtime, trees, t_refs)["total"],
                              **dict((m, point[m]["totals"]["disk_used"]) for m in chosen_sets)))
        result = dict(label=label, products=order, kinds=list(kinds), build_seconds=seconds, sets=sets,
                      limit=limit, duplicated_in_base_mode=dups, curve=curve,
                      base_mode_app_tree_bytes=dict((ref, tree[2]) for ref, tree in base_trees.items()),
                      base_mode_bytes_outside_app=outside)
        if extras:  # what the products on bases with extras still hold of their own
            extra_bases = layout_bases(client, "extras", prefixes["extras"], products, kinds)
            extra_pkgs = base_packages(client, extra_bases, work)
            extra_own = dict((ref, tree[0]) for ref, tree in product_trees(
                client, [r for name in order for r in refs["extras"][name]], work).items())
            result["extras"] = dict(packages=used_extras(products_root, products, kinds), duplicated=[
                dict(package=key, copies=n, bytes_wasted=wasted, held_by=_where(key, extra_pkgs, extra_own))
                for key, n, wasted in duplicates(extra_pkgs, extra_own)])
        for name, hook in hooks.items():
            result[name] = hook(client, refs, bases)
        return result
    finally:
        for prefix in prefixes.values():
            common.cleanup(client, prefix)
        client.close()


def sample(quick, hooks=None, kinds=None, stacked=False, extras=False):
    """The hand-written sample products (notes, clock, trading); --quick: two backends."""
    work = common.scratch("disk-sample")
    workspace, products_root = common.copy_sample(work)
    names, default_kinds = (["clock", "trading"], ["backend"]) if quick else (["notes", "clock", "trading"], ["backend", "web"])
    kinds = kinds or default_kinds
    return compare("sample", work, workspace, products_root, common.products_spec(names, kinds), kinds, hooks, stacked,
                   extras)


def synthetic(quick, count=None, kinds=None, stacked=False):
    """The synthetic workspace: 20 products, 63 packages of 2 MiB payload each (~130 MB shared); --quick: 3, 12, 256 KiB.

    count and kinds override the number of products and their kinds (the packages stay as above).
    """
    work = common.scratch("disk-synthetic")
    default_count, packages, payload = (3, 12, 256) if quick else (20, 63, 2048)
    count = count or default_count
    kinds = kinds or (["backend"] if quick else ["backend", "web"])
    workspace, products_root = common.generate_workspace(os.path.join(work, "ws"), count, packages, payload)
    names = ["product-%02d" % i for i in range(1, count + 1)]
    result = compare("synthetic", work, workspace, products_root,
                     common.products_spec(names, kinds, generated=True), kinds, stacked=stacked)
    result.update(packages=packages, payload_kib=payload)
    return result


def rows(result):
    """Table rows: what each mode uses, and against the limit (tarball, base; see stacked_rows)."""
    tarball, base = result["sets"]["tarball"]["totals"], result["sets"]["base"]["totals"]
    limit = result["limit"]["total"]
    label = "%s (%d products)" % (result["label"], len(result["products"]))
    return [
        ["disk used, " + label, common.mb(tarball["disk_used"]), common.mb(base["disk_used"]),
         common.ratio(base["disk_used"], tarball["disk_used"])],
        ["sum of image sizes, " + label, common.mb(tarball["sum_of_sizes"]), common.mb(base["sum_of_sizes"]),
         common.ratio(base["sum_of_sizes"], tarball["sum_of_sizes"])],
        ["disk used / physical limit (%s)" % common.mb(limit), common.ratio(tarball["disk_used"], limit),
         common.ratio(base["disk_used"], limit), ""],
    ]


def run(quick=False, hooks=None, synthetic_products=None, kinds=None, stacked=False, extras=False):
    """Both workspaces; returns the JSON written to bench/results/disk.json (hooks: run on the sample;
    stacked: also base mode on stacked bases, side by side; extras: also base mode on bases with
    EXTRAS, the sample only: the synthetic products use no framework)."""
    data = dict(sample=sample(quick, hooks, kinds, stacked, extras),
                synthetic=synthetic(quick, synthetic_products, kinds, stacked),
                quick=quick, stacked=stacked, extras=extras)
    for name in hooks or {}:
        data[name] = data["sample"].pop(name)
    data["json"] = common.save("disk", data)
    return data


def stacked_rows(result, layout="stacked"):
    """Rows of the stacked (or extras) layout beside the plain one: disk used, and each against the limit."""
    if layout not in result["sets"]:
        return []
    base, stacked = result["sets"]["base"]["totals"], result["sets"][layout]["totals"]
    limit = result["limit"]["total"]
    label = "%s (%d products, %s)" % (result["label"], len(result["products"]), "+".join(result["kinds"]))
    return [[label, common.mb(limit), common.mb(base["disk_used"]), common.ratio(base["disk_used"], limit),
             common.mb(stacked["disk_used"]), common.ratio(stacked["disk_used"], limit)]]


STACKED_HEADER = ["disk, base mode", "physical limit", "unstacked", "/ limit", "stacked", "/ limit"]
EXTRAS_HEADER = ["disk, base mode", "physical limit", "bases without extras", "/ limit", "with extras", "/ limit"]
