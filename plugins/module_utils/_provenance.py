# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a release's images come from: each service's SBOM and scan counts. PRIVATE to the collection.

compose_deploy's `provenance` option maps a service to what the scan of its image said:
  {"web": {"sbom_sha256": "<64 hex>", "sbom": "/var/lib/bytelyst/build/sbom/web.cdx.json",
           "sbom_file": "/tmp/incoming/web.cdx.json", "scanned": {"secret": {"HIGH": 0}}}}
sbom_sha256 is required; sbom says where the SBOM is kept (a path or a URL), sbom_file is a
copy of it on the deploy host (by default sbom, when that is a file here). The release records
every entry as given (without sbom_file, a path that only meant something during the run) and
keeps the SBOM itself in its release directory as sbom-<service>.cdx.json, after checking its
SHA-256. Provenance is plain data: it is shown and recorded, never part of the fingerprint that
decides whether a deploy changes anything (a new scan of the same images changes nothing).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import re

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

FIELDS = ("sbom_sha256", "sbom", "sbom_file", "scanned")
RECORDED = ("sbom_sha256", "sbom", "scanned")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Compose's rule for service names; the name becomes part of a file name in the release directory.
SERVICE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
COUNT_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
CHUNK = 1 << 20


def sbom_name(service):
    """The file name of a service's SBOM in its release directory."""
    return "sbom-%s.cdx.json" % service


def _refuse(message, hint):
    raise DeployError(message + " Nothing was changed.", hint=hint)


def _counts(service, value, depth=0):
    """scanned: counts (whole numbers), by name, at most two levels deep (scanner, then severity)."""
    if not isinstance(value, dict):
        _refuse("provenance.%s.scanned holds %s, not a mapping of counts." % (service, json.dumps(value)[:60]),
                hint="Pass the counts image_scan returned (counts), such as {\"secret\": {\"HIGH\": 0}}.")
    out = {}
    for name, count in value.items():
        if not isinstance(name, str) or not COUNT_NAME.match(name):
            _refuse("provenance.%s.scanned has the key %s." % (service, json.dumps(name)[:60]),
                    hint="Keys are scanner or severity names (letters, digits, _ . -).")
        if isinstance(count, dict) and depth == 0:
            out[name] = _counts(service, count, 1)
        elif isinstance(count, int) and not isinstance(count, bool) and count >= 0:
            out[name] = count
        else:
            _refuse("provenance.%s.scanned.%s is %s, not a count." % (service, name, json.dumps(count)[:60]),
                    hint="Counts are whole numbers of findings, by scanner and severity.")
    return out


def validate(provenance):
    """The option checked and normalised: {service: entry}. Raises a DeployError naming the entry."""
    if provenance is None:
        return {}
    if not isinstance(provenance, dict):
        _refuse("provenance is %s, not a mapping of services." % json.dumps(provenance)[:60],
                hint="Map each service to {sbom_sha256, sbom, scanned}.")
    checked = {}
    for service, entry in sorted(provenance.items()):
        if not isinstance(service, str) or not SERVICE.match(service):
            _refuse("provenance names the service %s." % json.dumps(service)[:60],
                    hint="Use the service names of the compose files.")
        if not isinstance(entry, dict):
            _refuse("provenance.%s is %s, not a mapping." % (service, json.dumps(entry)[:60]),
                    hint="Give {sbom_sha256, sbom, scanned} for the service.")
        unknown = sorted(set(entry) - set(FIELDS))
        if unknown:
            _refuse("provenance.%s has the unknown key(s) %s." % (service, ", ".join(str(k) for k in unknown)),
                    hint="Its keys are %s; provenance records only those." % ", ".join(FIELDS))
        digest = entry.get("sbom_sha256")
        digest = digest[len("sha256:"):] if isinstance(digest, str) and digest.startswith("sha256:") else digest
        if not isinstance(digest, str) or not SHA256.match(digest.lower()):
            _refuse("provenance.%s.sbom_sha256 is %s, not a SHA-256 (64 hex digits)." % (service, json.dumps(digest)[:80]),
                    hint="Pass the sbom.sha256 image_scan returned for the service's image.")
        checked[service] = {"sbom_sha256": digest.lower()}
        for key in ("sbom", "sbom_file"):
            value = entry.get(key)
            if value is None:
                continue
            if not isinstance(value, str) or not value.strip() or "\n" in value or len(value) > 1024:
                _refuse("provenance.%s.%s is %s, not a path or URL." % (service, key, json.dumps(value)[:80]),
                        hint="Give one line: the path (or URL) of the SBOM.")
            if key == "sbom_file" and (URL.match(value) or not os.path.isabs(value)):
                _refuse("provenance.%s.sbom_file is %s, not an absolute path on the deploy host." % (service, value),
                        hint="Copy the SBOM to the deploy host first and give its path there.")
            checked[service][key] = value
        if entry.get("scanned") is not None:
            checked[service]["scanned"] = _counts(service, entry["scanned"])
    return checked


