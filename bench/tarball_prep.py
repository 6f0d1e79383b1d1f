"""Benchmark: workspace_pack's core against a docker-prep.sh-style baseline (run by hand, never by tests).

On a synthetic workspace (examples/generate_workspace.py, 63 packages, plain JS by default),
side by side in one run:

  baseline  what docker-prep.sh does every time: `pnpm -r --filter './packages/*' build`,
            then `pnpm pack` in every package directory, one after the other, into a fresh directory
  module    pack_workspace() from plugins/module_utils/_workspace_pack.py, in process (no Ansible start-up)

Scenarios: cold (nothing built), no-op (nothing changed), one package changed (the package with
the median number of dependents, so it and its typical dependents are rebuilt) and, for the
record, the package most others depend on. Prints a table with ratios to the baseline and writes
bench/results/tarball_prep.json.

    source <the stack's env.sh>   # Node 22 and pnpm on PATH
    python3 bench/tarball_prep.py [--packages 63] [--typescript] [--jobs N] [--keep] [--against REF]

--against REF also times the core of another commit (for instance the one before a change to
it) on a third copy of the workspace, in the same rounds: "must not get worse" is then a side
by side figure rather than a comparison with an older run on a differently loaded machine.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results", "tarball_prep.json")


def import_core():
    """pack_workspace and the workspace helpers, importable as ansible_collections.bytelyst.deploy."""
    root = tempfile.mkdtemp(prefix="bench-collections-")
    os.makedirs(os.path.join(root, "ansible_collections", "bytelyst"))
    os.symlink(REPO, os.path.join(root, "ansible_collections", "bytelyst", "deploy"))
    sys.path.insert(0, root)
    from ansible_collections.bytelyst.deploy.plugins.module_utils._workspace_pack import pack_workspace
    from ansible_collections.bytelyst.deploy.plugins.module_utils import _workspace
    shutil.rmtree(root)  # the modules are imported; the link is no longer needed
    return pack_workspace, _workspace


# Run in a child interpreter: the other commit's core under the same package name as ours.
AGAINST_CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from ansible_collections.bytelyst.deploy.plugins.module_utils._workspace_pack import pack_workspace
start = time.monotonic()
result = pack_workspace(sys.argv[2], sys.argv[3], "@bytelyst/*", pnpm=sys.argv[4], jobs=int(sys.argv[5]) or None)
print(json.dumps({"seconds": time.monotonic() - start, "rebuilt": len(result["rebuilt"])}))
"""


def export_core(ref, dest):
    """The collection's plugins/ at git ref, importable from dest as ansible_collections.bytelyst.deploy."""
    target = os.path.join(dest, "ansible_collections", "bytelyst", "deploy")
    os.makedirs(target)
    archive = subprocess.run(["git", "-C", REPO, "archive", ref, "plugins"], check=True, stdout=subprocess.PIPE).stdout
    subprocess.run(["tar", "-x", "-C", target], input=archive, check=True)
    return dest


def against_run(root, workspace, output, pnpm, jobs):
    """(seconds, packages rebuilt) of the other commit's core, timed inside its interpreter."""
    proc = subprocess.run([sys.executable, "-c", AGAINST_CHILD, root, workspace, output, pnpm, str(jobs or 0)],
                          check=True, stdout=subprocess.PIPE, universal_newlines=True)
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    return found["seconds"], found["rebuilt"]


def sh(argv, cwd=None):
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def baseline(workspace, output, pnpm):
    """docker-prep.sh: build everything, then pack every package, every time."""
    if os.path.exists(output):
        shutil.rmtree(output)
    os.makedirs(output)
    sh([pnpm, "-r", "--filter", "./packages/*", "run", "build"], cwd=workspace)
    packages = os.path.join(workspace, "packages")
    for name in sorted(os.listdir(packages)):
        sh([pnpm, "pack", "--pack-destination", output], cwd=os.path.join(packages, name))
    return len(os.listdir(output))


def timed(func, *args, **kwargs):
    start = time.monotonic()
    value = func(*args, **kwargs)
    return time.monotonic() - start, value


def generate(path, packages, typescript, pnpm):
    argv = [sys.executable, os.path.join(REPO, "examples", "generate_workspace.py"), path,
            "--packages", str(packages), "--products", "0"] + ([] if typescript else ["--plain-js"])
    sh(argv)
    workspace = os.path.join(path, "common_plat")
    return workspace


