import hashlib

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils import _usage
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._usage import (
    EMPTY_LAYER, account, align_sizes, chain_ids, describe, is_ours, matches, measure, parse_label_filters, select,
)
from fakes.engine import FakeClient, FakeImage

STANDIN_LABEL = {"dev.bytelyst.standin.recipe": "abc"}


def diff(name):
    return "sha256:" + hashlib.sha256(name.encode()).hexdigest()


def history(*steps):
    """(created_by, size) oldest first -> what the engine returns (newest first)."""
    return [{"CreatedBy": c, "Size": s, "Id": "<missing>"} for c, s in reversed(steps)]


def image(ident, layers, labels=None, tags=None):
    return {
        "Id": "sha256:" + ident * 8,
        "RepoTags": ["<none>:<none>"] if tags is None else tags,
        "Config": {"Labels": labels},
        "RootFS": {"Type": "layers", "Layers": [diff(n) for n in layers]},
    }


def test_chain_ids_follow_the_engine_rule():
    a, b = diff("a"), diff("b")
    chains = chain_ids([a, b])
    assert chains[0] == a
    assert chains[1] == "sha256:" + hashlib.sha256((a + " " + b).encode()).hexdigest()
    # the same layer on a different parent is a different chain, stored again
    assert chain_ids([diff("c"), b])[1] != chains[1]
    assert chain_ids([]) == []


def test_align_one_size_per_layer_skipping_metadata():
    steps = history(("", 700), ("/bin/sh -c #(nop) COPY file:x in /opt ", 30), ("/bin/sh -c #(nop)  ENV A=1", 0),
                    ("/bin/sh -c #(nop)  CMD [\"node\"]", 0))
    assert align_sizes([diff("a"), diff("b")], steps) == [700, 30]


def test_align_places_zero_sized_layer_on_a_filesystem_step():
    # RUN that wrote nothing is a layer of size 0; the LABEL after it is not a layer.
    steps = history(("", 700), ("LABEL a=b", 0), ("RUN /bin/sh -c true # buildkit", 0), ("COPY x /x # buildkit", 5))
    layers = [diff("base"), diff("run"), diff("copy")]
    assert align_sizes(layers, steps) == [700, 0, 5]
    # where the zero-sized layer sits matters when a sized step lies between the candidates
    late = history(("", 700), ("ENV a=b", 0), ("COPY x /x # buildkit", 5), ("RUN /bin/sh -c true # buildkit", 0))
    assert align_sizes(layers, late) == [700, 5, 0]
    # legacy builder spelling of the same
    legacy = history(("", 700), ("/bin/sh -c #(nop)  LABEL a=b", 0), ("/bin/sh -c true", 0),
                     ("/bin/sh -c #(nop) ADD file:y in /y ", 5))
    assert align_sizes(layers, legacy) == [700, 0, 5]
    # the legacy builder's WORKDIR makes a (zero-sized) layer; its ENV does not
    workdir = history(("", 700), ("/bin/sh -c #(nop)  ENV A=1", 0), ("/bin/sh -c #(nop) COPY file:y in /y ", 5),
                      ("/bin/sh -c #(nop) WORKDIR /app", 0), ("/bin/sh -c #(nop)  USER node", 0))
    assert align_sizes(layers, workdir) == [700, 5, 0]


def test_align_keeps_the_empty_layer_on_a_zero_entry():
    steps = history(("", 700), ("RUN a", 0), ("RUN b", 9))
    assert align_sizes([diff("base"), EMPTY_LAYER, diff("b")], steps) == [700, 0, 9]


def test_align_refuses_history_that_cannot_match():
    with pytest.raises(DeployError) as info:
        align_sizes([diff("a")], history(("", 7), ("RUN x", 3)), image="web:1")
    text = str(info.value)
    assert "history of web:1 does not match its layers: 1 layers, 2 history entries of which 2 have a size" in text
    assert "rebuild it" in text
    with pytest.raises(DeployError):
        align_sizes([diff("a"), diff("b")], history(("", 7)))
    # a non-empty layer cannot carry the empty diff ID
    with pytest.raises(DeployError):
        align_sizes([EMPTY_LAYER], history(("", 7)))


def test_label_filters_parse_and_reject_missing_keys():
    assert parse_label_filters(["dev.bytelyst.product=notes", "dev.bytelyst.kind", "a=b=c", "e="]) == [
        ("dev.bytelyst.product", "notes"), ("dev.bytelyst.kind", None), ("a", "b=c"), ("e", "")]
    assert parse_label_filters(None) == []
    with pytest.raises(DeployError) as info:
        parse_label_filters(["=notes"])
    assert "The label filter '=notes' has no key" in str(info.value)
    assert "KEY=VALUE" in str(info.value)


