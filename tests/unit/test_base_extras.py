"""Unit tests of a base's extra third-party packages (_base_extras.py, and how _base_image and
_product_image use them): the version taken from the products' lockfiles, what the base's
package.json, seed lockfile, provides.json, labels and fingerprint hold, and which extras a
product still installs itself. The real build is in tests/integration/test_base_extras.py."""

import json
import os
import subprocess

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils import _base_extras as extras
from ansible_collections.bytelyst.deploy.plugins.module_utils import _base_image as base
from ansible_collections.bytelyst.deploy.plugins.module_utils import _lockfile, _product_image
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from fakes.engine import FakeClient, FakeImage
from fakes.product import FakeCompat, example_product, product_options

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        "examples", "products")


def lock(deps, snapshots=None, dev=None):
    """A pnpm lockfile with one importer `backend` depending on deps ({name: lockfile version})."""
    snapshots = dict(snapshots or {})
    for name, version in deps.items():
        snapshots.setdefault("%s@%s" % (name, version), {})
    packages = dict((key.split("(")[0], {"resolution": {"integrity": "sha512-" + key}}) for key in snapshots)
    importer = {"dependencies": dict((n, {"specifier": "^" + v.split("(")[0], "version": v}) for n, v in deps.items())}
    if dev:
        importer["devDependencies"] = dict((n, {"specifier": v, "version": v}) for n, v in dev.items())
    return {"lockfileVersion": "9.0", "importers": {"backend": importer}, "packages": packages, "snapshots": snapshots}


FASTIFY_5_12 = {"fastify@5.12.8": {"dependencies": {"pino": "9.7.0"}}, "pino@9.7.0": {}}
FASTIFY_5_6 = {"fastify@5.6.0": {"dependencies": {"pino": "9.6.0"}}, "pino@9.6.0": {}}


def test_options_take_a_list_or_a_mapping_of_exact_versions():
    assert extras.parse_option(["fastify", "@fastify/cors"]) == {"fastify": None, "@fastify/cors": None}
    assert extras.parse_option({"fastify": "5.12.8", "next": None}) == {"fastify": "5.12.8", "next": None}
    assert extras.parse_option(None) == {}
    with pytest.raises(DeployError, match=r"gives fastify the version '\^5.0.0'; only an exact version"):
        extras.parse_option({"fastify": "^5.0.0"})
    with pytest.raises(DeployError, match="names 'Not A Name', which is not an npm package name"):
        extras.parse_option(["Not A Name"])


def test_the_version_most_lockfiles_lock_wins_and_the_others_are_named():
    locks = {"/p/a/pnpm-lock.yaml": lock({"fastify": "5.12.8"}, FASTIFY_5_12),
             "/p/b/pnpm-lock.yaml": lock({"fastify": "5.12.8"}, FASTIFY_5_12),
             "/p/c/pnpm-lock.yaml": lock({"fastify": "5.6.0"}, FASTIFY_5_6)}
    chosen = extras.select({"fastify": None}, locks)
    assert chosen.versions == {"fastify": "5.12.8"}
    assert chosen.choices["fastify"]["by"] == "most"
    assert chosen.notes == ["fastify 5.12.8: locked by 2 of 3 lockfiles; 5.6.0 (/p/c/pnpm-lock.yaml); "
                            "the products locking those install their own."]
    # the seed holds the chosen version's closure only (its pino, not the other's)
    assert sorted(chosen.locked["packages"]) == ["fastify@5.12.8", "pino@9.7.0"]
    assert _lockfile.locked_versions(chosen.locked) == {"fastify": ["5.12.8"], "pino": ["9.7.0"]}


def test_an_explicit_version_wins_when_a_lockfile_locks_it_and_a_tie_takes_the_highest():
    locks = {"/a": lock({"fastify": "5.12.8"}, FASTIFY_5_12), "/c": lock({"fastify": "5.6.0"}, FASTIFY_5_6)}
    assert extras.select({"fastify": None}, locks).versions == {"fastify": "5.12.8"}  # tie: 5.12.8 > 5.6.0
    explicit = extras.select({"fastify": "5.6.0"}, locks)
    assert explicit.versions == {"fastify": "5.6.0"} and explicit.choices["fastify"]["by"] == "explicit"
    assert sorted(explicit.locked["packages"]) == ["fastify@5.6.0", "pino@9.6.0"]
    with pytest.raises(DeployError) as info:
        extras.select({"fastify": "5.7.0"}, locks)
    assert "asks fastify 5.7.0, which no product lockfile locks (they lock 5.6.0, 5.12.8)" in str(info.value)


