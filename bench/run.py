# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The benchmark suite in one command: what the strategy saves, side by side with the baseline.

    source <the development stack's env.sh>
    python bench/run.py [--quick] [--only disk,registry,pipeline,prep,fleet[,deploy][,build_hosts]]
                        [--no-stacked] [--no-extras]

Prints one table: every row of issue 25's table (now, goal, measured, whether the goal is
met, and the size measured or why a row was not measured), then notes and the rollout model
of bench/model.py; writes bench/results/summary.json (a key per row) beside the JSON of each
measurement, plus the picture docs/img/disk-vs-products.svg after a disk run. Nothing here is
asserted by the tests: the numbers are printed as they came out. --quick runs every measured
row at a smaller size (for a try on a busy machine); the figures worth quoting come from a
run without it. --only deploy (issue 23, zero-downtime deploys) prints its own table: in-place
against proxy mode while a client polls.
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

MEASUREMENTS = ("disk", "registry", "pipeline", "prep", "fleet", "deploy", "build_hosts")
# Every row of issue 25's table by default (the fleet rollout starts scripts/fleet.sh's three engines
# when they are down). The deploy comparison (issue 23) polls services for minutes and build_hosts
# (one build host vs two, on a fleet engine) is no row of issue 25's table: each runs only when asked
# for (--only deploy, --only build_hosts; build_hosts prints its speed-up as a note).
DEFAULT = ("disk", "registry", "pipeline", "prep", "fleet")


def prep(quick):
    """Tarball prep: bench/tarball_prep.py (module core vs a docker-prep.sh-style baseline), its JSON."""
    argv = [sys.executable, os.path.join(BENCH, "tarball_prep.py")] + (["--packages", "12"] if quick else [])
    common.run(argv, "bench/tarball_prep.py", log=os.path.join(common.scratch("prep"), "tarball_prep.log"))
    with open(os.path.join(common.RESULTS, "tarball_prep.json")) as handle:
        return json.load(handle)


def _parse(argv):
    parser = argparse.ArgumentParser(description="Run the benchmarks side by side and print a table of ratios.")
    parser.add_argument("--quick", action="store_true", help="fewer and smaller products: a try, not figures to quote")
    parser.add_argument("--only", default=",".join(DEFAULT),
                        help="comma-separated subset of %s (default: %s)" % (",".join(MEASUREMENTS), ",".join(DEFAULT)))
    parser.add_argument("--synthetic-products", type=int, default=None, metavar="N",
                        help="disk: products of the synthetic workspace (default 20, --quick 3); its packages stay full size")
    parser.add_argument("--kinds", default=None,
                        help="disk: comma-separated kinds per product, backend and/or web (default both, --quick backend)")
    # Both on by default: rows of issue 25's table read them (--no-stacked, --no-extras leave them out).
    parser.add_argument("--stacked", action=argparse.BooleanOptionalAction, default=True,
                        help="disk: also build base mode on stacked bases (bytelyst_base_stacked) and measure it side by "
                             "side (default: on)")
    parser.add_argument("--extras", action=argparse.BooleanOptionalAction, default=True,
                        help="disk: also build the sample in base mode on bases with the products' frameworks "
                             "(bytelyst_base_extra_packages: fastify in the backend base; none in the web base) "
                             "and measure it side by side (default: on)")
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


