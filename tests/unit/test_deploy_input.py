"""compose_deploy's input checks (_deploy_input.py): every rule, with its message."""

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils._deploy_input import (
    exposes_socket, refuse_risky, risks_of, validate_params)
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError


def params(**kw):
    base = dict(project_name="notes", wait_timeout=120, lock_timeout=600, keep_releases=10, env={"PORT": "4121"},
                http_checks=[{"url": "http://127.0.0.1:4121/health", "status": 200, "timeout": 30}], allow=[])
    base.update(kw)
    return base


def refused(**kw):
    with pytest.raises(DeployError) as info:
        validate_params(params(**kw))
    return str(info.value)


def test_good_params_pass():
    validate_params(params())
    validate_params(params(env=None, http_checks=None, secrets={"DB_PASSWORD": "x"}, lock_timeout=0,
                           project_name="notes_2-staging", allow=["privileged", "docker_socket"]))
    validate_params(params(http_checks=[{"url": "https://[::1]:8443/health", "status": 204, "timeout": 3600},
                                        {"url": "http://localhost/health", "status": None, "timeout": None}]))


@pytest.mark.parametrize("name, expected", [
    ("", "project_name is empty."),
    ("   ", "project_name is empty."),
    (None, "project_name is empty."),
    ("../etc", "project_name '../etc' is not a valid Compose project name"),
    ("a/b", "project_name 'a/b' is not a valid Compose project name"),
    ("Notes", "project_name 'Notes' is not a valid Compose project name"),
    ("-notes", "project_name '-notes' is not a valid Compose project name"),
    ("notes.v2", "project_name 'notes.v2' is not a valid Compose project name"),
    ("no\ntes", "project_name 'no\\ntes' is not a valid Compose project name"),
])
def test_project_name(name, expected):
    text = refused(project_name=name)
    assert expected in text
    assert "Nothing was changed." in text
    if name and name.strip():
        assert "lowercase letters, digits, dashes and underscores, and must start with a letter or digit" in text
        assert "Use a name such as notes or notes-staging." in text


@pytest.mark.parametrize("url, expected", [
    ("http://127.0.0.1:99999/health", "http_checks[0].url 'http://127.0.0.1:99999/health' has port '99999'; "
                                      "a port is a number from 1 to 65535."),
    ("http://127.0.0.1:0/health", "has port '0'; a port is a number from 1 to 65535."),
    ("http://127.0.0.1:80a/health", "has port '80a'; a port is a number from 1 to 65535."),
    ("http://[::1]:70000/", "has port '70000'"),
    ("ftp://127.0.0.1/health", "http_checks[0].url 'ftp://127.0.0.1/health' has scheme 'ftp'; "
                               "health checks speak http or https."),
    ("127.0.0.1:8080/health", "'127.0.0.1:8080/health' has no scheme; health checks speak http or https."),
    ("http:///health", "http_checks[0].url 'http:///health' has no host."),
    ("", "http_checks[0].url is empty."),
])
def test_http_check_urls(url, expected):
    text = refused(http_checks=[{"url": url, "status": 200, "timeout": 30}])
    assert expected in text


def test_second_check_is_named_by_its_index():
    text = refused(http_checks=[{"url": "http://a/", "status": 200, "timeout": 5},
                                {"url": "http://b:99999/", "status": 200, "timeout": 5}])
    assert "http_checks[1].url 'http://b:99999/' has port '99999'" in text


@pytest.mark.parametrize("status, expected", [
    (99, "http_checks[0].status is 99; it must be from 100 to 599 (an HTTP status)."),
    (600, "http_checks[0].status is 600; it must be from 100 to 599 (an HTTP status)."),
    ("ok", "http_checks[0].status is 'ok', which is not a whole number."),
])
def test_http_check_status(status, expected):
    assert expected in refused(http_checks=[{"url": "http://a/", "status": status, "timeout": 5}])


@pytest.mark.parametrize("option, value, expected", [
    ("wait_timeout", 0, "wait_timeout is 0; it must be from 1 to 3600 seconds."),
    ("wait_timeout", -5, "wait_timeout is -5; it must be from 1 to 3600 seconds."),
    ("wait_timeout", 3601, "wait_timeout is 3601; it must be from 1 to 3600 seconds."),
    ("lock_timeout", -1, "lock_timeout is -1; it must be from 0 to 10800 seconds."),
    ("lock_timeout", 10801, "lock_timeout is 10801; it must be from 0 to 10800 seconds."),
    ("keep_releases", 1, "keep_releases is 1; it must be from 2 to 100."),
    ("keep_releases", 101, "keep_releases is 101; it must be from 2 to 100."),
    ("keep_releases", True, "keep_releases is True, which is not a whole number."),
])
def test_timeouts_and_counts(option, value, expected):
    text = refused(**{option: value})
    assert expected in text
    assert "Set %s within that range." % option in text or "Give %s as a number" % option in text


@pytest.mark.parametrize("timeout, expected", [
    (0, "http_checks[0].timeout is 0; it must be from 1 to 3600 seconds."),
    (86400, "http_checks[0].timeout is 86400; it must be from 1 to 3600 seconds."),
])
def test_check_timeouts(timeout, expected):
    assert expected in refused(http_checks=[{"url": "http://a/", "status": 200, "timeout": timeout}])


@pytest.mark.parametrize("key, expected, fix", [
    ("MY-VAR", "env has the key 'MY-VAR', which is not a valid variable name", "Rename it, such as MY_VAR."),
    ("1ST", "env has the key '1ST', which is not a valid variable name", "Rename it, such as ST."),
    ("A B", "env has the key 'A B'", "Rename it, such as A_B."),
    ("", "env has the key ''", "Rename it, such as NAME."),
    ("X\nprivileged", "env has the key 'X\\nprivileged'", "Rename it, such as X_privileged."),
])
def test_env_keys(key, expected, fix):
    text = refused(env={key: "1"})
    assert expected in text and fix in text


