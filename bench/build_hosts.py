# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build hosts: the products' image builds (playbooks/product.yml) on one build host vs two.

The second build host is scripts/fleet.sh's engine fleet1 (started if it is down), reached with
the local connection; the first is this machine's engine. Both pull from a registry of the
bench's own. The bases are built untimed on the first host, one base version per timed run, so
each timed run rebuilds every product from scratch on a base it has not built on before: first a
warm-up on two hosts (base 1.0.0; fills fleet1's build cache as a build machine in use would
have it), then one build host (base 1.0.1), then two (base 1.0.2: the products are spread
round-robin, and fleet1 pulls the base first, which is counted). Deploys are not part of it.

Both engines share this machine's cores: the speed-up of two build hosts is bounded by the CPU
the builds leave idle, not by the number of hosts (docs/benchmarks.md).
"""

from __future__ import absolute_import, division, print_function

import os
import sys

import common
import fleet

PRODUCTS = ("clock", "notes", "trading")


def inventory(path, work, builders, second_url):
    local = dict(ansible_connection="local", ansible_python_interpreter=sys.executable)
    hosts = dict(localhost=dict(local), fleet1=dict(local, bytelyst_docker_host=second_url))
    data = {"all": {"hosts": hosts, "children": {
        "build_host": {"hosts": dict((name, {}) for name in builders)},
        "products": {"children": dict((p, {"hosts": {}}) for p in PRODUCTS)},
    }}}
    return common.write_yaml_json(path, data)


def run(quick=False):
    """Warm-up, one build host, two build hosts; returns the JSON written to bench/results/build_hosts.json."""
    work = common.scratch("build_hosts")
    second = fleet.fleet_up(1)["fleet1"]
    workspace, products_root = common.copy_sample(work)
    kinds = ["backend"] if quick else ["backend", "web"]
    products = common.products_spec(list(PRODUCTS), kinds)
    seconds = {}
    with common.throwaway_registry(work) as registry:
        prefix = "%s/build-hosts" % registry
        extra = common.stack_vars(work, workspace, products_root, prefix, products, "base", kinds + ["dev"])
        extra["bytelyst_verify_images"] = True
        one = inventory(os.path.join(work, "one.json"), work, ["localhost"], second)
        two = inventory(os.path.join(work, "two.json"), work, ["localhost", "fleet1"], second)
        client = common.engine()
        try:
            plan = [("warm-up (2 build hosts)", "1.0.0", two), ("1 build host", "1.0.1", one),
                    ("2 build hosts", "1.0.2", two)]
            for label, version, inv in plan:
                # Version tags are immutable: each run's product images are tagged <version>-base<base>.
                run_vars = dict(extra, bytelyst_base_version=version, base_image_date_tag="bench-" + version,
                                bytelyst_product_version_suffix="-base" + version)
                print("  build_hosts: base %s (untimed) ..." % version, flush=True)
                common.playbook(["base.yml"], one, run_vars, work)
                print("  build_hosts: products, %s ..." % label, flush=True)
                seconds[label] = round(common.playbook(["product.yml"], inv, run_vars, work), 1)
        finally:
            common.cleanup(client, prefix)
            client.close()
            fleet._take_down({"fleet1": second}, prefix)  # pylint: disable=protected-access
    single, double = seconds.get("1 build host"), seconds.get("2 build hosts")
    data = dict(products=list(PRODUCTS), kinds=kinds, seconds=seconds, one_host_s=single, two_hosts_s=double,
                speedup=common.ratio(single, double), cpus=os.cpu_count(), quick=quick)
    data["json"] = common.save("build_hosts", data)
    return data


def rows(data):
    return [["product builds, %d products (s): 1 build host vs 2" % len(data["products"]), data["one_host_s"],
             data["two_hosts_s"], data["speedup"]]]


if __name__ == "__main__":
    print(run("--quick" in sys.argv))
