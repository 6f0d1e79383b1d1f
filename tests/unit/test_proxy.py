"""The proxy's configuration as data (_proxy.py) and its switch (_proxy_host.py), against a fake
docker CLI runner, a fake engine and a fake status port; no Docker, no nginx."""

import os
import re

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._proxy import (
    check_product_config, check_routes, marker, network_override, parse_ports, proxy_spec, render_main,
    render_product, upstream_variable, worker_pids)
from ansible_collections.bytelyst.deploy.plugins.module_utils._proxy_host import ProxyHost
from fakes.clock import FakeClock
from fakes.engine import FakeClient, FakeContainer
from fakes.proxy import FakeNginx

WEB = {"service": "web", "port": 3000, "hosts": ["notes.example.com"], "path_prefix": "/", "health_path": "/health"}
API = {"service": "api", "port": 4000, "hosts": ["notes.example.com"], "path_prefix": "/api/"}
ANY = {"service": "web", "port": 3000, "path_prefix": "/notes/"}


def test_routes_are_normalised_with_defaults():
    routes = check_routes([WEB, {"service": "api", "port": 4000}], {"web", "api"})
    assert routes[0]["hosts"] == ["notes.example.com"] and routes[0]["health_status"] == 200
    assert routes[1] == {"service": "api", "port": 4000, "hosts": [], "path_prefix": "/", "directives": [],
                         "health_path": None, "health_status": 200, "health_timeout": 30, "warmup_paths": []}


def test_warmup_paths_are_kept_and_bad_ones_refused():
    (route,) = check_routes([dict(WEB, warmup_paths=["/", "/notes"])], {"web"})
    assert route["warmup_paths"] == ["/", "/notes"]
    with pytest.raises(DeployError) as info:
        check_routes([dict(WEB, warmup_paths=["http://evil/"])], {"web"})
    assert "warmup_paths has 'http://evil/', which is not a URL path" in info.value.message


def test_upstream_variables_stay_within_what_nginx_takes():
    # 47 characters fail `nginx -t` ("could not build variables_hash"): the bench's project
    # bench-deploy-backend-proxy-<8 hex> with service backend made 52 and could not deploy.
    assert upstream_variable("notes", "web") == "$bytelyst_notes_web"
    long_ones = [upstream_variable("bench-deploy-backend-proxy-9ac432f5", s) for s in ("backend", "web")]
    long_ones.append(upstream_variable("bench-deploy-backend-proxy-9ac432f6", "backend"))
    assert all(len(v) - 1 <= 46 and re.match(r"^\$bytelyst_[0-9a-f]{16}$", v) for v in long_ones), long_ones
    assert len(set(long_ones)) == 3
    edge = "p" * (46 - len("bytelyst__web"))
    assert upstream_variable(edge, "web") == "$bytelyst_%s_web" % edge
    conf = render_product("bench-deploy-backend-proxy-9ac432f5", check_routes([dict(WEB, service="backend")]),
                          {"backend": "x-blue-backend-1:4016"})["conf"]
    assert "set %s x-blue-backend-1:4016;" % long_ones[0] in conf and "proxy_pass http://%s;" % long_ones[0] in conf


@pytest.mark.parametrize("route, words", [
    (dict(WEB, service="cache"), "routes[0].service cache is not a service of the compose files (services: api, web)"),
    (dict(WEB, port=0), "routes[0].port is 0, not a port number"),
    (dict(WEB, port="3000"), "routes[0].port is '3000'"),
    (dict(WEB, hosts=["notes.example.com;evil"]), "routes[0].hosts has 'notes.example.com;evil'"),
    (dict(WEB, hosts=["https://notes.example.com"]), "is not a host name"),
    (dict(WEB, path_prefix="api"), "routes[0].path_prefix is 'api', not a plain URL path"),
    (dict(WEB, path_prefix="/a b/"), "not a plain URL path"),
    (dict(WEB, path_prefix="/a/../b/"), "not a plain URL path"),
    (dict(WEB, directives=["gzip on"]), "not one nginx directive ending in ';'"),
    (dict(WEB, directives=["location / { }"]), "not one nginx directive"),
])
def test_a_bad_route_is_refused_naming_it(route, words):
    with pytest.raises(DeployError) as err:
        check_routes([route], {"web", "api"})
    assert words in err.value.message


def test_two_routes_for_the_same_host_and_prefix_are_refused():
    with pytest.raises(DeployError) as err:
        check_routes([WEB, dict(WEB, service="api")])
    assert "routes[1] routes notes.example.com/, which an earlier route already routes" in err.value.message


def test_no_routes_is_refused():
    with pytest.raises(DeployError) as err:
        check_routes([])
    assert "routes is empty" in err.value.message


