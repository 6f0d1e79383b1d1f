# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark suite in one command: what the strategy saves, side by side with the baseline.

    source <the development stack's env.sh>
    python bench/run.py [--quick] [--only disk,registry,pipeline,prep,fleet,deploy]

Prints one table of ratios (ours / baseline; below 1 is better for ours, except where the
row says otherwise) and writes JSON per measurement under bench/results/, plus the picture
docs/img/disk-vs-products.svg after a disk run. Nothing here is asserted by the tests: the
numbers are printed as they came out. --quick uses fewer and smaller products (for a try
on a busy machine); the figures worth quoting come from a run without it.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)

import common  # noqa: E402  pylint: disable=wrong-import-position

MEASUREMENTS = ("disk", "registry", "pipeline", "prep", "fleet", "deploy")
HEADER = ["measurement", "baseline", "ours", "ours/baseline"]


def prep(quick):
    """Tarball prep: bench/tarball_prep.py (module core vs a docker-prep.sh-style baseline), its JSON."""
    argv = [sys.executable, os.path.join(BENCH, "tarball_prep.py")] + (["--packages", "12"] if quick else [])
    common.run(argv, "bench/tarball_prep.py", log=os.path.join(common.scratch("prep"), "tarball_prep.log"))
    with open(os.path.join(common.RESULTS, "tarball_prep.json")) as handle:
        return json.load(handle)


def prep_rows(data):
    return [["tarball prep, %s, %d packages (s)" % (row["scenario"], data["packages"]), row["baseline_s"],
             row["module_s"], row["ratio"]] for row in data["rows"]]


def disk_rows(data):
    import footprint  # pylint: disable=import-outside-toplevel
    out = []
    for part in ("sample", "synthetic"):
        out += footprint.rows(data[part])
    return out


def _parse(argv):
    parser = argparse.ArgumentParser(description="Run the benchmarks side by side and print a table of ratios.")
    parser.add_argument("--quick", action="store_true", help="fewer and smaller products: a try, not figures to quote")
    parser.add_argument("--only", default=",".join(MEASUREMENTS),
                        help="comma-separated subset of %s (default: all)" % ",".join(MEASUREMENTS))
    parser.add_argument("--synthetic-products", type=int, default=None, metavar="N",
                        help="disk: products of the synthetic workspace (default 20, --quick 3); its packages stay full size")
    parser.add_argument("--kinds", default=None,
                        help="disk: comma-separated kinds per product, backend and/or web (default both, --quick backend)")
    args = parser.parse_args(argv)
    args.kinds = [k.strip() for k in args.kinds.split(",") if k.strip()] if args.kinds else None
    if args.kinds and set(args.kinds) - {"backend", "web"}:
        parser.error("--kinds takes backend and/or web, not %s" % ",".join(args.kinds))
    if args.synthetic_products is not None and args.synthetic_products < 2:
        parser.error("--synthetic-products needs at least 2 products to compare sharing")
    args.only = [m.strip() for m in args.only.split(",") if m.strip()]
    unknown = [m for m in args.only if m not in MEASUREMENTS]
    if unknown:
        parser.error("unknown measurement(s) %s; choose from %s" % (", ".join(unknown), ", ".join(MEASUREMENTS)))
    return args


def run_one(name, quick, with_registry, rows, notes, args=None):
    """Run one measurement, add its rows; a failure is reported and the others still run."""
    import fleet  # pylint: disable=import-outside-toplevel
    import footprint  # pylint: disable=import-outside-toplevel
    import pipeline  # pylint: disable=import-outside-toplevel
    import plot  # pylint: disable=import-outside-toplevel
    import registry  # pylint: disable=import-outside-toplevel
    start = time.monotonic()
    print("== %s" % name, flush=True)
    if name == "disk":
        hooks = {"registry": registry.hook(common.scratch("registry"))} if with_registry else None
        data = footprint.run(quick, hooks, getattr(args, "synthetic_products", None), getattr(args, "kinds", None))
        rows += disk_rows(data)
        if hooks:
            rows += registry.rows(data["registry"])
            common.save("registry", dict(data["registry"], quick=quick))
        notes.append("picture: %s" % os.path.relpath(plot.write(data), common.REPO))
        for part in ("sample", "synthetic"):
            top = ["%s x%d (%s extra, in %s)" % (
                d["package"], d["copies"], common.mb(d["bytes_wasted"]), ", ".join(d["held_by"]))
                for d in data[part]["duplicated_in_base_mode"][:5]]
            if top:
                notes.append("%s, stored more than once in base mode: %s" % (part, "; ".join(top)))
            outside = data[part].get("base_mode_bytes_outside_app") or {}
            if outside:
                notes.append("%s, base-mode product layers beyond /app/<kind> (caches, files elsewhere): %s" % (
                    part, "; ".join("%s %s" % (ref.rsplit("/", 1)[-1], common.mb(n)) for ref, n in sorted(outside.items()))))
    elif name == "registry":
        rows += registry.rows(registry.run(quick))
    elif name == "pipeline":
        rows += pipeline.rows(pipeline.run(quick))
    elif name == "prep":
        rows += prep_rows(prep(quick))
    elif name == "fleet":
        rows += fleet.rows(fleet.run(quick))
    elif name == "deploy":
        import deploy  # pylint: disable=import-outside-toplevel
        rows += deploy.rows(deploy.run(quick))
    print("   (%s took %.0f s)" % (name, time.monotonic() - start), flush=True)


def main(argv=None):
    args = _parse(argv)
    rows, notes, failed = [], [], []
    todo = list(args.only)
    # The registry pushes the images the disk comparison builds: one build serves both.
    together = "disk" in todo and "registry" in todo
    if together:
        todo.remove("registry")
    for name in todo:
        try:
            run_one(name, args.quick, together and name == "disk", rows, notes, args)
        except (common.BenchError, OSError, ValueError, KeyError) as err:
            failed.append(name)
            print("!! %s failed: %s" % (name, err), file=sys.stderr, flush=True)
    load = common.machine()["load_average"]
    print("\nResults%s (load average %s; JSON in bench/results/):\n" % (
        " (--quick)" if args.quick else "", ", ".join("%.1f" % x for x in load) if load else "?"))
    if rows:
        print(common.table(rows, HEADER))
    for note in notes:
        print("\n" + note)
    if failed:
        print("\nfailed: %s" % ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
