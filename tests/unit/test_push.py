"""Push planning, stream accounting and promotion with fake engine and registry (no engine)."""

import json

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._push import (
    PushStream, Pusher, check_immutable, diff_of, layer_report, promote)
from ansible_collections.bytelyst.deploy.plugins.module_utils._reference import parse
from ansible_collections.bytelyst.deploy.plugins.module_utils._image_registry import SCHEMA2, ImageManifest
from fakes.engine import FakeClient, FakeImage
from fakes.registry import FakeRegistryClient

IMAGE_ID = "sha256:" + "a" * 64
DIFF_IDS = ["sha256:" + c * 64 for c in "123"]


def manifest_for(config, sizes=(1000, 200, 30)):
    body = json.dumps({"schemaVersion": 2, "config": {"digest": config},
                       "layers": [{"digest": "sha256:%064d" % i, "size": s} for i, s in enumerate(sizes)]}).encode()
    import hashlib
    return ImageManifest(body, SCHEMA2, "sha256:" + hashlib.sha256(body).hexdigest())


def image(client, repo_digests=()):
    """The image to push, local/app:1 on the engine."""
    held = FakeImage(IMAGE_ID, tags=["local/app:1"], digests=repo_digests, layers=DIFF_IDS)
    client.images.put("local/app:1", held)
    return held


TARGET = parse("127.0.0.1:5000/team/app")
OK_PUSH = [{"status": "Preparing", "id": "111111111111"},
           {"status": "Mounted from team/base", "id": "111111111111"},
           {"status": "Layer already exists", "id": "222222222222"},
           {"status": "Pushed", "id": "333333333333"},
           {"progressDetail": {}, "aux": {"Tag": "1.0.0", "Digest": None, "Size": 1}}]


def pusher(registry, scripts, retries=2):
    """A Pusher on an engine whose pushes play scripts (one list of events per attempt); a push
    that completes puts the image's manifest in the registry under the tag."""
    engine = FakeClient(push_scripts=scripts, on_push=lambda name, tag: registry.store(tag, manifest_for(IMAGE_ID)))
    sleeps = []
    p = Pusher(engine, registry, TARGET, retries=retries, retry_delay=0.5, sleep=sleeps.append)
    return p, engine, sleeps


def test_stream_accounting():
    s = PushStream()
    for e in OK_PUSH[:-1]:
        s.feed(e)
    assert s.pushed == {"333333333333"} and s.existing == {"111111111111", "222222222222"}
    assert not s.done
    s.feed({"errorDetail": {"message": "unauthorized: authentication required"}, "error": "x"})
    assert s.auth_failed
    r = PushStream()
    r.feed({"status": "Retrying in 5 seconds", "id": "333333333333"})
    assert "333333333333" in r.retrying


def test_layer_report_uses_registry_sizes():
    m = manifest_for(IMAGE_ID)
    assert layer_report(DIFF_IDS, m.layers, {"333333333333"}) == dict(layers_pushed=1, layers_existing=2, bytes_pushed=30)
    assert layer_report(DIFF_IDS, m.layers, set()) == dict(layers_pushed=0, layers_existing=3, bytes_pushed=0)


def test_first_push_sends_once_then_tags_by_manifest():
    reg = FakeRegistryClient()
    p, engine, sleeps = pusher(reg, [OK_PUSH])
    pushed = image(engine)
    out = p.push(pushed, ["1.0.0", "1.0.0-b7"], auth_config={"username": "u", "password": "p"})
    assert [t["action"] for t in out["tags"]] == ["pushed", "pushed"]
    assert out["tags"][0]["digest"] == out["tags"][1]["digest"] == reg.tags["1.0.0"].digest
    assert (out["layers_pushed"], out["layers_existing"], out["bytes_pushed"]) == (1, 2, 30)
    assert engine.api.pushes == [("127.0.0.1:5000/team/app", "1.0.0", {"username": "u", "password": "p"})]
    assert reg.puts == ["1.0.0-b7"]
    assert pushed.tagged == ["127.0.0.1:5000/team/app:1.0.0"]
    assert engine.api.removed == ["127.0.0.1:5000/team/app:1.0.0"]  # the engine's tags are put back


