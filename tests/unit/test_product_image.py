"""Unit tests of product image planning and its decisions (_product_image.py) on a fake engine:
what is built on which base, what an up-to-date image, a changed source, a missing base and
refused inputs lead to. The real builds are in tests/integration/test_product_image.py."""

import json
import os

import pytest
from docker.errors import DockerException

from ansible_collections.bytelyst.deploy.plugins.module_utils import _product_image
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from fakes.engine import FakeClient, FakeImage
from fakes.product import FakeCompat, NoBuilds, example_product, product_options

BASE = "team/base-backend:1.0.0"
DEV_BASE = "team/base-dev:1.0.0"


def bases():
    return {
        BASE: FakeImage("sha256:base", {"org.opencontainers.image.version": "1.0.0",
                                        "dev.bytelyst.base.provides": '{"@bytelyst/config":"2.0.0"}'},
                        layers=("sha256:l1", "sha256:l2"), size=60),
        DEV_BASE: FakeImage("sha256:dev", {"org.opencontainers.image.version": "1.0.0"}),
    }


@pytest.fixture
def notes(tmp_path):
    return example_product(tmp_path)


def opts(product_dir, **change):
    return product_options(product_dir, **change)


def no_revision(path):
    return None


def test_plan_on_base_keeps_only_what_the_bases_do_not_provide(notes):
    engine, compat = FakeClient(bases()), FakeCompat(satisfied=["fastify"])
    plan = _product_image.plan(opts(notes), engine, compat, revision_of=no_revision)
    # the final base is asked first, then the dev base
    assert compat.asked == [BASE, DEV_BASE]
    assert plan.refs == ["notes-backend:1.4.0"] and plan.tag_names() == ["1.4.0"]
    assert (plan.base_ref, plan.base_version, plan.built_on.id) == (BASE, "1.0.0", "sha256:base")
    # @bytelyst/* and the satisfied fastify come from the bases; the dev tools are installed in the builder
    assert plan.runtime_package.get("dependencies") is None and "devDependencies" not in plan.runtime_package
    assert plan.builder_package["devDependencies"] == {"@types/node": "22.20.5", "typescript": "5.9.3"}
    assert plan.dockerfile.splitlines()[1] == "FROM %s AS builder" % DEV_BASE
    assert "\nFROM %s\n" % BASE in plan.dockerfile
    assert "pnpm install --prod" not in plan.dockerfile  # nothing left for the final stage to install
    assert plan.files == ["src/server.ts", "tsconfig.json"]


def test_runtime_dependency_the_final_base_lacks_is_installed_in_both_stages(notes):
    plan = _product_image.plan(opts(notes), FakeClient(bases()), FakeCompat(satisfied=[]), revision_of=no_revision)
    assert plan.runtime_package["dependencies"] == {"fastify": "^5.6.0"}
    assert plan.builder_package["dependencies"] == {"fastify": "^5.6.0"}


def test_tags_names_and_labels_with_registry_revision_and_promote(notes):
    plan = _product_image.plan(opts(notes, registry="reg.invalid:5000/team", promote=True,
                                    labels={"dev.bytelyst.kind": "forged", "team": "notes"}),
                               FakeClient(bases()), FakeCompat(), revision_of=lambda path: "abc1234")
    assert plan.refs == ["reg.invalid:5000/team/notes-backend:1.4.0", "reg.invalid:5000/team/notes-backend:abc1234",
                         "reg.invalid:5000/team/notes-backend:latest"]
    assert plan.tag_names() == ["1.4.0", "abc1234", "latest"]
    assert plan.repository == "reg.invalid:5000/team/notes-backend"
    labels = _product_image.labels(plan, {"dev.bytelyst.kind": "forged", "team": "notes"})
    assert labels["dev.bytelyst.kind"] == "backend" and labels["team"] == "notes"
    assert labels["dev.bytelyst.base.ref"] == BASE and labels["dev.bytelyst.base.digest"] == "sha256:base"
    assert labels["org.opencontainers.image.revision"] == "abc1234"


def test_up_to_date_image_builds_and_tags_nothing(notes):
    engine, compat = FakeClient(bases()), FakeCompat()
    fingerprint = _product_image.plan(opts(notes), engine, compat, revision_of=no_revision).fingerprint
    engine = FakeClient(dict(bases(), **{"notes-backend:1.4.0": FakeImage(
        "sha256:notes", {"dev.bytelyst.fingerprint": fingerprint}, size=75)}))
    before = engine.tags()
    result = _product_image.ensure(engine, opts(notes), cli=NoBuilds(),  # no git repository: no revision tag
                                   compat=FakeCompat())
    assert result["changed"] is False and result["plan"]["build"] is False
    assert (result["image_id"], result["size"], result["unique_bytes"]) == ("sha256:notes", 75, 15)
    assert result["name"] == "notes-backend" and result["tag_names"] == ["1.4.0"]
    assert engine.tags() == before


