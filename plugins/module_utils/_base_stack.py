# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stacked bases: a `common` base (the packages backend and web both take) with the backend and
web bases on top of it, so a host running both stores those packages once. PRIVATE to the
collection; the contract is in docs/base-images.md ("Stacked bases").

Pure planning first (the common base's name and packages, the top base's packages, its
Dockerfile), then `ensure`, which makes sure the common base exists and builds the top on it
with _base_image's own steps.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.bytelyst.deploy.plugins.module_utils import _base_image, _dockerfile, _tags, _tarball_manifest
from ansible_collections.bytelyst.deploy.plugins.module_utils._contract import BASE_DIGEST_LABEL
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

COMMON = "common"
STACKED_KINDS = ("backend", "web")  # dev lives on build hosts only: it stays FROM the runtime


def kind_of(opts):
    """The base's kind (backend, web, dev, common), whichever option name carries it."""
    return opts.get("kind") or opts.get("flavour")


def is_stacked(opts):
    """Whether opts ask for a top base on the common base (stacked, kind backend or web)."""
    return bool(opts.get("stacked")) and kind_of(opts) in STACKED_KINDS


def common_name(name, kind):
    """The common base's image name: the top base's name with -common for its -<kind> suffix.

    bytelyst-common-base-backend -> bytelyst-common-base-common; acme/base-web -> acme/base-common;
    a name without the suffix gets -common appended (acme/base -> acme/base-common)."""
    suffix = "-" + kind
    return (name[:-len(suffix)] if name.endswith(suffix) else name) + "-" + COMMON


def common_packages(manifest):
    """The common base's packages: those targeting both backend and web, with their internal
    dependencies, in manifest order. None target both: a DeployError (stacking gains nothing)."""
    both = set(_tarball_manifest.packages_for(manifest, "backend")) & set(_tarball_manifest.packages_for(manifest, "web"))
    if not both:
        raise DeployError("stacked: no package of the manifest %s is for both backend and web, so a common "
                          "base would be empty." % manifest["path"],
                          hint="Build the bases unstacked (stacked: false), or add both kinds to the "
                               "bytelyst.kinds of the packages both sides use.")
    return _base_image.select_packages(manifest, COMMON)


def top_packages(manifest, kind, common, packages=None):
    """The top base's packages: the kind's (or `packages`, with their internal dependencies) and
    every common package, in manifest order. The install on top lists them all: pnpm removes
    what /app/package.json does not name, so the common packages must stay named."""
    own = set(_base_image.select_packages(manifest, kind, packages))
    order = manifest.get("order") or sorted(manifest["packages"])
    return [n for n in order if n in own or n in common]


def top_dockerfile(common_image, kind, version, pnpm_version, lockfile=False, token_registry=None, extras=None):
    """The top base's Dockerfile (the arguments of _base_image.dockerfile; common_image: the common
    base, pinned). One install over the union in /app: pnpm leaves the packages the common base
    installed where they are and adds the kind's own; then only what the step created (owned by
    root) goes to node, so no file of the common base's layers is copied up into this layer."""
    install_flags = ["--config.node-linker=hoisted", "--no-frozen-lockfile", "--package-import-method=copy",
                     "--prod"] + _dockerfile.store_flags()
    tarballs = _base_image.TARBALL_DIR
    lines = [
        "FROM %s" % common_image,
        "USER root",
        "WORKDIR /app",
        "COPY package.json .npmrc %s/app/" % ("pnpm-lock.yaml " if lockfile else ""),
        _dockerfile.base_install_step(
            tarballs, install_flags, "find /app -path /app/%s -prune -o -user root -exec chown -h node:node {} +"
            % tarballs, _base_image.LOCKED_FILE if lockfile else None, token_registry),
        "ARG BYTELYST_FINGERPRINT=unset",
        _base_image.provides_step(kind, version, extras),
        "ENV NODE_ENV=%s" % _base_image.NODE_ENV[kind],
        "USER node",
        "WORKDIR /app",
        "",
    ]
    return "\n".join(lines)


def common_opts(opts, kind):
    """The module options of the common base of a stacked top base (same version, registry, runtime...)."""
    # Its build log goes to build_log_dir under its own name (build_log names the top base's).
    out = dict(opts, stacked=False, name=common_name(_base_image.default_name(dict(opts, kind=kind)), kind),
               packages=None, build_log=None, extra_packages=None)
    out["kind"] = COMMON
    out.pop("flavour", None)
    return out


def top_opts(opts, common_ref, common_digest, packages):
    """The top base's options: built FROM the common base (as its runtime image, pulled never:
    it was just made sure of), the union of packages, the label naming the common base."""
    labels = dict(opts.get("labels") or {})
    labels[BASE_DIGEST_LABEL] = common_digest
    return dict(opts, runtime_image=common_ref, packages=packages, labels=labels, pull="never")


def _check(opts):
    if opts.get("source") == "registry":
        raise DeployError("stacked: true needs source=tarballs; a base from the registry is built FROM the runtime.",
                          hint="Leave stacked unset for a base from the npm registry.")


def _common_failed(err, ref, kind):
    return DeployError("stacked: the common base %s, which the %s base is built on, could not be made: %s"
                       % (ref, kind, err.message), hint=err.hint)


def ensure(client, opts, check_mode=False, now=None):
    """base_image's ensure, with stacked bases: the common base first, then the top on it."""
    if not is_stacked(opts):
        return _base_image.ensure(client, opts, check_mode, now)
    _check(opts)
    kind = kind_of(opts)
    under = common_opts(opts, kind)
    version_ref = _tags.image_ref(under["name"], opts["version"], opts.get("registry"))
    try:
        common = _base_image.ensure(client, under, check_mode, now)
    except DeployError as err:
        raise _common_failed(err, version_ref, kind)
    manifest = _tarball_manifest.load(opts["manifest"])
    packages = top_packages(manifest, kind, common_packages(manifest), opts.get("packages"))
    if check_mode and not common.get("image_id"):
        name = _base_image.default_name(dict(opts, kind=kind))
        tags = _tags.plan_tags(name, opts["version"], opts.get("registry"), None, opts.get("promote"))
        return dict(changed=True, built=False, image_id=None, size=None, builder=None, common=common,
                    kind=kind, flavour=kind, name=_tags.repository(name, opts.get("registry")), tags=tags.all(),
                    tag_names=[_tags.split_ref(ref)[1] for ref in tags.all()], date_tag_names=[], fingerprint=None,
                    packages=dict((n, manifest["packages"][n]["version"]) for n in packages),
                    reasons=["the common base %s is built first (%s), then this base on it"
                             % (version_ref, "; ".join(common.get("reasons") or []))])
    image = client.images.get(common["image_id"])
    digest = _reference_digest(image, version_ref)
    result = _base_image.ensure(client, top_opts(opts, version_ref, digest, packages), check_mode, now,
                                dockerfile_of=top_dockerfile)
    result["common"] = common
    return result


def _reference_digest(image, ref):
    """The common base's repo digest in its repository (repo@sha256:...), else its image ID."""
    from ansible_collections.bytelyst.deploy.plugins.module_utils._product_image import base_digest
    return base_digest(image, ref)
