"""After the good rollout (1.0.0) and the bad one (1.1.0, stopped and rolled back at the canary):
every deploy host runs every product it hosts, healthy, on base 1.0.0."""

import json

import pytest


def host_vars(host):
    return host.ansible.get_variables()


def reach(variables):
    """The docker client's environment for the host's engine, as the playbooks reach it (fleet1: TCP with TLS)."""
    env = "DOCKER_HOST=%s" % variables["bytelyst_docker_host"]
    if variables.get("bytelyst_docker_cert_path"):
        env += " DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=%s" % variables["bytelyst_docker_cert_path"]
    return env


def running(host):
    variables = host_vars(host)
    if not variables.get("bytelyst_docker_host"):
        pytest.skip("the build host deploys nothing")
    sock = reach(variables)
    out = host.check_output("%s docker ps --filter label=dev.bytelyst.product --format '{{json .ID}}'" % sock)
    ids = [json.loads(line) for line in out.splitlines() if line.strip()]
    found = [json.loads(host.check_output("%s docker inspect %s" % (sock, i)))[0] for i in ids]
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
        image = json.loads(host.check_output("%s docker image inspect %s" % (sock, c["Image"])))[0]
        labels = image["Config"]["Labels"]
        assert labels["dev.bytelyst.base.version"] == "1.0.0", c["Name"]
        assert "@sha256:" in c["Config"]["Image"]  # pinned by digest


def test_the_tls_host_s_engine_is_reached_over_tcp_with_tls_only(host):
    variables = host_vars(host)
    if not variables.get("bytelyst_docker_cert_path"):
        pytest.skip("reached over a socket")
    url = variables["bytelyst_docker_host"]
    assert url.startswith("tcp://")
    # The engine wants a client certificate: the deploys that run there (above) came over TLS.
    plain = host.run("DOCKER_HOST=%s DOCKER_TLS_VERIFY= DOCKER_CERT_PATH= docker info" % url)
    assert plain.rc != 0, plain.stdout
    assert host.run("%s docker info --format '{{.ID}}'" % reach(variables)).rc == 0


def test_the_hosts_are_what_the_roles_made_them(host):
    variables = on_main_host_only(host)
    # docker_host on every build and deploy host: log rotation in the options file each engine
    # reads (the main engine's: a file of the scenario's), the deploy root.
    daemon_files = dict(builder="%s/main-engine/daemon.json" % variables["fleet_work"])
    daemon_files.update(("fleet%d" % n, "/var/lib/bytelyst-dev/fleet/fleet%d/daemon.json" % n) for n in (1, 2, 3))
    for name, path in daemon_files.items():
        options = json.loads(host.file(path).content_string)
        assert options["log-driver"] == "json-file" and options["log-opts"] == {"max-size": "10m", "max-file": "3"}, name
        if name != "builder":
            assert host.file("%s/hosts/%s" % (variables["fleet_work"], name)).is_directory
    # build_host on the build hosts: the packageManager's pnpm, linked where the pipeline takes it
    # from, and the workspace installed with it.
    workspace = variables["bytelyst_workspace"]
    wanted = json.loads(host.file(workspace + "/package.json").content_string)["packageManager"]
    pnpm = variables["bytelyst_pnpm"]
    assert host.file(pnpm).is_symlink and host.file(pnpm).linked_to.startswith(variables["fleet_tools"] + "/pnpm/")
    assert "pnpm@" + host.check_output("%s --version" % pnpm).strip() == wanted.split("+", 1)[0]
    assert host.file(workspace + "/node_modules/.pnpm/lock.yaml").is_file


# Where converge's rollout built each product: the two build hosts (builder, fleet2) take the
# products round-robin in sorted order (molecule.yml).
ASSIGNED = {"clock": "builder", "notes": "fleet2", "trading": "builder"}
DEPLOYED_ON = {"fleet1": ["notes", "trading"], "fleet2": ["clock", "notes"], "fleet3": ["clock", "trading"]}


def on_main_host_only(host):
    variables = host_vars(host)
    if variables["inventory_hostname"] != "localhost":
        pytest.skip("checked once, from the main host")
    return variables


def engine(name):
    # builder is the main engine (localhost's), the others are fleet engines.
    return "" if name in ("localhost", "builder") else "DOCKER_HOST=unix:///run/bytelyst-fleet/%s.sock " % name


def inspect_image(host, where, ref):
    return json.loads(host.check_output("%sdocker image inspect %s" % (engine(where), ref)))[0]


def records(host, variables):
    return dict((h, json.loads(host.file("%s/built-by-%s.json" % (variables["fleet_work"], h)).content_string))
                for h in ("builder", "fleet2"))


def test_each_product_was_built_on_the_build_host_it_was_assigned_to(host):
    variables = on_main_host_only(host)
    built = records(host, variables)
    assert dict((product, h) for h, record in built.items() for product in record) == ASSIGNED
    for where, record in built.items():
        for product, services in record.items():
            for result in services.values():
                # The image is on the engine of the host that built it, labelled as that product's.
                image = inspect_image(host, where, result["image_id"])
                assert image["Config"]["Labels"]["dev.bytelyst.product"] == product
                version = image["Config"]["Labels"]["org.opencontainers.image.version"]
                assert version.endswith("-base1.0.0") and result["tags"][0].endswith(":" + version), result["tags"]


def test_the_second_build_host_built_on_the_bases_it_pulled(host):
    variables = on_main_host_only(host)
    # This run's registry namespace, as the builds named it (testinfra's variables are not templated).
    registry = records(host, variables)["fleet2"]["notes"]["backend"]["tags"][0].rsplit("/", 1)[0]

    def image_ids(where, kind):
        # Pulled by digest on fleet2 (no tag there), tagged on the host that built them.
        out = host.check_output("%sdocker images --digests --no-trunc --format '{{.ID}}' %s/bytelyst-common-base-%s"
                                % (engine(where), registry, kind))
        return set(out.split())

    # The builder stage needs the dev base: only engines that built a product hold it.
    have = dict((name, bool(image_ids(name, "dev"))) for name in ("builder", "fleet1", "fleet2", "fleet3"))
    assert have == {"builder": True, "fleet1": False, "fleet2": True, "fleet3": False}
    # fleet2 holds the very bases the first build host built and pushed (the same image ids).
    for kind in ("backend", "dev"):
        assert image_ids("fleet2", kind) == image_ids("builder", kind) != set()


def test_deploy_hosts_run_the_images_their_product_s_build_host_built(host):
    variables = on_main_host_only(host)
    built = records(host, variables)
    for deploy_host, products in DEPLOYED_ON.items():
        out = host.check_output("%sdocker ps --filter label=com.docker.compose.project --format '{{json .ID}}'"
                                % engine(deploy_host))
        seen = []
        for cid in [json.loads(line) for line in out.splitlines() if line.strip()]:
            container = json.loads(host.check_output("%sdocker inspect %s" % (engine(deploy_host), cid)))[0]
            labels = container["Config"]["Labels"]
            if not labels.get("com.docker.compose.project", "").startswith(variables["bytelyst_project_prefix"]):
                continue
            product = labels["dev.bytelyst.product"]
            seen.append(product)
            builder = ASSIGNED[product]
            result = built[builder][product][labels["dev.bytelyst.kind"]]
            pinned = container["Config"]["Image"]
            assert "@sha256:" in pinned
            assert pinned in inspect_image(host, builder, result["image_id"])["RepoDigests"], (deploy_host, product)
        assert sorted(seen) == products, deploy_host