def test_answers_recorded_on_the_previous_image_start_no_compatibility_check(notes):
    first = FakeCompat(satisfied=["fastify"])
    plan = _product_image.plan(opts(notes), FakeClient(bases()), first, revision_of=no_revision)
    label = _product_image.labels(plan)["dev.bytelyst.compat"]
    assert first.asked == [BASE, DEV_BASE] and len(json.loads(label)) == 2
    previous = {"notes-backend:1.4.0": FakeImage("sha256:notes", {"dev.bytelyst.fingerprint": plan.fingerprint,
                                                                  "dev.bytelyst.compat": label})}
    again = FakeCompat(satisfied=[])  # would answer differently: it must not be asked
    replan = _product_image.plan(opts(notes), FakeClient(dict(bases(), **previous)), again, revision_of=no_revision)
    assert again.asked == []
    assert (replan.fingerprint, replan.runtime_package) == (plan.fingerprint, plan.runtime_package)
    assert _product_image.labels(replan)["dev.bytelyst.compat"] == label
    # A base with other content (another id under the same tag) is asked again, and so is one whose
    # recorded answers do not parse.
    moved = dict(bases(), **previous)
    moved[DEV_BASE] = FakeImage("sha256:dev2", {"org.opencontainers.image.version": "1.0.0"})
    _product_image.plan(opts(notes), FakeClient(moved), again, revision_of=no_revision)
    assert again.asked == [DEV_BASE]
    garbled = {"notes-backend:1.4.0": FakeImage("sha256:notes", {"dev.bytelyst.compat": "{not json"})}
    _product_image.plan(opts(notes), FakeClient(dict(bases(), **garbled)), again, revision_of=no_revision)
    assert again.asked == [DEV_BASE, BASE, DEV_BASE]


def test_a_new_version_takes_the_answers_its_repositorys_other_images_recorded(notes):
    first = FakeCompat(satisfied=["fastify"])
    plan = _product_image.plan(opts(notes), FakeClient(bases()), first, revision_of=no_revision)
    label = _product_image.labels(plan)["dev.bytelyst.compat"]
    # 1.3.9 of the same repository (a source change bumped it since) recorded answers for these bases;
    # another product's image recorded answers too, which it must not lend.
    older = FakeImage("sha256:old", {"dev.bytelyst.compat": label}, tags=["notes-backend:1.3.9"])
    other = FakeImage("sha256:other", {"dev.bytelyst.compat": label}, tags=["clock-backend:2.0.0"])
    again = FakeCompat(satisfied=[])  # would answer differently: it must not be asked
    replan = _product_image.plan(opts(notes), FakeClient(bases(), images=[older]), again, revision_of=no_revision)
    assert again.asked == []
    assert _product_image.labels(replan)["dev.bytelyst.compat"] == label
    elsewhere = FakeCompat(satisfied=["fastify"])
    _product_image.plan(opts(notes), FakeClient(bases(), images=[other]), elsewhere, revision_of=no_revision)
    assert elsewhere.asked == [BASE, DEV_BASE]
    # A listing that fails costs the check, not the plan.
    failing = FakeClient(bases(), images=[older])
    failing.failures["images"] = DockerException("listing failed")
    asked = FakeCompat(satisfied=["fastify"])
    _product_image.plan(opts(notes), failing, asked, revision_of=no_revision)
    assert asked.asked == [BASE, DEV_BASE]


def test_missing_tag_of_an_up_to_date_image_is_added_without_a_build(notes):
    fingerprint = _product_image.plan(opts(notes), FakeClient(bases()), FakeCompat(), revision_of=no_revision).fingerprint
    engine = FakeClient(dict(bases(), **{"notes-backend:1.4.0": FakeImage(
        "sha256:notes", {"dev.bytelyst.fingerprint": fingerprint})}))
    result = _product_image.ensure(engine, opts(notes, promote=True, revision="abc1234"), cli=NoBuilds(),
                                   compat=FakeCompat())
    assert result["changed"] is True and result["plan"]["build"] is False and "verify" not in result
    assert engine.tags()["notes-backend:latest"] == "sha256:notes"
    assert engine.tags()["notes-backend:abc1234"] == "sha256:notes"


def test_changed_source_is_refused_without_force(notes):
    old = _product_image.plan(opts(notes), FakeClient(bases()), FakeCompat(), revision_of=no_revision).fingerprint
    with open(os.path.join(notes, "backend", "src", "server.ts"), "a") as handle:
        handle.write("\n// changed\n")
    engine = FakeClient(dict(bases(), **{"notes-backend:1.4.0": FakeImage("sha256:old", {"dev.bytelyst.fingerprint": old})}))
    before = engine.tags()
    with pytest.raises(DeployError) as info:
        _product_image.ensure(engine, opts(notes, revision="abc1234"), cli=NoBuilds(), compat=FakeCompat())
    assert "notes-backend:1.4.0 already exists with different content" in str(info.value)
    assert "Bump version" in str(info.value)
    assert engine.tags() == before


