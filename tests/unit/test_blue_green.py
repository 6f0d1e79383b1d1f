"""The blue/green run (_blue_green.py): the order of gate, switch, drain and stop, and what a
failure leaves, against a fake Compose per color, a fake engine and a fake proxy; no Docker."""

import json

import pytest

from test_deployer import V1, V2, engine_holding

from ansible_collections.bytelyst.deploy.plugins.module_utils._blue_green import BlueGreen
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._proxy import check_routes
from fakes.compose import FakeComposeProjects
from fakes.proxy import FakeProxy

ROUTES = [{"service": "web", "port": 3000, "hosts": ["notes.example.com"]},
          {"service": "api", "port": 4000, "hosts": ["notes.example.com"], "path_prefix": "/api/"}]


@pytest.fixture
def site(tmp_path):
    src = tmp_path / "notes"
    src.mkdir()
    (src / "compose.yaml").write_text(json.dumps({"services": {"web": {"image": V1["web"]}, "api": {"image": V1["api"]}}}))
    runner = FakeComposeProjects()
    return tmp_path, runner, FakeProxy(runner.events)


def run(site, check_mode=False, warnings=None, **kw):
    tmp_path, runner, proxy = site
    params = dict(project_name="notes", project_src=str(tmp_path / "notes"), files=None, env=None, secrets=None,
                  images=None, pull_policy="missing", action="deploy", rollback_to=None, wait_timeout=30,
                  up_timeout=None, http_checks=None, history_dir=str(tmp_path / "history"), keep_releases=10,
                  lock_timeout=5, triggered_by="ci", docker_host=None, docker_cli=None, definition=None, allow=[],
                  routes=ROUTES, proxy={}, drain_timeout=30, reload_timeout=10, keep_previous="stopped",
                  tls_certificate=None, tls_key=None)
    params.update(kw)
    deployer = BlueGreen(params, check_mode, (warnings if warnings is not None else []).append, runner=runner,
                         engine=engine_holding(list(V1.values()) + list(V2.values()) + ["broken:1"]), proxy=proxy)
    return deployer.execute()


def releases(site):
    with open(str(site[0] / "history" / "releases.json")) as f:
        return json.load(f)


def test_a_new_release_goes_up_beside_then_the_proxy_switches_then_the_old_color_stops(site):
    tmp_path, runner, proxy = site
    first = run(site)
    assert first["color"] == "blue" and first["release"]["color"] == "blue"
    assert runner.events == ["up notes-blue", "switch notes-blue-api-1:4000; notes-blue-web-1:3000;", "drain"]
    del runner.events[:]
    again = run(site)
    assert again["changed"] is False and runner.events == []
    second = run(site, images={"web": V2["web"]})
    assert runner.events == ["up notes-green", "switch notes-green-api-1:4000; notes-green-web-1:3000;", "drain",
                             "stop notes-blue"]
    assert second["color"] == "green" and second["previous_color"] == "blue" and second["stopped"] == "notes-blue"
    # The release's files include the one that puts the routed services on the proxy's network.
    assert second["release"]["files"][-1] == "2-proxy-network.yml"
    assert releases(site)["current"] == "r2"


def test_a_release_that_fails_its_gate_is_stopped_and_never_routed(site):
    tmp_path, runner, proxy = site
    run(site)
    del runner.events[:]
    with pytest.raises(DeployError) as err:
        run(site, images={"web": "broken:1"})
    assert "Release r2 of notes failed before the proxy switched to it, so it never received a request" in err.value.message
    assert "Release r1 still serves on blue" in err.value.message
    assert runner.events == ["up notes-green", "stop notes-green"]
    data = releases(site)
    assert data["current"] == "r1" and data["releases"][-1]["result"] == "failed"


def test_a_switch_the_proxy_refuses_stops_the_new_color(site):
    tmp_path, runner, proxy = site
    run(site)
    del runner.events[:]
    proxy.refuse = "The proxy bytelyst-proxy refused the new configuration of notes: nginx: [emerg] invalid"
    with pytest.raises(DeployError) as err:
        run(site, images={"web": V2["web"]})
    assert "refused the new configuration" in err.value.message and "still serves on blue" in err.value.message
    assert runner.events == ["up notes-green", "stop notes-green"]
    assert releases(site)["current"] == "r1"


def test_a_rollback_starts_the_previous_colors_stopped_containers(site):
    tmp_path, runner, proxy = site
    run(site)
    run(site, images={"web": V2["web"]})
    blue_ids = dict((s, c["id"]) for s, c in runner.projects["notes-blue"].running.items())
    del runner.events[:]
    result = run(site, action="rollback")
    assert runner.events == ["up notes-blue", "switch notes-blue-api-1:4000; notes-blue-web-1:3000;", "drain",
                             "stop notes-green"]
    assert result["reused"] == ["api", "web"] and result["release"]["restores"] == "r1"
    assert dict((s, c["id"]) for s, c in runner.projects["notes-blue"].running.items()) == blue_ids


def test_check_mode_plans_the_color_and_changes_nothing(site):
    tmp_path, runner, proxy = site
    result = run(site, check_mode=True)
    assert result["changed"] is True and result["color"] == "blue"
    assert runner.events == [] and not (tmp_path / "history").exists()


