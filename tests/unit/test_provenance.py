"""A release's provenance (_provenance.py and the deployer): each service's SBOM digest, where
the SBOM is kept and the scan's counts, recorded in the release and its SBOM copied into the
release directory; never part of the fingerprint. Against test_deployer's fake Compose."""

import hashlib
import json
import os

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils import _provenance
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from fakes.compose import FakeCompose
from test_deployer import V1, V2, deploy, history, pinned

COUNTS = {"secret": {"CRITICAL": 0, "HIGH": 0}, "vuln": {"CRITICAL": 0, "HIGH": 2}}


@pytest.fixture
def site(tmp_path):
    """A project directory with compose.yaml (web and api at 1.0.0), as test_deployer's."""
    src = tmp_path / "notes"
    src.mkdir()
    (src / "compose.yaml").write_text(json.dumps({"services": {"web": {"image": V1["web"]}, "api": {"image": V1["api"]}}}))
    return tmp_path


def sbom(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path), hashlib.sha256(text.encode()).hexdigest()


def snapshot(site):
    """Everything a deploy can change under the history directory (files and their bytes)."""
    found = {}
    root = str(site / "history")
    for folder, dummy, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                found[os.path.relpath(path, root)] = f.read()
    return found


# -- the option ------------------------------------------------------------------------------
def test_validate_keeps_what_was_given_and_lowercases_the_digest():
    digest = "AB" * 32
    checked = _provenance.validate({"web": {"sbom_sha256": "sha256:" + digest, "sbom": "https://sboms.invalid/web.json",
                                            "scanned": COUNTS}})
    assert checked == {"web": {"sbom_sha256": digest.lower(), "sbom": "https://sboms.invalid/web.json", "scanned": COUNTS}}
    assert _provenance.validate(None) == {}


@pytest.mark.parametrize("value, message", [
    ({"web": {"sbom": "/x"}}, "provenance.web.sbom_sha256 is null, not a SHA-256 (64 hex digits)."),
    ({"web": {"sbom_sha256": "abc"}}, 'provenance.web.sbom_sha256 is "abc", not a SHA-256'),
    ({"web": {"sbom_sha256": "a" * 64, "token": "npm_x"}}, "provenance.web has the unknown key(s) token."),
    ({"web": {"sbom_sha256": "a" * 64, "scanned": {"vuln": {"HIGH": -1}}}}, "provenance.web.scanned.HIGH is -1, not a count."),
    ({"web": {"sbom_sha256": "a" * 64, "scanned": {"a": {"b": {"c": 1}}}}}, 'provenance.web.scanned.b is {"c": 1}'),
    ({"web": {"sbom_sha256": "a" * 64, "sbom_file": "relative/web.json"}}, "not an absolute path on the deploy host"),
    ({"web": {"sbom_sha256": "a" * 64, "sbom": "two\nlines"}}, "provenance.web.sbom is"),
    ({"../web": {"sbom_sha256": "a" * 64}}, 'provenance names the service "../web".'),
    (["web"], 'provenance is ["web"], not a mapping of services.'),
])
def test_validate_refuses_naming_the_entry(value, message):
    with pytest.raises(DeployError) as err:
        _provenance.validate(value)
    assert message in str(err.value) and "Nothing was changed." in str(err.value)


# -- the release ------------------------------------------------------------------------------
def test_a_deploy_records_provenance_and_keeps_the_sbom_with_the_release(site, tmp_path):
    path, digest = sbom(tmp_path, "web.cdx.json", '{"bomFormat": "CycloneDX", "components": []}\n')
    given = {"web": {"sbom_sha256": digest, "sbom": path, "scanned": COUNTS}}
    result = deploy(site, FakeCompose(), provenance=given)
    release = result["release"]
    assert release["provenance"] == given and release["sbom_files"] == {"web": "sbom-web.cdx.json"}
    assert history(site)["releases"][0]["provenance"] == given
    copy = site / "history" / "releases" / "r1" / "sbom-web.cdx.json"
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == digest
    assert "provenance web sbom sha256:%s (%s) scanned " % (digest, path) in result["diff"]["after"]


def test_a_new_scan_of_the_same_images_changes_nothing(site, tmp_path):
    compose = FakeCompose()
    first_path, first = sbom(tmp_path, "first.cdx.json", '{"serialNumber": "urn:uuid:1"}\n')
    deploy(site, compose, provenance={"web": {"sbom_sha256": first, "sbom": first_path}})
    before = snapshot(site)
    compose.calls = []
    again_path, again = sbom(tmp_path, "again.cdx.json", '{"serialNumber": "urn:uuid:2"}\n')
    rescan = {"sbom_sha256": again, "sbom": again_path, "scanned": {"secret": {"HIGH": 0}}}
    result = deploy(site, compose, provenance={"web": rescan})
    assert not result["changed"] and compose.calls == ["config", "ps", "config --hash"]
    # The running release stays as it was recorded, and so does everything on disk.
    assert result["release"]["provenance"] == {"web": {"sbom_sha256": first, "sbom": first_path}}
    assert result["diff"]["before"] == result["diff"]["after"]
    assert snapshot(site) == before


def test_without_provenance_the_record_has_no_provenance_fields(site):
    result = deploy(site, FakeCompose())
    assert "provenance" not in result["release"] and "sbom_files" not in result["release"]
    assert sorted(os.listdir(str(site / "history" / "releases" / "r1"))) == ["1-compose.yaml", "compose.bytelyst.yml"]