def test_changed_source_with_force_plans_a_build_in_check_mode(notes):
    old = _product_image.plan(opts(notes), FakeClient(bases()), FakeCompat(), revision_of=no_revision).fingerprint
    with open(os.path.join(notes, "backend", "src", "server.ts"), "a") as handle:
        handle.write("\n// changed\n")
    engine = FakeClient(dict(bases(), **{"notes-backend:1.4.0": FakeImage("sha256:old", {"dev.bytelyst.fingerprint": old})}))
    before = engine.tags()
    result = _product_image.ensure(engine, opts(notes, force=True, revision="abc1234"), check_mode=True,
                                   cli=NoBuilds(), compat=FakeCompat())
    assert result["changed"] is True and result["plan"]["build"] is True and result["image_id"] == ""
    assert result["fingerprint"] != old
    assert engine.tags() == before


@pytest.mark.parametrize("missing, option", [(BASE, "base_image"), (DEV_BASE, "dev_base_image")])
def test_missing_base_is_refused_before_any_check(notes, missing, option):
    refs = bases()
    del refs[missing]
    engine, compat = FakeClient(refs), FakeCompat()
    before = engine.tags()
    with pytest.raises(DeployError) as info:
        _product_image.ensure(engine, opts(notes, revision="abc1234", pull="never"), cli=NoBuilds(), compat=compat)
    assert "The %s %s is not on this Docker engine, and pull is never." % (option, missing) in str(info.value)
    assert "bytelyst.deploy.base_image" in str(info.value)
    assert compat.asked == [] and engine.tags() == before


def test_incompatible_base_stops_the_plan(notes):
    engine = FakeClient(bases())
    before = engine.tags()
    with pytest.raises(DeployError, match="Incompatible base image"):
        _product_image.ensure(engine, opts(notes, revision="abc1234"), cli=NoBuilds(),
                              compat=FakeCompat(error="Incompatible base image team/base-backend:1.0.0"))
    assert engine.tags() == before


@pytest.mark.parametrize("change, message", [
    ({"mode": "tarball"}, "manifest is required with mode=tarball"),
    ({"version": "1.4"}, "version '1.4' is not a semantic version"),
    ({"name": "Notes_Backend"}, "'Notes_Backend' is not a valid repository name"),
    ({"kind": "frontend"}, "kind 'frontend' is not known"),
    ({"product_dir": "/nonexistent/notes"}, "The product directory /nonexistent/notes does not exist"),
])
def test_refused_inputs_name_the_option(notes, change, message):
    engine, compat = FakeClient(bases()), FakeCompat()
    before = engine.tags()
    options = dict(opts(notes, revision="abc1234"), **change)
    with pytest.raises(DeployError, match=message):
        _product_image.ensure(engine, options, cli=NoBuilds(), compat=compat)
    assert compat.asked == [] and engine.tags() == before


def test_version_suffix_is_appended_to_the_package_version(notes):
    plan = _product_image.plan(opts(notes, version_suffix="-base1.3.0"), FakeClient(bases()), FakeCompat(),
                               revision_of=no_revision)
    # notes' backend/package.json says 1.4.0
    assert plan.version == "1.4.0-base1.3.0"
    assert plan.refs == ["notes-backend:1.4.0-base1.3.0"] and plan.tag_names() == ["1.4.0-base1.3.0"]


def test_version_suffix_that_makes_no_semantic_version_is_refused(notes):
    engine, compat = FakeClient(bases()), FakeCompat()
    before = engine.tags()
    with pytest.raises(DeployError, match=r"version '1\.4\.0 base' is not a semantic version"):
        _product_image.ensure(engine, opts(notes, version_suffix=" base", revision="abc1234"), cli=NoBuilds(),
                              compat=compat)
    assert compat.asked == [] and engine.tags() == before


def test_both_stages_start_from_the_digest_of_a_pushed_base_and_labels_keep_the_reference(notes):
    refs = bases()
    refs[BASE].attrs["RepoDigests"] = ["elsewhere/copy@sha256:" + "9" * 64, "team/base-backend@sha256:" + "b" * 64]
    refs[DEV_BASE].attrs["RepoDigests"] = ["team/base-dev@sha256:" + "d" * 64]
    plan = _product_image.plan(opts(notes), FakeClient(refs), FakeCompat(), revision_of=no_revision)
    froms = [line for line in plan.dockerfile.splitlines() if line.startswith("FROM ")]
    assert froms[0].startswith("FROM team/base-dev@sha256:" + "d" * 64)
    assert froms[-1].startswith("FROM team/base-backend@sha256:" + "b" * 64)
    assert not any(BASE in line or DEV_BASE in line for line in froms)
    labels = _product_image.labels(plan)
    assert labels["dev.bytelyst.base.ref"] == BASE
    assert labels["dev.bytelyst.base.digest"] == "team/base-backend@sha256:" + "b" * 64


def test_an_unpushed_base_is_named_by_its_tag(notes):
    plan = _product_image.plan(opts(notes), FakeClient(bases()), FakeCompat(), revision_of=no_revision)
    froms = [line for line in plan.dockerfile.splitlines() if line.startswith("FROM ")]
    assert froms[0].startswith("FROM " + DEV_BASE) and froms[-1].startswith("FROM " + BASE)