def pick_changes(workspace_mod, ws):
    """(median package, most depended-on package) by number of dependents, ties by name."""
    space = ws.discover(workspace_mod)
    names = sorted(space.packages)
    edges = ws.graph(space, names)
    counts = dict((n, len(ws.dependents(edges, [n])) - 1) for n in names)
    median = sorted(counts.values())[len(counts) // 2]
    typical = min(n for n in names if counts[n] == median)
    most = max(names, key=lambda n: (counts[n], n))
    return (typical, counts[typical]), (most, counts[most])


def touch_source(workspace, name, space, round_no):
    pkg = space.packages[name]
    src = sorted(os.listdir(os.path.join(pkg.dir, "src")))[0]
    with open(os.path.join(pkg.dir, "src", src), "a") as handle:
        handle.write("\n// benchmark edit %d\n" % round_no)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--packages", type=int, default=63)
    parser.add_argument("--typescript", action="store_true", help="TypeScript packages (tsc builds; much slower)")
    parser.add_argument("--jobs", type=int, default=None, help="module parallelism (default: CPU cores)")
    parser.add_argument("--pnpm", default="pnpm")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--against", metavar="REF", help="also time the core of this git commit (side by side)")
    args = parser.parse_args()

    pack_workspace, ws = import_core()
    work = tempfile.mkdtemp(prefix="bench-tarball-prep-")
    try:
        base_ws = generate(os.path.join(work, "baseline"), args.packages, args.typescript, args.pnpm)
        mod_ws = generate(os.path.join(work, "module"), args.packages, args.typescript, args.pnpm)
        sh([args.pnpm, "install"], cwd=base_ws)
        shutil.copy(os.path.join(base_ws, "pnpm-lock.yaml"), mod_ws)
        sh([args.pnpm, "install", "--frozen-lockfile"], cwd=mod_ws)
        other_ws = other_root = None
        if args.against:
            other_root = export_core(args.against, os.path.join(work, "against-core"))
            other_ws = generate(os.path.join(work, "against"), args.packages, args.typescript, args.pnpm)
            shutil.copy(os.path.join(base_ws, "pnpm-lock.yaml"), other_ws)
            sh([args.pnpm, "install", "--frozen-lockfile"], cwd=other_ws)
        (typical, typical_deps), (most, most_deps) = pick_changes(mod_ws, ws)
        spaces = dict((w, ws.discover(w)) for w in (base_ws, mod_ws, other_ws) if w)
        base_out, mod_out = os.path.join(work, "baseline-out"), os.path.join(work, "module-out")

        def module_run():
            return pack_workspace(mod_ws, mod_out, "@bytelyst/*", pnpm=args.pnpm, jobs=args.jobs)

        rows = []
        scenarios = [("cold", "cold", None), ("noop", "no-op", None),
                     ("median", "one changed (median: %s, %d dependents)" % (typical, typical_deps), typical),
                     ("most", "one changed (most depended-on: %s, %d dependents)" % (most, most_deps), most)]
        for round_no, (key, label, change) in enumerate(scenarios):
            if change:
                for workspace in spaces:
                    touch_source(workspace, change, spaces[workspace], round_no)
            base_s, packed = timed(baseline, base_ws, base_out, args.pnpm)
            mod_s, result = timed(module_run)
            rows.append({"key": key, "scenario": label, "baseline_s": round(base_s, 2), "module_s": round(mod_s, 2),
                         "ratio": round(mod_s / base_s, 4), "baseline_packed": packed,
                         "module_rebuilt": len(result["rebuilt"]), "module_changed": result["changed"]})
            extra = ""
            if other_ws:
                other_s, other_rebuilt = against_run(other_root, other_ws, os.path.join(work, "against-out"),
                                                     args.pnpm, args.jobs)
                rows[-1].update(against_s=round(other_s, 2), against_ratio=round(other_s / base_s, 4),
                                against_rebuilt=other_rebuilt)
                extra = "   %s %7.2f s (%5.1f %%)" % (args.against, other_s, 100 * other_s / base_s)
            print("%-58s baseline %7.2f s   module %7.2f s   ratio %6.1f %%   rebuilt %d%s" % (
                label, base_s, mod_s, 100 * mod_s / base_s, len(result["rebuilt"]), extra), flush=True)

        print()
        print("| scenario | baseline (s) | module core (s) | module / baseline | packages rebuilt |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for row in rows:
            print("| %s | %.2f | %.2f | %.1f %% | %d of %d |" % (
                row["scenario"], row["baseline_s"], row["module_s"], 100 * row["ratio"], row["module_rebuilt"],
                args.packages))
        report = {
            "benchmark": "tarball_prep", "packages": args.packages, "typescript": args.typescript,
            "against": args.against,
            "jobs": args.jobs or os.cpu_count(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "pnpm": subprocess.run([args.pnpm, "--version"], capture_output=True, text=True, check=True).stdout.strip(),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "load_average": os.getloadavg(),
            "median_ratio_of_changed": statistics.median(r["ratio"] for r in rows[2:]),
            "rows": rows,
        }
        os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
        with open(RESULTS, "w") as handle:
            json.dump(report, handle, indent=2)
            handle.write("\n")
        print("\nwrote %s" % os.path.relpath(RESULTS, REPO))
    finally:
        if args.keep:
            print("work directory kept: %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
