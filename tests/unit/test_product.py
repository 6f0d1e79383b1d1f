"""Unit tests of reading a product and rewriting its package.json (_product.py), on copies
of the sample products."""

import json
import os
import shutil

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils import _product
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._scope import Shared
from fakes.engine import FakeImage
from fakes.product import example_product

SAMPLE = Shared(["@bytelyst/config"])  # the sample workspace's scope


@pytest.fixture
def notes(tmp_path):
    return example_product(tmp_path)


def test_load_backend(notes):
    product = _product.load(notes, "backend")
    assert product.name == "notes" and product.version == "1.4.0" and not product.next
    assert product.lockfile == os.path.join(notes, "pnpm-lock.yaml")
    assert product.start_command() == ["node", "dist/server.js"]
    assert product.output_dir() == "dist"
    assert product.default_health_path() == "/health"


def test_load_next_web(notes):
    product = _product.load(notes, "web")
    assert product.next
    assert product.start_command() == ["node", "server.js"]
    assert product.default_health_path() == "/api/health"


def test_start_command_from_start_script(notes):
    product = _product.load(notes, "backend")
    product.package.pop("main")
    product.package["scripts"]["start"] = "node ./build/main.js"
    assert product.start_command() == ["node", "./build/main.js"]
    assert product.output_dir() == "build"


@pytest.mark.parametrize("kind, remove, message", [
    ("frontend", None, "kind 'frontend' is not known"),
    ("backend", "backend/package.json", "has no package.json"),
    ("backend", "backend", "has no backend/ directory"),
])
def test_load_errors(notes, kind, remove, message):
    if remove:
        path = os.path.join(notes, remove)
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    with pytest.raises(DeployError, match=message):
        _product.load(notes, kind)


def test_load_missing_dir_and_bad_json(notes):
    with pytest.raises(DeployError, match="does not exist"):
        _product.load(notes + "-missing", "backend")
    with open(os.path.join(notes, "backend", "package.json"), "w") as handle:
        handle.write("{not json")
    with pytest.raises(DeployError, match="not valid JSON"):
        _product.load(notes, "backend")


def test_source_files_leave_out_installs_builds_and_hooks(notes):
    web = os.path.join(notes, "web")
    os.makedirs(os.path.join(web, "node_modules", "next"))
    os.makedirs(os.path.join(web, ".next", "cache"))
    for rel in ("node_modules/next/index.js", ".next/cache/x", "tsconfig.tsbuildinfo", ".pnpmfile.cjs"):
        with open(os.path.join(web, rel), "w") as handle:
            handle.write("x")
    files = _product.source_files(web)
    assert "src/app/page.tsx" in files and "next.config.ts" in files and "public/robots.txt" in files
    assert not [f for f in files if f.startswith(("node_modules", ".next")) or f.endswith(".tsbuildinfo")]
    assert "package.json" not in files and ".pnpmfile.cjs" not in files


def test_rewrite_for_base_drops_provided_and_workspace(notes):
    package = _product.load(notes, "web").package
    package["dependencies"]["shared"] = "workspace:*"
    builder = _product.rewrite_for_base(package, {"react", "typescript", "@types/react"}, SAMPLE)
    assert builder["dependencies"] == {"next": "~15.5.6", "react-dom": "19.1.1"}
    assert builder["devDependencies"] == {"@types/node": "22.20.5", "@types/react-dom": "19.1.9"}
    assert "packageManager" not in builder and builder["version"] == "1.4.0"
    runtime = _product.rewrite_for_base(package, set(), SAMPLE, prod=True)
    assert "devDependencies" not in runtime
    assert runtime["dependencies"] == {"next": "~15.5.6", "react": "19.1.1", "react-dom": "19.1.1"}
    # the input is not changed
    assert package["dependencies"]["@bytelyst/ui"] == "workspace:*"


def test_rewrite_for_base_can_leave_nothing_to_install():
    package = {"name": "x", "dependencies": {"@bytelyst/config": "workspace:^", "zod": "^3.0.0"}}
    out = _product.rewrite_for_base(package, {"zod"}, SAMPLE, prod=True)
    assert "dependencies" not in out
    assert not _product.has_dependencies(out, prod=True)


def test_rewrite_for_tarball_points_at_vendor_with_overrides(notes):
    package = _product.load(notes, "backend").package
    vendor = {"@bytelyst/config": "bytelyst-config-2.0.0.tgz", "@bytelyst/errors": "bytelyst-errors-1.2.0.tgz",
              "@bytelyst/http": "bytelyst-http-1.3.0.tgz", "@bytelyst/logger": "bytelyst-logger-0.4.1.tgz"}
    out = _product.rewrite_for_tarball(package, vendor, SAMPLE)
    assert out["dependencies"]["@bytelyst/config"] == "file:./vendor/bytelyst-config-2.0.0.tgz"
    assert out["dependencies"]["fastify"] == "^5.6.0"
    assert out["pnpm"]["overrides"]["@bytelyst/errors"] == "file:./vendor/bytelyst-errors-1.2.0.tgz"
    del vendor["@bytelyst/http"]
    with pytest.raises(DeployError, match="@bytelyst/http"):
        _product.rewrite_for_tarball(package, vendor, SAMPLE)


