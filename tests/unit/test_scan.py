"""_scan: the trivy commands, the report parser and the gate, on reports in Trivy 0.59's JSON shape.

The fixtures under fixtures/trivy/ are Trivy's own output for a small test image (package lists
shortened), with the secret findings' Match and Code fields holding plain marker values, so the
tests can show that those fields never leave the parser.
"""

import datetime
import json
import os

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils import _scan
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from fakes.commands import FakeTrivy

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "trivy")
TODAY = datetime.date(2026, 11, 30)
IMAGE = "bytelyst-test/scan-fixture:1.0.0"


def fixture_text(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


@pytest.fixture
def findings():
    return _scan.parse_report(fixture_text("report-findings.json"))


@pytest.fixture
def clean():
    return _scan.parse_report(fixture_text("report-clean.json"))


# --- commands ------------------------------------------------------------------------------

def test_scan_command_reads_the_engines_image_and_asks_for_json_with_every_package():
    argv = _scan.scan_command("/opt/trivy", IMAGE, "/tmp/r.json", ["vuln", "secret"], secret_config="/tmp/rules.yaml").argv
    assert argv[:2] == ["/opt/trivy", "image"]
    assert argv[-1] == IMAGE
    assert argv[argv.index("--image-src") + 1] == "docker"
    assert argv[argv.index("--format") + 1] == "json"
    assert argv[argv.index("--output") + 1] == "/tmp/r.json"
    assert argv[argv.index("--scanners") + 1] == "vuln,secret"
    assert argv[argv.index("--secret-config") + 1] == "/tmp/rules.yaml"
    assert "--list-all-pkgs" in argv and "--quiet" in argv
    for flag in ("--cache-dir", "--db-repository", "--skip-db-update", "--docker-host"):
        assert flag not in argv


def test_scan_command_offline_options():
    argv = _scan.scan_command("trivy", IMAGE, "r.json", ["vuln"], secret_config="rules.yaml", cache_dir="/srv/trivy",
                              db_repository="registry.example.com/aquasec/trivy-db:2", skip_db_update=True,
                              docker_host="unix:///run/other.sock", timeout=120).argv
    assert argv[argv.index("--cache-dir") + 1] == "/srv/trivy"
    assert argv[argv.index("--db-repository") + 1] == "registry.example.com/aquasec/trivy-db:2"
    assert "--skip-db-update" in argv and "--skip-java-db-update" in argv
    assert argv[argv.index("--docker-host") + 1] == "unix:///run/other.sock"
    assert argv[argv.index("--timeout") + 1] == "120s"
    assert "--secret-config" not in argv  # no secret scanner, no rules
    assert argv[-1] == IMAGE


def test_sbom_command_converts_the_report_to_cyclonedx():
    argv = _scan.sbom_command("trivy", "/w/report.json", "/w/sbom.json").argv
    assert argv[:2] == ["trivy", "convert"]
    assert argv[argv.index("--format") + 1] == "cyclonedx"
    assert argv[argv.index("--output") + 1] == "/w/sbom.json"
    assert argv[-1] == "/w/report.json"


def test_sbom_file_name_is_one_readable_file_per_reference():
    assert _scan.sbom_file_name("127.0.0.1:5000/bytelyst/notes-backend:1.4.0") == "127.0.0.1_5000_bytelyst_notes-backend_1.4.0.cdx.json"
    assert _scan.sbom_file_name("notes-backend:1.4.0") != _scan.sbom_file_name("notes-backend:1.4.1")


def test_secret_rules_catch_a_bare_npmrc_token_but_not_a_placeholder():
    import re
    import yaml

    rule = yaml.safe_load(_scan.SECRET_RULES)["rules"][0]
    regex = re.compile(rule["regex"])
    assert regex.search("//registry.example.com/:_authToken=npm_abcdefghijklmnopqrstuvwxyz0123456789").group("secret") \
        == "npm_abcdefghijklmnopqrstuvwxyz0123456789"
    assert regex.search('//registry.example.com/:_authToken="npm_abcdefghijklmnopqrstuvwxyz0123456789"')
    assert regex.search("//registry.example.com/:_authToken=${NPM_TOKEN}") is None
    assert re.search(rule["path"], "app/.npmrc") and re.search(rule["path"], "usr/etc/npmrc")
    assert not re.search(rule["path"], "app/npmrc.md")


# --- parsing -------------------------------------------------------------------------------

def test_parse_report_trims_findings(findings):
    assert findings["image_id"].startswith("sha256:")
    assert sorted(v["id"] for v in findings["vulnerabilities"]) == ["CVE-2011-3374", "CVE-2099-0001"]
    node = [v for v in findings["vulnerabilities"] if v["id"] == "CVE-2099-0001"][0]
    assert node == {"id": "CVE-2099-0001", "severity": "HIGH", "package": "@bytelyst/x", "installed": "1.2.3",
                    "fixed": "1.2.4", "status": "fixed", "title": "test advisory", "target": "Node.js",
                    "path": "app/node_modules/@bytelyst/x/package.json"}
    assert sorted((s["id"], s["path"], s["severity"]) for s in findings["secrets"]) == [
        ("npmrc-credential", "/app/.npmrc", "CRITICAL"), ("private-key", "/app/id_rsa", "HIGH")]
    assert findings["packages"] == 3


def test_parse_report_drops_match_and_code_of_secrets(findings):
    assert "SECRET-VALUE-MARKER" in fixture_text("report-findings.json")  # the fixture does carry values
    text = json.dumps(findings)
    assert "SECRET-VALUE-MARKER" not in text
    for secret in findings["secrets"]:
        assert set(secret) == {"id", "severity", "category", "title", "path", "start_line", "end_line", "layer"}


def test_parse_report_refuses_text_that_is_not_trivys_json():
    with pytest.raises(DeployError) as err:
        _scan.parse_report("FATAL something went wrong", command="trivy image x")
    assert "not JSON" in str(err.value) and "trivy image x" in str(err.value)
    with pytest.raises(DeployError, match="no Results"):
        _scan.parse_report('{"bomFormat": "CycloneDX"}')


def test_parse_report_of_an_image_with_no_results():
    parsed = _scan.parse_report('{"SchemaVersion": 2, "ArtifactName": "x", "Metadata": {"ImageID": "sha256:1"}}')
    assert parsed == {"image_id": "sha256:1", "vulnerabilities": [], "secrets": [], "packages": 0}


# --- the gate -----------------------------------------------------------------------------

def test_default_gate_fails_on_high_vulnerability_and_every_secret(findings):
    verdict = _scan.decide(findings, today=TODAY)
    assert verdict["failed"] is True
    assert sorted((b["scanner"], b["id"]) for b in verdict["blocking"]) == [
        ("secret", "npmrc-credential"), ("secret", "private-key"), ("vuln", "CVE-2099-0001")]
    assert verdict["counts"]["vuln"] == {"UNKNOWN": 0, "LOW": 1, "MEDIUM": 0, "HIGH": 1, "CRITICAL": 0}
    assert verdict["counts"]["secret"] == {"UNKNOWN": 0, "LOW": 0, "MEDIUM": 0, "HIGH": 1, "CRITICAL": 1}
    message = _scan.gate_message(IMAGE, verdict)
    assert IMAGE in message and "2 of them secrets" in message
    assert "npmrc-credential (CRITICAL) in /app/.npmrc line 1" in message
    assert "private-key (HIGH) in /app/id_rsa line 1" in message
    assert "CVE-2099-0001 (HIGH) in @bytelyst/x 1.2.3, fixed in 1.2.4" in message


def test_low_vulnerability_trips_only_when_asked(findings):
    verdict = _scan.decide(findings, fail_on=["LOW"], allow_secrets=True, today=TODAY)
    assert [b["id"] for b in verdict["blocking"]] == ["CVE-2011-3374"]
    assert "no fix yet" in verdict["blocking"][0]["summary"]


def test_allow_secrets_and_critical_only_passes(findings):
    verdict = _scan.decide(findings, fail_on=["CRITICAL"], allow_secrets=True, today=TODAY)
    assert verdict["failed"] is False and verdict["blocking"] == []
    assert verdict["counts"]["secret"]["CRITICAL"] == 1  # still counted


def test_clean_report_passes(clean):
    verdict = _scan.decide(clean, fail_on=list(_scan.SEVERITIES), today=TODAY)
    assert verdict["failed"] is False
    assert sum(verdict["counts"]["vuln"].values()) == sum(verdict["counts"]["secret"].values()) == 0


def test_active_ignore_takes_a_finding_out_and_says_why(findings):
    ignores = [{"id": "CVE-2099-0001", "reason": "only in the build stage", "expires": "2026-12-31"}]
    verdict = _scan.decide(findings, allow_secrets=True, ignores=ignores, today=TODAY)
    assert verdict["failed"] is False
    assert verdict["ignored"] == [{"id": "CVE-2099-0001", "scanner": "vuln",
                                   "path": "app/node_modules/@bytelyst/x/package.json",
                                   "reason": "only in the build stage", "expires": "2026-12-31"}]
    assert verdict["expired_ignores"] == []


def test_ignore_counts_through_its_expiry_day_and_not_after(findings):
    ignores = [{"id": "CVE-2099-0001", "reason": "waiting for 1.2.4", "expires": "2026-11-30"}]
    assert _scan.decide(findings, allow_secrets=True, ignores=ignores, today=TODAY)["failed"] is False
    verdict = _scan.decide(findings, allow_secrets=True, ignores=ignores, today=TODAY + datetime.timedelta(days=1))
    assert verdict["failed"] is True and [b["id"] for b in verdict["blocking"]] == ["CVE-2099-0001"]
    assert verdict["ignored"] == []
    assert verdict["expired_ignores"] == [{"id": "CVE-2099-0001", "reason": "waiting for 1.2.4",
                                           "expires": "2026-11-30", "path": None}]


def test_secret_ignore_is_limited_to_its_path(findings):
    ignores = [{"id": "private-key", "reason": "a test fixture key", "path": "/app/test/*"}]
    verdict = _scan.decide(findings, fail_on=[], ignores=ignores, today=TODAY)
    assert sorted(b["id"] for b in verdict["blocking"]) == ["npmrc-credential", "private-key"]
    ignores[0]["path"] = "/app/id_*"
    verdict = _scan.decide(findings, fail_on=[], ignores=ignores, today=TODAY)
    assert [b["id"] for b in verdict["blocking"]] == ["npmrc-credential"]


@pytest.mark.parametrize("entry, message", [
    ({"id": "CVE-1", "reason": " "}, "ignore[0] (CVE-1) has no reason"),
    ({"reason": "x"}, "ignore[0] has no id"),
    ({"id": "CVE-1", "reason": "x", "expires": "31.12.2026"}, "expires is '31.12.2026', not a date"),
    ({"id": "CVE-1", "reason": "x", "until": "2026-01-01"}, "unknown keys until"),
    ("CVE-1", "not a dict"),
])
def test_bad_ignore_entries_are_refused(findings, entry, message):
    with pytest.raises(DeployError) as err:
        _scan.decide(findings, ignores=[entry], today=TODAY)
    assert message in str(err.value)


def test_unknown_severity_is_refused(findings):
    with pytest.raises(DeployError, match="fail_on has unknown severities SEVERE"):
        _scan.decide(findings, fail_on=["severe"], today=TODAY)


# --- database ------------------------------------------------------------------------------

def test_skip_db_update_without_a_database_fails_naming_the_options(tmp_path):
    with pytest.raises(DeployError) as err:
        _scan.check_db(["vuln", "secret"], str(tmp_path), skip_db_update=True)
    text = str(err.value)
    assert "No vulnerability database" in text and str(tmp_path / "db" / "metadata.json") in text
    for option in ("cache_dir", "db_repository", "skip_db_update", "scanners=[secret]"):
        assert option in text


def test_database_check_passes_with_a_database_or_without_vuln(tmp_path):
    _scan.check_db(["secret"], str(tmp_path), skip_db_update=True)
    _scan.check_db(["vuln"], str(tmp_path), skip_db_update=False)  # Trivy will download
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "metadata.json").write_text('{"Version": 2}')
    _scan.check_db(["vuln"], str(tmp_path), skip_db_update=True)


