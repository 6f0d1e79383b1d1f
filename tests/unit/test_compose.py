"""Compose commands, parsing of Compose output, and pinning images by digest (no engine)."""

import json

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils._compose import (
    ComposeProject, containers_by_service, env_file_text, is_healthy, parse_config_hashes, parse_json_output,
    parse_labels, published_ports, render_override, resolve_image, up_failure)
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from fakes.engine import FakeClient, FakeImage

# Recorded from Compose v5.6.1 (`ps --all --format json`: one object per line).
PS_LINE = (
    '{"Command":"\\"node /app/server.js\\"","CreatedAt":"2026-11-27 10:00:59 +0000 UTC","ExitCode":0,'
    '"Health":"healthy","ID":"a83d28a66888","Image":"127.0.0.1:5000/t/web@sha256:68083d","Labels":'
    '"com.docker.compose.config-hash=81da676b,com.docker.compose.oneoff=False,com.docker.compose.project=p,'
    'com.docker.compose.project.config_files=/srv/p/compose.yml,/srv/h/compose.bytelyst.yml,'
    'com.docker.compose.service=web,com.docker.compose.version=5.6.1","Name":"p-web-1","Project":"p",'
    '"Publishers":[{"URL":"127.0.0.1","TargetPort":3000,"PublishedPort":18431,"Protocol":"tcp"}],'
    '"Service":"web","State":"running","Status":"Up 2 seconds (healthy)"}'
)
EXITED_LINE = ('{"ID":"b1","Service":"worker","State":"exited","Health":"","ExitCode":3,"Labels":'
               '"com.docker.compose.config-hash=ff,com.docker.compose.service=worker","Publishers":null}')


def project(**kw):
    args = dict(name="notes", project_dir="/srv/notes", files=["/srv/notes/compose.yml"],
                override="/h/compose.bytelyst.yml", env_file="/h/deploy.env")
    args.update(kw)
    return ComposeProject(**args)


def test_up_waits_pins_pull_policy_and_never_builds():
    cmd = project().up(45, pull="never")
    assert cmd.argv == [
        "docker", "compose", "--project-name", "notes", "--project-directory", "/srv/notes",
        "--file", "/srv/notes/compose.yml", "--file", "/h/compose.bytelyst.yml", "--env-file", "/h/deploy.env",
        "up", "--detach", "--wait", "--wait-timeout", "45", "--pull", "never", "--no-build"]
    assert cmd.timeout > 45


def test_no_command_removes_volumes():
    p = project()
    for cmd in (p.down(), p.up(10), p.ps(), p.config(), p.logs("web")):
        assert "-v" not in cmd.argv and "--volumes" not in cmd.argv
    assert p.down().argv[-1] == "down"


def test_docker_host_goes_to_env_and_secrets_are_redacted():
    cmd = project(connection="unix:///run/other.sock", secrets=["hunter2"], cli="/usr/bin/docker").logs("web", 5)
    assert cmd.env["DOCKER_HOST"] == "unix:///run/other.sock"
    assert cmd.env["DOCKER_TLS_VERIFY"] == "" and cmd.env["DOCKER_CERT_PATH"] == ""
    assert cmd.argv[0] == "/usr/bin/docker"
    assert cmd.argv[-6:] == ["logs", "--no-color", "--no-log-prefix", "--tail", "5", "web"]
    assert cmd.secrets == ["hunter2"]


def test_without_override_only_user_files():
    argv = project(override=None).config().argv
    assert argv.count("--file") == 1 and argv[-3:] == ["config", "--format", "json"]
    assert project().with_override("/tmp/c.yml").config_hashes().argv[-3:] == ["config", "--hash", "*"]


def test_parse_json_output_array_lines_and_object():
    assert parse_json_output("") == []
    assert len(parse_json_output(PS_LINE + "\n" + EXITED_LINE + "\n")) == 2
    assert parse_json_output("[%s]" % PS_LINE)[0]["ID"] == "a83d28a66888"
    assert parse_json_output('{"name": "p"}') == [{"name": "p"}]
    with pytest.raises(DeployError) as err:
        parse_json_output("not json\n", "docker compose ps")
    assert "docker compose ps" in str(err.value)


def test_parse_error_shows_only_the_redacted_output():
    raw = '{"services": {"web": {"environment": {"DB_PASSWORD": "hunter22"}}}} trailing'
    with pytest.raises(DeployError) as err:
        parse_json_output(raw, "docker compose config")
    assert "hunter22" not in str(err.value) and err.value.output is None
    with pytest.raises(DeployError) as err:
        parse_json_output(raw, "docker compose config", shown=raw.replace("hunter22", "********"))
    assert "hunter22" not in str(err.value) and '"DB_PASSWORD": "********"' in err.value.output


def test_parse_labels_keeps_commas_inside_values():
    labels = parse_labels(json.loads(PS_LINE)["Labels"])
    assert labels["com.docker.compose.config-hash"] == "81da676b"
    assert labels["com.docker.compose.project.config_files"] == "/srv/p/compose.yml,/srv/h/compose.bytelyst.yml"
    assert labels["com.docker.compose.service"] == "web"
    assert parse_labels({"a": "b"}) == {"a": "b"}


def test_containers_by_service_and_health():
    containers = containers_by_service(parse_json_output(PS_LINE + "\n" + EXITED_LINE))
    assert containers["web"]["config_hash"] == "81da676b" and is_healthy(containers["web"])
    assert containers["worker"]["exit_code"] == 3 and not is_healthy(containers["worker"])
    assert containers["worker"]["publishers"] == []
    assert not is_healthy(None)
    assert not is_healthy(dict(containers["web"], health="unhealthy"))


