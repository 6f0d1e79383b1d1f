"""After the good rollout (1.0.0) and the bad one (1.1.0, stopped and rolled back at the canary):
every deploy host runs every product it hosts, healthy, on base 1.0.0."""

import json

import pytest


def host_vars(host):
    return host.ansible.get_variables()


def running(host):
    variables = host_vars(host)
    sock = variables.get("bytelyst_docker_host")
    if not sock:
        pytest.skip("the build host deploys nothing")
    out = host.check_output("DOCKER_HOST=%s docker ps --filter label=dev.bytelyst.product --format '{{json .ID}}'" % sock)
    ids = [json.loads(line) for line in out.splitlines() if line.strip()]
    found = [json.loads(host.check_output("DOCKER_HOST=%s docker inspect %s" % (sock, i)))[0] for i in ids]
    # Only the scenario's own projects: other runs (a benchmark, say) may share the engines.
    prefix = variables["bytelyst_project_prefix"]
    return sock, [c for c in found if c["Config"]["Labels"].get("com.docker.compose.project", "").startswith(prefix)]


def expected_products(host):
    groups = host_vars(host)["group_names"]
    return sorted(g for g in groups if g in ("notes", "clock", "trading"))


def test_every_hosted_product_runs(host):
    sock, containers = running(host)
    products = sorted(c["Config"]["Labels"]["dev.bytelyst.product"] for c in containers)
    assert products == expected_products(host)
    for c in containers:
        assert c["State"]["Health"]["Status"] == "healthy"


def test_every_product_runs_base_1_0_0(host):
    sock, containers = running(host)
    for c in containers:
        image = json.loads(host.check_output("DOCKER_HOST=%s docker image inspect %s" % (sock, c["Image"])))[0]
        labels = image["Config"]["Labels"]
        assert labels["dev.bytelyst.base.version"] == "1.0.0", c["Name"]
        assert "@sha256:" in c["Config"]["Image"]  # pinned by digest