def test_default_cache_dir_follows_xdg():
    assert _scan.default_cache_dir({"XDG_CACHE_HOME": "/c", "HOME": "/h"}) == "/c/trivy"
    assert _scan.default_cache_dir({"HOME": "/h"}) == "/h/.cache/trivy"


def test_trivys_db_failure_becomes_an_error_naming_the_options():
    err = DeployError("Trivy scan of x failed (exit code 1).", command="trivy image x", output=(
        "FATAL Fatal error init error: DB error: failed to download vulnerability DB: OCI artifact error"))
    mapped = _scan._run_error(err, "x", ["vuln", "secret"])
    assert "No vulnerability database is available for the scan of x" in str(mapped)
    assert "db_repository" in str(mapped) and "trivy image x" in str(mapped)
    missing = DeployError("failed", command="trivy image y", output=(
        'FATAL unable to find the specified image "y" in ["docker"]'))
    assert "y is not on the Docker engine" in str(_scan._run_error(missing, "y", ["secret"]))
    other = DeployError("other failure", output="panic")
    assert _scan._run_error(other, "z", ["vuln"]) is other


# --- SBOM ---------------------------------------------------------------------------------

def _sbom(serial, timestamp, components):
    return json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "serialNumber": serial,
                       "metadata": {"timestamp": timestamp}, "components": components})


