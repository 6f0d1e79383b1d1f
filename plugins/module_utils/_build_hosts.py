# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which build host builds which product, and where a product's built images are found.

Plain Python (no Ansible imports): the build_assignment and built_images filters wrap it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping, Sequence


class BuildHostError(ValueError):
    pass


def _names(value, what):
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise BuildHostError("%s must be a list of names, found %r" % (what, value))
    for item in value:
        if not isinstance(item, str) or not item:
            raise BuildHostError("%s must be a list of names, found %r in it" % (what, item))
    return list(value)


def assign(products, hosts, overrides=None):
    """Product -> the build host that builds its images.

    Products named in overrides go to the host named there; the others, in sorted order, each to
    the build host with the fewest products so far (ties: the earlier host in inventory order).
    Without overrides that is round-robin over the sorted products. No build host: nothing is assigned. The same inputs always give
    the same assignment, so every play of a run (and every run) agrees on it."""
    products = sorted(set(_names(products, "the products")))
    hosts = _names(hosts, "the build hosts")
    overrides = overrides or {}
    if not isinstance(overrides, Mapping):
        raise BuildHostError("bytelyst_build_hosts must map product names to build hosts, found %r" % (overrides,))
    if not hosts:
        # Nothing builds: plays that only deploy or report (their deploys say no build host built it).
        return {}
    load = dict((host, 0) for host in hosts)
    assignment = {}
    for product in products:
        if product in overrides:
            host = overrides[product]
            if host not in load:
                raise BuildHostError(
                    "bytelyst_build_hosts sends %s to %r, which is not in the build_host group (%s); "
                    "name one of those hosts or add it to the group" % (product, host, ", ".join(hosts)))
            assignment[product] = host
            load[host] += 1
    for product in products:
        if product not in assignment:
            host = min(hosts, key=lambda h: (load[h], hosts.index(h)))
            assignment[product] = host
            load[host] += 1
    return assignment


def built_images(built, product, hosts):
    """The images one build host built for product this run.

    built: per build host (in the order of hosts), its bytelyst_built ({product: {service: result}}),
    or an empty dict when it built nothing. The first host that built the product wins."""
    hosts = _names(hosts, "the build hosts")
    if isinstance(built, str) or not isinstance(built, Sequence) or len(built) != len(hosts):
        raise BuildHostError("expected one record of built images per build host (%d), found %r" % (len(hosts), built))
    for host, record in zip(hosts, built):
        if isinstance(record, Mapping) and product in record:
            return record[product]
    found = "; ".join("%s built %s" % (host, ", ".join(sorted(record)) if isinstance(record, Mapping) and record
                                       else "nothing")
                      for host, record in zip(hosts, built)) or "there is no build host"
    raise BuildHostError(
        "no build host built the images of %s in this run (%s). Deploy in the same run as its build "
        "(the build tasks carry the deploy tag), and check %s is in bytelyst_selected_products."
        % (product, found, product))
