# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Product images: plan (read the product, check it against what its base provides, rewrite
its package.json, render the Dockerfile, fingerprint every input), decide (up to date,
retag, build or refuse), then `ensure`, which runs the decision: build, check, verify, tag.
PRIVATE to the collection. The module bytelyst.deploy.product_image is a thin shell over
`ensure`; the contract with the base image is in docs/base-images.md.

The engine is reached through two seams so the planning runs on fakes in unit tests:
`client` (a Docker SDK client: images.get, images.list ...) and `compat`, a callable that
runs the compatibility check in a throwaway container of an image.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import shutil
import tempfile

from ansible_collections.bytelyst.deploy.plugins.module_utils import (
    _base_extras, _build_inputs, _lockfile, _tarball_manifest, _npmrc, _product, _reference, _registry_source, _tags)
from ansible_collections.bytelyst.deploy.plugins.module_utils._build import (
    BuildSpec, build, build_secrets, lift_install_error, log_path)
from ansible_collections.bytelyst.deploy.plugins.module_utils._command import Command, run
from ansible_collections.bytelyst.deploy.plugins.module_utils._compat import (
    check_command, check_payload, parse_answer, shared_requirements, third_party_ranges, verdict)
from ansible_collections.bytelyst.deploy.plugins.module_utils._compat import Remembered, recorded_answers
from ansible_collections.bytelyst.deploy.plugins.module_utils._contract import (
    BASE_DIGEST_LABEL, BASE_REF_LABEL, BASE_VERSION_LABEL, DEP_FIELDS, EXTRAS_LABEL, FINGERPRINT_LABEL, KIND_LABEL, MODE_LABEL,
    OCI_VERSION_LABEL, PRODUCT_LABEL, PROVIDES_LABEL, RUNTIME_DEP_FIELDS)
from ansible_collections.bytelyst.deploy.plugins.module_utils._contract import COMPAT_LABEL
from ansible_collections.bytelyst.deploy.plugins.module_utils._docker_cli import find_buildkit_cli
from ansible_collections.bytelyst.deploy.plugins.module_utils._dockerfile import DockerfileSpec, render
from ansible_collections.bytelyst.deploy.plugins.module_utils._engine import image_or_none, repository_labels
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._pull import Puller
from ansible_collections.bytelyst.deploy.plugins.module_utils._scope import Shared
from ansible_collections.bytelyst.deploy.plugins.module_utils._verify import image_user, require_non_root, wait_http


# Reading the engine's answers ---------------------------------------------------------------

def git_revision(path):
    """Short sha of the last commit that changed path, when path is in a git repository with no
    uncommitted change below it. (Not HEAD: a commit elsewhere in a monorepo must not make
    an unchanged product look new.)"""
    head = run(Command(["git", "-C", path, "log", "-1", "--format=%h", "--", "."]), check=False)
    if head.rc != 0 or not head.stdout.strip():
        return None
    dirty = run(Command(["git", "-C", path, "status", "--porcelain", "--", "."]), check=False)
    return None if dirty.rc != 0 or dirty.stdout.strip() else head.stdout.strip()


def require_image(images, ref, option):
    """The engine's image for ref, pulled from its registry when the pull policy says so (images: a _pull.Puller)."""
    return images.image(ref, option)


def pinned(image, ref):
    """How a Dockerfile names the image ref resolved to: repo@sha256:... when it has a digest in
    ref's repository (pushed or pulled there), so a tag moved later cannot change the build; else ref."""
    return _reference.repo_digest(image.attrs.get("RepoDigests"), _reference.split(ref)[0]) or ref


def base_digest(image, ref):
    """The base's registry digest in the repository ref names (repo@sha256:...), or its image id
    when it was never pushed there. The same image pushed to another namespace or registry has
    digests there too; those name copies this product was not built from, which may go away."""
    return _reference.repo_digest(image.attrs.get("RepoDigests"), _reference.split(ref)[0]) or image.id


def repository_answers(client, repository):
    """The compatibility answers every image of repository recorded ({key: answer}; newer images win)."""
    answers = {}
    for labels in repository_labels(client, repository):
        answers.update(recorded_answers(labels))
    return answers


