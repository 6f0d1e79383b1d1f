# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pipeline time for one product (clock backend), base mode against tarball mode.

Each mode runs the collection's playbooks (base.yml + product.yml: tarball prep,
base images in base mode, product image, health check, push to a registry of the
bench's own) on its own copy of the sample workspace, four times:

- cold: nothing built by the collection for this copy yet (the engine's build cache
  and pnpm's store may be warm: the engine is shared and is never pruned by the bench);
- no-op: the same run again, nothing changed;
- source change: one line of the product's source changed (and its patch version bumped,
  as version tags are immutable);
- shared change: one line of @bytelyst/format changed (a package clock uses); base mode
  builds base version 1.0.1 and the product on it, tarball mode rebuilds the product
  (left out by --quick: no row of issue 25 reads it).
"""

from __future__ import absolute_import, division, print_function

import json
import os

import common

PRODUCT, KIND = "clock", "backend"
SCENARIOS = ("cold", "no-op", "source change", "shared change")


def _bump_patch(path):
    with open(path) as handle:
        data = json.load(handle)
    major, minor, patch = data["version"].split(".")[:3]
    data["version"] = "%s.%s.%d" % (major, minor, int(patch.split("-")[0]) + 1)
    with open(path, "w") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")


def _append(path, line):
    with open(path, "a") as handle:
        handle.write(line)


def one_mode(mode, work, products, scenarios=SCENARIOS):
    """The scenarios (in order) in one mode; {scenario: seconds}."""
    workspace, products_root = common.copy_sample(work)
    service = os.path.join(products_root, PRODUCT, KIND)
    seconds = {}
    with common.throwaway_registry(work) as registry:
        client = common.engine()
        prefix = "%s/pipeline-%s" % (registry, mode)
        extra = common.stack_vars(work, workspace, products_root, prefix, products, mode, [KIND, "dev"])
        extra["bytelyst_verify_images"] = True
        inventory = common.build_inventory(os.path.join(work, "inventory.json"))
        try:
            for scenario in scenarios:
                if scenario == "source change":
                    _append(os.path.join(service, "src", "server.ts"), "\n// bench: source change\n")
                    _bump_patch(os.path.join(service, "package.json"))
                elif scenario == "shared change":
                    _append(os.path.join(workspace, "packages", "format", "src", "index.ts"),
                            "\n// bench: shared change\n")
                    _bump_patch(os.path.join(service, "package.json"))
                    extra["bytelyst_base_version"] = "1.0.1"
                    # The date tag is immutable too: a second base on the same day needs its own.
                    extra["base_image_date_tag"] = "bench-1.0.1"
                print("  pipeline: %s mode, %s ..." % (mode, scenario), flush=True)
                try:
                    seconds[scenario] = round(common.playbook(["base.yml", "product.yml"], inventory, extra, work), 1)
                except common.BenchError as err:  # keep what was measured; later scenarios build on this one
                    print("  pipeline: %s mode, %s failed: %s" % (mode, scenario, err), flush=True)
                    seconds[scenario] = None
                    break
        finally:
            common.cleanup(client, prefix)
            client.close()
    return seconds


def run(quick=False):
    """Both modes; returns the JSON written to bench/results/pipeline.json (quick: no shared change)."""
    products = common.products_spec([PRODUCT], [KIND])
    scenarios = SCENARIOS[:3] if quick else SCENARIOS
    times = {}
    for mode in ("tarball", "base"):
        times[mode] = one_mode(mode, common.scratch("pipeline-%s" % mode), products, scenarios)
    data = dict(product="%s-%s" % (PRODUCT, KIND), seconds=times, quick=quick,
                ratio_base_to_tarball=dict((s, common.ratio(times["base"].get(s), times["tarball"].get(s)))
                                           for s in SCENARIOS))
    data["json"] = common.save("pipeline", data)
    return data


def rows(data):
    return [["pipeline %s, %s (s)" % (data["product"], s), data["seconds"]["tarball"].get(s),
             data["seconds"]["base"].get(s), data["ratio_base_to_tarball"][s]] for s in SCENARIOS]
