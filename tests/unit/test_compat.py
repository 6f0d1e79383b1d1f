"""Unit tests of the compatibility check (_compat.py): workspace: specs, the payload,
the command, and the verdict. The semver rules themselves are npm's: one test runs
the in-image script with the host's node and npm's semver package."""

import json
import os
import shutil
import subprocess

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils import _compat
from ansible_collections.bytelyst.deploy.plugins.module_utils._docker_cli import DockerCli
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._scope import Shared


@pytest.mark.parametrize("spec, workspace_version, expected", [
    ("workspace:*", "1.2.0", "*"),
    ("workspace:", None, "*"),
    ("workspace:^", "1.2.0", "^1.2.0"),
    ("workspace:~", "1.2.0", "~1.2.0"),
    ("workspace:^", "2.0.0-rc.1", "^2.0.0-rc.1"),
    ("workspace:^", None, "*"),  # no manifest: the base's own version, which always satisfies
    ("workspace:^1.1.0", "1.2.0", "^1.1.0"),
    ("^1.2.0 || ^2.0.0", None, "^1.2.0 || ^2.0.0"),
    ("1.2.0-beta.3", None, "1.2.0-beta.3"),
    ("npm:@bytelyst/config@^2.0.0", None, "^2.0.0"),
    ("link:../../common_plat/packages/config", None, None),
    ("file:./vendor/bytelyst-config-2.0.0.tgz", None, None),
])
def test_expand_spec(spec, workspace_version, expected):
    assert _compat.expand_spec(spec, workspace_version) == expected


def test_requirements_cover_every_bytelyst_dependency_once():
    package = {
        "dependencies": {"@bytelyst/config": "workspace:^", "fastify": "^5.6.0", "@bytelyst/errors": "workspace:*"},
        "devDependencies": {"@bytelyst/config": "workspace:*", "@bytelyst/logger": "~0.4.0", "typescript": "5.9.3"},
    }
    reqs = _compat.shared_requirements(package, Shared(["@bytelyst/config"]), {"@bytelyst/config": "2.0.0"})
    assert reqs == [
        ("@bytelyst/config", "workspace:^", "^2.0.0"),  # dependencies win over devDependencies
        ("@bytelyst/errors", "workspace:*", "*"),
        ("@bytelyst/logger", "~0.4.0", "~0.4.0"),
    ]


def test_third_party_ranges_skip_scoped_workspace_and_paths():
    package = {"dependencies": {"@bytelyst/ui": "workspace:*", "react": "19.1.1", "local": "file:../x",
                                "shared": "workspace:*", "alias": "npm:react@18"},
               "devDependencies": {"typescript": "5.9.3"}}
    shared = Shared(["@bytelyst/config"])
    assert _compat.third_party_ranges(package, ("dependencies",), shared) == {"react": "19.1.1"}
    assert _compat.third_party_ranges(package, ("dependencies", "devDependencies"), shared) == {
        "react": "19.1.1", "typescript": "5.9.3"}


def test_payload_and_command_are_a_throwaway_container_without_network():
    payload = _compat.check_payload([("@bytelyst/config", "workspace:^", "^2.0.0"),
                                     ("@bytelyst/x", "link:../x", None)], {"zod": "^3"})
    assert [c["name"] for c in payload["checks"]] == ["@bytelyst/config", "zod"]
    assert payload["provides_file"] == "/app/.bytelyst/provides.json"
    cli = DockerCli("/usr/bin/docker", "buildkit")
    argv = _compat.check_command(cli, "base:1.0.0", payload).argv
    assert argv[:8] == ["/usr/bin/docker", "run", "--rm", "--network", "none", "--entrypoint", "node", "--user"]
    assert "base:1.0.0" in argv and argv[-2] == _compat.CHECK_SCRIPT
    assert json.loads(argv[-1]) == payload


def answer(checks, provides=True):
    return {"provides": {"packages": {}} if provides else None, "checks": checks}


