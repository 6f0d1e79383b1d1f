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


def test_log_path_names_the_image_and_the_time_under_the_default_directory():
    now = __import__("datetime").datetime(2026, 11, 30, 8, 5, 9)
    assert _build.log_path("registry.example.com/bytelyst/notes-backend:build-ab12", now=now) == (
        "/var/tmp/bytelyst/builds/notes-backend-20261130T080509Z.log")
    assert _build.log_path("x", log_dir="/srv/logs", now=now) == "/srv/logs/x-20261130T080509Z.log"
    assert _build.log_path("x", build_log="/tmp/mine.log", log_dir="/srv/logs") == "/tmp/mine.log"


def fake_builder(tmp_path, body):
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\n" + body)
    os.chmod(str(fake), 0o755)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    return DockerCli(str(fake), "buildkit"), str(ctx)


def test_build_progress_goes_to_the_log_as_it_comes_without_secrets(tmp_path):
    # the fake prints a step, then a line holding the token, then writes the image id
    cli, ctx = fake_builder(tmp_path, 'echo "#5 [2/3] RUN pnpm install"\necho "#5 token tok123456 seen" >&2\n'
                            'printf "#6 no newline at the end"\n'
                            'while [ "$1" != "--iidfile" ]; do shift; done\nprintf sha256:abc > "$2"\n')
    log = tmp_path / "logs" / "deep" / "b.log"
    result = _build.build(cli, spec(tmp_path, context=ctx, redact=["tok123456"], log=str(log)))
    assert result.image_id == "sha256:abc" and result.log == str(log)
    assert result.as_dict()["build_log"] == str(log)
    text = log.read_text()
    assert "#5 [2/3] RUN pnpm install" in text and "#5 token ******** seen" in text
    assert text.endswith("\n#6 no newline at the end")
    assert "tok123456" not in text
    assert text.splitlines()[0].startswith("# ") and "--progress plain" in text.splitlines()[0]


def test_failed_logged_build_names_the_log_and_keeps_it(tmp_path):
    cli, ctx = fake_builder(tmp_path, 'echo "ERR_PNPM_FETCH_401 tok123456"\nexit 3\n')
    log = tmp_path / "b.log"
    with pytest.raises(DeployError) as info:
        _build.build(cli, spec(tmp_path, context=ctx, redact=["tok123456"], log=str(log)), what="build of x")
    assert "build of x failed (exit code 3). Its whole output is in %s." % log in str(info.value)
    assert info.value.result()["build_log"] == str(log)
    assert "ERR_PNPM_FETCH_401 ********" in info.value.output and "tok123456" not in str(info.value)
    assert "ERR_PNPM_FETCH_401 ********" in log.read_text()


@pytest.mark.parametrize("logged", [True, False])
def test_a_build_failing_on_a_stale_engine_cache_says_to_clear_it(tmp_path, logged):
    cli, ctx = fake_builder(tmp_path, 'echo "#14 exporting layers done"\necho "#14 ERROR: layer does not exist"\nexit 1\n')
    log = str(tmp_path / "b.log") if logged else None
    with pytest.raises(DeployError) as info:
        _build.build(cli, spec(tmp_path, context=ctx, log=log), what="build of x")
    assert "build of x failed (exit code 1)" in str(info.value)
    assert "Clear the cache on that engine (docker builder prune) and run again; nothing was tagged." in str(info.value)
    # Another failure keeps its own words, with no such hint.
    (tmp_path / "docker").write_text('#!/bin/sh\necho "ERR_PNPM_FETCH_404"\nexit 1\n')
    with pytest.raises(DeployError) as other:
        _build.build(cli, spec(tmp_path, context=ctx, log=log), what="build of x")
    assert "docker builder prune" not in str(other.value)


@pytest.mark.parametrize("body", ["echo started\nexec sleep 30\n",
                                  # a child (as buildx is the docker CLI's) keeps the output open
                                  "echo started\nsleep 6 &\nwait\n"])
def test_logged_build_that_runs_too_long_is_stopped(tmp_path, body):
    cli, ctx = fake_builder(tmp_path, body)
    log = tmp_path / "b.log"
    started = __import__("time").time()
    with pytest.raises(DeployError) as info:
        _build.build(cli, spec(tmp_path, context=ctx, log=str(log), timeout=1), what="build of x")
    assert "build of x did not finish within 1 seconds. Its output so far is in %s." % log in str(info.value)
    assert "started" in log.read_text()
    assert __import__("time").time() - started < 5  # not when the child lets go of the output


def test_unwritable_log_directory_is_refused_before_building(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    cli, ctx = fake_builder(tmp_path, 'touch "%s"\n' % (tmp_path / "ran"))
    with pytest.raises(DeployError) as info:
        _build.build(cli, spec(tmp_path, context=ctx, log=str(blocker / "b.log")))
    assert "Cannot write the build log %s" % (blocker / "b.log") in str(info.value)
    assert not (tmp_path / "ran").exists()