def image_labels(image):
    return (image.attrs.get("Config") or {}).get("Labels") or {}


def provides_label(image):
    """What a base image says it provides ({package: version}), or None."""
    try:
        return json.loads(image_labels(image).get(PROVIDES_LABEL) or "null")
    except ValueError:
        return None


def extras_label(image):
    """The extra third-party packages a base says it holds ({name: version}; {} when none)."""
    try:
        found = json.loads(image_labels(image).get(EXTRAS_LABEL) or "{}")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def engine_compat(cli):
    """The compatibility check run for real: (ref, payload, what, name) -> (provides, satisfied, checks)."""
    def check(ref, payload, what, name=None):
        answer = parse_answer(run(check_command(cli, ref, payload), what="compatibility check in %s" % ref).stdout, ref)
        provides, satisfied = verdict(answer, name or ref, what)
        return provides, satisfied, answer["checks"]
    return check


# Planning --------------------------------------------------------------------------------------

class Plan(object):
    """Everything to build one product image, decided before anything is built.

    built_on: the engine's image the final stage starts from (a base, or the runtime image);
    base_ref: that image as given; builder_package / runtime_package: the rewritten
    package.json of each stage; refs: every tag of this build, the version tag first.
    """

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def tag_names(self):
        return [_tags.split_ref(ref)[1] for ref in self.refs]


def shared_packages(opts, images, manifest):
    """The shared packages (any scope): the manifest's, and in mode=base what the bases provide."""
    shared = Shared.of_manifest(manifest)
    if opts["mode"] == "base":
        for option in ("base_image", "dev_base_image"):
            image = images.image(opts[option], option) if opts.get(option) else None
            shared = shared.union(provides_label(image) if image is not None else None)
    return shared


def _stage_packages_on_base(opts, images, compat, package, requirements, shared, resolved=None):
    """mode=base: check both bases, and rewrite package.json to what they do not provide.
    resolved: {name: version} the product's lockfile resolves for its kind (None: no lockfile). An extra
    package of the base (_base_extras) is taken from it only at exactly that version."""
    final_base = require_image(images, opts["base_image"], "base_image")
    dev_base = require_image(images, opts["dev_base_image"], "dev_base_image")
    runtime_ranges = third_party_ranges(package, RUNTIME_DEP_FIELDS, shared)
    provides, final_satisfied, final_checks = compat(opts["base_image"], check_payload(
        requirements, runtime_ranges, fallback=provides_label(final_base)), "base image")
    dummy, builder_satisfied, builder_checks = compat(opts["dev_base_image"], check_payload(
        requirements, third_party_ranges(package, DEP_FIELDS, shared), fallback=provides_label(dev_base)),
        "dev base image")
    base_extras = extras_label(final_base)
    own = _base_extras.own_installs(base_extras, resolved, set(runtime_ranges), final_satisfied)
    final_satisfied = set(n for n in final_satisfied if n not in own)
    # A runtime dependency the final base does not satisfy is installed in the builder too,
    # so what the build resolves (and Next.js traces) is what the final image runs.
    builder_satisfied = set(n for n in builder_satisfied if n not in runtime_ranges or n in final_satisfied)
    return dict(
        built_on=final_base, builder_ref=opts["dev_base_image"], base_ref=opts["base_image"],
        base_version=image_labels(final_base).get(OCI_VERSION_LABEL) or (provides or {}).get("version"),
        builder_package=_product.rewrite_for_base(package, builder_satisfied, shared),
        runtime_package=_product.rewrite_for_base(package, final_satisfied, shared, prod=True),
        vendor_files=[], compatibility=final_checks + builder_checks, provides=provides,
        from_refs=(pinned(dev_base, opts["dev_base_image"]), pinned(final_base, opts["base_image"])),
        inputs=dict(base_id=final_base.id, dev_id=dev_base.id),
        base_extras=dict(from_base=dict((n, v) for n, v in sorted(base_extras.items())
                                        if n in runtime_ranges and n not in own), own=own) if base_extras else None)


