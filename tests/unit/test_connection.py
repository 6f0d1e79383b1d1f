"""The engine connection: options, DOCKER_* fallbacks, and what the SDK and the docker CLI get from it."""

import os

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils._command import Command
from ansible_collections.bytelyst.deploy.plugins.module_utils._compose import ComposeProject
from ansible_collections.bytelyst.deploy.plugins.module_utils._connection import Connection
from ansible_collections.bytelyst.deploy.plugins.module_utils._docker_cli import DockerCli, probe
from ansible_collections.bytelyst.deploy.plugins.module_utils._engine import DOCKER_COMMON_ARGS
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from fakes.engine import FakeTLSConfig


@pytest.fixture
def certs(tmp_path):
    """A DOCKER_CERT_PATH-style directory (ca.pem, cert.pem, key.pem) and the same files under other names."""
    for name in ("ca.pem", "cert.pem", "key.pem", "engine-ca.crt", "me.crt", "me.key"):
        (tmp_path / name).write_text("-----BEGIN %s-----\n" % name)
    return tmp_path


def test_defaults_without_options_or_environment():
    conn = Connection.from_options({}, environ={})
    assert (conn.host, conn.tls, conn.verify, conn.timeout, conn.api_version) == (
        "unix:///var/run/docker.sock", False, False, 60, None)
    assert conn.sdk_kwargs() == {"base_url": "unix:///var/run/docker.sock", "version": "auto", "timeout": 60}
    assert conn.cli_env() == {"DOCKER_HOST": "unix:///var/run/docker.sock", "DOCKER_API_VERSION": "",
                              "DOCKER_TLS": "", "DOCKER_TLS_VERIFY": "", "DOCKER_CERT_PATH": ""}


