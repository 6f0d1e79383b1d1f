#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: product_image
short_description: Build a product's backend or web image on a shared base image (or from tarballs)
description:
  - Builds the Docker image of one kind (C(backend) or C(web)) of a product from a pnpm product workspace.
  - O(mode=base) builds C(FROM) a base image made by M(bytelyst.deploy.base_image), so only product code and
    product-only dependencies are added on top of layers shared with every other product.
  - O(mode=tarball) builds C(FROM) the runtime image and installs the product's C(@bytelyst/*) tarballs
    (and their internal dependencies) from a manifest of M(bytelyst.deploy.workspace_pack), as the guide's
    docker-prep approach does.
  - Before anything is built, every C(@bytelyst/*) range the product declares (C(workspace:*), C(workspace:^),
    C(workspace:~), semver ranges, prereleases) is checked with npm's own semver, in a throwaway container
    of the image that provides the packages, against the versions it provides.
  - The product's package.json is rewritten for the build (provided packages removed, or pointed at tarballs);
    its C(.pnpmfile.cjs), workspace files and lockfile never enter the build, so no common plat repo is needed.
  - Idempotent by fingerprint (sources, lockfile, base image, mode, kind, generated Dockerfile); the new image is
    started and its health endpoint must answer 200 before any tag is applied.
version_added: 0.1.0
author: ByteLyst (@bytelyst)
extends_documentation_fragment: [bytelyst.deploy.docker]
options:
  product_dir:
    description: The product's root directory (holding C(backend/) and C(web/), each with a package.json).
    type: path
    required: true
  kind:
    description: Which part of the product to build.
    type: str
    choices: [backend, web]
    required: true
  mode:
    description: C(base) builds on the base images; C(tarball) installs the C(@bytelyst/*) tarballs itself.
    type: str
    choices: [base, tarball]
    default: base
  base_image:
    description:
      - O(mode=base) only, required there. The C(backend) or C(web) base image of the final stage, by version tag or digest.
    type: str
  dev_base_image:
    description:
      - O(mode=base) only, required there. The C(dev) base image of the builder stage (TypeScript, devDependencies).
    type: str
  runtime_image:
    description: O(mode=tarball) only. The image both stages start from.
    type: str
    default: node:22-slim
  manifest:
    description:
      - The tarball manifest (file or directory) written by M(bytelyst.deploy.workspace_pack). Required with
        O(mode=tarball). With O(mode=base) it is optional and gives the current workspace version C(workspace:^)
        and C(workspace:~) refer to (without it, the base's own version is taken, which always satisfies).
    type: path
  name:
    description: Image repository name. Defaults to C(<product>-<kind>), the product being the name of O(product_dir).
    type: str
  version:
    description: The immutable version tag. Defaults to the version in the kind's package.json.
    type: str
  revision:
    description:
      - Source revision, tagged and labelled. Defaults to the git short sha of the last commit that changed O(product_dir) when it is in a git
        repository without uncommitted changes below it; otherwise no revision tag.
    type: str
  registry:
    description:
      - A registry prefix, such as C(registry.example.com/bytelyst); tags become C(<registry>/<name>:<tag>).
      - The module only tags; pushing is a separate step (M(bytelyst.deploy.image_push)).
    type: str
  port:
    description: Port the server listens on (set as E(PORT) in the image, exposed, and used by the health check).
    type: int
    default: 3000
  health_path:
    description:
      - Path that must answer 200. Defaults to C(/api/health) for a Next.js web that has that route, else C(/health).
    type: str
  promote:
    description: Also tag C(latest).
    type: bool
    default: false
  force:
    description: Replace an existing version tag whose image has a different fingerprint.
    type: bool
    default: false
  npm_token:
    description: Token for the npm registry, given to the install steps only as a BuildKit secret.
    type: str
  ca_bundle:
    description: Extra CA bundle (PEM) for outbound TLS of the install steps, given only as a BuildKit secret.
    type: path
  verify:
    description: Start the built image and wait for O(health_path) to answer 200 before tagging.
    type: bool
    default: true
  verify_timeout:
    description: Seconds to wait for the health endpoint.
    type: int
    default: 90
  pnpm_version:
    description: pnpm installed in O(mode=tarball) when the runtime image has none.
    type: str
    default: 10.6.5
  labels:
    description: Extra labels for the image (the module's own labels win on a clash).
    type: dict
    default: {}
notes:
  - Check mode runs the compatibility check (a throwaway container) and reports the plan; nothing is built or tagged.
seealso:
  - module: bytelyst.deploy.base_image
  - module: bytelyst.deploy.workspace_pack
"""

EXAMPLES = r"""
- name: Notes backend on the shared backend base
  bytelyst.deploy.product_image:
    product_dir: /srv/src/notes
    kind: backend
    base_image: bytelyst-common-base-backend:1.2.0
    dev_base_image: bytelyst-common-base-dev:1.2.0
    port: 4016
    manifest: /srv/build/tarballs

- name: Notes web the old way (tarballs), for comparison
  bytelyst.deploy.product_image:
    product_dir: /srv/src/notes
    kind: web
    mode: tarball
    runtime_image: node:22-slim
    manifest: /srv/build/tarballs
    ca_bundle: /etc/ssl/certs/ca-certificates.crt
"""

RETURN = r"""
image_id:
  description: Id of the image the version tag points at (empty in check mode when nothing was built yet).
  returned: success
  type: str
tags:
  description: Every tag of this build (version, revision, latest when promoted).
  returned: success
  type: list
  elements: str
size:
  description: Size of the image in bytes.
  returned: success
  type: int
unique_bytes:
  description: Bytes of this image not shared with the image it is built on (its base, or the runtime image).
  returned: success
  type: int
base_ref:
  description: The image the final stage is built on, as given.
  returned: success
  type: str
base_digest:
  description: Its registry digest in the repository RV(base_ref) names, when it was pushed there, else its image id.
  returned: success
  type: str
base_version:
  description: The version label of the base image (mode=base).
  returned: success
  type: str
fingerprint:
  description: sha256 of every input of the build.
  returned: success
  type: str
plan:
  description: What the build does (images, rewritten package.json of each stage, compatibility results, Dockerfile).
  returned: success
  type: dict
verify:
  description: The health check's result (status, seconds, url).
  returned: when an image was built and verified
  type: dict
"""

import json
import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bytelyst.deploy.plugins.module_utils import _product
from ansible_collections.bytelyst.deploy.plugins.module_utils._build import BuildSpec, build
from ansible_collections.bytelyst.deploy.plugins.module_utils._command import Command, run
from ansible_collections.bytelyst.deploy.plugins.module_utils._compose import repo_digest, split_ref
from ansible_collections.bytelyst.deploy.plugins.module_utils._compat import (
    PROVIDES_LABEL, bytelyst_requirements, check_command, check_payload, parse_answer, third_party_ranges, verdict)
from ansible_collections.bytelyst.deploy.plugins.module_utils._docker_cli import find_buildkit_cli
from ansible_collections.bytelyst.deploy.plugins.module_utils._dockerfile import DockerfileSpec, render
from ansible_collections.bytelyst.deploy.plugins.module_utils._engine import DOCKER_COMMON_ARGS, engine_client, image_or_none
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils import _manifest
from ansible_collections.bytelyst.deploy.plugins.module_utils._tags import (
    apply_tags, check_version, image_ref, plan_tags, remove_tag, validate_name, validate_semver)
from ansible_collections.bytelyst.deploy.plugins.module_utils._verify import image_user, require_non_root, wait_http


def git_revision(path):
    """Short sha of the last commit that changed path, when path is in a git repository with no
    uncommitted change below it. (Not HEAD: a commit elsewhere in a monorepo must not make
    an unchanged product look new.)"""
    head = run(Command(["git", "-C", path, "log", "-1", "--format=%h", "--", "."]), check=False)
    if head.rc != 0 or not head.stdout.strip():
        return None
    dirty = run(Command(["git", "-C", path, "status", "--porcelain", "--", "."]), check=False)
    return None if dirty.rc != 0 or dirty.stdout.strip() else head.stdout.strip()


def require_image(client, ref, option):
    if not ref:
        raise DeployError("%s is required with this mode." % option)
    image = image_or_none(client, ref)
    if image is None:
        raise DeployError("The %s %s is not on this Docker engine." % (option, ref),
                          hint="Build it first (bytelyst.deploy.base_image), pull it, or fix the reference.")
    return image


def digest_of(image, ref):
    """The base's registry digest in the repository ref names (repo@sha256:...), or its image id
    when it was never pushed there. The same image pushed to another namespace or registry has
    digests there too; those name copies this product was not built from, which may go away."""
    return repo_digest(image.attrs, split_ref(ref)[0]) or image.id


def compat_check(cli, ref, payload, what, name=None):
    """Run the check in a throwaway container of ref; name is what the verdict calls the provider."""
    answer = parse_answer(run(check_command(cli, ref, payload), what="compatibility check in %s" % ref).stdout, ref)
    provides, satisfied = verdict(answer, name or ref, what)
    return provides, satisfied, answer["checks"]


def prepare(p, client, cli):
    """Everything short of building: read, check, rewrite, render, fingerprint. Returns a plan dict."""
    product = _product.load(p["product_dir"], p["kind"])
    version = validate_semver(p["version"] or product.version)
    name = validate_name(p["name"] or "%s-%s" % (product.name, p["kind"]))
    manifest = _manifest.load(p["manifest"]) if p["manifest"] else None
    if p["mode"] == "tarball" and manifest is None:
        raise DeployError("manifest is required with mode=tarball.",
                          hint="Point manifest at the output of bytelyst.deploy.workspace_pack.")
    ws_versions = dict((n, e.get("version")) for n, e in (manifest or {}).get("packages", {}).items())
    reqs = bytelyst_requirements(product.package, ws_versions)
    pkg = product.package
    inputs = {"mode": p["mode"], "kind": p["kind"], "port": p["port"]}
    vendor_files = []
    if p["mode"] == "base":
        base = require_image(client, p["base_image"], "base_image")
        dev = require_image(client, p["dev_base_image"], "dev_base_image")
        provides, sat_final, checks = compat_check(cli, p["base_image"], check_payload(
            reqs, third_party_ranges(pkg, ("dependencies", "optionalDependencies")), fallback=_provides_label(base)), "base image")
        dummy, sat_builder, dev_checks = compat_check(cli, p["dev_base_image"], check_payload(
            reqs, third_party_ranges(pkg, _product.DEP_FIELDS), fallback=_provides_label(dev)), "dev base image")
        # A runtime dependency the final base does not satisfy is installed in the builder too,
        # so what the build resolves (and Next.js traces) is what the final image runs.
        runtime_deps = set(third_party_ranges(pkg, ("dependencies", "optionalDependencies")))
        sat_builder = set(n for n in sat_builder if n not in runtime_deps or n in sat_final)
        builder_pkg = _product.rewrite_for_base(pkg, sat_builder)
        runtime_pkg = _product.rewrite_for_base(pkg, sat_final, prod=True)
        on, builder_ref = base, p["dev_base_image"]
        base_version = _labels(base).get("org.opencontainers.image.version") or (provides or {}).get("version")
        inputs.update(base_id=base.id, dev_id=dev.id)
    else:
        runtime = require_image(client, p["runtime_image"], "runtime_image")
        names = _product.tarball_closure(manifest, [req[0] for req in reqs])
        _manifest.verify(manifest, names)
        versions = dict((n, manifest["packages"][n]["version"]) for n in names)
        provides, dummy, checks = compat_check(cli, p["runtime_image"], check_payload(
            reqs, provides={"packages": versions, "third_party": {}}), "tarball manifest", name=manifest["path"])
        dev_checks = []
        vendor = dict((n, os.path.basename(_manifest.tarball_path(manifest, n))) for n in names)
        vendor_files = [_manifest.tarball_path(manifest, n) for n in names]
        builder_pkg = _product.rewrite_for_tarball(pkg, vendor)
        runtime_pkg = _product.rewrite_for_tarball(pkg, vendor, prod=True)
        on, builder_ref, base_version = runtime, p["runtime_image"], None
        inputs.update(runtime_id=runtime.id, tarballs=dict((n, manifest["packages"][n]["sha256"]) for n in names))
    final_ref = p["base_image"] if p["mode"] == "base" else p["runtime_image"]
    spec = DockerfileSpec(
        p["mode"], p["kind"], builder_ref, final_ref, product.start_command(), p["port"],
        p["health_path"] or product.default_health_path(), next_standalone=product.next,
        output_dir=product.output_dir(), install_builder=_product.has_dependencies(builder_pkg, False),
        install_final=_product.has_dependencies(runtime_pkg, True), pnpm_version=p["pnpm_version"],
        vendor=p["mode"] == "tarball")
    dockerfile = render(spec)
    files = _product.source_files(product.dir)
    inputs.update(builder_package=builder_pkg, runtime_package=runtime_pkg)
    fingerprint = _product.fingerprint(product, files, dockerfile, inputs)
    revision = p["revision"] or git_revision(product.dir)
    tags = plan_tags(name, version, p["registry"], date=None, promote=p["promote"])
    refs = [tags.version] + ([image_ref(name, revision, p["registry"])] if revision else []) + (
        [tags.latest] if tags.latest else [])
    return dict(product=product, name=name, version=version, revision=revision, fingerprint=fingerprint,
                dockerfile=dockerfile, files=files, on=on, base_ref=final_ref, base_version=base_version,
                builder_pkg=builder_pkg, runtime_pkg=runtime_pkg, vendor_files=vendor_files, refs=refs,
                spec=spec, checks=checks + dev_checks, provides=provides)


def _labels(image):
    return (image.attrs.get("Config") or {}).get("Labels") or {}


def _provides_label(image):
    try:
        return json.loads(_labels(image).get(PROVIDES_LABEL) or "null")
    except ValueError:
        return None


def labels_for(plan, p):
    on = plan["on"]
    labels = {
        "org.opencontainers.image.title": plan["name"],
        "org.opencontainers.image.version": plan["version"],
        "org.opencontainers.image.revision": plan["revision"] or "",
        "org.opencontainers.image.base.name": plan["base_ref"],
        "org.opencontainers.image.base.digest": digest_of(on, plan["base_ref"]),
        "dev.bytelyst.base.ref": plan["base_ref"],
        "dev.bytelyst.base.version": plan["base_version"] or "",
        "dev.bytelyst.base.digest": digest_of(on, plan["base_ref"]),
        "dev.bytelyst.fingerprint": plan["fingerprint"],
        "dev.bytelyst.product": plan["product"].name,
        "dev.bytelyst.kind": p["kind"],
        "dev.bytelyst.mode": p["mode"],
    }
    for key, value in (p["labels"] or {}).items():
        labels.setdefault(key, str(value))
    return labels


def check_layers(client, image_id, on):
    """The new image's layer chain must start with the whole chain of the image it is built on."""
    layers = (client.images.get(image_id).attrs.get("RootFS") or {}).get("Layers") or []
    base_layers = (on.attrs.get("RootFS") or {}).get("Layers") or []
    if layers[:len(base_layers)] != base_layers:
        raise DeployError("The built image does not start with the layers of %s (the base moved during the build?)."
                          % on.id, hint="Run again; pin the base by version tag.")


def build_and_tag(p, plan, client, cli, secrets_dir):
    secrets, redact = {}, []
    if p["ca_bundle"]:
        secrets["ca"] = p["ca_bundle"]
    if p["npm_token"]:
        path = os.path.join(secrets_dir, "npmrc")
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
            handle.write("_authToken=%s\n" % p["npm_token"])
        secrets["npmrc"] = path
        redact.append(p["npm_token"])
    context = os.path.join(secrets_dir, "context")
    os.makedirs(context)
    _product.stage_context(plan["product"], plan["files"], context, {
        "builder.json": plan["builder_pkg"], "runtime.json": plan["runtime_pkg"]}, plan["vendor_files"])
    temp_ref = image_ref(plan["name"], "build-" + plan["fingerprint"][:12])
    result = build(cli, BuildSpec(plan["dockerfile"], context, temp_ref, secrets=secrets,
                                  labels=labels_for(plan, p), redact=redact),
                   what="build of %s %s" % (plan["product"].name, p["kind"]))
    try:
        check_layers(client, result.image_id, plan["on"])
        require_non_root(temp_ref, image_user(client, result.image_id), None)
        health = None
        if p["verify"]:
            health = wait_http(client, result.image_id, plan["spec"].port, plan["spec"].health_path,
                               timeout=p["verify_timeout"])
        moved = apply_tags(client, result.image_id, plan["refs"])
    except Exception:
        remove_tag(client, temp_ref)
        try:
            client.images.remove(result.image_id, noprune=False)
        except Exception:  # still used by another tag or container: leave it
            pass
        raise
    remove_tag(client, temp_ref)
    return result.image_id, moved, health


def main():
    argument_spec = dict(
        product_dir=dict(type="path", required=True),
        kind=dict(type="str", required=True, choices=["backend", "web"]),
        mode=dict(type="str", default="base", choices=["base", "tarball"]),
        base_image=dict(type="str"),
        dev_base_image=dict(type="str"),
        runtime_image=dict(type="str", default="node:22-slim"),
        manifest=dict(type="path"),
        name=dict(type="str"),
        version=dict(type="str"),
        revision=dict(type="str"),
        registry=dict(type="str"),
        port=dict(type="int", default=3000),
        health_path=dict(type="str"),
        promote=dict(type="bool", default=False),
        force=dict(type="bool", default=False),
        npm_token=dict(type="str", no_log=True),
        ca_bundle=dict(type="path"),
        verify=dict(type="bool", default=True),
        verify_timeout=dict(type="int", default=90),
        pnpm_version=dict(type="str", default="10.6.5"),
        labels=dict(type="dict", default={}),
    )
    argument_spec.update(DOCKER_COMMON_ARGS)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_if=[("mode", "base", ("base_image", "dev_base_image"))])
    p = module.params
    try:
        client = engine_client(p["docker_host"])
        cli = find_buildkit_cli(preferred=p["docker_cli"], docker_host=p["docker_host"])
        plan = prepare(p, client, cli)
        state = check_version(client, plan["refs"][0], plan["fingerprint"], force=p["force"])
        existing = state.image_id if state.state == "same" else None
        missing = [ref for ref in plan["refs"] if existing is None or
                   getattr(image_or_none(client, ref), "id", None) != existing]
        result = dict(changed=bool(missing), fingerprint=plan["fingerprint"], tags=plan["refs"],
                      base_ref=plan["base_ref"], base_digest=digest_of(plan["on"], plan["base_ref"]),
                      base_version=plan["base_version"], image_id=existing or "", size=0, unique_bytes=0,
                      plan=dict(mode=p["mode"], kind=p["kind"], name=plan["name"], version=plan["version"],
                                revision=plan["revision"], build=existing is None, dockerfile=plan["dockerfile"],
                                builder_package=plan["builder_pkg"], runtime_package=plan["runtime_pkg"],
                                compatibility=plan["checks"], sources=len(plan["files"])))
        if module.check_mode or not missing:
            if existing:
                _sizes(client, existing, plan["on"], result)
            module.exit_json(**result)
        if existing:
            apply_tags(client, existing, missing)
            image_id = existing
        else:
            work = tempfile.mkdtemp(prefix="bytelyst-product-")
            try:
                image_id, dummy, health = build_and_tag(p, plan, client, cli, work)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            result["verify"] = health
        result["image_id"] = image_id
        _sizes(client, image_id, plan["on"], result)
        module.exit_json(**result)
    except DeployError as err:
        module.fail_json(msg=str(err), **err.result())


def _sizes(client, image_id, on, result):
    size = client.images.get(image_id).attrs.get("Size") or 0
    result["size"] = size
    result["unique_bytes"] = max(0, size - (on.attrs.get("Size") or 0))


if __name__ == "__main__":
    main()