def _stage_packages_from_tarballs(opts, images, compat, package, requirements, manifest, shared):
    """mode=tarball: vendor the shared packages' tarballs the product needs, checked against the manifest."""
    runtime = require_image(images, opts["runtime_image"], "runtime_image")
    names = _product.tarball_closure(manifest, [requirement[0] for requirement in requirements])
    _tarball_manifest.verify(manifest, names)
    versions = dict((n, manifest["packages"][n]["version"]) for n in names)
    provides, dummy, checks = compat(opts["runtime_image"], check_payload(
        requirements, provides={"packages": versions, "third_party": {}}), "tarball manifest", name=manifest["path"])
    vendor = dict((n, os.path.basename(_tarball_manifest.tarball_path(manifest, n))) for n in names)
    return dict(
        built_on=runtime, builder_ref=opts["runtime_image"], base_ref=opts["runtime_image"], base_version=None,
        builder_package=_product.rewrite_for_tarball(package, vendor, shared),
        runtime_package=_product.rewrite_for_tarball(package, vendor, shared, prod=True),
        vendor_files=[_tarball_manifest.tarball_path(manifest, n) for n in names], compatibility=checks, provides=provides,
        from_refs=(pinned(runtime, opts["runtime_image"]),) * 2,
        inputs=dict(runtime_id=runtime.id, tarballs=dict((n, manifest["packages"][n]["sha256"]) for n in names)))


def _stage_packages_from_registry(opts, images, compat, package, requirements, shared, locked):
    """mode=registry: the shared packages from the npm registry, checked against its versions (_registry_source)."""
    runtime = require_image(images, opts["runtime_image"], "runtime_image")
    staged = _registry_source.stage(opts, runtime, opts["runtime_image"], compat, package, requirements, shared, locked)
    return dict(staged, built_on=runtime, builder_ref=opts["runtime_image"], base_ref=opts["runtime_image"],
                base_version=None, vendor_files=[], provides=None, from_refs=(pinned(runtime, opts["runtime_image"]),) * 2)


def product_lock(product, shared):
    """(the closure of the product's lockfile for its kind, or None when it resolves nothing from a
    registry; {name: version} its kind's production dependencies resolve to), (None, None) without a
    lockfile; a lockfile not written for this package.json is refused."""
    if not product.lockfile:
        return None, None
    lock = _lockfile.load(product.lockfile)
    importer = _lockfile.importer_id(product.lockfile, product.dir)
    _lockfile.check_importer(lock, importer, product.package, shared, "%s/package.json (lockfile %s)" % (
        product.dir, product.lockfile))
    locked = _lockfile.closure(lock, [importer])
    return (locked if locked["packages"] else None), _base_extras.resolved(lock, importer)


def product_extras(opts, product):
    """The product's build settings, checked before anything is pulled or built: build_args,
    os_packages, build_os_packages, the extra directories' files (extra_files), the image's
    npmrc (settings of the product's own .npmrc, no credentials) and the .dockerignore rules."""
    secrets = [opts.get("npm_token"), opts.get("password")]
    rules = _product.ignore_rules(product)
    npmrc, dropped = _npmrc.settings([os.path.join(product.root, ".npmrc"), os.path.join(product.dir, ".npmrc")],
                                     opts.get("npm_registry"), secrets)
    return dict(
        build_args=_build_inputs.check_build_args(opts.get("build_args"), secrets),
        os_packages=_build_inputs.check_os_packages(opts.get("os_packages"), "os_packages"),
        build_os_packages=_build_inputs.check_os_packages(opts.get("build_os_packages"), "build_os_packages"),
        extra_files=_product.extra_files(product, _product.extra_dirs(product, opts.get("extra_dirs")), rules),
        npmrc=npmrc, npmrc_left_out=[dict(file=path, key=key, why=why) for path, key, why in dropped], rules=rules)


