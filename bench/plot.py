# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The picture: disk used against the number of products (tarball mode, base mode, limit).

Plain SVG written by hand (no plotting dependency) from bench/results/disk.json:

    python bench/plot.py [--json bench/results/disk.json] [--out docs/img/disk-vs-products.svg]
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import math
import os
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
DEFAULT_JSON = os.path.join(BENCH, "results", "disk.json")
DEFAULT_OUT = os.path.join(REPO, "docs", "img", "disk-vs-products.svg")

SERIES = (("tarball", "tarball mode (docker-prep.sh)", "#d9534f", ""),
          ("base", "base mode (shared base images)", "#2c7fb8", ""),
          ("limit", "physical limit", "#555555", "6,4"))
WIDTH, HEIGHT = 720, 420
LEFT, RIGHT, TOP, BOTTOM = 80, 230, 50, 60


def _escape(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _size(megabytes):
    return ("%.2f GB" % (megabytes / 1000)) if megabytes >= 1000 else ("%.0f MB" % megabytes)


def nice_step(span, ticks=5):
    """A round step (1, 2 or 5 times a power of ten) giving about `ticks` ticks over span."""
    raw = span / float(ticks) if span > 0 else 1.0
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def svg(curve, title, subtitle):
    """The SVG text for curve: [{"products": n, "tarball": bytes, "base": bytes, "limit": bytes}]."""
    xs = [p["products"] for p in curve]
    top_mb = max(max(p[k] for k, dummy, dummy2, dummy3 in SERIES) for p in curve) / 1e6
    step = nice_step(top_mb)
    y_max = step * math.ceil(top_mb / step) if top_mb else 1
    x_min, x_max = min(xs), max(xs)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x):
        return LEFT + (plot_w * (x - x_min) / float(x_max - x_min) if x_max > x_min else plot_w / 2.0)

    def py(megabytes):
        return TOP + plot_h - plot_h * megabytes / float(y_max)

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
           'font-family="sans-serif" font-size="12">' % (WIDTH, HEIGHT, WIDTH, HEIGHT),
           '<rect width="100%" height="100%" fill="#ffffff"/>',
           '<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>' % (LEFT, _escape(title)),
           '<text x="%d" y="39" fill="#555555">%s</text>' % (LEFT, _escape(subtitle))]
    value = 0.0
    while value <= y_max + 1e-9:
        y = py(value)
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e5e5e5"/>' % (LEFT, y, LEFT + plot_w, y))
        label = ("%.1f GB" % (value / 1000)) if y_max >= 2000 else ("%g MB" % value)
        out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (LEFT - 6, y + 4, label))
        value += step
    x_step = max(1, int(math.ceil((x_max - x_min + 1) / 10.0)))
    for x in range(x_min, x_max + 1, x_step):
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#999999"/>' % (px(x), TOP + plot_h, px(x), TOP + plot_h + 4))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (px(x), TOP + plot_h + 18, x))
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333333"/>' % (LEFT, TOP + plot_h, LEFT + plot_w, TOP + plot_h))
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333333"/>' % (LEFT, TOP, LEFT, TOP + plot_h))
    out.append('<text x="%.1f" y="%d" text-anchor="middle">number of products</text>' % (LEFT + plot_w / 2.0, HEIGHT - 15))
    out.append('<text transform="translate(18,%.1f) rotate(-90)" text-anchor="middle">disk used on one host</text>'
               % (TOP + plot_h / 2.0))
    for index, (key, label, colour, dash) in enumerate(SERIES):
        points = " ".join("%.1f,%.1f" % (px(p["products"]), py(p[key] / 1e6)) for p in curve)
        dash_attr = ' stroke-dasharray="%s"' % dash if dash else ""
        out.append('<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>' % (points, colour, dash_attr))
        for p in curve:
            out.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (px(p["products"]), py(p[key] / 1e6), colour))
        last = curve[-1][key] / 1e6
        legend_y = TOP + 10 + 38 * index
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"%s/>'
                   % (WIDTH - RIGHT + 15, legend_y, WIDTH - RIGHT + 40, legend_y, colour, dash_attr))
        out.append('<text x="%d" y="%d">%s</text>' % (WIDTH - RIGHT + 46, legend_y + 4, _escape(label)))
        out.append('<text x="%d" y="%d" fill="#555555">%d products: %s</text>'
                   % (WIDTH - RIGHT + 46, legend_y + 19, x_max, _size(last)))
    out.append("</svg>")
    return "\n".join(line for line in out if line) + "\n"


def pick(data):
    """The curve to draw: the synthetic workspace's (more products) when it has one, else the sample's."""
    for name in ("synthetic", "sample"):
        part = data.get(name) or {}
        if part.get("curve"):
            desc = "%s workspace, %s" % (name, "+".join(part.get("kinds") or []))
            if name == "synthetic":
                desc += ", %d shared packages of %d KiB payload" % (part.get("packages", 0), part.get("payload_kib", 0))
            return part["curve"], desc
    raise ValueError("no curve in the disk results: run `python bench/run.py --only disk` first")


def write(data, out=DEFAULT_OUT):
    curve, desc = pick(data)
    date = (data.get("machine") or {}).get("date", "")
    folder = os.path.dirname(out)
    if not os.path.isdir(folder):
        os.makedirs(folder)
    with open(out, "w") as handle:
        handle.write(svg(curve, "Disk used vs number of products", "%s; measured %s" % (desc, date)))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description="Draw disk used vs number of products as SVG.")
    parser.add_argument("--json", default=DEFAULT_JSON, help="disk results (default: bench/results/disk.json)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="SVG to write (default: docs/img/disk-vs-products.svg)")
    args = parser.parse_args(argv)
    with open(args.json) as handle:
        data = json.load(handle)
    print("wrote %s" % write(data, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
