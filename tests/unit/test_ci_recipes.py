"""The CI recipes under examples/ci (the guide's Part 11) stay valid and in step with the
playbooks: each validates against its forge's published schema (check-jsonschema's vendored
copies, no network), and every playbook and bytelyst_* variable they name exists."""

import glob
import os
import re
import subprocess
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECIPES = sorted(glob.glob(os.path.join(REPO, "examples", "ci", "*.yml")))


def schema_of(path):
    """GitLab's for a .gitlab-ci file, GitHub Actions' for a workflow (on: + jobs:)."""
    if os.path.basename(path).startswith("gitlab-ci"):
        return "vendor.gitlab-ci"
    with open(path) as f:
        data = yaml.safe_load(f)
    # PyYAML reads the workflow key `on` as the boolean True.
    assert "jobs" in data and (True in data or "on" in data), "%s is neither a workflow nor a GitLab pipeline" % path
    return "vendor.github-workflows"


def declared_variables():
    with open(os.path.join(REPO, "roles", "bytelyst", "meta", "argument_specs.yml")) as f:
        specs = yaml.safe_load(f)
    names = set()
    for entry in specs["argument_specs"].values():
        names.update(entry.get("options", {}))
    return names


def test_there_are_recipes_for_both_forges():
    kinds = set(schema_of(p) for p in RECIPES)
    assert kinds == {"vendor.github-workflows", "vendor.gitlab-ci"}


@pytest.mark.parametrize("path", RECIPES, ids=os.path.basename)
def test_recipe_validates_against_its_forge_schema(path):
    checker = os.path.join(os.path.dirname(sys.executable), "check-jsonschema")
    proc = subprocess.run([checker, "--builtin-schema", schema_of(path), path],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", RECIPES, ids=os.path.basename)
def test_recipe_names_only_existing_playbooks_and_variables(path):
    with open(path) as f:
        text = f.read()
    playbooks = re.findall(r"\.bytelyst-deploy/playbooks/([\w.-]+\.yml)", text)
    assert playbooks, "%s runs no playbook of the collection" % path
    for name in playbooks:
        assert os.path.isfile(os.path.join(REPO, "playbooks", name)), "%s runs playbooks/%s, which does not exist" % (path, name)
    # Variables set with -e: `-e "name=..."` or JSON `-e '{"name": ...}'`.
    used = set(re.findall(r'-e\s+["\']?\{?\\?"?(bytelyst_\w+)', text))
    assert used, "%s sets no bytelyst_* variable" % path
    unknown = sorted(used - declared_variables())
    assert not unknown, "%s sets variables the bytelyst role does not declare: %s" % (path, unknown)