def test_a_mismatched_sbom_is_refused_with_nothing_changed(site, tmp_path):
    compose = FakeCompose()
    deploy(site, compose)
    before = snapshot(site)
    running = dict((s, c["image"]) for s, c in compose.running.items())
    compose.calls = []
    path, digest = sbom(tmp_path, "web.cdx.json", '{"bomFormat": "CycloneDX"}\n')
    wrong = hashlib.sha256(b"another scan").hexdigest()
    with pytest.raises(DeployError) as err:
        deploy(site, compose, images={"web": V2["web"]}, provenance={"web": {"sbom_sha256": wrong, "sbom": path}})
    assert err.value.message == ("The SBOM of web, %s, has SHA-256 %s, but provenance.web.sbom_sha256 says %s. "
                                 "Nothing was changed." % (path, digest, wrong))
    assert compose.calls == []  # refused while staging, before Compose was asked anything
    assert dict((s, c["image"]) for s, c in compose.running.items()) == running
    after = snapshot(site)
    refusal = after.pop("audit.log")
    assert refusal.startswith(before.pop("audit.log")) and b"result=refused" in refusal.splitlines()[-1]
    assert after == before  # history, release directories and env file as they were
    assert not os.path.exists(str(site / "history" / "releases" / ".next"))


def test_provenance_for_an_unknown_service_or_a_rollback_is_refused(site, tmp_path):
    compose = FakeCompose()
    path, digest = sbom(tmp_path, "w.cdx.json", "{}\n")
    with pytest.raises(DeployError) as err:
        deploy(site, compose, provenance={"worker": {"sbom_sha256": digest, "sbom": path}})
    assert "provenance names service(s) worker, which the compose files do not define (services: api, web)" in str(err.value)
    assert not (site / "history" / "releases.json").exists()
    deploy(site, compose)
    with pytest.raises(DeployError) as err:
        deploy(site, compose, action="rollback", provenance={"web": {"sbom_sha256": digest}})
    assert err.value.message == "provenance is given to a rollback. Nothing was changed."
    assert [r["id"] for r in history(site)["releases"]] == ["r1"]


def test_an_sbom_not_on_this_host_is_recorded_with_a_warning(site):
    warnings = []
    digest = "c" * 64
    result = deploy(site, FakeCompose(), warnings=warnings,
                    provenance={"web": {"sbom_sha256": digest, "sbom": "/on/the/build/host/web.cdx.json"}})
    assert result["release"]["provenance"] == {"web": {"sbom_sha256": digest, "sbom": "/on/the/build/host/web.cdx.json"}}
    assert result["release"]["sbom_files"] == {}
    assert warnings == ["The SBOM of web, /on/the/build/host/web.cdx.json, is not on the deploy host: the release "
                        "records its path and digest only (give provenance.web.sbom_file to keep it with the release)."]


def test_sbom_file_is_copied_but_not_recorded_and_a_rollback_keeps_the_provenance(site, tmp_path):
    compose = FakeCompose()
    path, digest = sbom(tmp_path, "incoming.cdx.json", '{"v": 1}\n')
    given = {"web": {"sbom_sha256": digest, "sbom": "build-1:/var/lib/bytelyst/build/sbom/web.cdx.json",
                     "sbom_file": path}}
    first = deploy(site, compose, provenance=given)["release"]
    assert first["provenance"] == {"web": {"sbom_sha256": digest, "sbom": given["web"]["sbom"]}}
    assert path not in json.dumps(history(site))
    deploy(site, compose, images={"web": V2["web"]})
    back = deploy(site, compose, action="rollback")["release"]
    assert back["restores"] == "r1" and back["images"]["web"] == pinned("registry.invalid/notes/web:1.0.0")
    assert back["provenance"] == first["provenance"] and back["sbom_files"] == {"web": "sbom-web.cdx.json"}
    assert (site / "history" / "releases" / back["dir"] / "sbom-web.cdx.json").read_text() == '{"v": 1}\n'


# -- the pipeline's filters ------------------------------------------------------------------
def test_scan_provenance_takes_each_scanned_service_with_an_sbom():
    scans = [
        {"item": {"item": {"key": "web"}}, "sbom": {"path": "/sbom/web.cdx.json", "sha256": "a" * 64},
         "counts": COUNTS, "findings": {"secrets": []}, "image": "notes-web:1"},
        {"item": {"item": {"key": "api"}}, "sbom": None, "counts": COUNTS},  # scanned without sbom_dir
        {"item": {"item": {"key": "worker"}}, "skipped": True},
    ]
    assert _provenance.from_scans(scans) == {"web": {"sbom_sha256": "a" * 64, "sbom": "/sbom/web.cdx.json",
                                                     "scanned": COUNTS}}
    assert _provenance.from_scans(None) == {}


def test_built_provenance_finds_the_build_host_that_scanned_the_product():
    record = {"host": "build-2", "services": {"web": {"sbom_sha256": "a" * 64}}}
    records = [{}, {"clock": {"host": "build-1", "services": {}}}, {"notes": record, "clock": {"host": "b", "services": {}}}]
    assert _provenance.built_provenance(records, "notes") == record
    assert _provenance.built_provenance(records, "clock") == {}  # scanned, but no SBOM written
    assert _provenance.built_provenance([], "notes") == {}