def test_ours_ignores_inherited_stand_in_labels_and_test_marker():
    assert not is_ours(image("a", ["x"], STANDIN_LABEL))
    assert not is_ours(image("a", ["x"], {"dev.bytelyst.test": "1"}))
    assert not is_ours(image("a", ["x"], None))
    assert is_ours(image("a", ["x"], dict(STANDIN_LABEL, **{"dev.bytelyst.base.flavour": "web"})))
    assert is_ours(image("a", ["x"], {"dev.bytelyst.testrun": "1"}))


def test_matches_every_given_criterion():
    notes = image("a", ["x"], {"dev.bytelyst.product": "notes", "dev.bytelyst.kind": "web"},
                  tags=["reg.example/bytelyst/notes-web:1.0.0"])
    assert matches(notes)
    assert matches(notes, labels=[("dev.bytelyst.kind", None)], products=["clock", "notes"],
                   repositories=["other/", "reg.example/bytelyst/"])
    assert not matches(notes, labels=[("dev.bytelyst.kind", "backend")])
    assert not matches(notes, labels=[("dev.bytelyst.mode", None)])
    assert not matches(notes, products=["clock"])
    assert not matches(notes, repositories=["reg.example/other/"])


def test_select_skips_untagged_unless_asked_and_keeps_order():
    labels = {"dev.bytelyst.product": "notes"}
    tagged = image("a", ["x"], labels, tags=["n:1"])
    dangling = image("b", ["x"], labels)
    foreign = image("c", ["x"], STANDIN_LABEL, tags=["node:22-slim"])
    assert select([foreign, dangling, tagged, tagged]) == [tagged]
    assert select([foreign, dangling, tagged], include_untagged=True) == [dangling, tagged]
    assert select([foreign, tagged], ours=False) == [foreign, tagged]


def test_describe_names_base_and_version():
    product = image("a", ["x"], {
        "dev.bytelyst.product": "notes", "dev.bytelyst.kind": "backend", "dev.bytelyst.mode": "base",
        "dev.bytelyst.base.ref": "bytelyst/base-backend:1.2.0", "dev.bytelyst.base.version": "1.2.0",
        "dev.bytelyst.base.digest": "sha256:feed", "dev.bytelyst.base.flavour": "backend",  # inherited
        "org.opencontainers.image.version": "3.1.0"}, tags=["notes-backend:3.1.0", "notes-backend:latest"])
    row = describe(product)
    assert row["role"] == "product" and row["ref"] == "notes-backend:3.1.0"
    assert (row["base"], row["base_version"], row["base_digest"]) == ("bytelyst/base-backend:1.2.0", "1.2.0", "sha256:feed")
    assert row["flavour"] is None and row["version"] == "3.1.0" and row["mode"] == "base"
    base = describe(image("b", ["x"], {"dev.bytelyst.base.flavour": "web",
                                       "org.opencontainers.image.base.name": "node:22-slim"}, tags=["base-web:1.0.0"]))
    assert (base["role"], base["flavour"], base["base"], base["base_version"]) == ("base", "web", "node:22-slim", None)
    other = describe(image("c", ["x"]))
    assert other["role"] == "other" and other["ref"] == "c" * 8 and other["tags"] == []


def test_a_base_s_kind_is_read_from_the_kind_label_first_then_the_flavour_label():
    both = describe(image("b", ["x"], {"dev.bytelyst.base.kind": "dev", "dev.bytelyst.base.flavour": "web"}))
    assert (both["role"], both["kind"], both["flavour"]) == ("base", "dev", "dev")
    old = describe(image("b", ["x"], {"dev.bytelyst.base.flavour": "backend"}))  # a base built before 0.2.0
    assert (old["role"], old["kind"], old["flavour"]) == ("base", "backend", "backend")
    new = describe(image("b", ["x"], {"dev.bytelyst.base.kind": "web"}))
    assert (new["role"], new["kind"], new["flavour"]) == ("base", "web", "web")
    # a product inherits its base's labels; its kind is its own
    product = describe(image("a", ["x"], {"dev.bytelyst.product": "notes", "dev.bytelyst.kind": "web",
                                          "dev.bytelyst.base.kind": "dev"}))
    assert (product["role"], product["kind"], product["flavour"]) == ("product", "web", None)
    assert is_ours(image("b", ["x"], dict(STANDIN_LABEL, **{"dev.bytelyst.base.kind": "web"})))


def _scene():
    """runtime R (100); base = R + S (50); notes = base + N (3); clock = base + C (4);
    tarball images = R + own code (2) + their own copy of S (same diff ID, other chain)."""
    runtime = image("r", ["R"], STANDIN_LABEL, tags=["runtime:1"])
    base = image("b", ["R", "S"], {"dev.bytelyst.base.flavour": "backend"}, tags=["base:1"])
    notes = image("n", ["R", "S", "N"], {"dev.bytelyst.product": "notes"}, tags=["notes:1"])
    clock = image("k", ["R", "S", "C"], {"dev.bytelyst.product": "clock"}, tags=["clock:1"])
    tar_a = image("t", ["R", "A", "S"], {"dev.bytelyst.product": "a", "dev.bytelyst.mode": "tarball"}, tags=["a:1"])
    tar_b = image("u", ["R", "B", "S"], {"dev.bytelyst.product": "b", "dev.bytelyst.mode": "tarball"}, tags=["b:1"])
    sizes = {}
    for img, own in ((notes, [100, 50, 3]), (clock, [100, 50, 4]), (tar_a, [100, 2, 50]), (tar_b, [100, 2, 50])):
        sizes.update(zip(chain_ids(img["RootFS"]["Layers"]), own))
    return [runtime, base, notes, clock, tar_a, tar_b], sizes