def test_tarball_closure_follows_internal_dependencies():
    manifest = {"path": "m.json", "order": ["@bytelyst/errors", "@bytelyst/logger", "@bytelyst/http", "@bytelyst/ui"],
                "packages": {
                    "@bytelyst/errors": {},
                    "@bytelyst/logger": {},
                    "@bytelyst/http": {"dependencies": {"internal": {"@bytelyst/errors": "^1", "@bytelyst/logger": "*"}}},
                    "@bytelyst/ui": {}}}
    assert _product.tarball_closure(manifest, ["@bytelyst/http"]) == [
        "@bytelyst/errors", "@bytelyst/logger", "@bytelyst/http"]
    with pytest.raises(DeployError, match="does not list it"):
        _product.tarball_closure(manifest, ["@bytelyst/auth"])


def test_fingerprint_follows_sources_lockfile_and_inputs(notes):
    product = _product.load(notes, "backend")
    files = _product.source_files(product.dir)
    first = _product.fingerprint(product, files, "FROM a", {"mode": "base"})
    assert first == _product.fingerprint(product, files, "FROM a", {"mode": "base"})
    assert first != _product.fingerprint(product, files, "FROM b", {"mode": "base"})
    assert first != _product.fingerprint(product, files, "FROM a", {"mode": "tarball"})
    with open(os.path.join(product.dir, "src", "server.ts"), "a") as handle:
        handle.write("\n// changed\n")
    second = _product.fingerprint(product, files, "FROM a", {"mode": "base"})
    assert second != first
    with open(product.lockfile, "a") as handle:
        handle.write("\n")
    assert _product.fingerprint(product, files, "FROM a", {"mode": "base"}) != second


def test_stage_context_holds_only_what_the_build_copies(notes, tmp_path):
    product = _product.load(notes, "backend")
    files = _product.source_files(product.dir)
    tarball = tmp_path / "bytelyst-errors-1.2.0.tgz"
    tarball.write_bytes(b"tgz")
    dest = tmp_path / "ctx"
    dest.mkdir()
    _product.stage_context(product, files, str(dest), {"builder.json": {"name": "b"}, "runtime.json": {"name": "r"}},
                           [str(tarball)])
    found = sorted(os.path.relpath(os.path.join(d, f), str(dest)) for d, dirs, fs in os.walk(str(dest)) for f in fs)
    assert found == ["bytelyst/builder.json", "bytelyst/runtime.json", "source/src/server.ts",
                     "source/tsconfig.json", "vendor/bytelyst-errors-1.2.0.tgz"]
    assert json.loads((dest / "bytelyst" / "runtime.json").read_text()) == {"name": "r"}


def test_git_revision_is_the_last_commit_touching_the_product(tmp_path):
    import subprocess

    from ansible_collections.bytelyst.deploy.plugins.module_utils import _product_image as product_image

    def git(*args):
        return subprocess.run(["git", "-C", str(tmp_path)] + list(args), check=True, capture_output=True,
                              text=True).stdout.strip()

    git("init", "-q")
    (tmp_path / "notes").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "notes" / "a").write_text("1")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "-qm", "notes")
    notes_sha = git("rev-parse", "--short", "HEAD")
    (tmp_path / "other" / "b").write_text("2")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t.invalid", "commit", "-qm", "other")
    assert product_image.git_revision(str(tmp_path / "notes")) == notes_sha
    (tmp_path / "notes" / "a").write_text("changed")
    assert product_image.git_revision(str(tmp_path / "notes")) is None  # uncommitted change: no revision tag


def test_base_digest_label_names_the_base_in_its_own_repository():
    from ansible_collections.bytelyst.deploy.plugins.module_utils import _product_image as product_image
    digest = "sha256:" + "d" * 64
    # The same image pushed under two namespaces: the label names the one the product was built on.
    both = FakeImage("sha256:" + "e" * 64, digests=["reg.invalid:5000/other/base-backend@" + digest,
                                                    "reg.invalid:5000/team/base-backend@" + digest])
    assert product_image.base_digest(both, "reg.invalid:5000/team/base-backend:1.0.0") == \
        "reg.invalid:5000/team/base-backend@" + digest
    # Pushed elsewhere only, or never: the image id.
    assert product_image.base_digest(both, "reg.invalid:5000/mine/base-backend:1.0.0") == both.id
    assert product_image.base_digest(FakeImage("sha256:" + "e" * 64), "base-backend:1.0.0") == both.id
