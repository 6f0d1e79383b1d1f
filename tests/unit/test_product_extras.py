"""Unit tests of the rest of a real product: the .dockerignore matcher and what never enters a
context (_dockerignore), the product's own .npmrc without credentials (_npmrc), build arguments
and OS packages (_build_inputs), extra source directories and kind directories (_product), how
the Dockerfile places them (_dockerfile) and how the plan takes them (_product_image, fake engine).
The real build is tests/integration/test_product_extras.py."""

import os
import shutil

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils import (
    _build_inputs, _dockerignore, _npmrc, _product, _product_image)
from ansible_collections.bytelyst.deploy.plugins.module_utils._dockerfile import DockerfileSpec, render
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from fakes.engine import FakeClient, FakeImage
from fakes.product import FakeCompat, NoBuilds, example_product, product_options

BASE = "team/base-backend:1.0.0"
DEV_BASE = "team/base-dev:1.0.0"


# .dockerignore --------------------------------------------------------------------------------

def ignored(text, path):
    return _dockerignore.Matcher(_dockerignore.parse(text)).ignored(path)


@pytest.mark.parametrize("patterns, path, expected", [
    ("*.md", "README.md", True),
    ("*.md", "docs/README.md", False),            # * does not cross a directory
    ("**/*.md", "docs/deep/README.md", True),
    ("**/*.md", "README.md", True),               # ** is zero directories too
    ("docs", "docs/a/b.txt", True),               # a directory's contents go with it
    ("/docs", "docs/x", True),                    # leading slash is the root
    ("fixtures/**", "fixtures/a/b", True),
    ("src/?.js", "src/a.js", True),
    ("src/?.js", "src/ab.js", False),
    ("src/[ab].js", "src/b.js", True),
    ("src/[!ab].js", "src/b.js", False),
    ("src/[!ab].js", "src/c.js", True),
    ("# comment\n\n  tmp  ", "tmp/x", True),     # comments, blanks and surrounding spaces
    ("*.log\n!keep.log", "keep.log", False),      # exception after the rule re-includes
    ("!keep.log\n*.log", "keep.log", True),       # the last matching rule decides
    ("docs\n!docs/api.md", "docs/api.md", False),
    ("a\\*b", "a*b", True),                       # escaped star is a literal
    ("a\\*b", "axb", False),
    ("./build/../dist", "dist/x", True),          # patterns are cleaned
])
def test_dockerignore_patterns_follow_dockers_rules(patterns, path, expected):
    assert ignored(patterns, path) is expected


def test_dockerignore_knows_when_exclusions_exist(tmp_path):
    assert not _dockerignore.load(str(tmp_path / "absent")).rules
    (tmp_path / ".dockerignore").write_text("docs\n!docs/keep\n")
    assert _dockerignore.load(str(tmp_path / ".dockerignore")).has_exclusions


@pytest.mark.parametrize("path", [".npmrc", "backend/.npmrc", ".env", ".env.production", "src/.env.local",
                                  "certs/server.pem", "tls.key", "keys/id_rsa", "id_ed25519.pub", ".git/config",
                                  ".ssh/known_hosts", ".netrc"])
def test_secret_files_never_enter_a_context(path):
    assert _dockerignore.never(path)


@pytest.mark.parametrize("path", ["src/env.ts", "src/keyboard.ts", "environment.md", "src/npmrc.ts", "git.md"])
def test_ordinary_files_do_enter(path):
    assert _dockerignore.never(path) is None


# The product's own .npmrc ------------------------------------------------------------------

NPMRC = """# product settings
registry=https://npm.example.test/
@acme:registry=https://acme.example.test/npm/
strict-ssl=false
//npm.example.test/:_authToken=tok-planted-123
//acme.example.test/npm/:_auth=YmFzaWM=
_authToken=tok-planted-123
email=dev@example.test
cafile=/home/dev/ca.pem
always-auth=true
fetch-retries=5
store-dir=/home/dev/.pnpm-store
token-from-env=${NPM_TOKEN}
"""


def test_npmrc_keeps_settings_and_leaves_out_credentials_paths_and_env(tmp_path):
    root = tmp_path / ".npmrc"
    root.write_text(NPMRC)
    kind = tmp_path / "kind.npmrc"
    kind.write_text("fetch-retries=2\n")  # the kind directory's file wins on the same key
    text, dropped = _npmrc.settings([str(root), str(kind), str(tmp_path / "absent")])
    assert text == ("registry=https://npm.example.test/\n@acme:registry=https://acme.example.test/npm/\n"
                    "strict-ssl=false\nalways-auth=true\nfetch-retries=2\n")
    assert "tok-planted-123" not in text and "YmFzaWM" not in text
    assert sorted((key, why) for path, key, why in dropped) == [
        ("//acme.example.test/npm/:_auth", "credentials"), ("//npm.example.test/:_authToken", "credentials"),
        ("_authToken", "credentials"), ("cafile", "a path on the build host"), ("email", "credentials"),
        ("store-dir", "a path on the build host"), ("token-from-env", "reads the build host's environment")]