def test_account_counts_each_chain_once_and_duplicates_as_unique():
    everything, sizes = _scene()
    runtime, base, notes, clock, tar_a, tar_b = everything
    rows, totals = account([base, notes, clock], everything, sizes)
    assert [(r["ref"], r["size"], r["shared"], r["unique"]) for r in rows] == [
        ("base:1", 150, 150, 0), ("notes:1", 153, 150, 3), ("clock:1", 154, 150, 4)]
    assert [r["shared_in_selection"] for r in rows] == [150, 150, 150]
    assert totals == dict(images=3, layers=4, sum_of_sizes=457, disk_used=157, saved_bytes=300, saved_percent=65.6)

    rows, totals = account([tar_a, tar_b], everything, sizes)
    # S sits on a different parent in each: stored twice, unique to each image
    assert [(r["size"], r["shared"], r["unique"], r["unique_in_selection"]) for r in rows] == [
        (152, 100, 52, 52), (152, 100, 52, 52)]
    assert totals == dict(images=2, layers=5, sum_of_sizes=304, disk_used=204, saved_bytes=100, saved_percent=32.9)


def test_account_of_nothing_is_zero():
    everything, sizes = _scene()
    assert account([], everything, sizes) == ([], dict(images=0, layers=0, sum_of_sizes=0, disk_used=0,
                                                       saved_bytes=0, saved_percent=0.0))


# Each image's own layers, oldest first, as its history states them (not derived from chain IDs).
LAYER_SIZES = {"runtime:1": [100], "base:1": [100, 50], "notes:1": [100, 50, 3], "clock:1": [100, 50, 4],
               "a:1": [100, 2, 50], "b:1": [100, 2, 50]}


def engine_of(everything, **kwargs):
    """The scene on the fake engine: the images' histories give one RUN step per layer, then a LABEL."""
    return FakeClient(images=[FakeImage.from_attrs(i, history=history(
        *([("RUN step", size) for size in LAYER_SIZES[i["RepoTags"][0]]] + [("LABEL x=y", 0)]))) for i in everything],
        **kwargs)


def test_measure_selects_ours_by_default_and_refs_exactly():
    everything, sizes = _scene()
    client = engine_of(everything)
    rows, totals = measure(client)
    assert [r["ref"] for r in rows] == ["base:1", "notes:1", "clock:1", "a:1", "b:1"]
    assert totals["disk_used"] == 100 + 50 + 3 + 4 + 2 + 50 + 2 + 50
    rows, totals = measure(client, products=["notes", "clock"], labels=["dev.bytelyst.product"])
    assert [r["ref"] for r in rows] == ["notes:1", "clock:1"] and totals["disk_used"] == 157
    rows, totals = measure(client, refs=["runtime:1", "notes:1"])
    assert [r["ref"] for r in rows] == ["runtime:1", "notes:1"] and totals["disk_used"] == 153
    with pytest.raises(DeployError) as info:
        measure(client, refs=["notes:1", "nope:2"])
    assert "The image nope:2 is not on this engine" in str(info.value)
    assert "docker image ls" in str(info.value)


def test_measure_skips_images_removed_meanwhile():
    everything, sizes = _scene()
    runtime, base, notes, clock, tar_a, tar_b = everything
    client = engine_of(everything, gone_on_inspect=[tar_b["Id"]], gone_on_history=[clock["Id"]])
    rows, totals = measure(client)
    assert [r["ref"] for r in rows] == ["base:1", "notes:1", "a:1"]
    # clock was listed, so it still counts as sharing base's layers; tar_b is gone entirely
    assert [r["shared"] for r in rows] == [150, 150, 100]
    with pytest.raises(DeployError) as info:
        measure(client, refs=["clock:1"])
    assert "The image clock:1 was removed while it was being measured" in str(info.value)


def test_engine_failure_names_the_engine(monkeypatch):
    broken = FakeClient()
    broken.fail("images", _usage.DockerException("500 Server Error: layer store busy"))
    monkeypatch.setattr(_usage, "engine_client", lambda host: broken)
    with pytest.raises(DeployError) as info:
        _usage.measure_on("tcp://build-1.example.com:2376")
    text = str(info.value)
    assert "The Docker engine at tcp://build-1.example.com:2376 failed while its images were measured" in text
    assert "layer store busy" in text and "docker system df" in text
    assert broken.closed
