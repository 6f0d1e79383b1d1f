"""playbooks/product.yml with bytelyst_scan: a product whose image holds a planted secret is
built, refused by the scan gate, and never pushed or deployed.

One product (a copy of clock, backend only, tarball mode on the stand-in, so no base image is
needed) whose sources carry a private key and an npm token in a module the build compiles into
dist/: the secrets reach the final image the way a leaked credential usually does. The image is
checked by the real Trivy (secret scanner: no database needed); the loopback registry must hold
nothing of it afterwards and no Compose project may exist.
"""

import json
import os
import random
import string
import subprocess
import sys
import urllib.error
import urllib.request
import uuid

import pytest
import yaml

import packed_workspace
from engine_listing import remove_tags_under, tags_under
from product_fixtures import copy_product

pytestmark = pytest.mark.integration

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _private_key_pem():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _registry_tags(registry_addr, repository):
    url = "http://%s/v2/%s/tags/list" % (registry_addr, repository)
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read().decode()).get("tags") or []
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return []
        raise


@pytest.fixture(scope="module")
def refused(tmp_path_factory, docker_client, standin_image, registry_addr):
    trivy = os.environ.get("BYTELYST_TRIVY")
    if not trivy or not os.path.exists(trivy):
        pytest.fail("BYTELYST_TRIVY is not set or missing: run scripts/setup.sh and source the env.sh it writes")
    run = uuid.uuid4().hex[:8]
    work = tmp_path_factory.mktemp("scan-pipeline")
    products = work / "products"
    products.mkdir()
    name = "clock-scan-%s" % run
    os.rename(copy_product("clock", str(products)), str(products / name))
    key = _private_key_pem()
    token = "npm_" + "".join(random.SystemRandom().choice(string.ascii_lowercase + string.digits)
                             for dummy in range(36))
    (products / name / "backend" / "src" / "deploy-credentials.ts").write_text(
        "// planted by the test: a credential compiled into the image\n"
        "export const deployKey = `%s`;\nexport const npmToken = \"%s\";\n" % (key.strip(), token))
    registry = "%s/bytelyst-test/scan-%s" % (registry_addr, run)
    extravars = {
        "bytelyst_selected_products": ["clock"],
        "bytelyst_products": {"clock": {"dir": name, "services": {"backend": {
            "kind": "backend", "port": 4017, "host_port": 4017, "health_path": "/health"}}}},
        "bytelyst_product_mode": "tarball",
        "bytelyst_registry": registry,
        "bytelyst_registry_allow_http": True,
        "bytelyst_runtime_image": standin_image,
        "bytelyst_tarball_dir": packed_workspace.packed_once(),
        "bytelyst_products_root": str(products),
        "bytelyst_deploy_root": str(work / "deploy"),
        "bytelyst_project_prefix": "bytelyst-scan-%s-" % run,
        # the gate is under test, not the health check
        "bytelyst_verify_images": False,
        "bytelyst_scan": True,
        "bytelyst_scan_trivy": trivy,
        "bytelyst_scan_scanners": ["secret"],
        "bytelyst_scan_cache_dir": str(work / "trivy-cache"),
        "bytelyst_sbom_dir": str(work / "sbom"),
    }
    if os.environ.get("BYTELYST_CA_BUNDLE"):
        extravars["bytelyst_ca_bundle"] = os.environ["BYTELYST_CA_BUNDLE"]
    host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = {"all": {"children": {"build_host": {"hosts": {"localhost": host}},
                                      "products": {"children": {"clock": {"hosts": {"localhost": host}}}}}}}
    (work / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (work / "extravars.json").write_text(json.dumps(extravars))
    argv = ["ansible-playbook", "-i", str(work / "inventory.yml"), "-e", "@%s" % (work / "extravars.json"),
            os.path.join(REPO, "playbooks", "product.yml")]
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_FORCE_COLOR="false")
    try:
        # Twice: the second run finds the image built and must refuse it again (no rebuild, no push).
        runs = [subprocess.run(argv, capture_output=True, text=True, timeout=1200, check=False, env=env)
                for dummy in range(2)]
        yield {"runs": runs, "output": "".join(p.stdout + p.stderr for p in runs), "key": key, "token": token,
               "work": work, "registry": registry, "name": name, "client": docker_client,
               "registry_addr": registry_addr, "run": run}
    finally:
        remove_tags_under(docker_client, registry + "/")


