"""The proxy's inventory as proxy_deploy's options: product_routes, proxy_settings (filters and
core), and product_services behind the proxy (no published port, no HTTP check of one)."""

import copy
import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.bytelyst.deploy.plugins.filter.definition import FilterModule as DefinitionFilters
from ansible_collections.bytelyst.deploy.plugins.filter.proxy import FilterModule
from ansible_collections.bytelyst.deploy.plugins.module_utils import _routes
from ansible_collections.bytelyst.deploy.plugins.module_utils._proxy import check_routes

FILTERS = FilterModule().filters()
product_routes = FILTERS["product_routes"]
proxy_settings = FILTERS["proxy_settings"]
product_services = DefinitionFilters().filters()["product_services"]

PRODUCTS = {
    "notes": {"services": {
        "backend": {"kind": "backend", "port": 4016, "host_port": 4016, "health_path": "/health",
                    "route": {"hosts": ["notes.example.com"], "path_prefix": "/api/"}},
        "web": {"kind": "web", "port": 3000, "host_port": 3016, "health_path": "/api/health",
                "route": {"hosts": ["notes.example.com"], "directives": ["client_max_body_size 20m;"]}},
    }},
    "clock": {"services": {
        "backend": {"kind": "backend", "port": 4017, "health_path": "/health", "route": False},
        "web": {"kind": "web", "port": 3000},
    }},
}


def products(**changes):
    """PRODUCTS with services replaced: changes = {'notes.web': {...} or None (removed)}."""
    out = copy.deepcopy(PRODUCTS)
    for where, spec in changes.items():
        name, service = where.split(".")
        if spec is None:
            out[name]["services"].pop(service)
        else:
            out[name]["services"][service] = spec
    return out


def test_each_service_is_routed_by_its_hosts_and_prefix_to_its_port_with_its_health_path():
    routes = product_routes(PRODUCTS, "notes", ["notes", "clock"])
    assert routes == [
        {"service": "backend", "port": 4016, "hosts": ["notes.example.com"], "path_prefix": "/api/",
         "health_path": "/health", "health_status": 200, "health_timeout": 30, "directives": [], "warmup_paths": []},
        {"service": "web", "port": 3000, "hosts": ["notes.example.com"], "path_prefix": "/",
         "health_path": "/api/health", "health_status": 200, "health_timeout": 30,
         "directives": ["client_max_body_size 20m;"], "warmup_paths": []},
    ]
    # What proxy_deploy does with them: they pass its own check unchanged.
    assert check_routes(routes) == routes


def test_a_service_without_route_answers_on_any_host_and_route_false_is_not_routed():
    routes = product_routes(PRODUCTS, "clock", ["clock"], health_timeout=45)
    assert routes == [{"service": "web", "port": 3000, "hosts": [], "path_prefix": "/", "health_path": "/health",
                       "health_status": 200, "health_timeout": 45, "directives": [], "warmup_paths": []}]


def test_two_services_of_one_product_on_the_same_host_and_prefix_are_refused():
    same = dict(PRODUCTS["notes"]["services"]["web"], route={"hosts": ["notes.example.com"], "path_prefix": "/api/"})
    with pytest.raises(AnsibleFilterError) as err:
        product_routes(products(**{"notes.web": same}), "notes")
    message = str(err.value)
    assert "bytelyst_products.notes.services.backend and .web both route notes.example.com/api/" in message
    assert "route.hosts or another route.path_prefix" in message


def test_a_route_another_product_on_the_same_proxy_has_is_refused_naming_both():
    # notes' web without hosts: '/' on any host name, as clock's web routes it.
    hostless = dict(PRODUCTS["notes"]["services"]["web"], route={})
    changed = products(**{"notes.web": hostless})
    with pytest.raises(AnsibleFilterError) as err:
        product_routes(changed, "notes", ["clock", "notes"])
    message = str(err.value)
    assert "bytelyst_products.notes.services.web routes (any host name)/" in message
    assert "bytelyst_products.clock.services.web routes too" in message and "same proxy" in message
    # Products on other hosts (not in on_host) do not collide.
    assert [r["service"] for r in product_routes(changed, "notes", ["notes"])] == ["backend", "web"]


@pytest.mark.parametrize("route, words", [
    ({"hosts": ["no spaces.example.com"]}, ["bytelyst_products.notes.services.web.route", "'no spaces.example.com'",
                                            "not a host name"]),
    ({"path_prefix": "api"}, ["bytelyst_products.notes.services.web.route", "the route.path_prefix is 'api'"]),
    ({"directives": ["gzip on"]}, ["'gzip on'", "ending in ';'"]),
    ({"host": ["x.example.com"]}, ["unknown keys: host", "hosts, path_prefix, directives"]),
    ("notes.example.com", ["route is 'notes.example.com'", "a mapping (hosts, path_prefix, directives, warmup_paths) or false"]),
])
def test_bad_routes_are_refused_naming_the_product_and_service(route, words):
    spec = dict(PRODUCTS["notes"]["services"]["web"], route=route)
    with pytest.raises(AnsibleFilterError) as err:
        product_routes(products(**{"notes.web": spec}), "notes")
    for word in words:
        assert word in str(err.value)


