# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The playbooks' proxy settings as proxy_deploy takes them. PRIVATE to the collection.

With bytelyst_deploy_strategy proxy, each deploy host runs one proxy in front of all the
products it hosts. Two inputs of the inventory become proxy_deploy's options here:

- product_routes(): the routes of one product, from its services in bytelyst_products (each
  service's `route`: host names and/or a path prefix, or false; its `port` and `health_path`).
  The products sharing the host's proxy are checked against each other: a host name and path
  prefix routed by two services would be refused by nginx at the second product's switch,
  after its new color was built; here it fails before anything starts, naming both services.
- proxy_settings(): bytelyst_proxy (the container, TLS, the drain) split into the container's
  options and the deploy's.

Pure (no Ansible, no engine); the filters in plugins/filter/proxy.py call these.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._proxy import check_routes

ROUTE_KEYS = ("hosts", "path_prefix", "directives", "warmup_paths")
CONTAINER_KEYS = ("name", "image", "network", "config_dir", "ports", "user")
DEPLOY_KEYS = ("tls_certificate", "tls_key", "drain_timeout", "keep_previous")
DEFAULTS = {"drain_timeout": 30, "keep_previous": "stopped"}


class RouteError(ValueError):
    """An input the routes cannot be built from; the message names it and the fix."""


def _route_of(name, service, spec, health_timeout):
    """The proxy_deploy route of one service of bytelyst_products (None when not routed)."""
    at = "bytelyst_products.%s.services.%s.route" % (name, service)
    route = spec.get("route", {})
    if route is False:
        return None
    if route is None or route is True:
        route = {}
    if not isinstance(route, dict):
        raise RouteError("%s is %r; it is a mapping (hosts, path_prefix, directives, warmup_paths) or false." % (at, route))
    unknown = sorted(set(route) - set(ROUTE_KEYS))
    if unknown:
        raise RouteError("%s has unknown keys: %s (it takes %s)." % (at, ", ".join(unknown), ", ".join(ROUTE_KEYS)))
    hosts = route.get("hosts") or []
    if isinstance(hosts, str):
        hosts = [hosts]
    out = {"service": service, "port": spec.get("port"), "hosts": list(hosts),
           "path_prefix": route.get("path_prefix") or "/", "health_path": spec.get("health_path") or "/health",
           "health_timeout": int(health_timeout), "directives": list(route.get("directives") or []),
           "warmup_paths": list(route.get("warmup_paths") or [])}
    try:
        (checked,) = check_routes([out])
    except DeployError as exc:
        raise RouteError("%s: %s %s" % (at, exc.message.replace("routes[0]", "the route"), exc.hint or ""))
    return checked


def _routes_of(products, name, health_timeout):
    product = products.get(name)
    if not isinstance(product, dict):
        raise RouteError("bytelyst_products has no product %s (it has %s)." % (name, ", ".join(sorted(products)) or "none"))
    routes = []
    for service, spec in sorted((product.get("services") or {}).items()):
        route = _route_of(name, service, spec or {}, health_timeout)
        if route is not None:
            routes.append(route)
    return routes


def _where(key):
    host, prefix = key
    return "%s%s" % (host or "(any host name)", prefix)


def _keys(route):
    """What a route claims on the proxy: (host name, path prefix) pairs ("" for any host)."""
    return [(host, route["path_prefix"]) for host in route["hosts"] or [""]]


def product_routes(products, name, on_host=None, health_timeout=30):
    """proxy_deploy's routes for product `name` of bytelyst_products. on_host: the products that
    share this host's proxy (their routes must not route what this one routes)."""
    if not isinstance(products, dict):
        raise RouteError("bytelyst_products is %s, not a mapping of products." % type(products).__name__)
    routes = _routes_of(products, name, health_timeout)
    if not routes:
        raise RouteError(
            "bytelyst_products.%s routes none of its services (each has route: false), so the proxy would serve "
            "nothing of it." % name)
    taken = {}
    for route in routes:
        for key in _keys(route):
            if key in taken:
                raise RouteError(
                    "bytelyst_products.%s.services.%s and .%s both route %s; the proxy sends each host name and path "
                    "prefix to one service. Give one of them route.hosts or another route.path_prefix (or route: false)."
                    % (name, taken[key], route["service"], _where(key)))
            taken[key] = route["service"]
    for other in sorted(set(on_host or []) - set([name])):
        try:
            theirs = _routes_of(products, other, health_timeout)
        except RouteError:
            continue  # their own deploy reports it
        for route in theirs:
            for key in _keys(route):
                if key in taken:
                    raise RouteError(
                        "bytelyst_products.%s.services.%s routes %s, which bytelyst_products.%s.services.%s routes too, "
                        "and both products run behind the same proxy on this host. Give one of them route.hosts "
                        "(a host name of its own) or another route.path_prefix."
                        % (name, taken[key], _where(key), other, route["service"]))
    return routes


def proxy_settings(settings):
    """bytelyst_proxy -> {proxy: the container's options, tls_certificate, tls_key, drain_timeout,
    keep_previous} (the deploy role's deploy_proxy, deploy_tls_*, deploy_drain_timeout, ...)."""
    settings = settings or {}
    if not isinstance(settings, dict):
        raise RouteError("bytelyst_proxy is %s, not a mapping." % type(settings).__name__)
    unknown = sorted(set(settings) - set(CONTAINER_KEYS) - set(DEPLOY_KEYS))
    if unknown:
        raise RouteError("bytelyst_proxy has unknown keys: %s (it takes %s)."
                         % (", ".join(unknown), ", ".join(CONTAINER_KEYS + DEPLOY_KEYS)))
    if bool(settings.get("tls_certificate")) != bool(settings.get("tls_key")):
        raise RouteError("bytelyst_proxy has %s without %s; give both (paths of PEM files on the deploy host) or neither."
                         % (("tls_certificate", "tls_key") if settings.get("tls_certificate") else ("tls_key", "tls_certificate")))
    out = {"proxy": dict((k, settings[k]) for k in CONTAINER_KEYS if settings.get(k) not in (None, "", []))}
    for key in DEPLOY_KEYS:
        value = settings.get(key)
        out[key] = DEFAULTS.get(key, "") if value in (None, "") else value
    return out
