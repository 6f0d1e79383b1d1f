# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scanning an image with Trivy and deciding the gate. PRIVATE to the collection.

Four steps, each testable on its own: build the trivy command (pure), run it, parse the
JSON report into trimmed findings, decide the gate. One Trivy run gives vulnerabilities,
secrets and the package list; `trivy convert` turns that report into the CycloneDX SBOM,
so the image is read once.

A secret finding never carries the secret: Trivy's `Match` and `Code` fields (which hold
the matched line, masked or not) are dropped when the report is parsed, and the report
file itself is deleted as soon as it is read.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import fnmatch
import hashlib
import json
import os
import re
import shutil
import tempfile

from ansible_collections.bytelyst.deploy.plugins.module_utils._command import Command, run, tail
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

SEVERITIES = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")
SCANNERS = ("vuln", "secret")
DEFAULT_FAIL_ON = ("CRITICAL", "HIGH")

# Trivy's built-in npm rule only matches a token in quotes; an .npmrc holds it bare
# (`//host/:_authToken=npm_...`). This rule adds that form, and any _auth/_password there.
# A value starting with `$` is an environment placeholder (`${NPM_TOKEN}`), not a secret.
SECRET_RULES = r"""rules:
  - id: npmrc-credential
    category: npm
    title: npm registry credential in an npmrc file
    severity: CRITICAL
    path: (^|/)\.?npmrc$
    keywords: [_auth, _password]
    regex: (?i)(?:_authToken|_auth|_password)\s*=\s*["']?(?P<secret>[^\s"'$][^\s"']{7,})
    secret-group-name: secret
"""

DB_OPTIONS = ("cache_dir (a Trivy cache directory holding db/trivy.db and db/metadata.json), "
              "db_repository (an OCI repository with Trivy's DB, such as a mirror on your own registry) "
              "with skip_db_update=false, or scanners=[secret] to scan for secrets and write the SBOM without it")


def default_cache_dir(environ=None):
    """Trivy's own default cache directory (the user's cache dir + /trivy)."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CACHE_HOME") or os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".cache")
    return os.path.join(base, "trivy")


def sbom_file_name(image):
    """The SBOM's file name for an image reference: one file per name:tag, readable."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", image).strip("_") + ".cdx.json"


# --- commands (pure) --------------------------------------------------------------------

def scan_command(trivy, image, report_path, scanners, secret_config=None, cache_dir=None, db_repository=None,
                 skip_db_update=False, docker_host=None, timeout=600):
    """The trivy run that writes the JSON report (findings plus every package) for a local image."""
    argv = [trivy, "image", "--quiet", "--format", "json", "--list-all-pkgs", "--output", report_path,
            # The engine's local image only: what was just built, never a registry's copy.
            "--image-src", "docker",
            "--scanners", ",".join(scanners), "--timeout", "%ds" % timeout]
    if "secret" in scanners and secret_config:
        argv += ["--secret-config", secret_config]
    if cache_dir:
        argv += ["--cache-dir", cache_dir]
    if db_repository:
        argv += ["--db-repository", db_repository]
    if skip_db_update:
        argv += ["--skip-db-update", "--skip-java-db-update"]
    if docker_host:
        argv += ["--docker-host", docker_host]
    argv.append(image)
    return Command(argv, timeout=timeout + 60)


def sbom_command(trivy, report_path, sbom_path):
    """The trivy run that turns the JSON report into a CycloneDX SBOM (no second image read)."""
    return Command([trivy, "convert", "--quiet", "--format", "cyclonedx", "--output", sbom_path, report_path],
                   timeout=300)


# --- the report (parsing) ---------------------------------------------------------------

def _vulnerability(result, vuln):
    return {
        "id": vuln.get("VulnerabilityID"),
        "severity": (vuln.get("Severity") or "UNKNOWN").upper(),
        "package": vuln.get("PkgName"),
        "installed": vuln.get("InstalledVersion"),
        "fixed": vuln.get("FixedVersion") or None,
        "status": vuln.get("Status"),
        "title": vuln.get("Title"),
        "target": result.get("Target"),
        "path": vuln.get("PkgPath") or None,
    }