def test_a_product_routing_nothing_or_missing_is_refused():
    none = products(**{"clock.web": dict(PRODUCTS["clock"]["services"]["web"], route=False)})
    with pytest.raises(AnsibleFilterError, match="clock routes none of its services"):
        product_routes(none, "clock")
    with pytest.raises(AnsibleFilterError, match="has no product shop"):
        product_routes(PRODUCTS, "shop")


def test_proxy_settings_split_the_container_from_the_deploy_and_fill_defaults():
    got = proxy_settings({"image": "nginx:1.27", "ports": ["80:8080", "443:8443"], "tls_certificate": "/etc/c.pem",
                          "tls_key": "/etc/k.pem", "drain_timeout": 60})
    assert got == {"proxy": {"image": "nginx:1.27", "ports": ["80:8080", "443:8443"]},
                   "tls_certificate": "/etc/c.pem", "tls_key": "/etc/k.pem", "drain_timeout": 60,
                   "keep_previous": "stopped"}
    assert proxy_settings({}) == {"proxy": {}, "tls_certificate": "", "tls_key": "", "drain_timeout": 30,
                                  "keep_previous": "stopped"}


@pytest.mark.parametrize("settings, words", [
    ({"port": ["80:8080"]}, ["unknown keys: port", "ports"]),
    ({"tls_certificate": "/etc/c.pem"}, ["tls_certificate without tls_key", "give both"]),
    ({"tls_key": "/etc/k.pem"}, ["tls_key without tls_certificate"]),
    (["80:8080"], ["bytelyst_proxy is list, not a mapping"]),
])
def test_bad_proxy_settings_are_refused(settings, words):
    with pytest.raises(AnsibleFilterError) as err:
        proxy_settings(settings)
    for word in words:
        assert word in str(err.value)


def test_behind_the_proxy_services_publish_no_port_and_carry_no_http_check():
    images = {"backend": "r/notes-backend:1", "web": "r/notes-web:1"}
    published = product_services(PRODUCTS["notes"], "notes", images, port_offset=100)
    assert [s["ports"] for s in published] == [["127.0.0.1:4116:4016"], ["127.0.0.1:3116:3000"]]
    behind = product_services(PRODUCTS["notes"], "notes", images, port_offset=100, publish=False)
    assert [sorted(s) for s in behind] == [["environment", "image", "name"]] * 2
    assert [s["environment"] for s in behind] == [{"PORT": 4016}, {"PORT": 3000}]
    # host_port is not needed behind the proxy (clock's backend has none), but it is in place.
    clock = {"backend": "r/clock-backend:1", "web": "r/clock-web:1"}
    assert len(product_services(PRODUCTS["clock"], "clock", clock, publish=False)) == 2
    with pytest.raises(AnsibleFilterError, match="clock.services.backend.host_port must be a port number"):
        product_services(PRODUCTS["clock"], "clock", clock)


def test_the_playbooks_options_match_what_the_filters_and_the_role_take():
    """bytelyst_proxy's documented options are the keys proxy_settings takes; deploy_product.yml
    hands the deploy role the strategy, the routes and every proxy setting."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "roles", "bytelyst", "meta", "argument_specs.yml")) as f:
        spec = yaml.safe_load(f)["argument_specs"]["main"]["options"]
    assert sorted(spec["bytelyst_proxy"]["options"]) == sorted(_routes.CONTAINER_KEYS + _routes.DEPLOY_KEYS)
    assert spec["bytelyst_deploy_strategy"]["choices"] == ["in_place", "proxy"]
    with open(os.path.join(root, "roles", "bytelyst", "defaults", "main.yml")) as f:
        defaults = yaml.safe_load(f)
    assert defaults["bytelyst_deploy_strategy"] == "in_place" and defaults["bytelyst_proxy"] == {}
    with open(os.path.join(root, "playbooks", "tasks", "deploy_product.yml")) as f:
        role_vars = yaml.safe_load(f)[0]["vars"]
    with open(os.path.join(root, "roles", "deploy", "meta", "argument_specs.yml")) as f:
        deploy_spec = yaml.safe_load(f)["argument_specs"]["main"]["options"]
    handed = set(k for k in role_vars if k.startswith("deploy_"))
    assert {"deploy_strategy", "deploy_routes", "deploy_proxy", "deploy_tls_certificate", "deploy_tls_key",
            "deploy_drain_timeout", "deploy_keep_previous"} <= handed
    assert handed <= set(deploy_spec), handed - set(deploy_spec)
    assert "product_routes" in role_vars["deploy_routes"] and "publish=bytelyst_deploy_strategy != 'proxy'" in \
        role_vars["deploy_services"]