def test_npm_registry_option_wins_over_the_files_registry(tmp_path):
    (tmp_path / ".npmrc").write_text("registry=https://a.example.test/\n")
    text, dummy = _npmrc.settings([str(tmp_path / ".npmrc")], npm_registry="https://b.example.test/")
    assert text == "registry=https://b.example.test/\n"
    assert _npmrc.settings([], None) == (None, [])


@pytest.mark.parametrize("line, registry, message", [
    ("registry=https://bob:hunter2@npm.example.test/", None, "the value of registry holds credentials in a URL"),
    ("@a:registry=https://x.example.test/?t=tok-known", None, "the value of @a:registry holds a secret"),
    ("fund=false", "https://bob:hunter2@npm.example.test/", "npm_registry holds credentials"),
])
def test_npmrc_with_credentials_in_a_kept_value_is_refused_without_showing_it(tmp_path, line, registry, message):
    (tmp_path / ".npmrc").write_text(line + "\n")
    with pytest.raises(DeployError, match=message) as err:
        _npmrc.settings([str(tmp_path / ".npmrc")], registry, secrets=["tok-known"])
    assert "hunter2" not in str(err.value) and "tok-known" not in str(err.value)


# Build arguments and OS packages -----------------------------------------------------------

def test_build_args_become_text():
    assert _build_inputs.check_build_args({"NEXT_PUBLIC_API_URL": "https://x/api", "RETRIES": 3, "FLAG": True,
                                           "NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY": "pk_live_1"}) == {
        "FLAG": "true", "NEXT_PUBLIC_API_URL": "https://x/api", "NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY": "pk_live_1",
        "RETRIES": "3"}
    assert _build_inputs.check_build_args(None) == {}


@pytest.mark.parametrize("args, message", [
    ({"NPM_TOKEN": "x"}, "NPM_TOKEN looks like a secret .its name ends in TOKEN"),
    ({"db_password": "x"}, "db_password looks like a secret .its name ends in PASSWORD"),
    ({"NEXT_PUBLIC_API_KEY": "x"}, "NEXT_PUBLIC_API_KEY looks like a secret .its name ends in KEY"),
    ({"JWT_SECRET": "x"}, "JWT_SECRET looks like a secret"),
    ({"HARMLESS": "pre-tok-known-post"}, "the value of HARMLESS holds a secret"),
    ({"1BAD": "x"}, "'1BAD' is not a build argument name"),
    ({"HTTP_PROXY": "http://p"}, "HTTP_PROXY is Docker's own proxy argument"),
    ({"LIST": ["a"]}, "LIST must be a string, number or boolean"),
    ({"NL": "a\nb"}, "the value of NL holds a newline"),
])
def test_secret_looking_or_bad_build_args_are_refused_naming_them(args, message):
    with pytest.raises(DeployError, match=message) as err:
        _build_inputs.check_build_args(args, secrets=["tok-known", None])
    assert "tok-known" not in str(err.value)
    if "secret" in message:
        assert "BuildKit secret" in err.value.hint


def test_os_packages_are_debian_names():
    assert _build_inputs.check_os_packages(["openssl", "libvips42", "g++", "libc6=2.36-9+deb12u4", "openssl"]) == [
        "g++", "libc6=2.36-9+deb12u4", "libvips42", "openssl"]


@pytest.mark.parametrize("name", ["OpenSSL", "a", "-x", "vim; rm -rf /", "libvips42 curl", "$(id)", "", 3])
def test_os_package_names_outside_debians_rules_are_refused(name):
    with pytest.raises(DeployError, match="os_packages: .* is not a Debian package name"):
        _build_inputs.check_os_packages(["curl", name])


def test_os_packages_must_be_a_list():
    with pytest.raises(DeployError, match="build_os_packages must be a list"):
        _build_inputs.check_os_packages("openssl", "build_os_packages")


# The Dockerfile --------------------------------------------------------------------------------

def spec(mode="base", **kwargs):
    images = ("dev:1.0.0", "backend:1.0.0") if mode == "base" else ("node:22-slim", "node:22-slim")
    args = dict(start=["node", "dist/server.js"], port=4016)
    args.update(kwargs)
    return DockerfileSpec(mode, "backend", images[0], images[1], **args)