def check(name, rng, version, ok, valid=True, source="packages"):
    return {"name": name, "spec": rng, "range": rng, "from": source, "version": version, "ok": ok, "valid": valid}


def test_verdict_names_package_range_and_base_version():
    with pytest.raises(DeployError) as err:
        _compat.verdict(answer([check("@bytelyst/config", "^3.0.0", "2.0.0", False),
                                check("@bytelyst/errors", "*", "1.2.0", True)]), "base:1.0.0")
    text = str(err.value)
    assert "@bytelyst/config ^3.0.0" in text and "provides 2.0.0" in text and "base:1.0.0" in text
    assert "@bytelyst/errors" not in text
    assert err.value.result()["incompatible"][0]["name"] == "@bytelyst/config"


def test_verdict_missing_package_and_invalid_range():
    with pytest.raises(DeployError) as err:
        _compat.verdict(answer([check("@bytelyst/ui", "*", None, False),
                                check("@bytelyst/http", "not a range", None, False, valid=False)]), "b")
    assert "no version of it" in str(err.value) and "'not a range' is not a valid semver range" in str(err.value)


def test_verdict_returns_satisfied_third_party():
    provides, satisfied = _compat.verdict(answer([
        check("@bytelyst/config", "^2.0.0", "2.0.0", True),
        check("zod", "^3.25.0", "3.25.76", True, source="third_party"),
        check("react", "19.1.1", "19.3.1", False, source="third_party")]), "b")
    assert satisfied == {"zod"}
    assert provides == {"packages": {}}


def test_verdict_refuses_an_image_that_is_not_a_base():
    with pytest.raises(DeployError, match="does not say what it provides"):
        _compat.verdict(answer([], provides=False), "node:22-slim")


def test_parse_answer_errors():
    with pytest.raises(DeployError, match="gave no answer"):
        _compat.parse_answer("exec failed\n", "img")
    with pytest.raises(DeployError, match="semver package not found"):
        _compat.parse_answer('{"error": "npm semver package not found in this image"}', "img")
    assert _compat.parse_answer('noise\n{"provides": null, "checks": []}\n', "img")["checks"] == []


def test_script_applies_npm_semver_rules():
    """The in-image script, run by the host's node with npm's semver package."""
    node = shutil.which("node")
    semver_js = os.environ.get("BYTELYST_SEMVER_JS")
    if not node or not semver_js:
        pytest.skip("needs node and BYTELYST_SEMVER_JS (source env.sh)")
    reqs = [("@bytelyst/a", "^1.2.0", "^1.2.0"), ("@bytelyst/b", "~1.2.0", "~1.2.0"),
            ("@bytelyst/c", "^1.2.0", "^1.2.0"), ("@bytelyst/d", "workspace:^", "^2.0.0-rc.1"),
            ("@bytelyst/e", ">=1 <2 || ^3", ">=1 <2 || ^3"), ("@bytelyst/f", "^1.0.0", "^1.0.0")]
    provides = {"packages": {"@bytelyst/a": "1.9.0", "@bytelyst/b": "1.3.0", "@bytelyst/c": "1.3.0-beta.1",
                             "@bytelyst/d": "2.0.0-rc.2", "@bytelyst/e": "3.1.0"}, "third_party": {}}
    payload = _compat.check_payload(reqs, provides=provides)
    proc = subprocess.run([node, "-e", _compat.CHECK_SCRIPT, json.dumps(payload)], capture_output=True, text=True,
                          check=True, env=dict(os.environ, BYTELYST_SEMVER_JS=semver_js))
    got = dict((c["name"], c["ok"]) for c in _compat.parse_answer(proc.stdout, "host")["checks"])
    # npm: ~1.2.0 excludes 1.3.0; a prerelease only satisfies a range naming the same [major, minor, patch].
    assert got == {"@bytelyst/a": True, "@bytelyst/b": False, "@bytelyst/c": False, "@bytelyst/d": True,
                   "@bytelyst/e": True, "@bytelyst/f": False}