def test_same_content_is_unchanged_and_missing_tag_is_put_without_push():
    m = manifest_for(IMAGE_ID)
    reg = FakeRegistryClient({"1.0.0": m})
    p, engine, sleeps = pusher(reg, [])
    out = p.push(image(engine), ["1.0.0", "latest"])
    assert [t["action"] for t in out["tags"]] == ["unchanged", "pushed"]
    assert engine.api.pushes == [] and reg.puts == ["latest"] and out["bytes_pushed"] == 0
    out = p.push(image(engine), ["1.0.0", "latest"])
    assert [t["action"] for t in out["tags"]] == ["unchanged", "unchanged"]


def test_check_mode_sends_nothing():
    reg = FakeRegistryClient({"latest": manifest_for("sha256:" + "b" * 64)})
    p, engine, sleeps = pusher(reg, [])
    out = p.push(image(engine), ["1.0.0", "latest"], check_mode=True)
    assert [t["action"] for t in out["tags"]] == ["would_push", "would_push"]
    assert engine.api.pushes == [] and reg.puts == []
    diff = diff_of(out["tags"])
    assert "1.0.0: (absent)" in diff["before"] and "latest: sha256:" in diff["before"]
    assert "1.0.0: (digest known after the push)" in diff["after"]


def test_immutable_tag_pointing_elsewhere_is_refused_before_anything_is_sent():
    other = manifest_for("sha256:" + "b" * 64)
    reg = FakeRegistryClient({"1.0.0": other})
    p, engine, sleeps = pusher(reg, [OK_PUSH])
    with pytest.raises(DeployError) as info:
        p.push(image(engine, ["127.0.0.1:5000/team/app@sha256:" + "d" * 64]), ["1.0.0", "latest"])
    text = str(info.value)
    assert "The tag 1.0.0 is immutable by policy and already points at %s" % other.digest in text
    assert "sha256:" + "d" * 64 in text and IMAGE_ID in text and "force" in text
    assert engine.api.pushes == [] and reg.puts == []
    out = p.push(image(engine), ["1.0.0"], force=True)
    assert out["tags"][0]["action"] == "pushed" and out["tags"][0]["previous_digest"] == other.digest


def test_channel_tags_move_freely():
    check_immutable([dict(tag="latest", previous_digest="sha256:x", same=False)], ["latest"], False, "l", "r")
    with pytest.raises(DeployError):
        check_immutable([dict(tag="v1", previous_digest="sha256:x", same=False)], ["latest"], False, "l", "r")


def test_broken_push_is_retried_then_fails_naming_registry_tag_and_error():
    broken = [{"status": "Pushing", "id": "333333333333"}, {"status": "Retrying in 5 seconds", "id": "333333333333"}]
    reg = FakeRegistryClient()
    p, engine, sleeps = pusher(reg, [list(broken), list(broken), list(broken)])
    with pytest.raises(DeployError) as info:
        p.push(image(engine), ["1.0.0"])
    text = str(info.value)
    assert "The push of 1.0.0 to registry 127.0.0.1:5000 failed after 3 attempt(s)" in text
    assert "broke off" in text and "refused" in text
    assert sleeps == [0.5, 1.0] and len(engine.api.pushes) == 3 and reg.puts == []
    assert engine.api.removed == ["127.0.0.1:5000/team/app:1.0.0"]


