"""The docker action group of meta/runtime.yml: module_defaults for group/bytelyst.deploy.docker
reach every module of the group (here an engine address that answers nothing), and a task's own
option still wins over the default."""

import pytest
from ansible_runner_helper import run_module_many

pytestmark = pytest.mark.integration

NOWHERE = "tcp://127.0.0.1:9"  # the discard port: nothing listens there


def test_module_defaults_of_the_group_reach_its_modules():
    play_keys = {"module_defaults": {"group/bytelyst.deploy.docker": {"docker_host": NOWHERE}}}
    results, raw = run_module_many("image_usage", [{"images": []}, {"images": [], "docker_host": "unix:///var/run/docker.sock"}],
                                   play_keys=play_keys)
    from_group, own = results
    assert from_group.get("failed") is True, raw
    assert "The Docker engine at %s does not answer" % NOWHERE in from_group["msg"]
    assert not own.get("failed"), raw
