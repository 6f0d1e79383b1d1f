"""Bases sized to the products (bytelyst_base_size_to_products): playbooks/base.yml for clock
alone builds a backend base that holds clock's shared packages and their closure and leaves
out what no selected product uses (@bytelyst/auth, which only trading uses), and says so.

The base is named below a unique prefix, labelled dev.bytelyst.test=1 and untagged at the end."""

import json
import os
import uuid

import pytest

from engine_listing import remove_tags_under
from packed_workspace import packed_once
from test_playbook_tags import PLAYBOOKS, playbook

pytestmark = pytest.mark.integration


def test_a_base_sized_to_clock_leaves_out_what_clock_does_not_use(docker_client, standin_image, tmp_path):
    prefix = "bl-sized-%s" % uuid.uuid4().hex[:8]
    extravars = {"bytelyst_selected_products": ["clock"], "bytelyst_base_size_to_products": True,
                 "bytelyst_base_kinds": ["backend"], "bytelyst_registry": "", "bytelyst_runtime_image": standin_image,
                 "bytelyst_tarball_dir": packed_once(), "bytelyst_base_name_prefix": prefix,
                 "bytelyst_ca_bundle": os.environ.get("BYTELYST_CA_BUNDLE", ""), "bytelyst_async_timeout": 0,
                 "bytelyst_image_labels": {"dev.bytelyst.test": "1"},
                 "bytelyst_build_log_dir": str(tmp_path / "logs")}
    (tmp_path / "vars.json").write_text(json.dumps(extravars))
    try:
        out = playbook(["-i", os.path.join(PLAYBOOKS, "inventory", "local.yml"), os.path.join(PLAYBOOKS, "base.yml"),
                        "--skip-tags", "prep", "-e", "@" + str(tmp_path / "vars.json")])
        provides = json.loads(docker_client.images.get(prefix + "-backend:1.0.0").labels["dev.bytelyst.base.provides"])
        # clock's backend takes http (and through it config, errors, logger) and format
        assert sorted(provides) == ["@bytelyst/config", "@bytelyst/errors", "@bytelyst/format", "@bytelyst/http",
                                    "@bytelyst/logger"]
        assert "backend base, left out as no selected product uses them: @bytelyst/auth" in out
    finally:
        remove_tags_under(docker_client, prefix + "-")
