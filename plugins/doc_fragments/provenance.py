# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The provenance option of compose_deploy and proxy_deploy (_provenance.validate).
    DOCUMENTATION = r"""
options:
  provenance:
    description:
      - Where each service's image comes from, recorded in the release (C(provenance) in C(releases.json) and in
        RV(release)), so a deployed image can be traced to its SBOM. A mapping of service name to
        C(sbom_sha256) (required, the SHA-256 of the CycloneDX SBOM, as M(bytelyst.deploy.image_scan) returns it
        in C(sbom.sha256)), C(sbom) (where the SBOM is kept, a path or a URL), C(sbom_file) (a copy of the SBOM
        on the deploy host; defaults to C(sbom) when that is a file there) and C(scanned) (the scan's counts,
        as M(bytelyst.deploy.image_scan) returns them in C(counts)). No other key is accepted, and nothing is
        recorded that was not given (C(sbom_file) is not recorded).
      - When a file is given, it is copied into the release's directory as C(sbom-<service>.cdx.json) (listed in
        the release's C(sbom_files)) and its SHA-256 checked on the way; a mismatch fails the task before anything
        changes. A C(sbom) path that is not on the deploy host is recorded with a warning.
      - Provenance is shown in the diff but is not part of the state that decides whether the deploy changes
        anything - the same images with a new scan are the same release (C(changed=false)), which keeps the
        provenance it was recorded with.
      - Not used with O(action=rollback) - a rollback release records the provenance of the release it restores.
    type: dict
"""
