# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Beyond this machine: a model of a base rollout to many hosts, from measured per-host bytes.

Inputs measured by the bench (registry.py, the layer accounting of image_push's core):

  B  compressed bytes a host pulls for a new base: the base kind's layers beyond the
     runtime image (which every host already has);
  P  compressed bytes a host pulls for a new product image on a base it has: the product's
     own layers.

Inputs a team sets for its fleet (the defaults are stated, not measured here):

  p  products per host (each is rebuilt on the new base, so each host pulls its own layers again)
  F  Ansible/AWX forks;  S  hosts per batch (rollout_base.yml's bytelyst_rollout_batch)
  L  a host's download bandwidth;  E  the registry's outbound bandwidth (shared by the hosts
     pulling at once)
  d  seconds a host needs for the deploy itself, pull excluded (compose up, the first health
     check, the release record)

The rollout (rollout_base.yml) deploys one canary host, then the other H - 1 hosts in batches
of S, each batch finishing before the next starts, at most F hosts at once within a batch:

  bytes per host       b = B + p x P
  registry egress      H x b   (every host pulls from the registry; a mirror per site divides it)
  one wave             w(c) = d + b / min(L, E / c), with c hosts pulling at once
  rollout time         T = w(1) + sum over batches n of ceil(n / F) x w(min(n, F))

The model leaves out the build on the build host (one base, one image per product: the same for
any fleet size) and the controller's own limits (a fork costs the controller memory and a
connection; hundreds of forks need a controller sized for them, or AWX's job slicing).
"""

from __future__ import absolute_import, division, print_function

import math

DEFAULTS = dict(products_per_host=3, forks=50, batch=50, host_mbit=1000.0, registry_mbit=10000.0,
                deploy_s=20.0)
HOSTS = (10, 100, 1000)


def rollout(hosts, base_bytes, product_bytes, products_per_host, forks, batch, host_mbit, registry_mbit,
            deploy_s):
    """Bytes and seconds of a base rollout to hosts hosts (see the module's formula)."""
    per_host = base_bytes + products_per_host * product_bytes
    host_bps, registry_bps = host_mbit * 1e6 / 8, registry_mbit * 1e6 / 8

    def wave(concurrent):
        return deploy_s + per_host / min(host_bps, registry_bps / max(1, concurrent))

    seconds, left = wave(1), hosts - 1  # the canary
    while left > 0:
        size = min(batch, left)
        seconds += math.ceil(size / forks) * wave(min(size, forks))
        left -= size
    return dict(hosts=hosts, bytes_per_host=per_host, registry_egress=hosts * per_host, seconds=round(seconds, 1),
                batches=1 + math.ceil((hosts - 1) / batch))


def table(base_bytes, product_bytes, **params):
    """Rows for 10, 100 and 1000 hosts with params (DEFAULTS where not given)."""
    values = dict(DEFAULTS, **params)
    return [rollout(h, base_bytes, product_bytes, **values) for h in HOSTS], values


def inputs_from_registry(data):
    """(B, P, how) from registry.py's JSON: base-mode bases and products pushed to a fresh registry.

    B: the largest base kind's layers beyond the runtime image's (runtime_layers of them);
    P: the mean of the base-mode products' new layers (their own, the base's were pushed first)."""
    base = data["base"]
    skip = data.get("runtime_layers")
    bases = [r for r in base["pushes"] if r.get("role") == "base"]
    products = [r for r in base["pushes"] if r.get("role") == "product"]
    if skip is None or not bases or not products or any("layers" not in r for r in bases):
        return None
    base_bytes = max(sum(r["layers"][skip:]) for r in bases)
    product_bytes = sum(r["new_compressed"] for r in products) / float(len(products))
    how = "B from %s (%d layers beyond the runtime's %d); P = mean of %d product image(s)" % (
        ", ".join(r["ref"].rsplit("/", 1)[-1] for r in bases), len(bases[0]["layers"]) - skip, skip, len(products))
    return int(base_bytes), int(product_bytes), how


def lines(base_bytes, product_bytes, how, **params):
    """The model as text for the runner's output."""
    rows, values = table(base_bytes, product_bytes, **params)
    out = ["Beyond this machine (model, bench/model.py): B = %.1f MB a new base, P = %.1f MB a new product (%s)" % (
        base_bytes / 1e6, product_bytes / 1e6, how),
        "  p=%(products_per_host)d products/host, forks F=%(forks)d, batch S=%(batch)d, host link "
        "L=%(host_mbit).0f Mbit/s, registry egress E=%(registry_mbit).0f Mbit/s, deploy d=%(deploy_s).0f s/host" % values]
    for row in rows:
        out.append("  %5d hosts: %7.1f MB/host, registry egress %9.1f MB, rollout %7.1f s" % (
            row["hosts"], row["bytes_per_host"] / 1e6, row["registry_egress"] / 1e6, row["seconds"]))
    return out, rows, values
