# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that carry each image's scan (its SBOM and counts) from the build to the deploy (see _provenance.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.bytelyst.deploy.plugins.module_utils import _provenance


def scan_provenance(scans):
    return _provenance.from_scans(scans)


def built_provenance(records, product):
    return _provenance.built_provenance(records, product)


class FilterModule(object):
    def filters(self):
        return {"scan_provenance": scan_provenance, "built_provenance": built_provenance}