def test_retry_completes_and_counts_layers_sent_in_every_attempt():
    first = [{"status": "Pushed", "id": "222222222222"}, {"error": "dial tcp: connection refused",
                                                          "errorDetail": {"message": "dial tcp: connection refused"}}]
    second = [{"status": "Layer already exists", "id": "222222222222"}] + OK_PUSH[3:]
    reg = FakeRegistryClient()
    p, engine, sleeps = pusher(reg, [first, second])
    out = p.push(image(engine), ["1.0.0"])
    assert (out["layers_pushed"], out["bytes_pushed"]) == (2, 230)
    assert sleeps == [0.5]


def test_engine_auth_failure_is_not_retried():
    denied = [{"error": "x", "errorDetail": {"message": "unauthorized: authentication required"}}]
    p, engine, sleeps = pusher(FakeRegistryClient(), [denied, denied])
    with pytest.raises(DeployError) as info:
        p.push(image(engine), ["1.0.0"])
    assert "Authentication failed at registry 127.0.0.1:5000" in str(info.value)
    assert len(engine.api.pushes) == 1 and sleeps == []


def test_promotion_puts_manifest_under_channel_tags():
    m = manifest_for(IMAGE_ID)
    old = manifest_for("sha256:" + "b" * 64)
    reg = FakeRegistryClient({"1.2.0": m, "latest": old})
    out = promote(reg, TARGET, "1.2.0", ["latest", "stable"], check_mode=True)
    assert [t["action"] for t in out["tags"]] == ["would_promote", "would_promote"] and reg.puts == []
    out = promote(reg, TARGET, "1.2.0", ["latest", "stable"])
    assert [(t["tag"], t["previous_digest"], t["action"]) for t in out["tags"]] == [
        ("latest", old.digest, "promoted"), ("stable", None, "promoted")]
    assert reg.puts == ["latest", "stable"] and out["layers_pushed"] == 0
    out = promote(reg, TARGET, m.digest, ["latest", "stable"])
    assert [t["action"] for t in out["tags"]] == ["unchanged", "unchanged"]


def test_promotion_refuses_missing_source_and_immutable_target():
    reg = FakeRegistryClient({"1.2.0": manifest_for(IMAGE_ID), "1.1.0": manifest_for("sha256:" + "b" * 64)})
    with pytest.raises(DeployError) as info:
        promote(reg, TARGET, "9.9.9", ["latest"])
    assert "The promotion source 9.9.9 is not in repository team/app at registry 127.0.0.1:5000" in str(info.value)
    with pytest.raises(DeployError) as info:
        promote(reg, TARGET, "1.2.0", ["latest", "1.1.0"])
    assert "The tag 1.1.0 is immutable" in str(info.value)
    assert reg.puts == []


def module_params(**kwargs):
    params = dict(name=None, repository=None, tags=None)
    params.update(kwargs)
    return params


def test_module_target_and_tags_from_options():
    from ansible_collections.bytelyst.deploy.plugins.module_utils._push import tags_of, target_of
    params = module_params(name="127.0.0.1:5000/team/app:1.0.0")
    assert target_of(params).name == "127.0.0.1:5000/team/app" and tags_of(params) == ["1.0.0"]
    params = module_params(name="local-app:build", repository="registry.example.com/team/app", tags=["1", "2", "1"])
    assert target_of(params).name == "registry.example.com/team/app" and tags_of(params) == ["1", "2"]


@pytest.mark.parametrize("params, words", [
    (module_params(name="local-app"), "does not name a registry"),
    (module_params(name="sha256:" + "a" * 64), "The option repository is missing"),
    (module_params(name="x", repository="registry.example.com/team/app:1"), "has a tag or digest"),
])
def test_module_target_errors(params, words):
    from ansible_collections.bytelyst.deploy.plugins.module_utils._push import target_of
    with pytest.raises(DeployError) as info:
        target_of(params)
    assert words in str(info.value)


def test_module_needs_a_tag():
    from ansible_collections.bytelyst.deploy.plugins.module_utils._push import tags_of
    with pytest.raises(DeployError) as info:
        tags_of(module_params(name="127.0.0.1:5000/team/app"))
    assert "No tag to push" in str(info.value)