@pytest.mark.parametrize("service, words", [
    ({"ports": [{"target": 3000, "published": "8080"}]}, "Service web of notes publishes ports"),
    ({"container_name": "web"}, "Service web of notes sets container_name web"),
])
def test_what_cannot_run_twice_is_refused(service, words):
    with pytest.raises(DeployError) as err:
        check_product_config({"services": {"web": dict(service, image="x")}}, "notes")
    assert words in err.value.message


def test_product_files_route_by_host_and_prefix_to_the_named_containers():
    routes = check_routes([WEB, API, ANY])
    files = render_product("notes", routes, {"web": "notes-green-web-1:3000", "api": "notes-green-api-1:4000"})
    conf = files["conf"]
    assert conf.count("server {") == 1 and "server_name notes.example.com;" in conf
    assert "    location / {\n        set $bytelyst_notes_web notes-green-web-1:3000;\n" \
           "        proxy_pass http://$bytelyst_notes_web;" in conf
    assert "location ^~ /api/ {\n        set $bytelyst_notes_api notes-green-api-1:4000;" in conf
    # A route without hosts goes to the default server, by path.
    assert "location ^~ /notes/ {" in files["locations"] and "/notes/" not in conf
    assert files["status"] == 'location = /release/notes {\n    return 200 "%s\\n";\n}\n' % marker(files)
    assert "ssl" not in conf


def test_the_marker_changes_with_the_upstream():
    routes = check_routes([WEB])
    blue = render_product("notes", routes, {"web": "notes-blue-web-1:3000"})
    green = render_product("notes", routes, {"web": "notes-green-web-1:3000"})
    assert marker(blue) != marker(green) and len(marker(blue)) == 16


def test_tls_adds_an_https_listener_with_the_certificate():
    routes = check_routes([WEB, dict(WEB, hosts=["other.example.com"], directives=["client_max_body_size 20m;"])])
    conf = render_product("notes", routes, {"web": "c:3000"}, {"certificate": "/c/notes.crt", "key": "/c/notes.key"})["conf"]
    assert conf.count("listen 8443 ssl;") == 2 and conf.count("ssl_certificate /c/notes.crt;") == 2
    assert "ssl_certificate_key /c/notes.key;" in conf
    assert "        client_max_body_size 20m;\n" in conf


def test_main_file_drains_for_the_timeout_and_includes_globs_or_the_given_files():
    live = render_main(45)
    assert "worker_shutdown_timeout 45s;" in live and "pid /tmp/nginx.pid;" in live
    assert "include /etc/bytelyst-proxy/routes/*.conf;" in live
    assert "include /etc/bytelyst-proxy/routes/*.status;" in live
    test = render_main(45, {"conf": ["/etc/bytelyst-proxy/routes/a.conf.next"], "locations": [], "status": []})
    assert "include /etc/bytelyst-proxy/routes/a.conf.next;" in test and "*.conf" not in test


def test_network_override_attaches_routed_services_to_the_proxy_network():
    text = network_override(["web"], "bytelyst-proxy")
    assert '"name": "bytelyst-proxy"' in text and '"external": true' in text and '"default": {}' in text


def test_ports_are_parsed_and_other_targets_refused():
    assert parse_ports(["127.0.0.1:8081:8080", "443:8443"]) == {
        "8080/tcp": [("127.0.0.1", 8081)], "8443/tcp": [("0.0.0.0", 443)]}
    with pytest.raises(DeployError) as err:
        parse_ports(["80:80"])
    assert "proxy.ports has '80:80'" in err.value.message


def test_proxy_spec_fingerprint_follows_its_settings():
    assert proxy_spec({})["image"] == "nginx:1.27"
    assert proxy_spec({})["fingerprint"] != proxy_spec({"ports": ["81:8080"]})["fingerprint"]


def test_worker_pids_come_from_docker_top():
    top = ("UID PID PPID C STIME TTY TIME CMD\n"
           "101 100 90 0 10:00 ? 00:00:00 nginx: master process nginx\n"
           "101 101 100 0 10:00 ? 00:00:00 nginx: worker process\n"
           "101 102 100 0 10:00 ? 00:00:00 nginx: worker process is shutting down\n")
    assert worker_pids(top) == {101, 102}


# -- the switch against fakes --------------------------------------------------------------

@pytest.fixture
def proxy(tmp_path):
    config_dir = str(tmp_path / "proxy")
    os.makedirs(os.path.join(config_dir, "routes"))
    nginx, clock = FakeNginx(config_dir), FakeClock(0.0)
    host = ProxyHost({"config_dir": config_dir}, nginx, FakeClient(containers=[FakeContainer()]), clock=clock, sleep=clock.sleep,
                     fetch_fn=nginx.fetch)
    host.note_running()
    return host, nginx, clock


def files_for(upstream, directive=None):
    route = dict(WEB, directives=[directive] if directive else [])
    return render_product("notes", check_routes([route]), {"web": upstream})