def plan(opts, client, compat, revision_of=git_revision, images=None):
    """A Plan: read, check, rewrite, render, fingerprint. Nothing is built or tagged (bases may be pulled).

    opts: the module options; compat: see engine_compat; revision_of(dir): the source revision;
    images: a _pull.Puller (default: one on client with the options' pull policy and credentials).
    """
    images = images or Puller(client, opts)
    product = _product.load(opts["product_dir"], opts["kind"], opts.get("kind_dir"))
    extras = product_extras(opts, product)
    version = _tags.validate_semver(opts["version"] or product.version + (opts.get("version_suffix") or ""))
    name = _tags.validate_name(opts["name"] or "%s-%s" % (product.name, opts["kind"]))
    manifest = _tarball_manifest.load(opts["manifest"]) if opts["manifest"] else None
    if opts["mode"] == "tarball" and manifest is None:
        raise DeployError("manifest is required with mode=tarball.",
                          hint="Point manifest at the output of bytelyst.deploy.workspace_pack.")
    workspace_versions = dict((n, e.get("version")) for n, e in (manifest or {}).get("packages", {}).items())
    # The image built from this product and version last time recorded its compatibility answers:
    # the same inputs get them without a throwaway container (a no-op run starts none).
    # A new version (a source change bumps it) takes the answers its repository's other images
    # recorded: each answer is keyed by the checked image's id and the check's input, so one recorded
    # for another version still holds exactly when the key matches.
    previous = image_or_none(client, _tags.image_ref(name, version, opts["registry"]))
    compat = Remembered(compat, lambda ref: images.image(ref, None).id,
                        recorded_answers(image_labels(previous)) if previous is not None
                        else repository_answers(client, _tags.repository(name, opts["registry"])))
    shared = shared_packages(opts, images, manifest)
    if opts["mode"] == "registry":
        shared = _registry_source.shared_of(shared, opts.get("shared_scopes"))
    requirements = shared_requirements(product.package, shared, workspace_versions)
    locked, resolved = product_lock(product, shared)
    if opts["mode"] != "base" and (manifest or {}).get("lockfile"):
        # the shared packages' own third-party dependencies: the workspace lockfile's versions
        locked = _lockfile.merge(manifest["lockfile"], locked)
    if opts["mode"] == "base":
        staged = _stage_packages_on_base(opts, images, compat, product.package, requirements, shared, resolved)
    elif opts["mode"] == "registry":
        staged = _stage_packages_from_registry(opts, images, compat, product.package, requirements, shared, locked)
    else:
        staged = _stage_packages_from_tarballs(opts, images, compat, product.package, requirements, manifest,
                                               shared)
    spec = DockerfileSpec(
        opts["mode"], opts["kind"], staged["from_refs"][0], staged["from_refs"][1], product.start_command(), opts["port"],
        opts["health_path"] or product.default_health_path(), next_standalone=product.next,
        output_dir=product.output_dir(), install_builder=_product.has_dependencies(staged["builder_package"], False),
        install_final=_product.has_dependencies(staged["runtime_package"], True), pnpm_version=opts["pnpm_version"],
        vendor=bool(staged["vendor_files"]), lockfile=bool(locked), extra_dirs=sorted(extras["extra_files"]),
        build_args=extras["build_args"], os_packages=extras["os_packages"],
        build_os_packages=extras["build_os_packages"], npmrc=bool(extras["npmrc"] or staged.get("npmrc")),
        token_registry=staged.get("token_registry"))
    dockerfile = render(spec)
    files = _product.source_files(product.dir, extras.pop("rules"), product.kind_dir + "/")
    inputs = dict(staged.pop("inputs"), mode=opts["mode"], kind=opts["kind"], port=opts["port"],
                  builder_package=staged["builder_package"], runtime_package=staged["runtime_package"],
                  locked=_lockfile.locked_versions(locked))
    # only when given, so the fingerprints of products without them stay what they were
    inputs.update((key, extras[key]) for key in ("build_args", "npmrc") if extras[key])
    revision = opts["revision"] or revision_of(product.dir)
    tags = _tags.plan_tags(name, version, opts["registry"], date=None, promote=opts["promote"])
    refs = [tags.version] + ([_tags.image_ref(name, revision, opts["registry"])] if revision else []) + (
        [tags.latest] if tags.latest else [])
    return Plan(product=product, mode=opts["mode"], kind=opts["kind"], name=name, version=version, pulled=images.pulled,
                repository=_tags.repository(name, opts["registry"]), revision=revision,
                fingerprint=_product.fingerprint(product, files, dockerfile, inputs, extras["extra_files"]),
                dockerfile=dockerfile, files=files, spec=spec, refs=refs, locked=locked, extras=extras,
                compat_label=compat.label(), base_extras=staged.pop("base_extras", None), **staged)