@pytest.mark.parametrize("service, words", [
    ({"ports": ["127.0.0.1:8080:3000"]}, "Service web of notes publishes ports"),
    ({"container_name": "notes-web"}, "sets container_name notes-web"),
])
def test_what_cannot_run_twice_is_refused_before_anything_runs(site, service, words):
    tmp_path, runner, proxy = site
    (tmp_path / "notes" / "compose.yaml").write_text(json.dumps({"services": {
        "web": dict({"image": V1["web"]}, **service), "api": {"image": V1["api"]}}}))
    with pytest.raises(DeployError) as err:
        run(site)
    assert words in err.value.message
    assert runner.events == [] and not (tmp_path / "history" / "releases.json").exists()


def test_http_checks_are_refused_behind_the_proxy(site):
    with pytest.raises(DeployError) as err:
        run(site, http_checks=[{"url": "http://127.0.0.1:1/health"}])
    assert "http_checks is not used behind the proxy" in err.value.message


def test_keep_previous_running_leaves_the_old_color_up(site):
    tmp_path, runner, proxy = site
    run(site)
    del runner.events[:]
    result = run(site, images={"web": V2["web"]}, keep_previous="running")
    assert runner.events == ["up notes-green", "switch notes-green-api-1:4000; notes-green-web-1:3000;", "drain"]
    assert result["stopped"] is None


@pytest.mark.parametrize("option, value", [("drain_timeout", -1), ("drain_timeout", 3601), ("reload_timeout", 0)])
def test_timeouts_out_of_bounds_are_refused(site, option, value):
    tmp_path, runner, proxy = site
    with pytest.raises(DeployError) as err:
        run(site, **{option: value})
    assert "%s is %d; it is a number of seconds" % (option, value) in err.value.message
    assert runner.events == []


def test_the_color_the_proxy_serves_wins_over_the_history(site):
    """A run stopped after the switch but before saving: the history says blue, the proxy serves
    green; the next release must go to blue, never over the serving green."""
    tmp_path, runner, proxy = site
    run(site)
    run(site, images={"web": V2["web"]})
    data = releases(site)
    data["current"] = "r1"  # as if r2's success had not been saved
    with open(str(tmp_path / "history" / "releases.json"), "w") as f:
        json.dump(data, f)
    del runner.events[:]
    warnings = []
    result = run(site, warnings=warnings, images={"web": V2["web"], "api": V2["api"]})
    assert runner.events[0] == "up notes-blue" and "stop notes-green" in runner.events
    assert result["previous_color"] == "green" and result["color"] == "blue"
    assert "The proxy routes notes to green, but its history's current release r1 ran on blue" in warnings[0]


def test_provenance_is_recorded_behind_the_proxy_and_a_new_scan_changes_nothing(site):
    tmp_path, runner, proxy = site
    digests = ["a" * 64, "b" * 64]
    first = run(site, provenance={"web": {"sbom_sha256": digests[0], "sbom": "https://sboms.invalid/web/1"}})
    assert first["release"]["provenance"] == {"web": {"sbom_sha256": digests[0], "sbom": "https://sboms.invalid/web/1"}}
    del runner.events[:]
    again = run(site, provenance={"web": {"sbom_sha256": digests[1], "sbom": "https://sboms.invalid/web/2"}})
    assert again["changed"] is False and runner.events == []
    assert again["release"]["provenance"]["web"]["sbom_sha256"] == digests[0]
    assert [r["id"] for r in releases(site)["releases"]] == ["r1"]


def test_warmup_paths_are_asked_on_the_new_container_after_its_health_path(site):
    tmp_path, runner, proxy = site
    routes = [{"service": "web", "port": 3000, "health_path": "/api/health", "health_timeout": 45,
               "warmup_paths": ["/", "/notes"]},
              {"service": "api", "port": 4000, "path_prefix": "/api/"}]
    params = dict(project_name="notes", project_src=str(tmp_path / "notes"), files=None, env=None, secrets=None,
                  images=None, pull_policy="missing", action="deploy", rollback_to=None, wait_timeout=30,
                  up_timeout=None, http_checks=None, history_dir=str(tmp_path / "history"), keep_releases=10,
                  lock_timeout=5, triggered_by="ci", docker_host=None, docker_cli=None, definition=None, allow=[],
                  routes=routes, proxy={}, drain_timeout=30, reload_timeout=10, keep_previous="stopped",
                  tls_certificate=None, tls_key=None)
    deployer = BlueGreen(params, False, [].append, runner=runner, engine=engine_holding(list(V1.values())), proxy=proxy)
    deployer.routes = check_routes(routes)
    deployer.current_state = lambda project: {"web": {"id": "c1", "name": "notes-green-web-1"}}
    deployer.address_of = lambda container, service: {"c1": "172.18.0.5"}[container["id"]]
    assert deployer.http_checks_for("notes-green") == [
        {"url": "http://172.18.0.5:3000/api/health", "status": 200, "timeout": 45},
        {"url": "http://172.18.0.5:3000/", "status": 200, "timeout": 45},
        {"url": "http://172.18.0.5:3000/notes", "status": 200, "timeout": 45},
    ]
