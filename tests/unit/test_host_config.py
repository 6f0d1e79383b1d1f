"""What the host roles read from a host's JSON files (daemon.json, the docker client's config.json,
the workspace's package.json), decided in Python from ansible.builtin.slurp results (no engine)."""

import base64
import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.bytelyst.deploy.plugins.filter.host_config import FilterModule as HostFilters
from ansible_collections.bytelyst.deploy.plugins.filter.package_manager import FilterModule as PackageFilters

daemon_options = HostFilters().filters()["daemon_options"]
logins_due = HostFilters().filters()["logins_due"]
workspace_package_manager = PackageFilters().filters()["workspace_package_manager"]

# What slurp returns for a file that is not there (the roles slurp with failed_when: false).
ABSENT = {"failed": True, "msg": "file not found: /etc/docker/daemon.json"}


def slurped(text, source="/etc/docker/daemon.json"):
    return {"content": base64.b64encode(text.encode("utf-8")).decode("ascii"), "encoding": "base64", "source": source}


def test_daemon_options_of_an_absent_file_are_the_log_rotation_and_the_extra_options():
    assert daemon_options(ABSENT, "json-file", "10m", 3, {"live-restore": True}) == {
        "log-driver": "json-file", "log-opts": {"max-size": "10m", "max-file": "3"}, "live-restore": True}


def test_daemon_options_keep_what_is_there_and_merge_mappings_key_by_key():
    current = slurped(json.dumps({"data-root": "/srv/docker", "log-driver": "local",
                                  "log-opts": {"max-size": "1m", "labels": "app"}, "dns": ["10.0.0.2"]}))
    merged = daemon_options(current, "json-file", "20m", 5, {"dns": ["10.0.0.3"], "log-opts": {"compress": "true"}})
    assert merged == {"data-root": "/srv/docker", "log-driver": "json-file", "dns": ["10.0.0.3"],
                      "log-opts": {"max-size": "20m", "max-file": "5", "labels": "app", "compress": "true"}}


@pytest.mark.parametrize("text, words", [
    ('{"log-driver": ', ["/etc/docker/daemon.json (the engine's daemon options) is not valid JSON",
                         "Fix it or remove it"]),
    ('["json-file"]', ["daemon.json holds list, not a JSON object"]),
])
def test_a_daemon_json_the_role_cannot_read_is_named_with_the_fix(text, words):
    with pytest.raises(AnsibleFilterError) as caught:
        daemon_options(slurped(text), "json-file", "10m", 3)
    for word in words:
        assert word in str(caught.value)


def login(registry, password="pw-1"):
    return {"registry": registry, "username": "deployer", "password": password}


def config(**auths):
    text = json.dumps({"auths": dict((r, {"auth": base64.b64encode(a.encode()).decode()}) for r, a in auths.items())})
    return slurped(text, "/root/.docker/config.json")


def test_logins_due_are_the_registries_whose_credentials_are_not_held():
    held = config(**{"reg-a:5000": "deployer:pw-1", "reg-b:5000": "deployer:old", "reg-d:5000": "other:pw-1"})
    logins = [login("reg-a:5000"), login("reg-b:5000"), login("reg-c:5000"), login("reg-d:5000")]
    assert logins_due(held, logins) == ["reg-b:5000", "reg-c:5000", "reg-d:5000"]
    assert logins_due(ABSENT, logins[:2]) == ["reg-a:5000", "reg-b:5000"]
    assert logins_due(slurped("{}", "/root/.docker/config.json"), [login("reg-a:5000")]) == ["reg-a:5000"]
    assert logins_due(held, []) == []


def test_an_unreadable_client_config_is_named_and_never_shows_a_password():
    with pytest.raises(AnsibleFilterError) as caught:
        logins_due(slurped('{"auths": {"r": {"auth": "ZGVwbG95ZXI6c2VjcmV0"', "/root/.docker/config.json"),
                   [login("r", "secret")])
    message = str(caught.value)
    assert "/root/.docker/config.json (the docker client's configuration) is not valid JSON" in message
    assert "secret" not in message and "ZGVwbG95ZXI6c2VjcmV0" not in message


def test_the_workspace_package_manager_comes_from_the_slurped_package_json():
    package = slurped(json.dumps({"name": "ws", "packageManager": "pnpm@10.6.5"}), "/srv/ws/package.json")
    assert workspace_package_manager(package, "pnpm") == {"name": "pnpm", "version": "10.6.5", "hash": None}


@pytest.mark.parametrize("result, words", [
    (slurped('{"name": "ws"}', "/srv/ws/package.json"), ["no packageManager field"]),
    (slurped('{"name": ', "/srv/ws/package.json"), ["/srv/ws/package.json (the workspace's package.json) is not valid JSON"]),
    (slurped('"pnpm@10.6.5"', "/srv/ws/package.json"), ["/srv/ws/package.json holds str, not a JSON object"]),
    ({"failed": True, "msg": "file not found: /srv/ws/package.json"},
     ["could not be read (file not found: /srv/ws/package.json)", "check build_host_workspace"]),
    (slurped(json.dumps({"packageManager": "yarn@4.5.1"}), "/srv/ws/package.json"), ["names yarn", "pnpm@VERSION"]),
])
def test_a_package_json_without_a_usable_packagemanager_is_named(result, words):
    with pytest.raises(AnsibleFilterError) as caught:
        workspace_package_manager(result, "pnpm")
    for word in words:
        assert word in str(caught.value)