def test_a_name_no_lockfile_resolves_and_no_lockfile_at_all_are_refused():
    with pytest.raises(DeployError, match="names next, which no product lockfile resolves"):
        extras.select({"next": None}, {"/a": lock({"fastify": "5.12.8"}, FASTIFY_5_12)})
    with pytest.raises(DeployError, match="dev-only, which no product lockfile"):
        extras.select({"dev-only": None}, {"/a": lock({}, dev={"dev-only": "1.0.0"})})  # dev dependencies do not count
    with pytest.raises(DeployError, match=r"needs the products' lockfiles, and none was given"):
        extras.select({"fastify": None}, {})


def test_extras_whose_lockfile_entries_disagree_on_peers_are_refused():
    snaps = {"react-dom@19.1.1(react@19.1.1)": {"dependencies": {"react": "19.1.1"}}, "react@19.1.1": {},
             "react@19.0.0": {}}
    locks = {"/a": lock({"react-dom": "19.1.1(react@19.1.1)", "react": "19.1.1"}, snaps),
             "/b": lock({"react": "19.0.0"}, snaps)}
    with pytest.raises(DeployError) as info:
        extras.select({"react-dom": None, "react": "19.0.0"}, locks)
    assert "react-dom 19.1.1 is locked with its peer react 19.1.1, the base would hold react 19.0.0" in str(info.value)
    agreed = extras.select({"react-dom": None, "react": None}, locks)
    assert agreed.versions == {"react": "19.1.1", "react-dom": "19.1.1"}


def test_peers_are_read_from_the_top_level_of_a_lockfile_version():
    version = "15.5.29(@types/node@22.20.5)(react-dom@19.1.1(react@19.1.1))(react@19.1.1)"
    assert extras.peers(version) == {"@types/node": "22.20.5", "react-dom": "19.1.1", "react": "19.1.1"}
    assert extras.plain(version) == "15.5.29" and extras.peers("5.12.8") == {}


def test_lockfiles_are_found_below_a_products_directory(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "pnpm-lock.yaml").write_text("lockfileVersion: '9.0'\nimporters: {}\n")
    (tmp_path / "empty").mkdir()
    found = extras.lockfile_paths([str(tmp_path)])
    assert found == [str(tmp_path / "a" / "pnpm-lock.yaml"), str(tmp_path / "b" / "pnpm-lock.yaml")]
    assert extras.lockfile_paths([str(tmp_path / "a"), str(tmp_path / "a" / "pnpm-lock.yaml")]) == found[:1]
    with pytest.raises(DeployError, match="holds no pnpm-lock.yaml and no product directory with one"):
        extras.lockfile_paths([str(tmp_path / "empty")])
    with pytest.raises(DeployError, match="which does not exist"):
        extras.lockfile_paths([str(tmp_path / "nope")])


def test_the_sample_products_lock_one_fastify():
    paths = extras.lockfile_paths([EXAMPLES])
    chosen = extras.select({"fastify": None}, dict((p, _lockfile.load(p)) for p in paths))
    assert len(paths) == 3 and chosen.notes == [] and chosen.choices["fastify"]["by"] == "only"
    # the closure reaches fastify's own dependencies (pino, find-my-way...), nothing of other importers
    names = set(_lockfile.locked_versions(chosen.locked))
    assert {"fastify", "pino", "find-my-way", "fast-json-stringify"} <= names and "next" not in names


# --- the base's plan -------------------------------------------------------------------------------

RUNTIME = {"id": "sha256:runtime1", "digests": []}


@pytest.fixture
def manifest(tmp_path):
    from ansible_collections.bytelyst.deploy.plugins.module_utils import _tarball_manifest
    data = {"name": "@bytelyst/errors", "version": "1.2.0", "dir": "packages/errors",
            "tarball": "bytelyst-errors-1.2.0.tgz", "fingerprint": "f", "kinds": ["backend", "web"],
            "dependencies": {"internal": {}, "external": {}}, "peer_dependencies": {}, "dev_dependencies": {}}
    (tmp_path / data["tarball"]).write_bytes(b"errors")
    data["sha256"] = _tarball_manifest.sha256_file(str(tmp_path / data["tarball"]))
    _tarball_manifest.write(str(tmp_path), {data["name"]: data}, [data["name"]], "@bytelyst/*")
    return _tarball_manifest.load(str(tmp_path))


def fastify(version="5.12.8"):
    snaps = FASTIFY_5_12 if version == "5.12.8" else FASTIFY_5_6
    return extras.select({"fastify": None}, {"/a": lock({"fastify": version}, snaps)})