def test_config_hashes_and_published_ports():
    assert parse_config_hashes("web 81da\nworker ff\n\n") == {"web": "81da", "worker": "ff"}
    config = {"services": {
        "web": {"ports": [{"target": 3000, "published": "18431", "host_ip": "127.0.0.1", "protocol": "tcp"},
                          {"target": 9000}]},
        "worker": {},
    }}
    assert published_ports(config) == [("web", "127.0.0.1", 18431, "tcp")]


def test_render_override_is_sorted_json():
    text = render_override({"web": "r/web@sha256:1", "api": "r/api@sha256:2"})
    assert json.loads(text) == {"services": {"api": {"image": "r/api@sha256:2"}, "web": {"image": "r/web@sha256:1"}}}
    assert text.index('"api"') < text.index('"web"')


def test_up_failure_drops_progress_lines():
    out = ("Container p-web-1 Recreate\n Container p-web-1 Recreated\nContainer p-web-1 Starting\n"
           "Container p-web-1 Started\nContainer p-web-1 Waiting\ncontainer p-web-1 exited (3)\n")
    assert up_failure(out) == "container p-web-1 exited (3)"
    assert up_failure("") == "no output"


def test_resolve_local_registry_image_to_repo_digest_without_pulling():
    client = FakeClient({"r/web:v1": FakeImage("sha256:img", digests=["r/web@sha256:11"])})
    pin = resolve_image(client, "r/web:v1")
    assert pin == {"ref": "r/web:v1", "pinned": "r/web@sha256:11", "image_id": "sha256:img", "source": "local"}
    assert client.images.pulled == []


def test_resolve_local_only_image_pins_image_id():
    client = FakeClient({"web:dev": FakeImage("sha256:img")})
    assert resolve_image(client, "web:dev")["pinned"] == "sha256:img"


def test_resolve_pulls_when_missing_and_always():
    image = FakeImage("sha256:img", digests=["r/web@sha256:11"])
    assert resolve_image(FakeClient(pullable={"r/web:v1": image}), "r/web:v1")["source"] == "pulled"
    client = FakeClient({"r/web:v1": FakeImage("sha256:old", digests=["r/web@sha256:00"])}, pullable={"r/web:v1": image})
    assert resolve_image(client, "r/web:v1", "always")["pinned"] == "r/web@sha256:11"


def test_check_mode_asks_the_registry_and_pulls_nothing():
    client = FakeClient(registry={"r/web:v1": "sha256:11"}, pullable={"r/web:v1": FakeImage("x")})
    pin = resolve_image(client, "r/web:v1", check_mode=True)
    assert pin["pinned"] == "r/web@sha256:11" and pin["source"] == "registry" and client.images.pulled == []


def test_missing_everywhere_fails_clearly():
    with pytest.raises(DeployError) as err:
        resolve_image(FakeClient(), "r/web:nope")
    assert "Image r/web:nope is neither on the target engine nor in its registry" in str(err.value)
    assert "manifest unknown" in str(err.value)
    with pytest.raises(DeployError) as err:
        resolve_image(FakeClient(), "r/web:nope", "never")
    assert "pull_policy is never" in str(err.value)


# HTTP checks of the health gate (_health.py): retried until the expected status or the deadline.

def test_http_check_retries_until_the_expected_status():
    from ansible_collections.bytelyst.deploy.plugins.module_utils._health import check
    answers = [(None, "connection refused"), (503, "starting"), (200, "")]
    now = [0.0]
    result = check("http://h/health", 200, 10, clock=lambda: now[0],
                   sleep=lambda s: now.__setitem__(0, now[0] + s), probe_fn=lambda url, t: answers.pop(0))
    assert result.ok and result.attempts == 3 and result.describe() == "http://h/health answered 200"


def test_http_check_gives_up_at_the_deadline_saying_what_it_got():
    from ansible_collections.bytelyst.deploy.plugins.module_utils._health import check
    now = [0.0]
    result = check("http://h/health", 200, 3, clock=lambda: now[0],
                   sleep=lambda s: now.__setitem__(0, now[0] + s), probe_fn=lambda url, t: (500, "db down"))
    assert not result.ok and result.status == 500
    assert result.describe() == "http://h/health: expected status 200, got status 500 after 4 attempt(s): db down"


def test_http_probe_against_a_loopback_server():
    import http.server
    import threading
    from ansible_collections.bytelyst.deploy.plugins.module_utils._health import probe, run_checks

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 500)
            self.end_headers()
            self.wfile.write(b"broken  on\npurpose")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = "http://127.0.0.1:%d" % server.server_port
        assert probe(base + "/health", 2) == (200, "")
        assert probe(base + "/other?x=1", 2) == (500, "broken on purpose")
        assert probe("ftp://127.0.0.1/", 2) == (None, "not an http(s) URL")
        ok, results = run_checks([{"url": base + "/health"}, {"url": base + "/other", "status": 500, "timeout": 1}])
        assert ok and [r.status for r in results] == [200, 500]
    finally:
        server.shutdown()
        server.server_close()


# The env file Compose reads (--env-file).

def test_env_file_text_is_literal_and_refuses_newlines():
    assert env_file_text({"B": "x$y", "A": "it's", "C": None}) == "A=\"it's\"\nB='x$y'\nC=''\n"
    assert env_file_text({}) == ""
    with pytest.raises(DeployError) as err:
        env_file_text({"KEY": "line1\nline2"})
    assert "env.KEY holds a newline" in str(err.value) and "line1" not in str(err.value)