def recorded(checked):
    """What a release records of the checked option: each entry as given, without sbom_file."""
    return dict((service, dict((k, v) for k, v in entry.items() if k in RECORDED)) for service, entry in checked.items())


def source_file(entry):
    """The file on this host to keep with the release, or None (sbom is a URL, or a path not here)."""
    if entry.get("sbom_file"):
        return entry["sbom_file"]
    sbom = entry.get("sbom")
    if sbom and not URL.match(sbom) and os.path.isabs(sbom) and os.path.isfile(sbom):
        return sbom
    return None


def check_services(checked, services):
    """Every service in provenance is a service of the project."""
    unknown = sorted(set(checked) - set(services))
    if unknown:
        _refuse("provenance names service(s) %s, which the compose files do not define (services: %s)."
                % (", ".join(unknown), ", ".join(sorted(services)) or "none"),
                hint="Give provenance for the project's services only.")


def copy_verified(service, source, expected, directory):
    """Copy source into directory as sbom-<service>.cdx.json, hashing it on the way; a digest
    other than expected removes the copy and raises. Returns the file name."""
    target = os.path.join(directory, sbom_name(service))
    digest = hashlib.sha256()
    try:
        with open(source, "rb") as src:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
            with os.fdopen(fd, "wb") as dst:
                for chunk in iter(lambda: src.read(CHUNK), b""):
                    digest.update(chunk)
                    dst.write(chunk)
    except (IOError, OSError) as exc:
        if os.path.exists(target):
            os.remove(target)
        _refuse("The SBOM of %s, %s, cannot be read: %s." % (service, source, exc.strerror or exc),
                hint="Copy the SBOM to the deploy host (provenance.%s.sbom_file) or fix its permissions." % service)
    if digest.hexdigest() != expected:
        os.remove(target)
        _refuse("The SBOM of %s, %s, has SHA-256 %s, but provenance.%s.sbom_sha256 says %s."
                % (service, source, digest.hexdigest(), service, expected),
                hint="The file is not the SBOM the scan wrote: pass the file and the sbom.sha256 of the same scan.")
    return sbom_name(service)


def state_lines(provenance):
    """The diff view of a release's provenance: one line per service."""
    lines = []
    for service in sorted(provenance or {}):
        entry = provenance[service]
        line = "provenance %s sbom sha256:%s" % (service, entry.get("sbom_sha256"))
        if entry.get("sbom"):
            line += " (%s)" % entry["sbom"]
        if entry.get("scanned") is not None:
            line += " scanned %s" % json.dumps(entry["scanned"], sort_keys=True, separators=(",", ":"))
        lines.append(line + "\n")
    return "".join(lines)


def from_scans(scans):
    """The provenance of a build's images from image_scan's loop results (each with item.item.key, the
    service): {service: {sbom_sha256, sbom, scanned}}, for the images whose SBOM was written."""
    out = {}
    for scan in scans or []:
        if not isinstance(scan, dict) or scan.get("skipped") or not isinstance(scan.get("sbom"), dict):
            continue
        service = ((scan.get("item") or {}).get("item") or {}).get("key")
        if not service or not scan["sbom"].get("sha256"):
            continue
        out[service] = {"sbom_sha256": scan["sbom"]["sha256"], "sbom": scan["sbom"]["path"]}
        if scan.get("counts") is not None:
            out[service]["scanned"] = scan["counts"]
    return out


def built_provenance(records, product):
    """The first build host's record ({host, services}) of product's provenance, or {} when no
    build host scanned it with an SBOM (bytelyst_scan off)."""
    for record in records or []:
        if isinstance(record, dict) and isinstance(record.get(product), dict) and record[product].get("services"):
            return record[product]
    return {}