class Decision(object):
    """What ensure does with a plan: `existing` is the image already holding the plan's
    fingerprint under the version tag (None: build), `missing` the refs still to point at it."""

    def __init__(self, existing, missing):
        self.existing = existing
        self.missing = missing

    @property
    def build(self):
        return self.existing is None

    @property
    def changed(self):
        return bool(self.missing)


def decide(client, the_plan, force=False):
    """Up to date, retag, or build; a version tag holding other content is refused unless force."""
    state = _tags.check_version(client, the_plan.refs[0], the_plan.fingerprint, force=force)
    existing = state.image_id if state.state == "same" else None
    missing = [ref for ref in the_plan.refs
               if existing is None or getattr(image_or_none(client, ref), "id", None) != existing]
    return Decision(existing, missing)


def labels(the_plan, extra=None):
    """The image's labels; extra labels never override the module's own."""
    digest = base_digest(the_plan.built_on, the_plan.base_ref)
    out = {
        "org.opencontainers.image.title": the_plan.name,
        OCI_VERSION_LABEL: the_plan.version,
        "org.opencontainers.image.revision": the_plan.revision or "",
        "org.opencontainers.image.base.name": the_plan.base_ref,
        "org.opencontainers.image.base.digest": digest,
        BASE_REF_LABEL: the_plan.base_ref,
        BASE_VERSION_LABEL: the_plan.base_version or "",
        BASE_DIGEST_LABEL: digest,
        FINGERPRINT_LABEL: the_plan.fingerprint,
        PRODUCT_LABEL: the_plan.product.name,
        KIND_LABEL: the_plan.kind,
        MODE_LABEL: the_plan.mode,
    }
    if getattr(the_plan, "compat_label", None):
        out[COMPAT_LABEL] = the_plan.compat_label
    for key, value in (extra or {}).items():
        out.setdefault(key, str(value))
    return out


def result_of(the_plan, decision):
    """The module result before anything is run."""
    return dict(
        changed=decision.changed or bool(the_plan.pulled), pulled=the_plan.pulled,
        fingerprint=the_plan.fingerprint, name=the_plan.repository, tags=the_plan.refs,
        tag_names=the_plan.tag_names(), base_ref=the_plan.base_ref,
        base_digest=base_digest(the_plan.built_on, the_plan.base_ref), base_version=the_plan.base_version,
        image_id=decision.existing or "", size=0, unique_bytes=0,
        plan=dict(mode=the_plan.mode, kind=the_plan.kind, name=the_plan.name, version=the_plan.version,
                  revision=the_plan.revision, build=decision.build, dockerfile=the_plan.dockerfile,
                  builder_package=the_plan.builder_package, runtime_package=the_plan.runtime_package,
                  compatibility=the_plan.compatibility, sources=len(the_plan.files),
                  lockfile=the_plan.product.lockfile, locked=_lockfile.locked_versions(the_plan.locked),
                  kind_dir=the_plan.product.kind_dir, extra_dirs=sorted(the_plan.extras["extra_files"]),
                  build_args=the_plan.extras["build_args"], os_packages=the_plan.extras["os_packages"],
                  build_os_packages=the_plan.extras["build_os_packages"],
                  npmrc_left_out=the_plan.extras["npmrc_left_out"]),
        **_extras_result(the_plan))


def _extras_result(the_plan):
    """base_extras (which of the base's extra packages the product takes from it, which it installs
    itself and why) and a warning per own install; nothing when the base has no extras."""
    found = getattr(the_plan, "base_extras", None)
    if not found:
        return {}
    return dict(base_extras=found, warnings=[
        "%s installs its own %s: %s." % (the_plan.name, name, why) for name, why in sorted(found["own"].items())])


# Running a plan ----------------------------------------------------------------------------

def check_layers(client, image_id, built_on):
    """The new image's layer chain must start with the whole chain of the image it is built on."""
    layers = (client.images.get(image_id).attrs.get("RootFS") or {}).get("Layers") or []
    base_layers = (built_on.attrs.get("RootFS") or {}).get("Layers") or []
    if layers[:len(base_layers)] != base_layers:
        raise DeployError("The built image does not start with the layers of %s (the base moved during the build?)."
                          % built_on.id, hint="Run again; pin the base by version tag.")


