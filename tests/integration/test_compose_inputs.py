"""compose_deploy's inputs on the real engine and Compose: every refused input changes
nothing, and ordinary env values (a published port, a common word, one character, '=' and
spaces) deploy and pass the health gate, reaching the container as they were given."""

import json
import os

import pytest
import yaml
from ansible_runner_helper import run_module, run_module_many

import test_compose_deploy as release_story
from net_helpers import free_port, http_get
from test_compose_deploy import WAIT, compose_down, project_state

# The release story's fixtures: its images, and a project (module-scoped, so this file gets its own).
app, images = release_story.app, release_story.images

pytestmark = pytest.mark.integration


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def history_tree(app):
    """Every file (with its bytes) and directory below the history dir but the audit log."""
    tree = {}
    for root, dirs, files in os.walk(app.history):
        for name in dirs:
            tree[os.path.relpath(os.path.join(root, name), app.history) + "/"] = None
        for name in files:
            path = os.path.join(root, name)
            if os.path.relpath(path, app.history) != "audit.log":
                tree[os.path.relpath(path, app.history)] = read_bytes(path)
    return tree


def snapshot(app):
    """What a refused input must leave as it was: containers (id, image, status), the history
    (releases, env file, override, ...), the audit log, the project's compose file."""
    return {"containers": app.state(), "history": history_tree(app),
            "audit": read_bytes(os.path.join(app.history, "audit.log")),
            "compose": read_bytes(os.path.join(app.src, "compose.yml"))}


def assert_unchanged(before, after):
    assert after["containers"] == before["containers"]
    assert after["history"] == before["history"]
    assert after["compose"] == before["compose"]
    # A line recording the refusal may be appended; nothing before it may change.
    assert after["audit"].startswith(before["audit"])


@pytest.fixture(scope="module")
def deployed(app, images):
    """The project running v1, healthy: the state every refused input must leave alone."""
    result, raw = run_module("compose_deploy", app.args(images["v1"]))
    assert result["changed"] is True and not result.get("failed"), raw[-3000:]
    assert http_get(app.url + "/version") == (200, "v1")
    return app


def extra_file(app, tmp, name, web):
    """files: the project's compose file plus one that adds web settings."""
    path = tmp / ("%s.yml" % name)
    path.write_text(yaml.safe_dump({"services": {"web": web}}))
    return {"files": [os.path.join(app.src, "compose.yml"), str(path)]}


def bad_check(**check):
    return {"http_checks": [dict({"url": "http://127.0.0.1:4121/health", "status": 200, "timeout": 5}, **check)]}


def cases(app, tmp):
    """{case: (args to change, text the error must hold)}."""
    socket_mount = {"volumes": ["/var/run/docker.sock:/var/run/docker.sock:ro"]}
    return {
        "empty project name": ({"project_name": ""}, "project_name is empty."),
        "path in project name": ({"project_name": "../escape"},
                                 "project_name '../escape' is not a valid Compose project name"),
        "uppercase project name": ({"project_name": "Notes"}, "project_name 'Notes' is not a valid Compose project name"),
        "check port 99999": (bad_check(url="http://127.0.0.1:99999/health"),
                             "http_checks[0].url 'http://127.0.0.1:99999/health' has port '99999'; "
                             "a port is a number from 1 to 65535."),
        "check scheme": (bad_check(url="ftp://127.0.0.1/health"), "has scheme 'ftp'; health checks speak http or https."),
        "check host": (bad_check(url="http:///health"), "http_checks[0].url 'http:///health' has no host."),
        "check status": (bad_check(status=700), "http_checks[0].status is 700; it must be from 100 to 599"),
        "check timeout": (bad_check(timeout=0), "http_checks[0].timeout is 0; it must be from 1 to 3600 seconds."),
        "wait timeout": ({"wait_timeout": 0}, "wait_timeout is 0; it must be from 1 to 3600 seconds."),
        "lock timeout": ({"lock_timeout": -1}, "lock_timeout is -1; it must be from 0 to 10800 seconds."),
        "keep releases": ({"keep_releases": 0}, "keep_releases is 0; it must be from 2 to 100."),
        "env key": ({"env": {"APP_SECRET": "s3cret-value", "BAD-KEY": "1"}},
                    "env has the key 'BAD-KEY', which is not a valid variable name"),
        "env newline": ({"env": {"APP_SECRET": "s3cret-value\nprivileged: true"}}, "env.APP_SECRET holds a newline"),
        "privileged": (extra_file(app, tmp, "privileged", {"privileged": True}),
                       "service web sets privileged: true"),
        "host network": (extra_file(app, tmp, "network", {"network_mode": "host", "ports": []}),
                         "service web sets network_mode: host"),
        "host pid": (extra_file(app, tmp, "pid", {"pid": "host"}), "service web sets pid: host"),
        "docker socket": (extra_file(app, tmp, "socket", socket_mount),
                          "service web sets a bind mount of /var/run/docker.sock"),
    }