def test_keep_sbom_keeps_the_file_when_only_serial_and_time_differ(tmp_path):
    dest = tmp_path / "x.cdx.json"
    dest.write_text(_sbom("urn:uuid:6f1c2d4e-1b2a-4c3d-9e8f-0a1b2c3d4e5f", "2026-11-29T00:00:00Z", [{"name": "@bytelyst/x", "version": "1.2.3"}]))
    new = tmp_path / "new.json"
    new.write_text(_sbom("urn:uuid:0b9e8d7c-6f5e-4d3c-8b2a-1f0e9d8c7b6a", "2026-11-30T00:00:00Z", [{"name": "@bytelyst/x", "version": "1.2.3"}]))
    before = dest.read_bytes()
    changed, digest = _scan.keep_sbom(str(new), str(dest))
    assert changed is False and dest.read_bytes() == before
    import hashlib
    assert digest == hashlib.sha256(before).hexdigest()


def test_keep_sbom_replaces_a_different_sbom(tmp_path):
    dest = tmp_path / "x.cdx.json"
    dest.write_text(_sbom("urn:uuid:1", "t1", [{"name": "@bytelyst/x", "version": "1.2.3"}]))
    new = tmp_path / "new.json"
    text = _sbom("urn:uuid:2", "t2", [{"name": "@bytelyst/x", "version": "1.2.4"}])
    new.write_text(text)
    changed, dummy = _scan.keep_sbom(str(new), str(dest))
    assert changed is True and dest.read_text() == text and not new.exists()


