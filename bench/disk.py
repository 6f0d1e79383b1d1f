# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Disk used by two sets of images side by side, and against the physical limit.

    python bench/disk.py --a notes-backend:1.9.0,clock-backend:1.9.0 \
                         --b base-backend:1.0.0,notes-backend:2.0.0,clock-backend:2.0.0 \
                         --a-name tarball --b-name base \
                         --runtime node:22-slim --packages DIR[,DIR] --code notes=DIR,clock=DIR \
                         --json bench/results/disk.json

Both sets are measured from their layer chains (the collection's _usage core,
the same as bytelyst.deploy.image_usage). The physical limit is what the products
need at the very least: the runtime image once, every distinct npm package
version once (found in the node_modules trees given), and each product's own
built code (the trees given, without their node_modules). The numbers are
printed as they come out; nothing here asserts anything.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import stat
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _import_usage():
    """The collection's _usage core, from this checkout."""
    for root in (os.environ.get("ANSIBLE_COLLECTIONS_PATH") or "").split(os.pathsep):
        link = os.path.join(root, "ansible_collections", "bytelyst", "deploy")
        if root and os.path.realpath(link) == REPO:
            break
    else:
        root = tempfile.mkdtemp(prefix="bytelyst-bench-")
        os.makedirs(os.path.join(root, "ansible_collections", "bytelyst"))
        os.symlink(REPO, os.path.join(root, "ansible_collections", "bytelyst", "deploy"))
    if root not in sys.path:
        sys.path.insert(0, root)
    from ansible_collections.bytelyst.deploy.plugins.module_utils import _usage
    return _usage


def _file_bytes(path, seen):
    """Bytes of one entry as the engine counts a layer: non-directories, each inode once."""
    info = os.lstat(path)
    if stat.S_ISDIR(info.st_mode) or not info.st_size or (info.st_dev, info.st_ino) in seen:
        return 0
    seen.add((info.st_dev, info.st_ino))
    return info.st_size


def tree_bytes(top, skip=("node_modules",)):
    """Bytes under top, leaving out directories named in skip."""
    total, seen = 0, set()
    for folder, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d not in skip]
        for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            total += _file_bytes(os.path.join(folder, name), seen)
    return total


def package_versions(top):
    """{"name@version": bytes} for every package installed under top, each version once.

    A package is a directory right below a node_modules (or node_modules/@scope)
    with a package.json naming it; its bytes leave out its own nested
    node_modules, which hold other packages counted on their own. Symbolic links
    (pnpm's top level, workspace links) are not followed: point it at installed
    trees (a hoisted install, or pnpm's .pnpm directory), as an image holds them.
    """
    found = {}
    for folder, dirs, dummy in os.walk(top):
        parent = os.path.basename(folder)
        scope = os.path.basename(os.path.dirname(folder))
        if parent == "node_modules" or (parent.startswith("@") and scope == "node_modules"):
            for name in dirs:
                manifest = os.path.join(folder, name, "package.json")
                if name.startswith(".") or os.path.islink(os.path.join(folder, name)) or not os.path.isfile(manifest):
                    continue
                try:
                    with open(manifest) as handle:
                        data = json.load(handle)
                except (OSError, ValueError):
                    continue
                key = "%s@%s" % (data.get("name"), data.get("version"))
                if data.get("name") and key not in found:
                    found[key] = tree_bytes(os.path.join(folder, name))
    return found


def physical_limit(runtime_bytes, packages, code):
    """The least the products can use: runtime once + each package version once + own code."""
    return dict(runtime=runtime_bytes, packages=sum(packages.values()), package_versions=len(packages),
                code=sum(code.values()), total=runtime_bytes + sum(packages.values()) + sum(code.values()))


def measure_sets(usage, client, sets):
    """{name: refs} -> {name: {"images": [...], "totals": {...}}} measured on one engine."""
    out = {}
    for name, refs in sets.items():
        images, totals = usage.measure(client, refs=refs)
        out[name] = dict(images=images, totals=totals)
    return out


def _mb(value):
    """Bytes in decimal units, as docker prints them."""
    if value is None:
        return "-"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(value) >= scale:
            return "%.1f %s" % (value / scale, unit)
    return "%d B" % value


def _ratio(num, den):
    return "%.2f" % (float(num) / den) if num is not None and den else "-"