def stages(text):
    return [chunk.splitlines() for chunk in text.split("\n\n")]


def test_extra_dirs_sit_beside_the_kind_in_both_stages_and_args_come_just_before_the_build():
    builder, final = stages(render(spec(extra_dirs=["shared", "libs/common"], build_args=["NEXT_PUBLIC_B", "A"])))
    install = next(i for i, line in enumerate(builder) if "pnpm install" in line)
    copies = [i for i, line in enumerate(builder) if line.startswith("COPY --chown=node:node extra/")]
    assert [builder[i] for i in copies] == ["COPY --chown=node:node extra/shared/ /app/shared/",
                                            "COPY --chown=node:node extra/libs/common/ /app/libs/common/"]
    build = builder.index("RUN NODE_ENV=production pnpm run build")
    assert install < copies[0] and builder[build - 2:build] == ["ARG A", "ARG NEXT_PUBLIC_B"]
    assert builder.index("COPY source/ ./") < build - 2
    # root-owned in the final image: the app reads them
    assert "COPY extra/shared/ /app/shared/" in final and "COPY extra/libs/common/ /app/libs/common/" in final
    assert not any(line.startswith("ARG") for line in final)


def test_without_extras_the_text_is_what_it_was():
    text = render(spec())
    assert "extra/" not in text and "ARG " not in text and "apt-get" not in text and ".npmrc" not in text


def test_os_packages_get_a_layer_of_their_own_right_after_from():
    builder, final = stages(render(spec(os_packages=["openssl", "libvips42"], build_os_packages=["g++"])))
    assert final[:2] == ["FROM backend:1.0.0", "USER root"]
    assert final[2].startswith("RUN --mount=type=secret,id=ca,mode=0444 set -e;")
    step = " ".join(final[2:5])
    assert "apt-get \"$@\" install -y --no-install-recommends openssl libvips42" in step
    assert "rm -rf /var/lib/apt/lists/*" in step and "Acquire::https::CAInfo=/run/secrets/ca" in step
    assert final[5].startswith("RUN install -d")
    # the dev base runs as node: root for apt, node again after it
    assert builder[2] == "USER root" and "install -y --no-install-recommends g++" in builder[4]
    assert builder[6] == "USER node" and builder[7] == "WORKDIR /app/backend"
    assert "g++" not in "\n".join(final)


def test_tarball_mode_installs_build_packages_in_the_builder_and_deps_stages():
    parts = stages(render(spec("tarball", build_os_packages=["python3"], os_packages=["openssl"])))
    assert [p[0] for p in parts] == ["# Generated by bytelyst.deploy.product_image (mode=tarball, kind=backend). "
                                     "Do not edit.", "FROM node:22-slim AS deps", "FROM node:22-slim"]
    assert "python3" in "\n".join(parts[0]) and "python3" in "\n".join(parts[1])
    assert "python3" not in "\n".join(parts[2]) and "openssl" in "\n".join(parts[2])


def test_npmrc_is_copied_beside_each_package_json_that_is_installed():
    builder, final = stages(render(spec(npmrc=True)))
    assert builder[builder.index("COPY bytelyst/builder.json ./package.json") + 1] == "COPY bytelyst/npmrc ./.npmrc"
    assert "COPY --chown=node:node bytelyst/npmrc ./.npmrc" in final
    builder, final = stages(render(spec(npmrc=True, install_final=False)))
    assert "COPY bytelyst/npmrc ./.npmrc" in builder and not any("npmrc" in line for line in final)
    parts = stages(render(spec("tarball", npmrc=True)))  # the deps stage installs; the final copies node_modules
    assert "COPY --chown=node:node bytelyst/npmrc ./.npmrc" in parts[1] and "npmrc" not in "\n".join(parts[2])


# Product directories --------------------------------------------------------------------------