def test_a_base_with_extras_installs_them_exactly_and_lock_checks_them(manifest):
    plain_plan = base.plan(manifest, "backend", "node:22-slim", RUNTIME, "1.0.0", "10.6.5")
    the_plan = base.plan(manifest, "backend", "node:22-slim", RUNTIME, "1.0.0", "10.6.5", extras=fastify())
    assert json.loads(the_plan.files["package.json"])["dependencies"]["fastify"] == "5.12.8"
    assert json.loads(the_plan.files[base.LOCKED_FILE]) == {"fastify": ["5.12.8"], "pino": ["9.7.0"]}
    assert "fastify@5.12.8" in json.loads(the_plan.files["pnpm-lock.yaml"])["packages"]
    assert "bytelyst-locked.json /app/node_modules" in the_plan.dockerfile  # the lock check runs
    assert the_plan.extras == {"fastify": "5.12.8"}
    # an input of the fingerprint; a base without extras keeps its fingerprint and Dockerfile
    assert the_plan.fingerprint != plain_plan.fingerprint
    assert the_plan.fingerprint != base.plan(manifest, "backend", "node:22-slim", RUNTIME, "1.0.0", "10.6.5",
                                             extras=fastify("5.6.0")).fingerprint
    assert base.PROVIDES_SCRIPT in plain_plan.dockerfile and "extras:ex" not in plain_plan.dockerfile
    labels = base.labels(the_plan, "1.0.0", "node:22-slim", RUNTIME, "now", "sha256:r")
    assert json.loads(labels["dev.bytelyst.base.extras"]) == {"fastify": "5.12.8"}
    assert json.loads(labels[base.PROVIDES_LABEL]) == {"@bytelyst/errors": "1.2.0"}  # old readers: unchanged
    assert "dev.bytelyst.base.extras" not in base.labels(plain_plan, "1.0.0", "node:22-slim", RUNTIME, "now", "r")


def test_an_extra_that_is_a_shared_package_is_refused(manifest):
    chosen = extras.Selection({"@bytelyst/errors": "1.2.0"}, None, [], {})
    with pytest.raises(DeployError, match="names @bytelyst/errors, a shared package of the manifest"):
        base.plan(manifest, "backend", "node:22-slim", RUNTIME, "1.0.0", "10.6.5", extras=chosen)


def test_provides_json_lists_the_extras_apart(tmp_path):
    """The provides step's script, run by node on a node_modules laid out as the install leaves it."""
    nm = tmp_path / "app" / "node_modules"
    for name, version in (("@bytelyst/errors", "1.2.0"), ("fastify", "5.12.8"), ("pino", "9.7.0")):
        (nm / name).mkdir(parents=True)
        (nm / name / "package.json").write_text(json.dumps({"name": name, "version": version}))
    (tmp_path / "app" / "package.json").write_text(json.dumps({"pnpm": {"overrides": {"@bytelyst/errors": "x"}}}))
    script = base.PROVIDES_EXTRAS_SCRIPT.replace("/app/", str(tmp_path / "app") + "/").replace(
        "\"/app\"", "\"%s\"" % (tmp_path / "app"))
    script = script.replace("nm=\"/app/node_modules\"", "nm=\"%s\"" % nm)
    out = tmp_path / "provides.json"
    subprocess.run(["node", "-e", script, str(out), "backend", "1.0.0", "fp", "fastify,next"], check=True)
    data = json.loads(out.read_text())
    assert data["packages"] == {"@bytelyst/errors": "1.2.0"}
    assert data["third_party"] == {"fastify": "5.12.8", "pino": "9.7.0"}
    assert data["extras"] == {"fastify": "5.12.8", "next": None}  # a missing extra shows as null: verification fails


# --- products on a base with extras ----------------------------------------------------------------

BASE = "team/base-backend:1.0.0"
DEV_BASE = "team/base-dev:1.0.0"


def bases(extra_versions):
    return FakeClient({
        BASE: FakeImage("sha256:base", {"org.opencontainers.image.version": "1.0.0",
                                        "dev.bytelyst.base.provides": '{"@bytelyst/config":"2.0.0"}',
                                        "dev.bytelyst.base.extras": json.dumps(extra_versions)},
                        layers=("sha256:l1",), size=60),
        DEV_BASE: FakeImage("sha256:dev", {"org.opencontainers.image.version": "1.0.0"}),
    })


def test_a_product_takes_an_extra_from_the_base_at_its_lockfiles_version(tmp_path):
    notes = example_product(tmp_path)  # its lockfile resolves fastify 5.12.8
    the_plan = _product_image.plan(product_options(notes), bases({"fastify": "5.12.8"}), FakeCompat(satisfied=["fastify"]),
                                   revision_of=lambda path: None)
    assert "dependencies" not in the_plan.runtime_package
    assert the_plan.base_extras == {"from_base": {"fastify": "5.12.8"}, "own": {}}