def test_env_values_with_line_breaks_and_structures():
    assert ("env.GREETING holds a newline ('hello\\nworld'), which an env file cannot carry." in
            refused(env={"GREETING": "hello\nworld"}))
    assert "env.A holds a carriage return" in refused(env={"A": "x\ry"})
    assert "env.A holds a NUL character" in refused(env={"A": "x\0y"})
    assert "env.A is a list; a value is a string or a number." in refused(env={"A": [1, 2]})
    assert "env.A is a dict" in refused(env={"A": {"b": 1}})


def test_ordinary_env_values_pass():
    validate_params(params(env={"PORT": "4121", "MODE": "production", "X": "x", "EQ": "a=b c d", "N": 3,
                                "EMPTY": "", "NONE": None, "QUOTE": "it's \"quoted\""}))


def test_secret_values_never_shown():
    text = refused(secrets={"DB_PASSWORD": "hunter2\nmore"})
    assert "secrets.DB_PASSWORD holds a newline, which an env file cannot carry." in text
    assert "hunter2" not in text
    assert "secrets has the key 'db-password'" in refused(secrets={"db-password": "x"})


def test_allow_values():
    assert ("allow lists root, which is not one of docker_socket, host_network, host_pid, privileged."
            in refused(allow=["privileged", "root"]))


# refuse_risky: the parsed `docker compose config --format json`.

def config(**web):
    spec = {"image": "registry.invalid/notes/web:1"}
    spec.update(web)
    return {"name": "notes", "services": {"web": spec, "db": {"image": "registry.invalid/db:1"}},
            "volumes": {"data": {"name": "notes_data"}}}


def same(path):
    return path


def refuse(cfg, allowed=(), docker_host=None):
    with pytest.raises(DeployError) as info:
        refuse_risky(cfg, list(allowed), docker_host, realpath=same)
    return str(info.value)


@pytest.mark.parametrize("web, allow, said", [
    ({"privileged": True}, "privileged",
     "service web sets privileged: true, which gives it every capability and the host's devices "
     "(allow: [privileged] permits it)"),
    ({"network_mode": "host"}, "host_network",
     "service web sets network_mode: host, which gives it the host's network stack and every port on it "
     "(allow: [host_network] permits it)"),
    ({"pid": "host"}, "host_pid",
     "service web sets pid: host, which gives it every process on the host, to see and signal "
     "(allow: [host_pid] permits it)"),
    ({"volumes": [{"type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock"}]},
     "docker_socket", "service web sets a bind mount of /var/run/docker.sock, which gives it the Docker engine, "
                      "which is root on the host (allow: [docker_socket] permits it)"),
])
def test_each_risk_is_refused_naming_service_and_option_and_allowed_by_it(web, allow, said):
    text = refuse(config(**web))
    assert "The compose configuration hands a container the host: " + said in text
    assert "Nothing was changed." in text
    assert "list it in the allow option (allow: [%s])" % allow in text
    refuse_risky(config(**web), [allow], realpath=same)
    others = [a for a in ("privileged", "host_network", "host_pid", "docker_socket") if a != allow]
    assert said in refuse(config(**web), others)


def test_all_risks_named_at_once():
    text = refuse(config(privileged=True, pid="host", network_mode="host"), ["host_pid"])
    assert "service web sets privileged: true" in text and "service web sets network_mode: host" in text
    assert "pid: host" not in text
    assert "(allow: [host_network, privileged])" in text


@pytest.mark.parametrize("source", [
    "/var/run/docker.sock", "/run/docker.sock", "//run//docker.sock/", "/run/./docker.sock",
    "/run", "/var/run/", "/", "/run/user/1000/docker.sock", "/srv/engine/docker.sock",
])
def test_socket_mounts(source):
    assert exposes_socket(source, ["/var/run/docker.sock", "/run/docker.sock"], same)
    assert "a bind mount of %s" % source in refuse(config(volumes=[{"type": "bind", "source": source, "target": "/s"}]))


@pytest.mark.parametrize("source", ["/srv/notes/data", "/var", "/var/run/docker.socket-backup", "/run/lock", "data"])
def test_other_mounts_pass(source):
    assert not exposes_socket(source, ["/var/run/docker.sock", "/run/docker.sock"], same)


def test_socket_reached_through_a_symlink():
    links = {"/srv/link": "/run/docker.sock"}
    assert exposes_socket("/srv/link", ["/run/docker.sock"], lambda p: links.get(p, p))


def test_socket_of_docker_host_and_short_syntax_and_volume_driver():
    cfg = config(volumes=["/srv/engine.sock:/e.sock"])
    refuse_risky(cfg, [], realpath=same)
    assert "a bind mount of /srv/engine.sock" in refuse(cfg, docker_host="unix:///srv/engine.sock")
    assert "a bind mount of /var/run/docker.sock" in refuse(config(volumes=["/var/run/docker.sock:/s:ro"]))
    cfg = config(volumes=[{"type": "volume", "source": "sock", "target": "/s"}])
    cfg["volumes"]["sock"] = {"driver_opts": {"type": "none", "o": "bind", "device": "/run/docker.sock"}}
    assert "a bind mount of /run/docker.sock" in refuse(cfg)


def test_ordinary_config_passes():
    cfg = config(volumes=[{"type": "volume", "source": "data", "target": "/data"},
                          {"type": "bind", "source": "/srv/notes/conf", "target": "/conf"}],
                 network_mode="bridge", pid=None, privileged=False)
    assert risks_of(cfg, realpath=same) == []
    refuse_risky(cfg, [], realpath=same)
    refuse_risky({}, None)
