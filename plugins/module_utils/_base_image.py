# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Base images: which packages per kind, the generated build context and Dockerfile,
the input fingerprint and labels (pure planning), then `ensure`, which runs a plan:
build, verify, tag. PRIVATE to the collection. The contract is in docs/base-images.md.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import re
import shutil
import tempfile

from ansible_collections.bytelyst.deploy.plugins.module_utils import (
    _base_extras, _build, _dockerfile, _lockfile, _tarball_manifest, _reference, _registry_source, _tags, _verify)
from ansible_collections.bytelyst.deploy.plugins.module_utils._contract import (
    BASE_FLAVOUR_LABEL, BASE_KIND_LABEL, BASE_KINDS, EXTRAS_LABEL, FINGERPRINT_LABEL, PROVIDES_LABEL, PROVIDES_PATH)
from ansible_collections.bytelyst.deploy.plugins.module_utils._docker_cli import find_buildkit_cli
from ansible_collections.bytelyst.deploy.plugins.module_utils._engine import image_or_none
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._fingerprint import digest_json
from ansible_collections.bytelyst.deploy.plugins.module_utils._product_image import engine_compat
from ansible_collections.bytelyst.deploy.plugins.module_utils._pull import Puller
from ansible_collections.bytelyst.deploy.plugins.module_utils._scope import Shared

DEFAULT_NAME_PREFIX = "bytelyst-common-base"
NODE_ENV = {"backend": "production", "web": "production", "dev": "development", "common": "production"}
TARBALL_DIR = "tarballs"
LOCKED_FILE = "locked.json"


def select_packages(manifest, kind, packages=None):
    """The shared packages of a kind (any scope: the manifest's), with their internal dependencies, in manifest order.

    Defaults come from each package's kinds (`bytelyst.kinds`): backend and web take the packages
    of their kind, dev takes every package. `packages` overrides the choice.
    """
    if kind not in BASE_KINDS:
        raise DeployError("kind %r is not one of %s." % (kind, ", ".join(BASE_KINDS)))
    known = manifest["packages"]
    order = manifest.get("order") or sorted(known)
    if packages:
        unknown = [n for n in packages if n not in known]
        if unknown:
            raise DeployError("packages names %s, which the manifest %s does not hold (it has: %s)." % (
                ", ".join(unknown), manifest["path"], ", ".join(order)),
                hint="Fix the packages option or re-run bytelyst.deploy.workspace_pack.")
        wanted = set(packages)
    elif kind == "dev":
        wanted = set(order)
    elif kind == "common":  # stacked bases (_base_stack): what backend and web both take
        wanted = set(_tarball_manifest.packages_for(manifest, "backend")) & set(_tarball_manifest.packages_for(manifest, "web"))
    else:
        wanted = set(_tarball_manifest.packages_for(manifest, kind))
    if not wanted:
        raise DeployError("No package of the manifest %s is for the %s kind." % (manifest["path"], kind),
                          hint="Set packages explicitly, or add %s to the packages' bytelyst.kinds." % kind)
    pending = list(wanted)
    while pending:  # internal dependencies go in too, so every package loads
        entry = known[pending.pop()]
        for dep in sorted(((entry.get("dependencies") or {}).get("internal") or {})):
            if dep not in known:
                raise DeployError("%s depends on %s, which the manifest %s does not hold." % (
                    entry["name"], dep, manifest["path"]), hint="Pack the whole workspace with workspace_pack.")
            if dep not in wanted:
                wanted.add(dep)
                pending.append(dep)
    return [n for n in order if n in wanted]


def _merge(target, deps, shared):
    for name, spec in sorted((deps or {}).items()):
        if name in shared:
            continue
        if name in target and target[name] != spec:
            target[name] = "%s || %s" % (target[name], spec)
        else:
            target[name] = spec


