"""What the default scenario leaves running: notes backend and web, healthy, on the base."""

import json
import os

import pytest

BACKEND = "http://127.0.0.1:%d/health" % (4016 + 20000)
WEB = "http://127.0.0.1:%d/api/health" % (3016 + 20000)


def containers(host):
    out = host.check_output("docker compose -p molecule-notes ps --format json")
    return {c["Service"]: c for c in (json.loads(line) for line in out.splitlines() if line.strip())}


def inspect(host, ref):
    return json.loads(host.check_output("docker inspect %s" % ref))[0]


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


def test_health_endpoints_answer_with_versions(host):
    body = json.loads(host.check_output("curl -fsS %s" % BACKEND))
    assert body["status"] == "ok" and body["version"] == "1.4.0"
    assert host.run("curl -fsS -o /dev/null -w '%%{http_code}' %s" % WEB).stdout == "200"


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