def _secret(result, secret):
    # Only these fields: Match and Code hold (parts of) the secret and never leave here.
    return {
        "id": secret.get("RuleID"),
        "severity": (secret.get("Severity") or "UNKNOWN").upper(),
        "category": secret.get("Category"),
        "title": secret.get("Title"),
        "path": result.get("Target"),
        "start_line": secret.get("StartLine"),
        "end_line": secret.get("EndLine"),
        "layer": (secret.get("Layer") or {}).get("DiffID"),
    }


def parse_report(text, command=None):
    """Trivy's JSON report -> {image_id, vulnerabilities, secrets, packages} (trimmed findings)."""
    try:
        report = json.loads(text)
    except ValueError as exc:
        raise DeployError("Trivy's report is not JSON (%s)." % exc, command=command, output=tail(text, 5))
    if not isinstance(report, dict) or "Results" not in report and "SchemaVersion" not in report:
        raise DeployError("Trivy's report has no Results: is this Trivy's JSON format (--format json)?",
                          command=command)
    vulnerabilities, secrets, packages = [], [], 0
    for result in report.get("Results") or []:
        packages += len(result.get("Packages") or [])
        for vuln in result.get("Vulnerabilities") or []:
            vulnerabilities.append(_vulnerability(result, vuln))
        for secret in result.get("Secrets") or []:
            secrets.append(_secret(result, secret))
    metadata = report.get("Metadata") or {}
    return {"image_id": metadata.get("ImageID"), "vulnerabilities": vulnerabilities, "secrets": secrets,
            "packages": packages}


# --- the gate (decision) ----------------------------------------------------------------

def _date(value, where):
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.datetime.strptime(str(value), "%Y-%m-%d").date()
    except ValueError:
        raise DeployError("%s: expires is %r, not a date." % (where, value), hint="Write it as YYYY-MM-DD.")


def parse_ignores(entries, today):
    """Validate the ignore list; return (active, expired) lists of {id, reason, expires, path}.

    An ignore whose expiry date has passed (expires < today) stops counting: the finding
    trips the gate again and the ignore is reported, so nobody forgets to look again.
    """
    active, expired = [], []
    for index, entry in enumerate(entries or []):
        where = "ignore[%d]" % index
        if not isinstance(entry, dict):
            raise DeployError("%s is %r, not a dict." % (where, entry), hint="Give id, reason and expires.")
        unknown = sorted(set(entry) - {"id", "reason", "expires", "path"})
        if unknown:
            raise DeployError("%s has unknown keys %s." % (where, ", ".join(unknown)),
                              hint="An ignore has id, reason, expires (YYYY-MM-DD) and optionally path.")
        if not entry.get("id"):
            raise DeployError("%s has no id." % where, hint="Give the vulnerability ID (CVE-...) or secret rule ID.")
        if not str(entry.get("reason") or "").strip():
            raise DeployError("%s (%s) has no reason." % (where, entry["id"]),
                              hint="Say why it is safe to ignore, for the next person who reads it.")
        item = {"id": str(entry["id"]), "reason": str(entry["reason"]).strip(), "path": entry.get("path") or None,
                "expires": None}
        if entry.get("expires"):
            expires = _date(entry["expires"], "%s (%s)" % (where, entry["id"]))
            item["expires"] = expires.isoformat()
            if expires < today:
                expired.append(item)
                continue
        active.append(item)
    return active, expired


def _matching_ignore(finding, ignores):
    for ignore in ignores:
        if ignore["id"] != finding["id"]:
            continue
        if ignore["path"] and not fnmatch.fnmatch(finding.get("path") or finding.get("target") or "", ignore["path"]):
            continue
        return ignore
    return None


def _counts(findings):
    counts = dict((severity, 0) for severity in SEVERITIES)
    for finding in findings:
        counts[finding["severity"] if finding["severity"] in counts else "UNKNOWN"] += 1
    return counts