def package_json(manifest, kind, names, version, specs=None, extras=None):
    """The base's own /app/package.json: tarball dependencies, overrides, peers (and dev tools for dev).
    specs: {name: exact version} instead of the tarballs (source=registry, _registry_source.base_source).
    extras: {name: exact version} of the extra third-party packages (_base_extras); they win over a
    peer range of the same name.

    It names the kind, not the image: the same inputs give the same layers whatever the
    image is called or where it is pushed, so BuildKit reuses them (and the products built on them).
    """
    tarballs = dict((n, (specs or {}).get(n) or "file:./%s/%s" % (TARBALL_DIR, manifest["packages"][n]["tarball"]))
                    for n in names)
    peers, dev = {}, {}
    shared = Shared.of_manifest(manifest)
    for n in names:
        entry = manifest["packages"][n]
        _merge(peers, entry.get("peer_dependencies"), shared)
        _merge(dev, entry.get("dev_dependencies"), shared)
    dependencies = dict(peers)
    dependencies.update(extras or {})
    dependencies.update(tarballs)
    data = {
        "name": "bytelyst-common-base-%s" % kind,
        "version": version,
        "private": True,
        # "flavour": this text is an input of the fingerprint; another word would change every
        # base's fingerprint, and a version tag may not move to new inputs.
        "description": "ByteLyst common base image (%s flavour)" % kind,
        "dependencies": dependencies,
        "pnpm": {"overrides": dict(tarballs)},
    }
    if kind == "dev":
        data["devDependencies"] = dict((k, v) for k, v in dev.items() if k not in dependencies)
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def npmrc(npm_registry=None):
    """The context's .npmrc: settings only, never a token (that comes as a build secret)."""
    lines = ["node-linker=hoisted", "auto-install-peers=true", "strict-peer-dependencies=false"]
    if npm_registry:
        lines.append("registry=%s" % npm_registry)
    return "\n".join(lines) + "\n"


# The key "flavour" in provides.json stays: the script is part of the Dockerfile, an input of
# the fingerprint (see package_json), and provides.json is part of the image contract.
# Lists every top-level package of /app/node_modules with its installed version: the shared
# packages (the ones /app/package.json's pnpm.overrides point at a tarball, whatever their
# scope) apart from the third-party ones.
PROVIDES_SCRIPT = (
    "const fs=require(\"fs\"),p=require(\"path\"),nm=\"/app/node_modules\",all={};"
    "const ownNames=new Set(Object.keys((JSON.parse(fs.readFileSync(\"/app/package.json\")).pnpm||{}).overrides||{}));"
    "const add=(d)=>{try{const j=JSON.parse(fs.readFileSync(p.join(nm,d,\"package.json\")));all[j.name||d]=j.version;}catch(e){}};"
    "for(const d of fs.readdirSync(nm)){if(d.startsWith(\".\"))continue;"
    "if(d.startsWith(\"@\")){for(const s of fs.readdirSync(p.join(nm,d)))add(d+\"/\"+s);}else add(d);}"
    "const own={},third={};for(const k of Object.keys(all).sort())(ownNames.has(k)?own:third)[k]=all[k];"
    "fs.writeFileSync(process.argv[1],JSON.stringify({flavour:process.argv[2],version:process.argv[3],"
    "fingerprint:process.argv[4],packages:own,third_party:third},null,2)+\"\\n\");"
)


# With extra packages (argv[5]: their names, comma-separated) provides.json also lists them under
# "extras" with their installed versions. A separate text, so the Dockerfile of a base without
# extras (a fingerprint input) stays what it was.
PROVIDES_EXTRAS_SCRIPT = PROVIDES_SCRIPT.replace(
    "third_party:third}", "third_party:third,extras:ex}").replace(
    "fs.writeFileSync(", "const ex={};for(const k of process.argv[5].split(\",\").sort())ex[k]=all[k]||null;"
    "fs.writeFileSync(")