CASES = ["empty project name", "path in project name", "uppercase project name", "check port 99999", "check scheme",
         "check host", "check status", "check timeout", "wait timeout", "lock timeout", "keep releases", "env key",
         "env newline", "privileged", "host network", "host pid", "docker socket"]
ALLOW = {"privileged": "privileged", "host network": "host_network", "host pid": "host_pid",
         "docker socket": "docker_socket"}


@pytest.fixture(scope="module")
def refused(deployed, images, tmp_path_factory):
    """Every case run as one play (one Ansible start-up): ({case: (result, expected)}, raw, before, after)."""
    app = deployed
    table = cases(app, tmp_path_factory.mktemp("inputs"))
    names = sorted(table)
    assert names == sorted(CASES)
    before = snapshot(app)
    results, raw = run_module_many("compose_deploy", [app.args(images["v2"], **table[n][0]) for n in names])
    after = snapshot(app)
    return dict((n, (r, table[n][1])) for n, r in zip(names, results)), raw, before, after


@pytest.mark.parametrize("case", CASES)
def test_refused_input_changes_nothing(refused, deployed, case):
    outcomes, raw, before, after = refused
    result, expected = outcomes[case]
    assert result.get("failed") is True, raw[-3000:]
    assert expected in result["msg"], result["msg"]
    assert "Nothing was changed." in result["msg"]
    if case in ALLOW:
        assert "allow: [%s]" % ALLOW[case] in result["msg"]
    assert result["changed"] is False
    assert_unchanged(before, after)
    assert http_get(deployed.url + "/version") == (200, "v1")


def test_check_mode_refuses_too_and_allow_permits(deployed, images, tmp_path):
    """Check mode refuses a privileged service like a real run; with allow: [privileged] it plans
    the deploy instead. Neither changes anything."""
    files = extra_file(deployed, tmp_path, "privileged", {"privileged": True})
    before = snapshot(deployed)
    (denied, permitted), raw = run_module_many("compose_deploy", [
        deployed.args(images["v2"], **files), deployed.args(images["v2"], allow=["privileged"], **files)], check=True)
    assert denied.get("failed") is True and "service web sets privileged: true" in denied["msg"], raw[-3000:]
    assert not permitted.get("failed") and permitted["changed"] is True, raw[-3000:]
    assert permitted["recreate"] == ["web"]
    assert_unchanged(before, snapshot(deployed))


def test_env_values_deploy_and_reach_the_container(tmp_path, images, docker_client):
    """Values that the old redaction of command output broke: a published port's number (the
    JSON of `compose config` then held `"target": ********`), a common word, one character
    (scrubbed from every word of every message), '=' and spaces. Each deploys, passes the
    HTTP gate on the port named by its own value, and reaches the container unchanged; a second
    run changes nothing."""
    name = "bl-inputs-%s" % os.urandom(4).hex()
    port = free_port()
    src = tmp_path / "src"
    src.mkdir()
    (src / "compose.yml").write_text(yaml.safe_dump({"services": {"web": {
        "image": images["v1"],
        # The shape of the reported failure: 127.0.0.1:4121:4121 with PORT=4121 (a free port here).
        "ports": ["127.0.0.1:${PORT}:${PORT}"],
        "environment": {"PORT": "${PORT}", "MODE": "${MODE}", "ONE": "${ONE}", "SPACED": "${SPACED}"},
    }}}))
    env = {"PORT": str(port), "MODE": "production", "ONE": "e", "SPACED": "a=b c = d"}
    args = dict(project_name=name, project_src=str(src), history_dir=str(tmp_path / "history"), env=env,
                wait_timeout=WAIT, triggered_by="pytest",
                http_checks=[{"url": "http://127.0.0.1:%d/health" % port, "status": 200, "timeout": 10}])
    try:
        (first, second), raw = run_module_many("compose_deploy", [args, args])
        # Only flags and numbers of the task result are compared here: while env is no_log,
        # Ansible itself masks its values ("e" included) in every string the task returns.
        assert first["changed"] is True and not first.get("failed"), raw[-4000:]
        assert len(first["http_checks"]) == 1 and first["http_checks"][0]["ok"] is True
        assert second["changed"] is False and not second.get("failed"), raw[-4000:]
        with open(os.path.join(args["history_dir"], "releases.json")) as f:
            history = json.load(f)
        assert [(r["id"], r["result"]) for r in history["releases"]] == [("r1", "success")]
        for key, value in env.items():
            assert http_get("http://127.0.0.1:%d/env/%s" % (port, key)) == (200, value), key
        (container_id, image_id, status), = project_state(docker_client, name).values()
        assert status == "running" and image_id == docker_client.images.get(images["v1"]).id
        container_env = docker_client.containers.get(container_id).attrs["Config"]["Env"]
        for key, value in env.items():
            assert "%s=%s" % (key, value) in container_env
    finally:
        compose_down(name, str(src))