# --- the whole scan, with a fake trivy ---------------------------------------------------------

def trivy(report):
    """trivy writing the fixture report, and SBOMs numbered by the commands run so far."""
    return FakeTrivy(fixture_text(report), lambda n: _sbom("urn:uuid:%08d-0000-4000-8000-000000000000" % n, "now",
                                                           [{"name": "@bytelyst/x", "version": "1.2.3"}]))


def params(**extra):
    out = {"image": IMAGE, "trivy": "trivy", "scanners": ["vuln", "secret"], "fail_on": ["CRITICAL", "HIGH"],
           "ignore": [], "allow_secrets": False, "sbom_dir": None, "cache_dir": None, "db_repository": None,
           "skip_db_update": False, "timeout": 600, "docker_host": None}
    out.update(extra)
    return out


def test_scan_reports_the_gate_and_keeps_the_sbom(tmp_path):
    fake = trivy("report-findings.json")
    result = _scan.scan(params(sbom_dir=str(tmp_path / "sbom")), today=TODAY, runner=fake)
    assert [c.argv[1] for c in fake.commands] == ["image", "convert"]
    report = fake.commands[0].argv[fake.commands[0].argv.index("--output") + 1]
    assert fake.commands[0].cwd == os.path.dirname(report)
    assert not os.path.exists(os.path.dirname(report))  # the work directory (report included) is gone
    assert result["failed"] is True and "private-key" in result["msg"]
    assert result["sbom"]["path"] == str(tmp_path / "sbom" / "bytelyst-test_scan-fixture_1.0.0.cdx.json")
    assert result["changed"] is True
    assert "SECRET-VALUE-MARKER" not in json.dumps(result)
    again = _scan.scan(params(sbom_dir=str(tmp_path / "sbom")), today=TODAY, runner=trivy("report-findings.json"))
    assert again["changed"] is False and again["sbom"]["sha256"] == result["sbom"]["sha256"]