def provides_step(kind, version, extras=None):
    """The RUN step writing provides.json (PROVIDES_PATH), owned by node."""
    if not extras:
        return "RUN node -e '%s' %s %s %s \"$BYTELYST_FINGERPRINT\" && chown node:node %s" % (
            PROVIDES_SCRIPT, PROVIDES_PATH, kind, version, PROVIDES_PATH)
    return "RUN node -e '%s' %s %s %s \"$BYTELYST_FINGERPRINT\" %s && chown node:node %s" % (
        PROVIDES_EXTRAS_SCRIPT, PROVIDES_PATH, kind, version, ",".join(sorted(extras)), PROVIDES_PATH)


def dockerfile(runtime_image, kind, version, pnpm_version, lockfile=False, token_registry=None, extras=None):
    """The generated Dockerfile (no secret, no fingerprint: those come as secrets and a build arg).

    The pnpm set-up, the secrets and the store are the steps product images use too (_dockerfile).
    lockfile: the context holds the workspace lockfile's seed and locked.json (_lockfile); the
    install resolves to its versions and fails when it cannot. token_registry: the npm token is for
    that registry only (source=registry: the shared packages' registry, not the default one).
    extras: the extra packages' names (provides.json lists them under "extras").
    """
    install_flags = ["--config.node-linker=hoisted", "--no-frozen-lockfile", "--package-import-method=copy"]
    install_flags += _dockerfile.store_flags()
    if kind != "dev":
        install_flags.append("--prod")
    lines = [
        "FROM %s" % runtime_image,
        "USER root",
        "RUN set -e; if ! id -u node >/dev/null 2>&1; then useradd -u 1000 -m -s /bin/sh node; fi; "
        "mkdir -p /app/.bytelyst",
        _dockerfile.pnpm_setup_step(pnpm_version, token_registry),
        "WORKDIR /app",
        "COPY package.json .npmrc %s/app/" % ("pnpm-lock.yaml " if lockfile else ""),
        _dockerfile.base_install_step(
            TARBALL_DIR, install_flags,
            "find /app -mindepth 1 -maxdepth 1 ! -name %s -exec chown -R node:node {} +; chown node:node /app"
            % TARBALL_DIR, LOCKED_FILE if lockfile else None, token_registry),
        "ARG BYTELYST_FINGERPRINT=unset",
        provides_step(kind, version, extras),
        "ENV NODE_ENV=%s" % NODE_ENV[kind],
    ]
    if kind == "dev":
        lines.append("ENV PATH=/app/node_modules/.bin:$PATH")
    lines += ["USER node", "WORKDIR /app", ""]
    return "\n".join(lines)


def fingerprint(manifest, names, runtime, kind, version, pnpm_version, files, extras=None):
    """sha256 over every input: tarball digests, runtime image id/digests, versions, generated files,
    and the extra packages' versions (only when there are any: other bases keep their fingerprints)."""
    data = {
        "packages": dict((n, manifest["packages"][n].get("sha256") or manifest["packages"][n]["integrity"])
                         for n in names),
        "runtime": {"id": runtime.get("id"), "digests": sorted(runtime.get("digests") or [])},
        "flavour": kind,  # the key's old name stays: renaming it would change every base's fingerprint
        "version": version,
        "pnpm": pnpm_version,
        "files": files,
    }
    if extras:
        data["extras"] = dict(extras)
    return digest_json(data)


class Plan(object):
    """Everything to build one base image; `files` maps context paths to their text.
    revision: what names the packages that went in (source=registry; else the manifest's digest)."""

    revision = None
    extras = None  # {name: version} of the extra third-party packages
    extras_notes = ()

    def __init__(self, kind, names, provides, files, dockerfile_text, fingerprint_hex, tarballs):
        self.kind = kind
        self.packages = names
        self.provides = provides
        self.files = files
        self.dockerfile = dockerfile_text
        self.fingerprint = fingerprint_hex
        self.tarballs = tarballs

    def write_context(self, directory):
        """Fill directory with the context: the kind's tarballs, package.json and .npmrc only."""
        os.makedirs(os.path.join(directory, TARBALL_DIR))
        for rel, text in self.files.items():
            with open(os.path.join(directory, rel), "w") as handle:
                handle.write(text)
        for source in self.tarballs:
            shutil.copyfile(source, os.path.join(directory, TARBALL_DIR, os.path.basename(source)))


