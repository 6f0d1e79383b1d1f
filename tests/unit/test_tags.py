"""Unit tests of tag planning and the immutable version tag rule (_tags.py), with a fake engine."""

import datetime

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils import _tags
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from fakes.engine import FakeClient


def add(client, ref, image_id, fingerprint=None):
    return client.add(ref, image_id, {_tags.FINGERPRINT_LABEL: fingerprint} if fingerprint else None)


@pytest.mark.parametrize("good", ["1.2.0", "0.0.1", "10.20.30", "1.0.0-rc.1", "1.0.0-alpha-1"])
def test_semver_accepted(good):
    assert _tags.validate_semver(good) == good


@pytest.mark.parametrize("bad", ["1.2", "v1.2.0", "01.2.0", "1.2.0.4", "latest", "", None, "1.2.0+build.5"])
def test_semver_refused(bad):
    with pytest.raises(DeployError) as info:
        _tags.validate_semver(bad)
    assert "version" in str(info.value)


def test_plan_with_registry_date_and_promote():
    plan = _tags.plan_tags("bytelyst-common-base-web", "1.2.0", registry="reg:5000/team", date="20261127",
                           promote=True)
    assert plan.all() == ["reg:5000/team/bytelyst-common-base-web:1.2.0",
                          "reg:5000/team/bytelyst-common-base-web:20261127",
                          "reg:5000/team/bytelyst-common-base-web:latest"]


def test_plan_without_date_or_promote():
    plan = _tags.plan_tags("base", "1.0.0", date=False)
    assert plan.all() == ["base:1.0.0"]


def test_bad_name_is_refused():
    with pytest.raises(DeployError):
        _tags.plan_tags("Bad Name", "1.0.0")


def test_date_tag():
    assert _tags.date_tag(datetime.date(2026, 11, 27)) == "20261127"
    assert len(_tags.date_tag()) == 8


def test_split_ref_with_registry_port():
    assert _tags.split_ref("reg:5000/a/b:1.0.0") == ("reg:5000/a/b", "1.0.0")
    assert _tags.split_ref("reg:5000/a/b") == ("reg:5000/a/b", "latest")


def test_version_absent_same_and_different():
    client = FakeClient()
    assert _tags.check_version(client, "base:1.0.0", "f1").state == "absent"
    add(client, "base:1.0.0", "sha256:1", "f1")
    assert _tags.check_version(client, "base:1.0.0", "f1").state == "same"
    with pytest.raises(DeployError) as info:
        _tags.check_version(client, "base:1.0.0", "f2")
    assert "already exists with different content" in str(info.value)
    assert "force" in str(info.value)
    forced = _tags.check_version(client, "base:1.0.0", "f2", force=True)
    assert forced.state == "forced" and forced.image_id == "sha256:1"


def test_apply_tags_reports_only_moves():
    client = FakeClient()
    add(client, "base:1.0.0", "sha256:1", "f1")
    add(client, "tmp:build", "sha256:2", "f2")
    add(client, "base:latest", "sha256:2", "f2")
    changed = _tags.apply_tags(client, "sha256:2", ["base:1.1.0", "base:latest"])
    assert changed == ["base:1.1.0"]
    assert client.images.get("base:1.0.0").id == "sha256:1"
    assert _tags.remove_tag(client, "tmp:build") is True
    assert _tags.remove_tag(client, "tmp:build") is False