def test_a_switch_validates_replaces_reloads_and_waits_for_the_new_marker(proxy):
    host, nginx, clock = proxy
    files = files_for("notes-blue-web-1:3000")
    host.switch("notes", files, 30, 10)
    assert nginx.calls == ["exec", "top", "kill"]
    assert host.live_files("notes") == files and host.in_sync("notes", files)
    assert host.old_workers == {11}
    assert not [f for f in os.listdir(host.routes_dir) if f.endswith(".next")]
    assert "worker_shutdown_timeout 30s;" in open(host.main_path).read()
    assert host.drain(30) == (0.0, 0)  # the old worker 11 is gone


def test_a_configuration_nginx_refuses_never_replaces_the_live_files(proxy):
    host, nginx, clock = proxy
    good = files_for("notes-blue-web-1:3000")
    host.switch("notes", good, 30, 10)
    with pytest.raises(DeployError) as err:
        host.switch("notes", files_for("notes-green-web-1:3000", "proxy_read_timeout banana;"), 30, 10)
    assert "refused the new configuration of notes: nginx: [emerg] invalid value \"banana\"" in err.value.message
    assert host.live_files("notes") == good
    assert nginx.calls.count("kill") == 1
    assert not [f for f in os.listdir(host.routes_dir) if f.endswith(".next")]


def test_a_reload_that_does_not_take_puts_the_previous_files_back(proxy):
    host, nginx, clock = proxy
    good = files_for("notes-blue-web-1:3000")
    host.switch("notes", good, 30, 10)
    nginx.ignore_reload = True
    with pytest.raises(DeployError) as err:
        host.switch("notes", files_for("notes-green-web-1:3000"), 30, 2)
    assert "did not take the new configuration of notes within 2 s (it answers %s)" % marker(good) in err.value.message
    assert host.live_files("notes") == good
    assert nginx.calls.count("kill") == 3  # the switch, and the reload of the files put back


def test_a_proxy_that_restarted_fails_the_switch_before_anything_changes(proxy):
    host, nginx, clock = proxy
    host.client.containers.replace(FakeContainer(started="t2"))
    with pytest.raises(DeployError) as err:
        host.switch("notes", files_for("notes-blue-web-1:3000"), 30, 10)
    assert "restarted during the deploy (started t1, now t2)" in err.value.message
    assert nginx.calls == [] and host.live_files("notes") == {}


def test_a_stopped_proxy_is_named(proxy):
    host, nginx, clock = proxy
    host.client.containers.replace(FakeContainer(running=False))
    with pytest.raises(DeployError) as err:
        host.check_alive()
    assert "The proxy container bytelyst-proxy is not running (exited)" in err.value.message


def test_drain_waits_for_the_old_workers_up_to_the_timeout(proxy):
    host, nginx, clock = proxy
    host.old_workers = {11}
    assert host.drain(3) == (3.0, 1)  # worker 11 never exits: nginx's own timeout ends it
    nginx.workers = {12}
    assert host.drain(3)[1] == 0


def test_a_proxy_with_other_settings_is_refused(proxy):
    host, nginx, clock = proxy
    with pytest.raises(DeployError) as err:
        host.plan()
    assert "runs with other settings" in err.value.message and "docker rm -f bytelyst-proxy" in err.value.hint


def test_the_live_color_is_read_from_the_live_files(proxy):
    host, nginx, clock = proxy
    assert host.live_color("notes") is None
    host.switch("notes", files_for("notes-green-web-1:3000"), 30, 10)
    assert host.live_color("notes") == "green"
    assert host.live_color("note") is None  # another product's name that is a prefix of this one


def test_products_validate_their_own_test_file_and_switch_one_at_a_time(proxy):
    """Two products on one proxy: each nginx -t reads a main file of its own, and a switch waits
    for another product's (the proxy's switch lock); one held too long fails the switch, unchanged."""
    fcntl = pytest.importorskip("fcntl")
    host, nginx, clock = proxy
    host.switch("notes", files_for("notes-blue-web-1:3000"), 30, 10)
    assert os.path.isfile(os.path.join(host.spec["config_dir"], "nginx.test.notes.conf"))
    live = host.live_files("notes")
    with open(os.path.join(host.spec["config_dir"], ".switch.lock"), "a") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)  # another product's switch in progress
        calls = list(nginx.calls)
        with pytest.raises(DeployError) as err:
            host.switch("notes", files_for("notes-green-web-1:3000"), 30, 10, lock_timeout=5)
    assert "Another product's switch held the proxy bytelyst-proxy for more than 5 s; notes was not switched" \
        in err.value.message
    assert nginx.calls == calls and host.live_files("notes") == live and clock.now >= 5
    # Released: the next switch goes through.
    host.switch("notes", files_for("notes-green-web-1:3000"), 30, 10)
    assert "notes-green-web-1" in host.live_files("notes")["conf"] + host.live_files("notes")["locations"]