def plan(manifest, kind, runtime_image, runtime, version, pnpm_version,
         packages=None, npm_registry=None, source=None, dockerfile_of=None, extras=None):
    """A Plan. runtime: {"id": image id, "digests": repo digests} of runtime_image.
    source: the registry's part with source=registry (_registry_source.base_source), else None.
    dockerfile_of: another Dockerfile writer with dockerfile()'s arguments (_base_stack's top layer).
    extras: the extra third-party packages, a _base_extras.Selection (None: none)."""
    source = source or {}
    names = select_packages(manifest, kind, packages)
    versions = dict(extras.versions) if extras is not None else {}
    clash = sorted(n for n in versions if n in manifest["packages"])
    if clash:
        raise DeployError("extra_packages names %s, a shared package of the manifest %s; it is no third-party "
                          "package." % (", ".join(clash), manifest["path"]),
                          hint="Shared packages go in with the packages option; extra_packages takes third-party ones.")
    files = {
        "package.json": package_json(manifest, kind, names, version, source.get("specs"), versions),
        ".npmrc": npmrc(npm_registry) + source.get("npmrc", ""),
    }
    locked = manifest.get("lockfile") or {}
    if versions:  # the extras' closure from the products' lockfiles, beside the shared packages'
        locked = _lockfile.merge(locked if locked.get("packages") else None, extras.locked)
    if locked.get("packages"):  # the workspace lockfile's versions (workspace_pack recorded them)
        files["pnpm-lock.yaml"] = _lockfile.seed_text(locked, auto_install_peers=True)
        files[LOCKED_FILE] = json.dumps(_lockfile.locked_versions(locked), indent=1, sort_keys=True) + "\n"
    write_dockerfile = dockerfile_of or dockerfile
    text = write_dockerfile(runtime_from(runtime_image, runtime), kind, version, pnpm_version,
                            lockfile=LOCKED_FILE in files, token_registry=source.get("token_registry"),
                            **({"extras": sorted(versions)} if versions else {}))
    fp = fingerprint(manifest, names, runtime, kind, version, pnpm_version, dict(files, Dockerfile=text), versions)
    provides = dict((n, manifest["packages"][n]["version"]) for n in names)
    tarballs = [] if source else [_tarball_manifest.tarball_path(manifest, n) for n in names]
    the_plan = Plan(kind, names, provides, files, text, fp, tarballs)
    the_plan.revision = source.get("revision")
    the_plan.extras = versions
    the_plan.extras_notes = list(extras.notes) if extras is not None else []
    return the_plan


def runtime_digest(runtime_image, runtime):
    """The runtime image's repo digest (sha256:...) in the repository runtime_image names, else
    any repo digest it has, else its image id."""
    digests = sorted(runtime.get("digests") or [])
    name = _reference.split(runtime_image, "runtime_image")[0]
    pinned = _reference.repo_digest(digests, name) or (digests[0] if digests else None)
    return pinned.split("@", 1)[1] if pinned else runtime.get("id")