def test_the_product_playbook_refuses_an_image_with_planted_secrets(refused):
    for proc in refused["runs"]:
        output = proc.stdout + proc.stderr
        assert proc.returncode != 0, output[-4000:]
        assert "failed the scan gate" in output, output[-4000:]
        assert "private-key" in output and "npm-access-token" in output
        assert "deploy-credentials.js" in output  # the file in the image that holds them
        assert "TASK [Push the images of clock]" not in output
    assert "changed: [localhost] => (item=clock-backend)" not in refused["runs"][1].stdout  # nothing rebuilt
    # the image was built (the gate comes after the build) ...
    assert tags_under(refused["client"], refused["registry"] + "/")


def test_nothing_is_pushed_or_deployed(refused):
    repository = refused["registry"].split("/", 1)[1] + "/" + refused["name"] + "-backend"
    assert _registry_tags(refused["registry_addr"], repository) == []
    assert not os.path.exists(str(refused["work"] / "deploy" / "clock"))
    projects = subprocess.run(["docker", "compose", "ls", "-a", "--format", "json"], capture_output=True,
                              text=True, check=True).stdout
    assert "bytelyst-scan-%s-" % refused["run"] not in projects


def test_the_secrets_appear_nowhere_in_the_output_or_the_sbom(refused):
    texts = {"playbook output": refused["output"]}
    for folder, dummy, names in os.walk(str(refused["work"] / "sbom")):
        for name in names:
            with open(os.path.join(folder, name)) as handle:
                texts[name] = handle.read()
    assert len(texts) == 2  # the refused image's SBOM is kept, as a record
    for where, text in texts.items():
        assert refused["token"] not in text, where
        assert refused["token"][4:] not in text, where
        for line in refused["key"].splitlines():
            if "-----" not in line:
                assert line not in text, where


def _role_play(work, product_dir, standin_image, trivy):
    """A play running the product_image role with a scan and promote (latest after the gate)."""
    role_vars = {
        "product_image_product_dir": product_dir,
        "product_image_kinds": ["backend"],
        "product_image_mode": "tarball",
        "product_image_runtime_image": standin_image,
        "product_image_manifest": packed_workspace.packed_once(),
        "product_image_ports": {"backend": 4017},
        "product_image_verify": False,
        "product_image_promote": True,
        "product_image_scan": True,
        "product_image_scan_options": {"trivy": trivy, "scanners": ["secret"],
                                       "cache_dir": str(work / "trivy-cache"), "sbom_dir": str(work / "sbom-role")},
    }
    if os.environ.get("BYTELYST_CA_BUNDLE"):
        role_vars["product_image_ca_bundle"] = os.environ["BYTELYST_CA_BUNDLE"]
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": [
        {"name": "The role under test", "ansible.builtin.include_role": {"name": "bytelyst.deploy.product_image"},
         "vars": role_vars}]}]
    path = work / ("role-%s.yml" % os.path.basename(product_dir))
    path.write_text(yaml.safe_dump(play))
    return subprocess.run(["ansible-playbook", "-i", "localhost,", str(path)], capture_output=True, text=True,
                          timeout=1200, check=False, env=dict(os.environ, ANSIBLE_LOCALHOST_WARNING="false",
                                                              ANSIBLE_PYTHON_INTERPRETER=sys.executable))


def test_the_role_moves_latest_only_after_the_scan_passed(refused, standin_image):
    work, client = refused["work"], refused["client"]
    clean = "clock-clean-%s" % refused["run"]
    os.rename(copy_product("clock", str(work / "products")), str(work / "products" / clean))
    try:
        dirty = _role_play(work, str(work / "products" / refused["name"]), standin_image, os.environ["BYTELYST_TRIVY"])
        assert dirty.returncode != 0 and "failed the scan gate" in dirty.stdout, dirty.stdout[-4000:]
        dirty_tags = tags_under(client, refused["name"] + "-backend:")
        assert refused["name"] + "-backend:0.9.2" in dirty_tags, dirty_tags  # built, refused ...
        assert refused["name"] + "-backend:latest" not in dirty_tags  # ... and latest never moved

        passed = _role_play(work, str(work / "products" / clean), standin_image, os.environ["BYTELYST_TRIVY"])
        assert passed.returncode == 0, passed.stdout[-4000:]
        clean_tags = tags_under(client, clean + "-backend:")
        assert clean + "-backend:0.9.2" in clean_tags, clean_tags
        assert clean_tags.get(clean + "-backend:latest") == clean_tags[clean + "-backend:0.9.2"]
    finally:
        remove_tags_under(client, refused["name"] + "-backend:")
        remove_tags_under(client, clean + "-backend:")