def table(results, limit=None):
    """The side-by-side text table: one column per set, then the ratio of the last to the first."""
    names = list(results)
    first, last = results[names[0]]["totals"], results[names[-1]]["totals"]
    rows = [("", names + (["%s/%s" % (names[-1], names[0])] if len(names) > 1 else []))]

    def line(label, key, fmt):
        cells = [fmt(results[n]["totals"][key]) for n in names]
        if len(names) > 1:
            cells.append(_ratio(last[key], first[key]))
        rows.append((label, cells))

    line("images", "images", str)
    line("distinct layers", "layers", str)
    line("sum of image sizes", "sum_of_sizes", _mb)
    line("disk used", "disk_used", _mb)
    line("saved by sharing", "saved_bytes", _mb)
    rows.append(("saved %", ["%.1f %%" % results[n]["totals"]["saved_percent"] for n in names]
                 + ([""] if len(names) > 1 else [])))
    if limit:
        rows.append(("physical limit", [_mb(limit["total"])] * len(names) + ([""] if len(names) > 1 else [])))
        rows.append(("disk used / limit", [_ratio(results[n]["totals"]["disk_used"], limit["total"]) for n in names]
                     + ([""] if len(names) > 1 else [])))
        rows.append(("above the limit", [_mb(results[n]["totals"]["disk_used"] - limit["total"]) for n in names]
                     + ([""] if len(names) > 1 else [])))
    width = max(len(label) for label, dummy in rows) + 2
    cols = max(12, max(len(c) for dummy, cells in rows for c in cells) + 2)
    return "\n".join(label.ljust(width) + "".join(c.rjust(cols) for c in cells) for label, cells in rows)


def _list(text):
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def main(argv=None):
    parser = argparse.ArgumentParser(description="Disk used by two sets of images, side by side.")
    parser.add_argument("--a", required=True, help="comma-separated image refs of the first set (e.g. tarball mode)")
    parser.add_argument("--b", help="comma-separated image refs of the second set (e.g. base mode)")
    parser.add_argument("--a-name", default="a", help="column title of the first set")
    parser.add_argument("--b-name", default="b", help="column title of the second set")
    parser.add_argument("--docker-host", help="engine URL (default: the environment's)")
    parser.add_argument("--runtime", help="physical limit: the runtime image ref, counted once")
    parser.add_argument("--packages", help="physical limit: comma-separated directories holding node_modules trees")
    parser.add_argument("--code", help="physical limit: comma-separated NAME=DIR of each product's built code")
    parser.add_argument("--verbose", action="store_true", help="also print every image's size and unique bytes")
    parser.add_argument("--json", help="also write the figures as JSON to this file")
    args = parser.parse_args(argv)

    usage = _import_usage()
    from ansible_collections.bytelyst.deploy.plugins.module_utils._engine import engine_client
    from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

    sets = {args.a_name: _list(args.a)}
    if args.b:
        sets[args.b_name] = _list(args.b)
    try:
        client = engine_client(args.docker_host)
        results = measure_sets(usage, client, sets)
        limit = None
        if args.runtime or args.packages or args.code:
            runtime = usage.measure(client, refs=[args.runtime])[1]["disk_used"] if args.runtime else 0
            packages = {}
            for top in _list(args.packages):
                for key, size in package_versions(top).items():
                    packages.setdefault(key, size)
            code = dict((item.partition("=")[0], tree_bytes(item.partition("=")[2])) for item in _list(args.code))
            limit = physical_limit(runtime, packages, code)
            limit["code_by_product"] = code
    except DeployError as err:
        print("disk.py: %s" % err, file=sys.stderr)
        return 1
    print(table(results, limit))
    if limit:
        print("\nlimit = runtime %s + %d package versions %s + own code %s" % (
            _mb(limit["runtime"]), limit["package_versions"], _mb(limit["packages"]), _mb(limit["code"])))
    if args.verbose:
        for name, result in results.items():
            print("\n%s:" % name)
            for row in result["images"]:
                print("  %-60s size %12s  unique in set %12s  shared in set %12s" % (
                    row["ref"], _mb(row["size"]), _mb(row["unique_in_selection"]), _mb(row["shared_in_selection"])))
    if args.json:
        folder = os.path.dirname(os.path.abspath(args.json))
        if not os.path.isdir(folder):
            os.makedirs(folder)
        with open(args.json, "w") as handle:
            json.dump(dict(sets=results, limit=limit), handle, indent=2, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
