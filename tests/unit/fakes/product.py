"""Product image planning: the compatibility check (FakeCompat), a BuildKit client that must
not be asked (NoBuilds), and the helpers the product tests share: product_image's options as
the module hands them over (product_options) and a private copy of an example product."""

import os
import shutil

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                        "examples")


def product_options(product_dir, **change):
    """product_image's options with the module's defaults (mode=base on team/base-*:1.0.0), changed by change."""
    data = dict(product_dir=product_dir, kind="backend", mode="base", base_image="team/base-backend:1.0.0",
                dev_base_image="team/base-dev:1.0.0", runtime_image="node:22-slim", manifest=None, name=None,
                version=None, revision=None, registry=None, port=4016, health_path=None, promote=False, force=False,
                npm_token=None, ca_bundle=None, verify=True, verify_timeout=90, pnpm_version="10.6.5", labels={},
                docker_cli=None, docker_host=None, shared_registry=None, shared_registry_allow_http=False,
                shared_scopes=[])
    data.update(change)
    return data


def example_product(tmp_path, name="notes"):
    """A copy of examples/products/<name> (without installed or built files) under tmp_path; its path."""
    target = os.path.join(str(tmp_path), name)
    shutil.copytree(os.path.join(EXAMPLES, "products", name), target,
                    ignore=shutil.ignore_patterns("node_modules", ".next", "dist"))
    return target


def satisfies(version, rng):
    """Enough of npm's semver for these tests: *, exact, ^X.Y.Z (X > 0), no prerelease unless exact."""
    if rng == "*":
        return "-" not in version
    if rng.startswith("^"):
        want = [int(p) for p in rng[1:].split(".")]
        if "-" in version:
            return False
        have = [int(p) for p in version.split(".")]
        return have[0] == want[0] and have >= want
    return version == rng


class FakeCompat(object):
    """The compatibility check run against an image: records the images asked (asked: refs;
    questions: (ref, what, name)); raises DeployError(error) when given one.

    By default every check passes at version 1.0.0 and `satisfied` names the packages the image
    provides. from_payload=True answers from the payload instead: the versions it provides, each
    check evaluated with satisfies() ("not a range" is invalid)."""

    def __init__(self, satisfied=(), error=None, from_payload=False):
        self.satisfied = set(satisfied)
        self.error = error
        self.from_payload = from_payload
        self.asked = []
        self.questions = []

    def __call__(self, ref, payload, what, name=None):
        self.asked.append(ref)
        self.questions.append((ref, what, name))
        if self.error:
            raise DeployError(self.error)
        if not self.from_payload:
            checks = [dict(c, ok=True, valid=True, version="1.0.0") for c in payload["checks"]]
            return {"version": "1.0.0"}, set(self.satisfied), checks
        versions = payload["provides"]["third_party"]
        checks = []
        for c in payload["checks"]:
            valid = c["range"] != "not a range"
            checks.append(dict(c, version=versions[c["name"]], valid=valid,
                               ok=valid and satisfies(versions[c["name"]], c["range"])))
        return payload["provides"], set(c["name"] for c in checks if c["ok"]), checks


class NoBuilds(object):
    """A BuildKit client that must never be asked: the decision was not to build."""

    def __getattr__(self, name):
        raise AssertionError("a build was started (%s)" % name)