def _describe(finding, scanner):
    if scanner == "secret":
        return "%s (%s) in %s line %s" % (finding["id"], finding["severity"], finding["path"], finding["start_line"])
    fixed = ", fixed in %s" % finding["fixed"] if finding.get("fixed") else ", no fix yet"
    return "%s (%s) in %s %s%s" % (finding["id"], finding["severity"], finding["package"], finding["installed"], fixed)


def decide(parsed, fail_on=DEFAULT_FAIL_ON, ignores=None, allow_secrets=False, today=None):
    """The gate: which findings count, and whether the image fails.

    A vulnerability counts when its severity is in fail_on; a secret always counts unless
    allow_secrets. An active ignore (id, optionally path) takes a finding out of the count.
    """
    today = today or datetime.date.today()
    fail_on = [s.upper() for s in fail_on]
    unknown = sorted(set(fail_on) - set(SEVERITIES))
    if unknown:
        raise DeployError("fail_on has unknown severities %s." % ", ".join(unknown),
                          hint="Use any of %s." % ", ".join(SEVERITIES))
    active, expired = parse_ignores(ignores, today)
    blocking, ignored = [], []
    for scanner, findings in (("vuln", parsed["vulnerabilities"]), ("secret", parsed["secrets"])):
        for finding in findings:
            if scanner == "vuln" and finding["severity"] not in fail_on:
                continue
            if scanner == "secret" and allow_secrets:
                continue
            ignore = _matching_ignore(finding, active)
            if ignore:
                ignored.append({"id": finding["id"], "scanner": scanner, "path": finding.get("path"),
                                "reason": ignore["reason"], "expires": ignore["expires"]})
                continue
            blocking.append((scanner, finding))
    return {
        "failed": bool(blocking),
        "blocking": [{"scanner": scanner, "id": finding["id"], "severity": finding["severity"],
                      "summary": _describe(finding, scanner)} for scanner, finding in blocking],
        "counts": {"vuln": _counts(parsed["vulnerabilities"]), "secret": _counts(parsed["secrets"])},
        "ignored": ignored,
        "expired_ignores": expired,
    }


def gate_message(image, verdict, shown=20):
    """Names the findings that trip the gate (rule or CVE, file or package), never a value."""
    blocking = verdict["blocking"]
    secrets = sum(1 for item in blocking if item["scanner"] == "secret")
    text = "; ".join(item["summary"] for item in blocking[:shown])
    if len(blocking) > shown:
        text += "; and %d more" % (len(blocking) - shown)
    return "%s failed the scan gate: %d finding(s) count, %d of them secrets: %s." % (
        image, len(blocking), secrets, text)


# --- the SBOM -----------------------------------------------------------------------------

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _canonical(value):
    """value with every list sorted: Trivy lists packages found twice in no fixed order."""
    if isinstance(value, dict):
        return dict((key, _canonical(item)) for key, item in value.items())
    if isinstance(value, list):
        return sorted((_canonical(item) for item in value), key=lambda item: json.dumps(item, sort_keys=True))
    return value


def _sbom_content(data):
    """The SBOM without what changes on every run: the timestamp, the random UUIDs (serial
    number, bom-refs of the image, the OS and packages found twice) and the order of lists."""
    try:
        doc = json.loads(UUID.sub("<uuid>", data.decode("utf-8") if isinstance(data, bytes) else data))
    except ValueError:
        return None
    if isinstance(doc, dict) and isinstance(doc.get("metadata"), dict):
        doc["metadata"].pop("timestamp", None)
    return json.dumps(_canonical(doc), sort_keys=True)


def keep_sbom(new_path, dest):
    """Move the new SBOM to dest unless dest already says the same; return (changed, sha256)."""
    with open(new_path, "rb") as handle:
        new = handle.read()
    if os.path.exists(dest):
        with open(dest, "rb") as handle:
            old = handle.read()
        if _sbom_content(old) is not None and _sbom_content(old) == _sbom_content(new):
            return False, hashlib.sha256(old).hexdigest()
    os.replace(new_path, dest)
    return True, hashlib.sha256(new).hexdigest()


# --- the whole scan -----------------------------------------------------------------------

