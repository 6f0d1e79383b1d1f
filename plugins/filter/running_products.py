# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The running_products filter: the labels of running product containers, as `docker ps --format
'{{json .Labels}}'` prints them, read into product, kind and base version, so a playbook never
splits them in Jinja."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible.errors import AnsibleFilterError

from ansible_collections.bytelyst.deploy.plugins.module_utils._contract import (
    BASE_VERSION_LABEL, KIND_LABEL, PRODUCT_LABEL)


def parse_labels(text):
    """'a=1,b=2' (docker's .Labels) -> {'a': '1', 'b': '2'}. A piece without '=' belongs to the value
    before it (a label value holding a comma)."""
    labels, key = {}, None
    for piece in (text or "").split(","):
        if "=" in piece:
            key, value = piece.split("=", 1)
            labels[key] = value
        elif key is not None:
            labels[key] += "," + piece
    return labels


def running_products(lines):
    """One dict {product, kind, base_version} per container line (a JSON string), sorted."""
    rows = []
    for line in lines or []:
        try:
            text = json.loads(line) if line.strip() else ""
        except ValueError:
            raise AnsibleFilterError("running_products: %r is not what docker ps --format '{{json .Labels}}' "
                                     "prints (a JSON string of key=value pairs)." % line)
        if not text:
            continue
        labels = parse_labels(text)
        rows.append({"product": labels.get(PRODUCT_LABEL), "kind": labels.get(KIND_LABEL),
                     "base_version": labels.get(BASE_VERSION_LABEL)})
    return sorted(rows, key=lambda row: tuple(str(row[k] or "") for k in ("product", "kind", "base_version")))


class FilterModule(object):
    def filters(self):
        return {"running_products": running_products}