def build_and_tag(client, cli, opts, the_plan, workdir):
    """Build under a temporary tag, check and verify, then apply the plan's tags. On any
    failure the temporary tag and the new image go, so no tag moves. Returns (image_id, health)."""
    secrets, redact = build_secrets(workdir, opts.get("npm_token"), opts.get("ca_bundle"))
    context = os.path.join(workdir, "context")
    os.makedirs(context)
    staged = {"builder.json": the_plan.builder_package, "runtime.json": the_plan.runtime_package}
    if the_plan.locked:
        staged["pnpm-lock.yaml"] = _lockfile.seed(the_plan.locked, auto_install_peers=the_plan.mode != "base")
        staged["locked.json"] = _lockfile.locked_versions(the_plan.locked)
    # The product's own registry settings (no credentials), then in mode=registry the shared
    # scopes' registry, which wins over a scope line of the product's for the same scope.
    npmrc = "".join(text for text in (the_plan.extras["npmrc"], getattr(the_plan, "npmrc", None)) if text)
    if npmrc:
        staged["npmrc"] = npmrc
    _product.stage_context(the_plan.product, the_plan.files, context, staged, the_plan.vendor_files,
                           extras=the_plan.extras["extra_files"])
    temp_ref = _tags.image_ref(the_plan.name, "build-" + the_plan.fingerprint[:12])
    try:
        result = build(cli, BuildSpec(the_plan.dockerfile, context, temp_ref, secrets=secrets,
                                      labels=labels(the_plan, opts.get("labels")), redact=redact,
                                      build_args=the_plan.extras["build_args"],
                                      log=opts.get("build_log")),
                       what="build of %s %s" % (the_plan.product.name, the_plan.kind))
    except DeployError as err:
        raise lift_install_error(err)
    try:
        check_layers(client, result.image_id, the_plan.built_on)
        require_non_root(temp_ref, image_user(client, result.image_id), None)
        health = None
        if opts["verify"]:
            health = wait_http(client, result.image_id, the_plan.spec.port, the_plan.spec.health_path,
                               timeout=opts["verify_timeout"])
        _tags.apply_tags(client, result.image_id, the_plan.refs)
    except Exception:
        _tags.remove_tag(client, temp_ref)
        try:
            client.images.remove(result.image_id, noprune=False)
        except Exception:  # still used by another tag or container: leave it
            pass
        raise
    _tags.remove_tag(client, temp_ref)
    return result.image_id, health


def _sizes(client, image_id, built_on, result):
    size = client.images.get(image_id).attrs.get("Size") or 0
    result["size"] = size
    result["unique_bytes"] = max(0, size - (built_on.attrs.get("Size") or 0))


def ensure(client, opts, check_mode=False, cli=None, compat=None):
    """Make sure the product image for opts exists under its tags; return the module result.

    opts: the module options (product_dir, kind, mode, base_image, dev_base_image, runtime_image,
    manifest, name, version, revision, registry, port, health_path, promote, force, npm_token,
    ca_bundle, verify, verify_timeout, pnpm_version, labels, docker_cli, docker_host, kind_dir, extra_dirs,
    build_args, os_packages, build_os_packages, npm_registry).
    """
    cli = cli or find_buildkit_cli(preferred=opts.get("docker_cli"), connection=opts)
    the_plan = plan(opts, client, compat or engine_compat(cli))
    decision = decide(client, the_plan, force=opts.get("force"))
    result = result_of(the_plan, decision)
    if check_mode or not decision.changed:
        if decision.existing:
            _sizes(client, decision.existing, the_plan.built_on, result)
        return result
    if decision.existing:
        _tags.apply_tags(client, decision.existing, decision.missing)
        image_id = decision.existing
    else:
        workdir = tempfile.mkdtemp(prefix="bytelyst-product-")
        result["build_log"] = log_path(the_plan.name, opts.get("build_log"), opts.get("build_log_dir"))
        try:
            image_id, result["verify"] = build_and_tag(client, cli, dict(opts, build_log=result["build_log"]),
                                                       the_plan, workdir)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    result["image_id"] = image_id
    _sizes(client, image_id, the_plan.built_on, result)
    return result