def test_a_product_locking_another_version_installs_its_own_and_says_so(tmp_path):
    notes = example_product(tmp_path)
    # the range ^5.6.0 is satisfied by the base's 5.13.0, but the lockfile resolves 5.12.8
    the_plan = _product_image.plan(product_options(notes), bases({"fastify": "5.13.0"}), FakeCompat(satisfied=["fastify"]),
                                   revision_of=lambda path: None)
    assert the_plan.runtime_package["dependencies"] == {"fastify": "^5.6.0"}
    assert the_plan.builder_package["dependencies"] == {"fastify": "^5.6.0"}
    assert the_plan.base_extras["own"] == {
        "fastify": "the base holds fastify 5.13.0, the product's lockfile resolves 5.12.8"}
    result = _product_image.result_of(the_plan, _product_image.Decision(None, the_plan.refs))
    assert result["warnings"] == ["notes-backend installs its own fastify: the base holds fastify 5.13.0, "
                                  "the product's lockfile resolves 5.12.8."]


def test_an_extra_whose_peer_the_product_installs_itself_is_installed_beside_it():
    resolved = {"react": "19.0.0", "react-dom": "19.1.1(react@19.1.1)", "next": "15.5.29(react@19.0.0)(react-dom@19.1.1(react@19.1.1))"}
    own = extras.own_installs({"react": "19.1.1", "react-dom": "19.1.1", "next": "15.5.29"}, resolved,
                              {"react", "react-dom", "next"}, {"react", "react-dom", "next"})
    assert own["react"] == "the base holds react 19.1.1, the product's lockfile resolves 19.0.0"
    assert own["next"] == "its peer react is installed by the product (one copy of each beside the other)"
    assert "react-dom" in own  # its lockfile entry names react as peer: it goes beside the product's react
    # without a lockfile nothing is compared (the range check decides); a dependency the product lacks is no concern
    assert extras.own_installs({"react": "19.1.1"}, None, {"react"}, {"react"}) == {}
    assert extras.own_installs({"react": "19.1.1"}, {"react": "19.0.0"}, set(), set()) == {}


def base_opts(manifest, **change):
    data = dict(manifest=manifest["path"], kind="backend", runtime_image="node:22-slim", pnpm_version="10.6.5",
                name=None, version="1.0.0", registry=None, labels={}, packages=None, promote=False, force=False,
                npm_token=None, npm_registry=None, ca_bundle=None, date_tag="false", docker_cli="/nonexistent/docker",
                docker_host=None, extra_packages=["fastify"], extra_packages_from=[EXAMPLES])
    data.update(change)
    return data


def test_ensure_plans_the_extras_and_a_refused_extra_changes_nothing(manifest):
    import datetime
    now = datetime.datetime(2026, 11, 30, 12, 0, 0)
    client = FakeClient({"node:22-slim": FakeImage("sha256:runtime1")})
    planned = base.ensure(client, base_opts(manifest), check_mode=True, now=now)
    assert planned["extras"] == {"fastify": "5.12.8"} and "extras_notes" not in planned
    assert "fastify,next" not in planned["dockerfile"] and "\"$BYTELYST_FINGERPRINT\" fastify &&" in planned["dockerfile"]
    plain = base.ensure(client, base_opts(manifest, extra_packages=None), check_mode=True, now=now)
    assert "extras" not in plain and plain["fingerprint"] != planned["fingerprint"]
    before = client.tags()
    with pytest.raises(DeployError) as info:
        base.ensure(client, base_opts(manifest, extra_packages={"fastify": "5.1.0"}), check_mode=False, now=now)
    assert "asks fastify 5.1.0, which no product lockfile locks (they lock 5.12.8)" in str(info.value)
    with pytest.raises(DeployError) as info:
        base.ensure(client, base_opts(manifest, extra_packages_from=None), check_mode=False, now=now)
    assert "needs the products' lockfiles, and none was given" in str(info.value)
    assert client.tags() == before  # nothing was built or tagged


def test_stacked_extras_go_in_the_top_base_only(manifest):
    from ansible_collections.bytelyst.deploy.plugins.module_utils import _base_stack
    top = _base_stack.top_dockerfile("common@sha256:c", "backend", "1.0.0", "10.6.5", lockfile=True, extras=["fastify"])
    assert "extras:ex" in top and "\"$BYTELYST_FINGERPRINT\" fastify &&" in top
    assert "extras:ex" not in _base_stack.top_dockerfile("common@sha256:c", "backend", "1.0.0", "10.6.5", lockfile=True)
    under = _base_stack.common_opts(base_opts(manifest, stacked=True), "backend")
    assert under["extra_packages"] is None and under["kind"] == "common"
