"""Unit tests of the BuildKit build runner (_build.py) and of the parsing side of the
throwaway-container checks (_verify.py). No engine: commands are built, not run."""

import os

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils import _build, _verify
from ansible_collections.bytelyst.deploy.plugins.module_utils._docker_cli import DockerCli
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError


def spec(tmp_path, **kwargs):
    defaults = dict(dockerfile="FROM scratch\n", context=str(tmp_path), tag="bytelyst-tmp/x:build-1")
    defaults.update(kwargs)
    return _build.BuildSpec(**defaults)


def test_command_passes_secrets_only_as_secret_mounts(tmp_path):
    cli = DockerCli("/usr/bin/docker", "buildkit", {"DOCKER_BUILDKIT": "1"})
    s = spec(tmp_path, secrets={"npmrc": "/s/npmrc", "ca": "/s/ca.pem"}, labels={"b": "2", "a": "1"},
             redact=["tok123"])
    cmd = _build.build_command(cli, s, "/w/Dockerfile", "/w/iid")
    assert cmd.argv[:2] == ["/usr/bin/docker", "build"]
    assert cmd.env["DOCKER_BUILDKIT"] == "1"
    assert ["--secret", "id=ca,src=/s/ca.pem"] == cmd.argv[cmd.argv.index("--secret"):][:2]
    assert "id=npmrc,src=/s/npmrc" in cmd.argv
    assert "--build-arg" not in cmd.argv
    assert cmd.argv[cmd.argv.index("--label") + 1] == "a=1"
    assert cmd.argv[-1] == str(tmp_path)
    assert cmd.argv[cmd.argv.index("--iidfile") + 1] == "/w/iid"
    assert cmd.secrets == ["tok123"]


def test_buildx_client_uses_buildx_build_load(tmp_path):
    cli = DockerCli("/opt/docker", "buildx")
    cmd = _build.build_command(cli, spec(tmp_path, target="builder"), "/w/Dockerfile", "/w/iid")
    assert cmd.argv[:4] == ["/opt/docker", "buildx", "build", "--load"]
    assert cmd.argv[cmd.argv.index("--target") + 1] == "builder"


def test_missing_secret_file_is_refused_before_building(tmp_path):
    cli = DockerCli("/nonexistent/docker", "buildkit")
    with pytest.raises(DeployError) as info:
        _build.build(cli, spec(tmp_path, secrets={"ca": str(tmp_path / "nope.pem")}))
    assert "build secret 'ca'" in str(info.value)


def test_bad_secret_id_is_refused(tmp_path):
    secret = tmp_path / "s"
    secret.write_text("x")
    with pytest.raises(DeployError) as info:
        _build.check_secrets({"a b": str(secret)})
    assert "not valid" in str(info.value)


def test_secret_as_build_arg_is_refused(tmp_path):
    cli = DockerCli("/nonexistent/docker", "buildkit")
    with pytest.raises(DeployError) as info:
        _build.build(cli, spec(tmp_path, build_args={"NPM_TOKEN": "tok123"}, redact=["tok123"]))
    assert "build argument" in str(info.value)
    assert "tok123" not in str(info.value)


def test_failed_build_names_command_and_output_without_secret(tmp_path):
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\necho 'step 3: npm ERR! 401 for token tok123' >&2\nexit 1\n")
    os.chmod(str(fake), 0o755)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    cli = DockerCli(str(fake), "buildkit")
    with pytest.raises(DeployError) as info:
        _build.build(cli, spec(ctx, context=str(ctx), redact=["tok123"]), what="build of the web base image")
    text = str(info.value)
    assert "build of the web base image failed (exit code 1)" in text
    assert "npm ERR! 401" in text and "tok123" not in text
    assert "--iidfile" in info.value.command


def test_build_reads_image_id_from_iidfile(tmp_path):
    fake = tmp_path / "docker"
    fake.write_text('#!/bin/sh\nwhile [ "$1" != "--iidfile" ]; do shift; done\nprintf sha256:abc > "$2"\n')
    os.chmod(str(fake), 0o755)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    result = _build.build(DockerCli(str(fake), "buildkit"), spec(ctx, context=str(ctx)))
    assert result.image_id == "sha256:abc"
    assert result.builder == "buildkit"


def test_parse_load_output_reports_failures_and_missing():
    text = "\n".join([
        "noise",
        _verify.MARK + '{"uid": 1000, "cwd": "/app"}',
        _verify.MARK + '{"package": "@bytelyst/a", "ok": true, "how": "require"}',
        _verify.MARK + '{"package": "@bytelyst/b", "ok": false, "error": "Error: Cannot find module \'zod\'"}',
    ])
    report = _verify.parse_load_output(text, ["@bytelyst/a", "@bytelyst/b", "@bytelyst/c"])
    assert report["uid"] == 1000
    assert report["packages"] == {"@bytelyst/a": "require"}
    assert "zod" in report["failures"]["@bytelyst/b"]
    assert "no result" in report["failures"]["@bytelyst/c"]


@pytest.mark.parametrize("user,uid", [("", 1000), ("root", 1000), ("node", 0), ("0:0", 0)])
def test_root_is_refused(user, uid):
    with pytest.raises(DeployError) as info:
        _verify.require_non_root("img", user, uid)
    assert "runs as root" in str(info.value)


def test_non_root_is_accepted():
    _verify.require_non_root("img", "node", 1000)


def test_build_secrets_write_the_token_file_private_and_redact_it(tmp_path):
    secrets, redact = _build.build_secrets(str(tmp_path), npm_token="tok-123", ca_bundle="/etc/ca.pem")
    assert secrets == {"npmrc": str(tmp_path / "npmrc"), "ca": "/etc/ca.pem"}
    assert (tmp_path / "npmrc").read_text() == "_authToken=tok-123\n"
    assert os.stat(str(tmp_path / "npmrc")).st_mode & 0o777 == 0o600
    assert redact == ["tok-123"]
    assert _build.build_secrets(str(tmp_path / "unused")) == ({}, [])
