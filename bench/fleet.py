# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet: a base rollout (playbooks/rollout_base.yml) with parallel forks vs one host at a time.

The simulated fleet is scripts/fleet.sh's extra engines (fleet1..fleet3, started if they
are not up), laid out like the Molecule fleet scenario (molecule/fleet/molecule.yml):
the build host is this machine, three backend products spread over the three engines,
two hosts each, a registry of the bench's own between them. All hosts are reached with
the local connection here (the Molecule scenario also covers SSH). Our Compose projects
are named bench-<product> and publish on ports 24016 and up (below the ephemeral port
range) so nothing else on the engines is touched; they are taken down and the bench's
images removed at the end.

First a warm-up rollout of base 1.0.0 (first deploy everywhere, not timed), then the
timed ones: base 1.0.1 with forks 5 and every host after the canary in one batch, and
base 1.0.2 with forks 1 and serial 1. Both timed rollouts do the same builds (base, canary,
three products), so the whole rollout's ratio understates what forks save on the deploys.
The phases are timed apart from the same run by the bench's callback (callback_plugins/
play_times.py: when each play and batch started and ended): build (the base and the canary's
images, then the other products' images), canary deploy, deploy (the batches: issue 25's row)
and the rest (moving latest, the fleet's status).
"""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys

import common

PRODUCTS = {"notes": ("fleet1", "fleet2"), "clock": ("fleet2", "fleet3"), "trading": ("fleet3", "fleet1")}
CALLBACKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "callback_plugins")
# The plays of playbooks/rollout_base.yml by phase (by their names; a play not named here is "rest").
PHASES = {"Build the new base version": "build", "Rebuild the other products on the new base": "build",
          "Canary (one product on one host)": "canary", "Roll out in batches": "deploy"}


def phases(path):
    """{build, canary, deploy, rest: seconds} from the play times the callback wrote to path."""
    with open(path) as handle:
        plays = json.load(handle)
    out = dict(build=0.0, canary=0.0, deploy=0.0, rest=0.0)
    for play in plays:
        out[PHASES.get(play["play"], "rest")] += play["end"] - play["start"]
    return dict((k, round(v, 1)) for k, v in out.items())


def fleet_up(count=3):
    """{fleetN: docker host URL} of scripts/fleet.sh's engines (started when down)."""
    proc = subprocess.run(["bash", os.path.join(common.REPO, "scripts", "fleet.sh"), "up", str(count)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, check=False)
    if proc.returncode:
        raise common.BenchError("scripts/fleet.sh up %d failed: %s" % (count, proc.stdout[-2000:]))
    hosts = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].startswith("fleet") and parts[1].startswith("unix://"):
            hosts[parts[0]] = parts[1]
    return hosts


def inventory(path, work, hosts, extra):
    """The fleet inventory (JSON, in the shape of molecule/fleet/molecule.yml)."""
    local = dict(ansible_connection="local", ansible_python_interpreter=sys.executable)
    host_vars = dict(localhost=dict(local))
    for index, (name, url) in enumerate(sorted(hosts.items()), 1):
        host_vars[name] = dict(local, bytelyst_docker_host=url, bytelyst_port_offset=20000 + 1000 * index,
                               bytelyst_deploy_root=os.path.join(work, "hosts", name))
    groups = dict((product, {"hosts": dict((h, {}) for h in on)}) for product, on in PRODUCTS.items())
    data = {"all": {"vars": extra, "hosts": host_vars, "children": {
        "build_host": {"hosts": {"localhost": {}}},
        "products": {"children": groups},
    }}}
    return common.write_yaml_json(path, data)


def _take_down(hosts, registry):
    """Remove the bench's Compose projects, networks and images from every fleet engine."""
    import docker  # pylint: disable=import-outside-toplevel
    for name, url in sorted(hosts.items()):
        try:
            client = docker.DockerClient(base_url=url)
        except docker.errors.DockerException as err:  # the engine went away: nothing of ours is left on it
            print("  fleet: %s does not answer (%s); nothing to take down there" % (name, err), flush=True)
            continue
        try:
            for container in client.containers.list(all=True):
                if (container.labels.get("com.docker.compose.project") or "").startswith("bench-"):
                    container.remove(force=True)
            for network in client.networks.list():
                if network.name.startswith("bench-"):
                    network.remove()
            common.cleanup(client, registry)
        finally:
            client.close()


def run(quick=False):
    """Warm-up, then the parallel and the serial rollout; returns the JSON written to bench/results/fleet.json."""
    work = common.scratch("fleet")
    hosts = fleet_up(3)
    workspace, products_root = common.copy_sample(work)
    products = common.products_spec(sorted(PRODUCTS), ["backend"])
    seconds, phase_seconds = {}, {}
    with common.throwaway_registry(work) as registry:
        prefix = "%s/fleet" % registry
        extra = common.stack_vars(work, workspace, products_root, prefix, products, "base", ["backend", "dev"])
        extra.update(bytelyst_deploy_pattern="products", bytelyst_canary_product="notes")
        del extra["bytelyst_deploy_root"]  # per host (inventory); extra vars would override it
        inv = inventory(os.path.join(work, "inventory.json"), work, hosts, extra)
        client = common.engine()
        try:
            plan = [("warm-up", "1.0.0", 5, 2), ("parallel (forks 5, one batch)", "1.0.1", 5, 3),
                    ("one host at a time (forks 1, serial 1)", "1.0.2", 1, 1)]
            if quick:
                plan = plan[1:]  # the first timed run is then the first deploy: a rougher ratio
            for label, version, forks, batch in plan:
                print("  fleet: %s, base %s ..." % (label, version), flush=True)
                # One base version per rollout; the (immutable) date tag must differ as well.
                run_vars = dict(bytelyst_base_version=version, bytelyst_rollout_batch=batch,
                                base_image_date_tag="bench-" + version)
                times = os.path.join(work, "plays-%s.json" % version)
                try:
                    seconds[label] = round(common.playbook(
                        ["rollout_base.yml"], inv, dict(extra, **run_vars), work, forks=forks,
                        env=dict(ANSIBLE_CALLBACK_PLUGINS=CALLBACKS, ANSIBLE_CALLBACKS_ENABLED="play_times",
                                 BENCH_PLAY_TIMES=times)), 1)
                    phase_seconds[label] = phases(times)
                    print("  fleet: %s: %s s; phases %s" % (label, seconds[label], phase_seconds[label]), flush=True)
                except common.BenchError as err:  # keep what was measured
                    print("  fleet: %s failed: %s" % (label, err), flush=True)
                    seconds[label] = None
        finally:
            common.cleanup(client, prefix)
            client.close()
            _take_down(hosts, prefix)
    parallel_label, serial_label = "parallel (forks 5, one batch)", "one host at a time (forks 1, serial 1)"
    parallel, serial = seconds.get(parallel_label), seconds.get(serial_label)
    deploy = dict((key, (phase_seconds.get(label) or {}).get("deploy"))
                  for key, label in (("parallel", parallel_label), ("serial", serial_label)))
    data = dict(hosts=sorted(hosts), products=dict((p, list(h)) for p, h in PRODUCTS.items()), seconds=seconds,
                phases=phase_seconds, parallel_s=parallel, serial_s=serial,
                ratio_parallel_to_serial=common.ratio(parallel, serial),
                deploy_parallel_s=deploy["parallel"], deploy_serial_s=deploy["serial"],
                ratio_deploy_parallel_to_serial=common.ratio(deploy["parallel"], deploy["serial"]),
                quick=quick)
    data["json"] = common.save("fleet", data)
    return data


def rows(data):
    return [["base rollout, 3 hosts (s): one at a time vs parallel", data["serial_s"], data["parallel_s"],
             data["ratio_parallel_to_serial"]],
            ["  its deploy phase (the batches after the canary)", data.get("deploy_serial_s"),
             data.get("deploy_parallel_s"), data.get("ratio_deploy_parallel_to_serial")]]