def labels(the_plan, version, runtime_image, runtime, created, revision, extra=None, title=None):
    """OCI and bytelyst labels. Extra labels may not override the ones the contract relies on.
    title: the image's name (default <DEFAULT_NAME_PREFIX>-<kind>). No vendor label: whoever ships
    the images sets org.opencontainers.image.vendor in extra (labels are no fingerprint input)."""
    out = {
        "org.opencontainers.image.title": title or "%s-%s" % (DEFAULT_NAME_PREFIX, the_plan.kind),
        "org.opencontainers.image.description": "Shared base image (%s kind) of %s: %s" % (
            the_plan.kind, Shared(the_plan.packages).describe(), ", ".join(the_plan.packages)),
        "org.opencontainers.image.version": version,
        "org.opencontainers.image.created": created,
        "org.opencontainers.image.revision": revision,
        "org.opencontainers.image.base.name": runtime_image,
        "org.opencontainers.image.base.digest": runtime_digest(runtime_image, runtime),
    }
    out.update(extra or {})
    out[BASE_KIND_LABEL] = the_plan.kind
    out[BASE_FLAVOUR_LABEL] = the_plan.kind  # deprecated; still written for tools that read it (until 1.0.0)
    out[PROVIDES_LABEL] = json.dumps(the_plan.provides, sort_keys=True, separators=(",", ":"))
    if the_plan.extras:  # its own label: readers of the provides label see the shared packages only
        out[EXTRAS_LABEL] = json.dumps(the_plan.extras, sort_keys=True, separators=(",", ":"))
    out[FINGERPRINT_LABEL] = the_plan.fingerprint
    return out


# Running a plan --------------------------------------------------------------------------

VERIFY_DIR = "/app/backend"  # a product directory below /app: Node must find the packages from there


def runtime_info(client, runtime_image, opts=None):
    """{"id", "digests"} of the runtime image, pulled from its registry when the engine lacks it
    (opts: pull policy and registry credentials, see _pull.Puller); a DeployError says how to get it."""
    image = Puller(client, opts or {}).image(runtime_image, "runtime_image")
    return {"id": image.id, "digests": image.attrs.get("RepoDigests") or []}


def runtime_from(runtime_image, runtime):
    """How the Dockerfile names the runtime image: by digest when it has one in its repository."""
    name = _reference.split(runtime_image, "runtime_image")[0]
    return _reference.repo_digest(runtime.get("digests"), name) or runtime_image


