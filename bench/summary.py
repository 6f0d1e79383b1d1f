# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rows of issue 25's table (now, goal, measured) from the measurements' JSON.

Each row reads one measurement (disk, pipeline, prep, fleet). A row whose measurement did
not run, failed or cannot give the row's figure says "not measured" and why, never a number.
bench/run.py prints these rows as its one table and writes them to bench/results/summary.json.
"""

from __future__ import absolute_import, division, print_function

import common

ROWS = [
    dict(key="disk_synthetic_base_to_limit", source="disk", now="1.38", goal=1.10,
         row="disk, 20 synthetic products, base mode / physical limit"),
    dict(key="disk_sample_base_to_limit", source="disk", now="1.08", goal=1.03,
         row="disk, sample (3 products), base mode / physical limit"),
    # Stacked bases (bytelyst_base_stacked), measured beside the rows above with run.py --stacked.
    dict(key="disk_synthetic_stacked_to_limit", source="disk", now="-", goal=1.10,
         row="disk, 20 synthetic products, base mode on stacked bases / physical limit"),
    dict(key="disk_sample_stacked_to_limit", source="disk", now="-", goal=1.03,
         row="disk, sample (3 products), base mode on stacked bases / physical limit"),
    # Bases carrying the products' frameworks (bytelyst_base_extra_packages), with run.py --extras.
    dict(key="disk_sample_extras_to_limit", source="disk", now="-", goal=1.03,
         row="disk, sample (3 products), base mode on bases with frameworks / physical limit"),
    dict(key="prep_cold", source="prep", now="1.46-1.65", goal=1.00,
         row="tarball prep cold, workspace_pack / docker-prep.sh-style baseline"),
    dict(key="prep_most_depended_on", source="prep", now="0.79-1.11", goal=0.80,
         row="tarball prep, change to the most depended-on package / baseline"),
    dict(key="pipeline_noop_base_to_tarball", source="pipeline", now="1.41", goal=1.00,
         row="one product's pipeline, base mode / tarball mode, no-op re-run"),
    dict(key="pipeline_noop_to_cold", source="pipeline", now="0.28", goal=0.10,
         row="one product's pipeline, base mode, no-op re-run / cold run"),
    dict(key="pipeline_source_change_to_cold", source="pipeline", now="0.52", goal=0.30,
         row="one product's pipeline, base mode, source-only change / cold run"),
    dict(key="fleet_deploy_parallel_to_serial", source="fleet", now="0.85 (whole rollout)", goal=0.50,
         row="fleet base rollout on 3 hosts, deploy phase, parallel / one host at a time"),
    # Not in the table: the figures its tarball-prep work must not make worse.
    dict(key="prep_noop", source="prep", now="0.014", goal=None,
         row="(guard) tarball prep no-op / baseline: must not get worse"),
    dict(key="prep_median_change", source="prep", now="0.072-0.078", goal=None,
         row="(guard) tarball prep, one change (median package) / baseline: must not get worse"),
]


def _disk(data, part, layout="base"):
    result = data[part]
    if layout not in result["sets"]:
        return None, "not measured: run bench/run.py with --%s" % layout
    base = result["sets"][layout]["totals"]["disk_used"]
    limit = result["limit"]["total"]
    images = sum(len(result["kinds"]) for dummy in result["products"])
    size = "%d products (%d images, %s)" % (len(result["products"]), images, ", ".join(result["kinds"]))
    if part == "synthetic":
        size += ", %d packages x %d KiB" % (result.get("packages", 0), result.get("payload_kib", 0))
    return common.ratio(base, limit), "%s; %s %s, limit %s" % (size, layout, common.mb(base), common.mb(limit))


def _prep(data, key):
    rows = dict((r.get("key"), r) for r in data["rows"])
    row = rows.get(key)
    if row is None:
        return None, "tarball_prep.json has no %s scenario" % key
    return row["ratio"], "%d packages: %.1f s vs %.1f s baseline, rebuilt %d" % (
        data["packages"], row["module_s"], row["baseline_s"], row["module_rebuilt"])


def _pipeline(data, key):
    base, tarball = data["seconds"]["base"], data["seconds"]["tarball"]
    if key == "pipeline_noop_base_to_tarball":
        num, den, what = base.get("no-op"), tarball.get("no-op"), "no-op: base %s s, tarball %s s"
    elif key == "pipeline_noop_to_cold":
        num, den, what = base.get("no-op"), base.get("cold"), "base mode: no-op %s s, cold %s s"
    else:
        num, den, what = base.get("source change"), base.get("cold"), "base mode: source change %s s, cold %s s"
    if num is None or den is None:
        return None, "a scenario of the pipeline run failed (see its output)"
    return common.ratio(num, den), what % (num, den)


def _fleet(data):
    """The deploy phase (the batches after the canary, fleet.py's play times), the rest apart."""
    ratio = data.get("ratio_deploy_parallel_to_serial")
    if ratio is None:
        return None, "a timed rollout failed, or its play times are missing (see the fleet run's output)"
    parallel, serial = data["phases"]["parallel (forks 5, one batch)"], data["phases"][
        "one host at a time (forks 1, serial 1)"]
    return ratio, "deploy %s s vs %s s; build %s s vs %s s, canary %s s vs %s s; whole rollout %s" % (
        parallel["deploy"], serial["deploy"], parallel["build"], serial["build"], parallel["canary"],
        serial["canary"], data.get("ratio_parallel_to_serial"))


def measured(spec, data):
    """(value or None, note) of one row; data: {measurement: its JSON} for those that ran."""
    source = spec["source"]
    if source not in data:
        return None, None
    if source == "fleet":
        return _fleet(data["fleet"])
    if source == "disk":
        return _disk(data["disk"], "synthetic" if spec["key"].startswith("disk_synthetic") else "sample",
                     "stacked" if "_stacked_" in spec["key"] else "extras" if "_extras_" in spec["key"] else "base")
    if source == "prep":
        return _prep(data["prep"], {"prep_cold": "cold", "prep_most_depended_on": "most", "prep_noop": "noop",
                                    "prep_median_change": "median"}[spec["key"]])
    return _pipeline(data["pipeline"], spec["key"])


def build(data, skipped):
    """The summary: {key: {row, now, goal, measured, met, note}}.

    skipped: {measurement: why it has no data} (not selected with --only, or failed)."""
    out = {}
    for spec in ROWS:
        try:
            value, note = measured(spec, data)
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as err:
            value, note = None, "the measurement's JSON lacks what this row reads (%s)" % err
        if value is None and note is None:
            note = skipped.get(spec["source"], "not run")
        met = None if value is None or spec["goal"] is None else value <= spec["goal"]
        out[spec["key"]] = dict(row=spec["row"], now=spec["now"],
                                goal=None if spec["goal"] is None else "<= %.2f" % spec["goal"],
                                measured=value if value is not None else "not measured", met=met, note=note)
    return out


def table_rows(summary):
    """Rows for common.table: row, now, goal, measured, met, note."""
    rows = []
    for spec in ROWS:
        entry = summary[spec["key"]]
        met = {True: "yes", False: "NO", None: ""}[entry["met"]]
        rows.append([entry["row"], entry["now"], entry["goal"] or "no worse", entry["measured"], met,
                     entry["note"] or ""])
    return rows


HEADER = ["row (issue 25)", "now", "goal", "measured", "met", "size / why not measured"]


def text(summary):
    """The one table, as plain text (the last column, free text, left-aligned)."""
    cells = [HEADER] + [[str(c) for c in row] for row in table_rows(summary)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(HEADER) - 1)]
    lines = ["  ".join([r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:-1], widths[1:])] + [r[-1]])
             for r in cells]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)


def markdown(summary):
    """The one table in Markdown, for docs/benchmarks.md."""
    out = ["| %s |" % " | ".join(HEADER), "| --- | ---: | ---: | ---: | :---: | --- |"]
    for row in table_rows(summary):
        out.append("| %s |" % " | ".join(str(c) for c in row))
    return "\n".join(out)