def make_product(tmp_path, kind_dir="backend"):
    """A small product: <kind_dir>/ with sources and planted secrets, shared/, a .dockerignore."""
    root = tmp_path / "shop"
    files = {
        kind_dir + "/package.json": '{"name": "shop-backend", "version": "1.0.0", "main": "dist/server.js",'
                                    ' "scripts": {"build": "node build.mjs"}}',
        kind_dir + "/build.mjs": "",
        kind_dir + "/src/server.js": "",
        kind_dir + "/src/fixtures/big.json": "",
        kind_dir + "/notes.md": "",
        kind_dir + "/.env.production": "SECRET=1",
        kind_dir + "/src/.npmrc": "//x/:_authToken=t",
        kind_dir + "/certs/tls.key": "k",
        kind_dir + "/.dockerignore": "*.md\n",
        "shared/format.js": "",
        "shared/id_rsa": "k",
        "shared/tmp/cache.bin": "",
        ".dockerignore": "**/fixtures\nshared/tmp\n",
        ".npmrc": "//x/:_authToken=t\n",
        ".git/HEAD": "ref",
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(root)


def test_sources_and_extra_dirs_leave_out_secrets_and_what_dockerignore_says(tmp_path):
    product = _product.load(make_product(tmp_path), "backend")
    rules = _product.ignore_rules(product)
    assert _product.source_files(product.dir, rules, "backend/") == ["build.mjs", "src/server.js"]
    dirs = _product.extra_dirs(product)  # shared/ is there: taken by default
    assert dirs == ["shared"]
    assert _product.extra_files(product, dirs, rules) == {"shared": ["format.js"]}


def test_staged_context_never_holds_a_planted_file(tmp_path):
    product = _product.load(make_product(tmp_path), "backend")
    rules = _product.ignore_rules(product)
    files = _product.source_files(product.dir, rules, "backend/")
    extras = _product.extra_files(product, _product.extra_dirs(product), rules)
    dest = tmp_path / "context"
    dest.mkdir()
    _product.stage_context(product, files, str(dest), {"builder.json": {}, "npmrc": "fund=false\n"}, extras=extras)
    staged = sorted(os.path.relpath(os.path.join(d, f), str(dest)) for d, dummy, fs in os.walk(str(dest)) for f in fs)
    assert staged == ["bytelyst/builder.json", "bytelyst/npmrc", "extra/shared/format.js", "source/build.mjs",
                      "source/src/server.js"]
    assert (dest / "bytelyst" / "npmrc").read_text() == "fund=false\n"


def test_a_kind_in_another_directory(tmp_path):
    root = make_product(tmp_path, kind_dir="apps/api")
    product = _product.load(root, "backend", kind_dir="apps/api")
    assert product.dir == os.path.join(root, "apps", "api") and product.kind_dir == "apps/api"
    with pytest.raises(DeployError, match="The product .* has no backend/ directory") as err:
        _product.load(root, "backend")
    assert "kind_dir" in err.value.hint


@pytest.mark.parametrize("value, message", [
    ("../elsewhere", "kind_dir '../elsewhere' is not a directory name below the product root"),
    ("/abs", "kind_dir '/abs' is not a directory name"),
])
def test_kind_dir_outside_the_product_is_refused(tmp_path, value, message):
    with pytest.raises(DeployError, match=message):
        _product.load(make_product(tmp_path), "backend", kind_dir=value)


@pytest.mark.parametrize("dirs, message", [
    (["missing"], "extra_dirs entry 'missing': .* is not a directory"),
    (["backend"], "extra_dirs entry 'backend' overlaps"),
    (["node_modules"], "extra_dirs entry 'node_modules' overlaps"),
    (["shared", "shared"], "extra_dirs entry 'shared' overlaps"),
    ([".git"], "extra_dirs entry '.git' is a path that never enters a build context"),
    (["../x"], "extra_dirs entry '../x' is not a directory name"),
])
def test_bad_extra_dirs_are_refused(tmp_path, dirs, message):
    product = _product.load(make_product(tmp_path), "backend")
    os.makedirs(os.path.join(product.root, "node_modules"))
    with pytest.raises(DeployError, match=message):
        _product.extra_dirs(product, dirs)


def test_no_extra_dirs_when_told_so_or_absent(tmp_path):
    product = _product.load(make_product(tmp_path), "backend")
    assert _product.extra_dirs(product, []) == []
    shutil.rmtree(os.path.join(product.root, "shared"))
    assert _product.extra_dirs(product) == []


# The plan (fake engine) ------------------------------------------------------------------------

def bases():
    return {BASE: FakeImage("sha256:base", {"org.opencontainers.image.version": "1.0.0"}, layers=("sha256:l1",)),
            DEV_BASE: FakeImage("sha256:dev", {"org.opencontainers.image.version": "1.0.0"})}


def opts(product_dir, **change):
    return product_options(product_dir, **dict(dict(revision="abc1234", port=4030), **change))


def plan(product_dir, **change):
    return _product_image.plan(opts(product_dir, **change), FakeClient(bases()), FakeCompat())


def test_plan_takes_every_extra_and_each_is_part_of_the_fingerprint(tmp_path):
    root = make_product(tmp_path, kind_dir="api")
    with open(os.path.join(root, "api", ".npmrc"), "w") as handle:
        handle.write("@acme:registry=https://acme.example.test/\n//acme.example.test/:_authToken=tok-1\n")
    first = plan(root, kind_dir="api", build_args={"NEXT_PUBLIC_A": "1"}, os_packages=["openssl"],
                 npm_token="tok-1")
    assert first.extras["npmrc"] == "@acme:registry=https://acme.example.test/\n"
    assert "COPY --chown=node:node extra/shared/ /app/shared/" in first.dockerfile
    assert "ARG NEXT_PUBLIC_A" in first.dockerfile and "openssl" in first.dockerfile
    assert first.files == ["build.mjs", "src/server.js"]
    result = _product_image.result_of(first, _product_image.Decision(None, first.refs))["plan"]
    assert result["kind_dir"] == "api" and result["extra_dirs"] == ["shared"]
    assert result["build_args"] == {"NEXT_PUBLIC_A": "1"} and result["os_packages"] == ["openssl"]
    left_out = sorted(d["key"] for d in result["npmrc_left_out"])
    assert left_out == ["//acme.example.test/:_authToken", "//x/:_authToken"]
    assert "tok-1" not in repr(result)
    changes = [dict(build_args={"NEXT_PUBLIC_A": "2"}), dict(os_packages=["openssl", "libvips42"]),
               dict(npm_registry="https://npm.example.test/")]
    for change in changes:
        args = dict(kind_dir="api", build_args={"NEXT_PUBLIC_A": "1"}, os_packages=["openssl"], npm_token="tok-1")
        args.update(change)
        assert plan(root, **args).fingerprint != first.fingerprint, change
    with open(os.path.join(root, "shared", "format.js"), "w") as handle:
        handle.write("changed")
    assert plan(root, kind_dir="api", build_args={"NEXT_PUBLIC_A": "1"}, os_packages=["openssl"],
                npm_token="tok-1").fingerprint != first.fingerprint


def test_a_product_without_extras_keeps_its_fingerprint_inputs(tmp_path):
    notes = example_product(tmp_path)
    plain = plan(notes, port=4016)
    assert "extra/" not in plain.dockerfile and "ARG " not in plain.dockerfile
    assert plain.extras["build_args"] == {} and plain.extras["extra_files"] == {}


@pytest.mark.parametrize("change, message", [
    (dict(build_args={"NPM_TOKEN": "x"}), "build_args: NPM_TOKEN looks like a secret"),
    (dict(build_args={"NEXT_PUBLIC_X": "tok-9"}, npm_token="tok-9"), "the value of NEXT_PUBLIC_X holds a secret"),
    (dict(build_args={"URL": "pw-7"}, password="pw-7"), "the value of URL holds a secret"),
    (dict(os_packages=["openssl;id"]), "os_packages: 'openssl;id' is not a Debian package name"),
    (dict(extra_dirs=["nope"]), "extra_dirs entry 'nope'"),
    (dict(kind_dir="nope"), "has no nope/ directory"),
])
def test_refused_extras_stop_before_any_check_pull_or_build(tmp_path, change, message):
    root = make_product(tmp_path)
    engine, compat = FakeClient(bases()), FakeCompat()
    before = engine.tags()
    with pytest.raises(DeployError, match=message) as err:
        _product_image.ensure(engine, opts(root, **change), cli=NoBuilds(), compat=compat)
    assert compat.asked == [] and engine.tags() == before
    assert "tok-9" not in str(err.value) and "pw-7" not in str(err.value)


# The playbooks' bytelyst_products entries --------------------------------------------------------

def test_build_settings_in_a_products_entry_pass_the_deploy_definition():
    from ansible_collections.bytelyst.deploy.plugins.module_utils._definition import DefinitionError, product_services
    entry = {"kind_dirs": {"backend": "api"}, "extra_dirs": ["shared"], "build_args": {"A": "1"},
             "os_packages": ["openssl"], "build_os_packages": ["g++"], "npm_registry": "https://npm.example.test/",
             "services": {"api": {"kind": "backend", "port": 4030, "host_port": 4030, "build_args": {"B": "2"},
                                  "os_packages": ["libvips42"], "build_os_packages": ["python3"]}}}
    services = product_services(entry, "shop", {"api": "shop-backend:1.0.0"})
    assert [s["name"] for s in services] == ["api"]
    # build settings are the build's: none reaches the deployed service
    assert not set(services[0]) & {"build_args", "os_packages", "build_os_packages"}
    with pytest.raises(DefinitionError, match="unknown key.s. kind_dir"):
        product_services(dict(entry, kind_dir="api"), "shop", {"api": "shop-backend:1.0.0"})