def _check_inputs(opts):
    _tags.validate_semver(opts["version"])
    if not re.match(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$", opts["pnpm_version"] or ""):
        raise DeployError("pnpm_version %r is not a pnpm version such as 10.6.5." % opts["pnpm_version"])
    if opts.get("ca_bundle") and not os.path.isfile(opts["ca_bundle"]):
        raise DeployError("ca_bundle %s does not exist." % opts["ca_bundle"],
                          hint="Point ca_bundle at a PEM file with the extra CA certificates, or leave it unset.")
    if opts["kind"] not in BASE_KINDS:
        raise DeployError("kind %r is not one of %s." % (opts["kind"], ", ".join(BASE_KINDS)))
    if opts.get("source") != "registry" and not isinstance(opts.get("packages") or [], list):
        raise DeployError("packages is a mapping (name: version), which only source=registry takes.",
                          hint="With source=tarballs give a list of package names (the manifest's versions go in).")


def _date(opts, now):
    value = opts.get("date_tag")
    if value in (None, "", True, "true", "True", "yes"):
        return _tags.date_tag(now.date())
    if value in (False, "false", "False", "no"):
        return None
    return str(value)


def created_time(now):
    """The image's created time: SOURCE_DATE_EPOCH when set (the reproducible-builds
    convention: same inputs, same image id, so BuildKit can reuse what is built on it), else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=int(epoch))
    return now


def default_name(opts):
    """The image name: opts' name, else <name_prefix>-<kind> (bytelyst-common-base-backend)."""
    return opts.get("name") or "%s-%s" % (opts.get("name_prefix") or DEFAULT_NAME_PREFIX, opts["kind"])


def ensure(client, opts, check_mode=False, now=None, dockerfile_of=None):
    """Make sure the base image for opts exists under its tags; return the module result.

    opts: the module options (manifest, kind, runtime_image, pnpm_version, name, name_prefix, version,
    registry, labels, packages, promote, force, npm_token, ca_bundle, npm_registry, date_tag,
    docker_cli, docker_host). dockerfile_of: see plan() (stacked bases, _base_stack.ensure).
    """
    now = now or datetime.datetime.utcnow().replace(microsecond=0)
    _check_inputs(opts)
    name = default_name(opts)
    manifest = None if opts.get("source") == "registry" else _tarball_manifest.load(opts["manifest"])
    runtime = runtime_info(client, opts["runtime_image"], opts)
    manifest, source = registry_source(opts, runtime) if manifest is None else (manifest, None)
    the_plan = plan(manifest, opts["kind"], opts["runtime_image"], runtime, opts["version"],
                    opts["pnpm_version"], manifest["order"] if source else opts.get("packages"),
                    opts.get("npm_registry"), source, dockerfile_of, extras=extras_selection(opts))
    if source is None:
        _tarball_manifest.verify(manifest, the_plan.packages)
    tags = _tags.plan_tags(name, opts["version"], opts.get("registry"), _date(opts, now), opts.get("promote"))
    state = _tags.check_version(client, tags.version, the_plan.fingerprint, opts.get("force"))
    # flavour: the deprecated name of kind, returned too until 1.0.0.
    result = {"fingerprint": the_plan.fingerprint, "packages": the_plan.provides, "kind": opts["kind"],
              "flavour": opts["kind"],
              "runtime_image": {"name": opts["runtime_image"], "id": runtime["id"],
                                "digest": runtime_digest(opts["runtime_image"], runtime)},
              "name": _tags.repository(name, opts.get("registry")), "builder": None, "built": False}
    if the_plan.extras:
        result["extras"] = dict(the_plan.extras)
        if the_plan.extras_notes:
            result["extras_notes"] = list(the_plan.extras_notes)
            result["warnings"] = list(the_plan.extras_notes)
    if state.state == "same":
        return _with_tag_names(_up_to_date(client, result, tags, state, check_mode))
    result["reasons"] = [
        "no image is tagged %s yet" % tags.version if state.state == "absent" else
        "force: %s holds fingerprint %s, these inputs give %s" % (tags.version, state.fingerprint, the_plan.fingerprint)]
    if check_mode:
        result.update(changed=True, tags=tags.all(), dockerfile=the_plan.dockerfile, image_id=None, size=None)
        return _with_tag_names(result)
    result["build_log"] = _build.log_path(name, opts.get("build_log"), opts.get("build_log_dir"), now)
    image_id, builder, provides = _build_and_verify(client, dict(opts, build_log=result["build_log"]), the_plan,
                                                    name, runtime, now)
    moved = _tags.apply_tags(client, image_id, tags.all())
    _tags.remove_tag(client, _temporary_tag(name, opts, the_plan))
    image = client.images.get(image_id)
    result.update(changed=True, built=True, builder=builder, image_id=image_id, size=image.attrs.get("Size"),
                  tags=tags.all(), moved_tags=moved, third_party=provides.get("third_party"))
    return _with_tag_names(result)


def extras_selection(opts):
    """The extra third-party packages of opts (extra_packages, versions from the lockfiles extra_packages_from
    names), a _base_extras.Selection; None when there are none."""
    wanted = _base_extras.parse_option(opts.get("extra_packages"))
    if not wanted:
        return None
    paths = _base_extras.lockfile_paths(opts.get("extra_packages_from"))
    return _base_extras.select(wanted, dict((path, _lockfile.load(path)) for path in paths))


def registry_source(opts, runtime):
    """source=registry: the packages resolved against the registry, checked in the runtime image (_registry_source)."""
    ref = runtime_from(opts["runtime_image"], runtime)
    return _registry_source.base_source(opts, ref, engine_compat(find_buildkit_cli(opts.get("docker_cli"), connection=opts)))


def _with_tag_names(result):
    """The tags without the repository (`name`), so a playbook never has to split a reference, and
    which of them are date tags (they move: a push treats them as channel tags)."""
    result["tag_names"] = [_tags.split_ref(ref)[1] for ref in result["tags"]]
    result["date_tag_names"] = [tag for tag in result["tag_names"] if _tags.is_date_tag(tag)]
    return result


def _up_to_date(client, result, tags, state, check_mode):
    """Same fingerprint: no build; only `latest` may have to move (when promoted)."""
    wanted = [tags.latest] if tags.latest else []
    current = [ref for ref in wanted if getattr(image_or_none(client, ref), "id", None) != state.image_id]
    moved = current if check_mode else _tags.apply_tags(client, state.image_id, current)
    image = client.images.get(state.image_id)
    result.update(changed=bool(moved), image_id=state.image_id, size=image.attrs.get("Size"), moved_tags=moved,
                  tags=[t for t in image.tags if t.startswith(result["name"] + ":")] + (moved if check_mode else []),
                  reasons=["%s already holds fingerprint %s" % (tags.version, state.fingerprint)]
                  + ["promote: %s moves to it" % ref for ref in moved])
    labels = (image.attrs.get("Config") or {}).get("Labels") or {}
    result["packages"] = json.loads(labels.get(PROVIDES_LABEL) or "{}") or result["packages"]
    if labels.get(EXTRAS_LABEL):
        result["extras"] = json.loads(labels[EXTRAS_LABEL])
    return result


def _temporary_tag(name, opts, the_plan):
    return _tags.image_ref(name, "build-" + the_plan.fingerprint[:12], opts.get("registry"))


def _build_and_verify(client, opts, the_plan, name, runtime, now):
    """Build under a temporary tag and verify; on any failure remove it, so no tag moves."""
    cli = find_buildkit_cli(opts.get("docker_cli"), connection=opts)
    temp_tag = _temporary_tag(name, opts, the_plan)
    workdir = tempfile.mkdtemp(prefix="bytelyst-base-")
    try:
        context = os.path.join(workdir, "context")
        the_plan.write_context(context)
        secrets, redact = _build.build_secrets(workdir, opts.get("npm_token"), opts.get("ca_bundle"))
        all_labels = labels(the_plan, opts["version"], opts["runtime_image"], runtime,
                            created_time(now).strftime("%Y-%m-%dT%H:%M:%SZ"),
                            the_plan.revision or manifest_revision(opts["manifest"]),
                            opts.get("labels"), title=name)
        spec = _build.BuildSpec(the_plan.dockerfile, context, temp_tag, secrets=secrets, labels=all_labels,
                                build_args={"BYTELYST_FINGERPRINT": the_plan.fingerprint},
                                redact=redact, log=opts.get("build_log"))
        try:
            result = _build.build(cli, spec, what="The build of %s (%s kind)" % (temp_tag, the_plan.kind))
        except DeployError as err:
            raise _with_install_error(err)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    try:
        _verify.check_packages(client, result.image_id, the_plan.packages, workdir=VERIFY_DIR)
        provides = _verify.read_json(client, result.image_id, PROVIDES_PATH)
        if provides.get("packages") != the_plan.provides or provides.get("fingerprint") != the_plan.fingerprint:
            raise DeployError("Verification of %s failed: %s lists %s, the manifest gives %s." % (
                temp_tag, PROVIDES_PATH, provides.get("packages"), the_plan.provides))
        if the_plan.extras and provides.get("extras") != the_plan.extras:
            raise DeployError("Verification of %s failed: %s lists the extra packages %s, the lockfiles give %s." % (
                temp_tag, PROVIDES_PATH, provides.get("extras"), the_plan.extras),
                hint="Another version of one of them won the install's hoisting; give it explicitly in extra_packages.")
    except Exception:
        _tags.remove_tag(client, temp_tag)
        raise
    return result.image_id, result.builder, provides


def _with_install_error(err):
    """Lift pnpm's or npm's own error line (it names the package) from the output into the message."""
    return _build.lift_install_error(err)


def manifest_revision(location):
    """The manifest's own digest: names exactly which packed sources went in."""
    return "sha256:" + _tarball_manifest.sha256_file(_tarball_manifest.manifest_path(location))