def check_db(scanners, cache_dir, skip_db_update):
    """Before running: with skip_db_update there must already be a DB to use."""
    if "vuln" not in scanners or not skip_db_update:
        return
    metadata = os.path.join(cache_dir or default_cache_dir(), "db", "metadata.json")
    if not os.path.exists(metadata):
        raise DeployError(
            "No vulnerability database is available: skip_db_update is set and %s does not exist." % metadata,
            hint="Give %s." % DB_OPTIONS)


def _run_error(err, image, scanners):
    """Turn Trivy's failure output into an error that says what to do."""
    output = err.output or ""
    if "vuln" in scanners and ("DB error" in output or "vulnerability DB" in output or "--skip-update" in output):
        return DeployError("No vulnerability database is available for the scan of %s (Trivy could not open or "
                           "download it)." % image, hint="Give %s." % DB_OPTIONS, command=err.command, output=output)
    if "unable to find the specified image" in output or "No such image" in output:
        return DeployError("%s is not on the Docker engine: image_scan scans the engine's local image." % image,
                           hint="Build or pull it first, or check docker_host.", command=err.command, output=output)
    return err


def plan(params):
    """What a scan would do: the command and where the SBOM goes (no side effects)."""
    image = params["image"]
    sbom_path = os.path.join(params["sbom_dir"], sbom_file_name(image)) if params.get("sbom_dir") else None
    command = scan_command(params.get("trivy") or "trivy", image, "<report>", params["scanners"],
                           secret_config="<rules>", cache_dir=params.get("cache_dir"),
                           db_repository=params.get("db_repository"), skip_db_update=params.get("skip_db_update"),
                           docker_host=params.get("docker_host"), timeout=params.get("timeout") or 600)
    return {"image": image, "scanners": list(params["scanners"]), "sbom_path": sbom_path,
            "command": command.display()}


def scan(params, today=None, runner=run):
    """Scan params["image"]; return the module's result (gate verdict, findings, SBOM)."""
    image, scanners, trivy = params["image"], list(params["scanners"]), params.get("trivy") or "trivy"
    if not scanners:
        raise DeployError("scanners is empty.", hint="Give vuln, secret or both.")
    check_db(scanners, params.get("cache_dir"), params.get("skip_db_update"))
    work = tempfile.mkdtemp(prefix="bytelyst-scan-")
    try:
        report_path = os.path.join(work, "report.json")
        rules_path = os.path.join(work, "secret-rules.yaml")
        with open(rules_path, "w") as handle:
            handle.write(SECRET_RULES)
        command = scan_command(trivy, image, report_path, scanners, secret_config=rules_path,
                               cache_dir=params.get("cache_dir"), db_repository=params.get("db_repository"),
                               skip_db_update=params.get("skip_db_update"), docker_host=params.get("docker_host"),
                               timeout=params.get("timeout") or 600)
        # In a directory of our own: Trivy reads ./trivy-secret.yaml and friends from the cwd.
        command.cwd = work
        try:
            runner(command, what="Trivy scan of %s" % image)
        except DeployError as err:
            raise _run_error(err, image, scanners)
        with open(report_path) as handle:
            parsed = parse_report(handle.read(), command.display())
        result = {"image": image, "image_id": parsed["image_id"], "scanners": scanners,
                  "packages": parsed["packages"], "command": command.display(), "changed": False,
                  "sbom": None}
        if params.get("sbom_dir"):
            os.makedirs(params["sbom_dir"], exist_ok=True)
            new_sbom = os.path.join(work, "sbom.cdx.json")
            runner(sbom_command(trivy, report_path, new_sbom), what="CycloneDX SBOM of %s" % image)
            dest = os.path.join(params["sbom_dir"], sbom_file_name(image))
            changed, digest = keep_sbom(new_sbom, dest)
            result["changed"] = changed
            result["sbom"] = {"path": dest, "sha256": digest, "format": "CycloneDX JSON"}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    verdict = decide(parsed, params.get("fail_on") or [], params.get("ignore"), params.get("allow_secrets"), today)
    result.update(verdict)
    result["findings"] = {"vulnerabilities": parsed["vulnerabilities"], "secrets": parsed["secrets"]}
    if verdict["failed"]:
        result["msg"] = gate_message(image, verdict)
    return result
