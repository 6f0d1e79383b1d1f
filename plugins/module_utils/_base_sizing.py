# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bases sized to the products: each kind's base takes the union of the shared-package closures
of the products deployed from it, instead of every package of its kind. PRIVATE to the collection.

Two pure steps, so the files are read on the build host (by the play) and not here:
`package_files` names the package.json of every service kind of the selected products;
`size` turns the manifest and those package.json files into the packages per kind and what
each kind's default base would have carried that no product uses. A product's shared
dependencies are _compat.shared_requirements'; their closure is _product.tarball_closure's; the
default choice is _base_image.select_packages'. The dev base is never sized.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.bytelyst.deploy.plugins.module_utils._base_image import select_packages
from ansible_collections.bytelyst.deploy.plugins.module_utils._compat import shared_requirements
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._product import KINDS, check_dir_name, tarball_closure
from ansible_collections.bytelyst.deploy.plugins.module_utils._scope import Shared


def package_files(products, selected, root):
    """[{product, kind, path}] for every kind the selected products' services have (sorted):
    path is <root>/<dir or product>/<kind_dirs[kind] or kind>/package.json."""
    out = []
    for name in sorted(set(selected or ())):
        if name not in (products or {}):
            raise DeployError("The selected product %s is not one of bytelyst_products (%s)." % (
                name, ", ".join(sorted(products or {})) or "none"),
                hint="Fix bytelyst_selected_products or add the product to bytelyst_products.")
        spec = products[name] or {}
        kinds = sorted(set((svc or {}).get("kind") for svc in (spec.get("services") or {}).values()))
        for kind in kinds:
            if kind not in KINDS:
                raise DeployError("A service of the product %s has kind %r; sizing knows %s." % (
                    name, kind, ", ".join(KINDS)), hint="Set each service's kind to backend or web.")
            folder = check_dir_name((spec.get("kind_dirs") or {}).get(kind) or kind, "kind_dirs")
            product_dir = check_dir_name(spec.get("dir") or name, "dir")
            out.append({"product": name, "kind": kind,
                        "path": os.path.join(root, product_dir, folder, "package.json")})
    return out


def size(manifest, packages, kinds=("backend", "web")):
    """The packages per kind for the bases, sized to the products.

    packages: [{product, kind, path, package (the parsed package.json)}]. Returns
    {"packages": {kind: [names]}, "left_out": {kind: [names]}, "unsized": [kinds]}: a kind of
    `kinds` (backend or web) whose products use no shared package keeps its default packages
    (a base needs one) and is listed in unsized; dev is never sized.
    """
    shared = Shared.of_manifest(manifest)
    known = manifest["packages"]
    wanted = dict((k, set()) for k in kinds if k in KINDS)
    for entry in packages:
        kind = entry["kind"]
        if kind not in wanted:
            continue
        names = [name for name, spec, rng in shared_requirements(entry["package"], shared) if name in known]
        # a dependency the manifest lacks stays out: the product's compatibility check names it
        wanted[kind].update(tarball_closure(manifest, names))
    result = {"packages": {}, "left_out": {}, "unsized": []}
    for kind in sorted(wanted):
        if not wanted[kind]:
            result["unsized"].append(kind)
            continue
        sized = select_packages(manifest, kind, sorted(wanted[kind]))
        result["packages"][kind] = sized
        result["left_out"][kind] = [n for n in _default(manifest, kind) if n not in wanted[kind]]
    return result


def _default(manifest, kind):
    try:
        return select_packages(manifest, kind)
    except DeployError:  # no package names the kind: its default base would carry none
        return []
