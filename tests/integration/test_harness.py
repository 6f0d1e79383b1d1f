"""The test harness itself: the real engine, stand-in image, registry, BuildKit
and Compose that every other integration test builds on."""

import hashlib
import json
import os
import subprocess
import textwrap
import time
import urllib.request

import pytest

pytestmark = pytest.mark.integration


def sh(*argv, **kwargs):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)


def test_engine_answers(docker_client):
    version = docker_client.version()
    assert version["ApiVersion"]
    assert docker_client.info()["Driver"]


def test_standin_runs_node_and_pnpm(docker_client, standin_image):
    out = docker_client.containers.run(standin_image, ["node", "-e", "console.log(6 * 7)"], remove=True)
    assert out.decode().strip() == "42"
    out = docker_client.containers.run(standin_image, ["pnpm", "--version"], remove=True)
    assert out.decode().strip().split(".")[0] == "10"
    out = docker_client.containers.run(standin_image, ["id", "-u", "node"], remove=True)
    assert out.decode().strip() == "1000"


def test_standin_never_shadows_upstream(standin_image):
    # The stand-in lives under a reserved domain, never as docker.io's node image.
    assert not standin_image.startswith(("node:", "docker.io/", "library/"))
    assert ".invalid/" in standin_image


def test_registry_round_trip(docker_client, registry_addr, standin_image, unique, tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM %s\nRUN echo %s > /round-trip\n" % (standin_image, unique))
    repo = "%s/harness/round-trip" % registry_addr
    image, dummy = docker_client.images.build(path=str(tmp_path), tag="%s:%s" % (repo, unique), rm=True)
    try:
        docker_client.images.push(repo, tag=unique)
        pushed = docker_client.images.get_registry_data("%s:%s" % (repo, unique))
        docker_client.images.remove("%s:%s" % (repo, unique), force=True)
        pulled = docker_client.images.pull(repo, tag=unique)
        assert pulled.id == image.id
        assert pushed.id.startswith("sha256:")
        out = docker_client.containers.run(pulled.id, ["cat", "/round-trip"], remove=True)
        assert out.decode().strip() == unique
    finally:
        for ref in ("%s:%s" % (repo, unique),):
            try:
                docker_client.images.remove(ref, force=True)
            except Exception:
                pass


def test_buildkit_cache_mount_and_secret_stay_out_of_layers(buildkit_cli, standin_image, unique, tmp_path):
    secret = "npm-token-" + unique
    (tmp_path / "secret").write_text(secret)
    (tmp_path / "Dockerfile").write_text(textwrap.dedent("""\
        FROM %s
        # The unique echo keeps BuildKit from reusing an earlier run's step: secrets are not part of its cache key.
        RUN --mount=type=cache,target=/cache --mount=type=secret,id=token \\
            echo %s >/dev/null && sha256sum /run/secrets/token | cut -d' ' -f1 > /seen && date > /cache/stamp
        """ % (standin_image, unique)))
    tag = "bytelyst-test/harness-buildkit:%s" % unique
    argv = buildkit_cli.build_argv() + ["--secret", "id=token,src=%s" % (tmp_path / "secret"), "-t", tag, str(tmp_path)]
    try:
        sh(*argv, env=dict(os.environ, **buildkit_cli.env))
        out = sh(buildkit_cli.path, "run", "--rm", tag, "sh", "-c", "cat /seen; find /run/secrets /cache -type f 2>/dev/null | wc -l")
        # The build saw the secret (its digest matches) but neither it nor the cache is in the image.
        assert out.stdout.split() == [hashlib.sha256(secret.encode()).hexdigest(), "0"]
        saved = subprocess.run([buildkit_cli.path, "save", tag], check=True, capture_output=True).stdout
        history = sh(buildkit_cli.path, "history", "--no-trunc", tag).stdout
        assert secret.encode() not in saved
        assert secret not in history
    finally:
        subprocess.run([buildkit_cli.path, "rmi", "-f", tag], capture_output=True, check=False)


def test_compose_up_wait_and_down(standin_image, unique, tmp_path):
    port = 18000 + int(unique[:4], 16) % 1000
    server = "require('http').createServer((q, r) => r.end('up')).listen(8080)"
    health = "require('http').get('http://127.0.0.1:8080', r => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"
    compose = {
        "services": {
            "web": {
                "image": standin_image,
                "command": ["node", "-e", server],
                "ports": ["127.0.0.1:%d:8080" % port],
                "healthcheck": {"test": ["CMD", "node", "-e", health], "interval": "1s", "retries": 30},
            }
        }
    }
    (tmp_path / "compose.yaml").write_text(json.dumps(compose))
    project = "bytelyst-harness-" + unique
    base = ["docker", "compose", "-p", project, "-f", str(tmp_path / "compose.yaml")]
    try:
        sh(*(base + ["up", "-d", "--wait", "--wait-timeout", "60"]))
        lines = sh(*(base + ["ps", "--format", "json"])).stdout.strip().splitlines()
        ps = [json.loads(line) for line in lines]
        assert ps[0]["Health"] == "healthy"
        deadline = time.time() + 10
        while True:
            try:
                body = urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=2).read()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.3)
        assert body == b"up"
    finally:
        sh(*(base + ["down", "--timeout", "1"]))
    assert sh(*(base + ["ps", "-q"])).stdout.strip() == ""