def run_one(name, quick, with_registry, data, notes, args=None):
    """Run one measurement and keep its JSON in data[name] (a failure raises; main reports it)."""
    import build_hosts  # pylint: disable=import-outside-toplevel
    import fleet  # pylint: disable=import-outside-toplevel
    import footprint  # pylint: disable=import-outside-toplevel
    import pipeline  # pylint: disable=import-outside-toplevel
    import plot  # pylint: disable=import-outside-toplevel
    import registry  # pylint: disable=import-outside-toplevel
    start = time.monotonic()
    print("== %s" % name, flush=True)
    if name == "disk":
        hooks = {"registry": registry.hook(common.scratch("registry"))} if with_registry else None
        data["disk"] = footprint.run(quick, hooks, getattr(args, "synthetic_products", None), getattr(args, "kinds", None),
                                     getattr(args, "stacked", False), getattr(args, "extras", False))
        stacked = [row for part in ("sample", "synthetic") for row in footprint.stacked_rows(data["disk"][part])]
        if stacked:
            notes.append("Stacked bases (bytelyst_base_stacked) beside unstacked ones, built and measured in this run:\n"
                         + common.table(stacked, footprint.STACKED_HEADER))
        with_extras = footprint.stacked_rows(data["disk"]["sample"], "extras")
        if with_extras:
            held = ["%s x%d (%s extra, in %s)" % (d["package"], d["copies"], common.mb(d["bytes_wasted"]),
                                                  ", ".join(d["held_by"]))
                    for d in data["disk"]["sample"]["extras"]["duplicated"][:5]]
            notes.append("Bases with extra packages (bytelyst_base_extra_packages) beside bases without, built and "
                         "measured in this run:\n" + common.table(with_extras, footprint.EXTRAS_HEADER)
                         + ("\nstill stored more than once with extras: " + "; ".join(held) if held else ""))
        if hooks:
            data["registry"] = data["disk"]["registry"]
            common.save("registry", dict(data["registry"], quick=quick))
        notes.append("picture: %s" % os.path.relpath(plot.write(data["disk"]), common.REPO))
        for part in ("sample", "synthetic"):
            top = ["%s x%d (%s extra, in %s)" % (
                d["package"], d["copies"], common.mb(d["bytes_wasted"]), ", ".join(d["held_by"]))
                for d in data["disk"][part]["duplicated_in_base_mode"][:5]]
            if top:
                notes.append("%s, stored more than once in base mode: %s" % (part, "; ".join(top)))
            outside = data["disk"][part].get("base_mode_bytes_outside_app") or {}
            if outside:
                notes.append("%s, base-mode product layers beyond /app/<kind> (caches, files elsewhere): %s" % (
                    part, "; ".join("%s %s" % (ref.rsplit("/", 1)[-1], common.mb(n)) for ref, n in sorted(outside.items()))))
    elif name == "registry":
        data["registry"] = registry.run(quick)
    elif name == "pipeline":
        data["pipeline"] = pipeline.run(quick)
    elif name == "prep":
        data["prep"] = prep(quick)
    elif name == "fleet":
        data["fleet"] = fleet.run(quick)
    elif name == "deploy":
        import deploy  # pylint: disable=import-outside-toplevel
        data["deploy"] = deploy.run(quick)
    elif name == "build_hosts":
        data["build_hosts"] = result = build_hosts.run(quick)
        notes.append("build hosts: %s: %s s on 1 build host, %s s on 2, speed-up %s (%s cores shared by both engines; "
                     "see docs/benchmarks.md)" % (build_hosts.rows(result)[0][0], result["one_host_s"],
                                                  result["two_hosts_s"], result["speedup"], result["cpus"]))
    seconds = time.monotonic() - start
    data.setdefault("_seconds", {})[name] = round(seconds)
    print("   (%s took %.0f s)" % (name, seconds), flush=True)


def _registry_notes(data, notes):
    """Bytes pushed for the 2nd and later products (not a row of issue 25, kept as a note)."""
    if "registry" in data:
        base, tarball = data["registry"]["base"]["later"], data["registry"]["tarball"]["later"]
        notes.append("registry: pushed for the 2nd and later products (%d images): tarball mode %s, base mode %s"
                     % (base["images"], common.mb(tarball["bytes_pushed"]), common.mb(base["bytes_pushed"])))


def _model(data, notes):
    """The rollout model of bench/model.py from the registry's layer accounting, or why there is none."""
    import model  # pylint: disable=import-outside-toplevel
    found = model.inputs_from_registry(data["registry"]) if "registry" in data else None
    if not found:
        notes.append("Beyond this machine: no model (it needs the registry measurement: --only disk,registry)")
        return None
    text, rows, values = model.lines(*found)
    notes.append("\n".join(text))
    return dict(base_bytes=found[0], product_bytes=found[1], how=found[2], params=values, rows=rows)


def main(argv=None):
    import summary  # pylint: disable=import-outside-toplevel
    args = _parse(argv)
    data, notes, skipped = {}, [], {}
    todo = list(args.only)
    # The registry pushes the images the disk comparison builds: one build serves both.
    together = "disk" in todo and "registry" in todo
    if together:
        todo.remove("registry")
    for name in MEASUREMENTS:
        if name not in args.only:
            skipped[name] = "not run (not selected: --only %s)" % ",".join(args.only)
    for name in todo:
        try:
            run_one(name, args.quick, together and name == "disk", data, notes, args)
        except (common.BenchError, OSError, ValueError, KeyError) as err:
            skipped[name] = "the %s measurement failed: %s" % (name, str(err).splitlines()[0][:200])
            print("!! %s failed: %s" % (name, err), file=sys.stderr, flush=True)
    _registry_notes(data, notes)
    rollout = _model(data, notes)
    rows = summary.build(data, skipped)
    machine = common.machine()
    path = common.save("summary", dict(quick=args.quick, only=args.only, rows=rows, model=rollout,
                                       seconds=data.get("_seconds", {}), failed=sorted(
                                           n for n in skipped if n in args.only)))
    load = machine["load_average"]
    print("\nResults%s (%d cores, load average %s; JSON in bench/results/):\n" % (
        " (--quick: smaller sizes, see the last column)" if args.quick else "", machine["cpus"] or 0,
        ", ".join("%.1f" % x for x in load) if load else "?"))
    print(summary.text(rows))
    if "deploy" in data:
        import deploy  # pylint: disable=import-outside-toplevel
        print("\nZero-downtime deploys (issue 23): a client polling the service during each deploy")
        print(deploy.header(data["deploy"]) + "\n")
        print(common.table(deploy.rows(data["deploy"]), ["measurement", "in place", "proxy", "proxy/in place"]))
    for note in notes:
        print("\n" + note)
    print("\nwrote %s" % os.path.relpath(path, common.REPO))
    failed = [n for n in skipped if n in args.only]
    if failed:
        print("\nfailed: %s" % ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