def test_environment_fills_what_the_options_leave_out(certs):
    environ = {"DOCKER_HOST": "tcp://engine.example.com:2376", "DOCKER_TLS_VERIFY": "1",
               "DOCKER_CERT_PATH": str(certs), "DOCKER_API_VERSION": "1.41", "DOCKER_TIMEOUT": "90"}
    conn = Connection.from_options({"docker_host": None, "timeout": None}, environ=environ)
    assert conn.host == "tcp://engine.example.com:2376" and conn.verify and conn.tls
    assert (conn.ca_path, conn.client_cert, conn.client_key) == (
        str(certs / "ca.pem"), str(certs / "cert.pem"), str(certs / "key.pem"))
    assert (conn.api_version, conn.timeout) == ("1.41", 90)
    kwargs = conn.sdk_kwargs(tls_config=FakeTLSConfig)
    assert kwargs["version"] == "1.41" and kwargs["timeout"] == 90
    tls = kwargs["tls"]
    assert (tls.client_cert, tls.ca_cert, tls.verify) == ((str(certs / "cert.pem"), str(certs / "key.pem")),
                                                          str(certs / "ca.pem"), True)
    # The files already carry the CLI's names in one directory: the CLI reads that directory itself.
    env = conn.cli_env()
    assert env == {"DOCKER_HOST": "tcp://engine.example.com:2376", "DOCKER_API_VERSION": "1.41", "DOCKER_TLS": "1",
                   "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs)}


def test_an_option_wins_over_its_variable(certs):
    environ = {"DOCKER_HOST": "tcp://other:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs),
               "DOCKER_TIMEOUT": "90"}
    conn = Connection.from_options({"docker_host": "unix:///run/mine.sock", "validate_certs": False, "tls": False,
                                    "timeout": 5}, environ=environ)
    assert (conn.host, conn.tls, conn.verify, conn.timeout) == ("unix:///run/mine.sock", False, False, 5)
    # A variable of the module's environment must not turn TLS back on for the CLI.
    assert conn.cli_env()["DOCKER_TLS_VERIFY"] == "" and conn.cli_env()["DOCKER_CERT_PATH"] == ""


@pytest.mark.parametrize("value, verify", [("1", True), ("yes", True), ("anything", True), ("0", False),
                                           ("false", False), ("", False)])
def test_docker_tls_verify_as_the_docker_cli_reads_it(certs, value, verify):
    environ = {"DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS_VERIFY": value, "DOCKER_CERT_PATH": str(certs)}
    assert Connection.from_options({}, environ=environ).verify is verify


def test_tls_without_verification_sends_the_client_certificate_but_checks_nothing(certs):
    conn = Connection.from_options({"docker_host": "tcp://h:2376", "tls": True, "client_cert": str(certs / "me.crt"),
                                    "client_key": str(certs / "me.key")}, environ={})
    tls = conn.sdk_kwargs(tls_config=FakeTLSConfig)["tls"]
    assert (tls.client_cert, tls.ca_cert, tls.verify) == ((str(certs / "me.crt"), str(certs / "me.key")), None, False)
    env = conn.cli_env()
    assert env["DOCKER_TLS"] == "1" and env["DOCKER_TLS_VERIFY"] == ""
    assert sorted(os.listdir(env["DOCKER_CERT_PATH"])) == ["cert.pem", "key.pem"]


def test_files_under_other_names_reach_the_cli_as_links_in_a_private_directory(certs):
    conn = Connection.from_options({"docker_host": "tcp://h:2376", "validate_certs": True,
                                    "ca_path": str(certs / "engine-ca.crt"), "client_cert": str(certs / "me.crt"),
                                    "client_key": str(certs / "me.key")}, environ={})
    cert_dir = conn.cli_env()["DOCKER_CERT_PATH"]
    assert cert_dir != str(certs) and conn.cli_env()["DOCKER_CERT_PATH"] == cert_dir  # made once
    assert dict((n, os.path.realpath(os.path.join(cert_dir, n))) for n in os.listdir(cert_dir)) == {
        "ca.pem": str(certs / "engine-ca.crt"), "cert.pem": str(certs / "me.crt"), "key.pem": str(certs / "me.key")}
    assert all(os.path.islink(os.path.join(cert_dir, n)) for n in os.listdir(cert_dir))  # no copy of the key


def test_ssh_engines_go_through_the_ssh_command():
    conn = Connection.from_options({"docker_host": "ssh://deploy@vm-1"}, environ={})
    assert conn.sdk_kwargs()["use_ssh_client"] is True
    assert conn.cli_env()["DOCKER_HOST"] == "ssh://deploy@vm-1"


@pytest.mark.parametrize("options, environ, message", [
    ({"docker_host": "engine.example.com:2376"}, {}, "docker_host 'engine.example.com:2376' is not a Docker engine URL"),
    ({}, {"DOCKER_HOST": "http//typo"}, "DOCKER_HOST 'http//typo' is not a Docker engine URL"),
    ({"docker_host": "unix:///run/docker.sock", "tls": True}, {}, "is not a tcp:// URL"),
    ({"docker_host": "tcp://h:2376", "validate_certs": True}, {}, "no CA certificate"),
    ({"docker_host": "tcp://h:2376", "tls": True, "client_cert": "/nonexistent/cert.pem"}, {},
     "client_cert /nonexistent/cert.pem does not exist"),
    ({}, {"DOCKER_TIMEOUT": "soon"}, "DOCKER_TIMEOUT is 'soon', not a number of seconds"),
    ({}, {"DOCKER_TLS": "maybe"}, "DOCKER_TLS is 'maybe', which is not a boolean"),
    ({"docker_host": "tcp://10.0.0.5:2376", "tls_hostname": "engine.example.com"}, {},
     "tls_hostname engine.example.com differs from the host in docker_host (10.0.0.5)"),
])
def test_wrong_settings_are_named(options, environ, message):
    with pytest.raises(DeployError) as info:
        Connection.from_options(options, environ=environ)
    assert message in str(info.value)


def test_client_cert_without_key_is_refused(certs):
    with pytest.raises(DeployError) as info:
        Connection.from_options({"docker_host": "tcp://h:2376", "tls": True, "client_cert": str(certs / "me.crt")},
                                environ={})
    assert "client_cert and client_key go together; only client_cert was given" in str(info.value)


def test_tls_hostname_equal_to_the_host_is_fine(certs):
    conn = Connection.from_options({"docker_host": "tcp://engine.example.com:2376", "tls_hostname": "engine.example.com"},
                                   environ={})
    assert conn.hostname == "engine.example.com"


def test_every_option_of_the_connection_is_in_the_shared_argument_dict():
    from ansible_collections.bytelyst.deploy.plugins.module_utils._connection import OPTIONS
    assert set(OPTIONS) <= set(DOCKER_COMMON_ARGS)
    assert all(DOCKER_COMMON_ARGS[name].get("default") is None for name in OPTIONS)  # else no env fallback


def test_compose_and_build_commands_carry_the_same_environment(certs, monkeypatch):
    options = {"docker_host": "tcp://127.0.0.1:2376", "validate_certs": True, "ca_path": str(certs / "ca.pem"),
               "client_cert": str(certs / "cert.pem"), "client_key": str(certs / "key.pem")}
    compose = ComposeProject("p", str(certs), [str(certs / "compose.yml")], connection=options).ps()
    seen = []

    def fake_run(command, check=True, what=None):
        seen.append(command)

        class R(object):
            rc = 0
        return R()
    from ansible_collections.bytelyst.deploy.plugins.module_utils import _docker_cli
    monkeypatch.setattr(_docker_cli, "run", fake_run)
    cli = probe("/usr/bin/docker", options)
    assert isinstance(cli, DockerCli) and cli.builder == "buildx"
    built = cli.command(["build", "."], env={"DOCKER_BUILDKIT": "1"})
    expected = {"DOCKER_HOST": "tcp://127.0.0.1:2376", "DOCKER_TLS": "1", "DOCKER_TLS_VERIFY": "1",
                "DOCKER_CERT_PATH": str(certs), "DOCKER_API_VERSION": ""}
    assert compose.env == expected
    assert seen[0].env == expected  # the probe asks the same engine
    assert built.env == dict(expected, DOCKER_BUILDKIT="1")
    assert isinstance(built, Command)
