"""What the default scenario leaves running: notes backend and web, healthy, on the base,
blue/green behind the host's proxy, which publishes the only port."""

import json
import os

import pytest

PROXY = "http://127.0.0.1:20080"
BACKEND_HOST = "api.notes.molecule.test"
WEB_HOST = "notes.molecule.test"


def project_containers(host, project):
    out = host.check_output("docker compose -p %s ps --format json" % project)
    return {c["Service"]: c for c in (json.loads(line) for line in out.splitlines() if line.strip())}


def containers(host):
    """The serving color's containers (the first deploy brings notes up as blue; nothing switched since)."""
    serving = [project_containers(host, "molecule-notes-%s" % color) for color in ("blue", "green")]
    running = [c for c in serving if c]
    assert len(running) == 1, serving
    return running[0]


def inspect(host, ref):
    return json.loads(host.check_output("docker inspect %s" % ref))[0]


def through_proxy(host, name, path):
    return host.run("curl -sS -H 'Host: %s' -w '\\n%%{http_code}' %s%s" % (name, PROXY, path))


def test_the_product_answers_through_the_proxy_only(host):
    backend = through_proxy(host, BACKEND_HOST, "/health")
    body, status = backend.stdout.rsplit("\n", 1)
    assert status == "200", backend.stdout + backend.stderr
    assert json.loads(body)["version"] == "1.4.0"
    web = through_proxy(host, WEB_HOST, "/api/health")
    assert web.stdout.rsplit("\n", 1)[1] == "200", web.stdout + web.stderr
    # A host name no route names reaches no product.
    assert through_proxy(host, "other.molecule.test", "/health").stdout.rsplit("\n", 1)[1] == "404"


def test_no_product_container_publishes_a_port_the_proxy_does(host):
    for service in containers(host).values():
        container = inspect(host, service["ID"])
        assert not container["HostConfig"]["PortBindings"], container["HostConfig"]["PortBindings"]
        assert not any(container["NetworkSettings"]["Ports"].values())
        assert "molecule-proxy" in container["NetworkSettings"]["Networks"]
    proxy = inspect(host, "molecule-proxy")
    assert proxy["HostConfig"]["PortBindings"] == {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": "20080"}]}
    assert proxy["Config"]["User"] not in ("", "0", "root")


def test_the_release_records_its_color(host):
    releases = json.loads(host.file("/var/lib/bytelyst-dev/molecule/deploy/notes.proxy/.history/releases.json").content_string)
    current = [r for r in releases["releases"] if r["id"] == releases["current"]][0]
    assert current["color"] == "blue" and current["result"] == "success"


def test_both_services_run_healthy(host):
    running = containers(host)
    assert sorted(running) == ["backend", "web"]
    for service in running.values():
        assert service["State"] == "running"
        assert service["Health"] == "healthy"


def test_deploy_set_the_health_timings_and_kept_the_image_probe(host):
    for service in containers(host).values():
        container = inspect(host, service["ID"])
        image = inspect(host, container["Image"])
        health = container["Config"]["Healthcheck"]
        # bytelyst_healthcheck of the scenario: interval 3s, start_period 10s, retries 5
        assert (health["Interval"], health["StartPeriod"], health["Retries"]) == (3 * 10**9, 10 * 10**9, 5)
        assert health["Test"] == image["Config"]["Healthcheck"]["Test"]
        assert image["Config"]["Healthcheck"]["Interval"] == 10 * 10**9


def test_images_run_as_non_root_and_name_their_base_digest(host):
    for service in containers(host).values():
        container = inspect(host, service["ID"])
        image = inspect(host, container["Image"])
        labels = image["Config"]["Labels"]
        assert image["Config"]["User"] not in ("", "0", "root")
        assert labels["dev.bytelyst.mode"] == "base"
        base = inspect(host, labels["dev.bytelyst.base.ref"])
        # The label names the base by its registry digest (repo@sha256:...), or its id when it has none.
        assert labels["dev.bytelyst.base.digest"] in [base["Id"]] + base["RepoDigests"]
        # The product image is built on the base: the base's layers are its first layers.
        assert image["RootFS"]["Layers"][:len(base["RootFS"]["Layers"])] == base["RootFS"]["Layers"]


def test_containers_run_pinned_digests(host):
    for service in containers(host).values():
        assert "@sha256:" in inspect(host, service["ID"])["Config"]["Image"]


def test_the_job_ran_from_the_installed_artifact(host):
    """scripts/test.sh installs the built artifact and names its collections path; prepare.yml
    copied the sample workspace's sources from there into the working copy the job built."""
    root = os.environ.get("BYTELYST_INSTALLED_COLLECTIONS")
    if not root:
        pytest.skip("not run through scripts/test.sh (no installed artifact named)")
    collection = "%s/ansible_collections/bytelyst/deploy" % root
    # MANIFEST.json exists only in an installed artifact, never in a checkout.
    assert host.file(collection + "/MANIFEST.json").is_file
    workspace = "/var/lib/bytelyst-dev/molecule/common_plat"
    listing = ("cd %s && find . \\( -name node_modules -o -name dist \\) -prune -o -type f -print"
               " | sort | xargs sha256sum")
    sources = host.check_output(listing % (collection + "/examples/common_plat"))
    assert sources.count("/package.json") >= 7
    assert host.check_output(listing % workspace) == sources
    built = host.run("ls %s/packages/*/dist/index.js" % workspace)
    assert built.rc == 0 and len(built.stdout.split()) >= 6, built.stderr