def test_scan_without_sbom_dir_runs_no_convert(tmp_path):
    fake = trivy("report-clean.json")
    result = _scan.scan(params(), today=TODAY, runner=fake)
    assert [c.argv[1] for c in fake.commands] == ["image"]
    assert result["failed"] is False and result["sbom"] is None and "msg" not in result


def test_scan_without_a_database_runs_nothing(tmp_path):
    fake = trivy("report-clean.json")
    with pytest.raises(DeployError, match="No vulnerability database"):
        _scan.scan(params(cache_dir=str(tmp_path), skip_db_update=True), today=TODAY, runner=fake)
    assert fake.commands == []


def test_plan_names_the_command_and_the_sbom_path():
    planned = _scan.plan(params(sbom_dir="/srv/sbom", cache_dir="/srv/trivy"))
    assert planned["sbom_path"] == "/srv/sbom/bytelyst-test_scan-fixture_1.0.0.cdx.json"
    assert "--cache-dir /srv/trivy" in planned["command"] and planned["command"].endswith(IMAGE)


def test_keep_sbom_ignores_the_random_bom_refs_trivy_gives_image_components(tmp_path):
    def doc(ref):
        return json.dumps({"serialNumber": "urn:uuid:%s" % ref, "metadata": {"timestamp": ref, "component": {
            "bom-ref": ref, "type": "container"}}, "dependencies": [{"ref": ref, "dependsOn": ["pkg:npm/x@1"]}]})
    dest, new = tmp_path / "x.cdx.json", tmp_path / "new.json"
    dest.write_text(doc("30a0efd3-b32e-4882-b1fa-9257b8caa499"))
    new.write_text(doc("5d1c8f0e-0000-4882-b1fa-9257b8caa411"))
    assert _scan.keep_sbom(str(new), str(dest))[0] is False
    new.write_text(doc("5d1c8f0e-0000-4882-b1fa-9257b8caa411").replace("pkg:npm/x@1", "pkg:npm/x@2"))
    assert _scan.keep_sbom(str(new), str(dest))[0] is True


def test_keep_sbom_ignores_the_order_trivy_lists_components_in(tmp_path):
    one = {"name": "encoding", "version": "0.1.13", "bom-ref": "11111111-2222-4333-8444-555555555555"}
    two = {"name": "jackspeak", "version": "3.4.3", "bom-ref": "pkg:npm/jackspeak@3.4.3"}
    dest, new = tmp_path / "x.cdx.json", tmp_path / "new.json"
    dest.write_text(json.dumps({"components": [one, two]}))
    new.write_text(json.dumps({"components": [two, dict(one, **{"bom-ref": "99999999-2222-4333-8444-555555555555"})]}))
    assert _scan.keep_sbom(str(new), str(dest))[0] is False
    new.write_text(json.dumps({"components": [two]}))
    assert _scan.keep_sbom(str(new), str(dest))[0] is True
