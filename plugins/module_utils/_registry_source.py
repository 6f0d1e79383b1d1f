# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Product images whose shared packages come from a private npm registry (product_image
mode=registry). PRIVATE to the collection.

The third source of the shared packages, beside the base images (mode=base) and the
workspace's tarballs (mode=tarball): the product installs them by version from the
registry package_publish published them to (Gitea's, Verdaccio), the way a developer's
`pnpm install` does with the sample's `.pnpmfile.cjs` in its `gitea` source.

Before anything is built:

1. `published`: the registry's packument of every shared package the product declares (and
   of every shared package its lockfile pins), read with _npm_registry.NpmRegistry (the token
   in a Bearer header only). A package the registry does not hold has no versions.
2. `versions_payload` / `satisfying`: which published versions satisfy each declared range.
   Semver is npm's, never ours: the payload is the one of the compatibility check
   (_compat.CHECK_SCRIPT), run by the same `compat` seam in a throwaway container of the
   runtime image; each published version is one check (`<name>@<version>` against the range).
3. `check`: refuse, naming the package, the range and the versions the registry has, when no
   published version satisfies a range, a range is not valid, a shared dependency names no
   version (link:, file:), or the product's lockfile pins a version the registry lacks or the
   range excludes.

The build then installs with the ranges kept in package.json and the product's lockfile as
seed (_lockfile), so pnpm picks exactly what a developer's install picks (the lockfile's
versions first, then the newest satisfying one). The scopes of the shared packages are mapped
to the registry by a generated `.npmrc` (no token in it); the token reaches only the install
steps, as the `npmrc` BuildKit secret of the image contract (_contract.SECRET_NPMRC), and is
written there for this registry only (`token_registry`), never for the default registry.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


from ansible_collections.bytelyst.deploy.plugins.module_utils import _lockfile, _product
from ansible_collections.bytelyst.deploy.plugins.module_utils._compat import expand_spec
from ansible_collections.bytelyst.deploy.plugins.module_utils._contract import PROVIDES_PATH
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._fingerprint import digest_json
from ansible_collections.bytelyst.deploy.plugins.module_utils._npm_registry import NpmRegistry, check_registry_url
from ansible_collections.bytelyst.deploy.plugins.module_utils._scope import Shared, scope_of

_HINT_PUBLISH = ("Publish a version that satisfies it (bytelyst.deploy.package_publish), point shared_registry at the "
                 "registry that holds it, or widen the product's range.")


def shared_of(shared, scopes):
    """The shared packages of mode=registry: those of the manifest (shared) and every package of
    the scopes given (`@acme` or `acme`). A scope alone is held as the name `<scope>/*`, which no
    real package has, so `"@acme/x" in result` is True for any x."""
    names = set(shared.names)
    for scope in scopes or ():
        scope = scope.strip()
        scope = scope if scope.startswith("@") else "@" + scope
        if scope == "@" or "/" in scope:
            raise DeployError("shared_scopes holds %r, which is not an npm scope." % scope,
                              hint="Give scopes such as @bytelyst (or bytelyst).")
        names.add(scope + "/*")
    out = Shared(names)
    if not out:
        raise DeployError("mode=registry needs to know which packages are the shared ones: no manifest and no "
                          "shared_scopes given.", hint="Give shared_scopes (e.g. [\"@bytelyst\"]) or the manifest of "
                          "bytelyst.deploy.workspace_pack.")
    return out


def npmrc_text(url, shared):
    """The generated .npmrc: every shared scope to the registry. No token (see token_registry)."""
    return "".join("%s:registry=%s\n" % (scope, url) for scope in sorted(shared.scopes))


def token_registry(url):
    """The key npm and pnpm look a registry's token up by: the URL without its scheme ('//host/path/')."""
    return url.split(":", 1)[1]


def documents(registry, names):
    """{name: packument} the registry holds of each name ({} when nothing)."""
    return dict((name, registry.packument(name) or {}) for name in sorted(set(names)))


def held_of(docs):
    """{name: {version: integrity}} of packuments (documents())."""
    out = {}
    for name, doc in docs.items():
        out[name] = dict((version, ((meta or {}).get("dist") or {}).get("integrity") or
                          ((meta or {}).get("dist") or {}).get("shasum") or "")
                         for version, meta in sorted((doc.get("versions") or {}).items()))
    return out


def published(registry, names):
    """{name: {version: integrity}} of what the registry holds of each name ({} when nothing)."""
    return held_of(documents(registry, names))


def _key(name, version):
    return "%s@%s" % (name, version)


def versions_payload(requirements, held):
    """The compatibility check's payload (_compat.check_payload's shape) that asks, for every
    requirement (name, spec, range) and every version the registry holds of it, whether that
    version satisfies the range: one `third_party` check per `<name>@<version>`, so the check
    reports each one without refusing (the refusal is `check`'s, with the registry's words)."""
    checks, versions = [], {}
    for name, spec, rng in requirements:
        if rng is None:
            continue
        for version in held.get(name) or {}:
            versions[_key(name, version)] = version
            checks.append({"name": _key(name, version), "spec": spec, "range": rng, "from": "third_party"})
    return {"provides": {"packages": {}, "third_party": versions}, "provides_file": PROVIDES_PATH,
            "fallback": None, "checks": checks}


def satisfying(requirements, held, checks):
    """{name: [versions that satisfy its range]} and the names whose range is not valid, from the check's answer."""
    ok = set(c["name"] for c in checks if c.get("ok"))
    invalid = set(c["name"].rsplit("@", 1)[0] for c in checks if c.get("valid") is False)
    out = {}
    for name, spec, rng in requirements:
        out[name] = [v for v in (held.get(name) or {}) if _key(name, v) in ok]
    return out, invalid


def _listed(versions):
    return ", ".join(versions) if versions else "no version of it"


def check(url, requirements, held, good, invalid, locked, asker="the product asks for"):
    """Raise DeployError naming every shared package the registry cannot serve as asked.

    requirements: [(name, spec, range)]; held: published(); good, invalid: satisfying();
    locked: {name: [versions]} the product's lockfile pins (_lockfile.locked_versions);
    asker: who asks, for the message."""
    problems, incompatible = [], []
    for name, spec, rng in requirements:
        versions = list(held.get(name) or {})
        if rng is None:
            problems.append("%s is declared as %r, which names no version to install from a registry" % (name, spec))
        elif name in invalid:
            problems.append("%s: %r is not a valid semver range" % (name, spec))
        elif not good.get(name):
            problems.append("%s %s (declared %r) but the registry has %s" % (name, rng, spec, _listed(versions)))
        else:
            continue
        incompatible.append({"name": name, "spec": spec, "range": rng, "registry_versions": versions})
    wanted = dict((name, rng) for name, spec, rng in requirements)
    for name in sorted(locked):
        if name not in held:
            continue
        for version in locked[name]:
            if version not in held[name]:
                problems.append("the lockfile pins %s %s, which the registry does not have (it has %s)" % (
                    name, version, _listed(list(held[name]))))
            elif name in good and version not in good[name] and len(locked[name]) == 1:
                problems.append("the lockfile pins %s %s, which does not satisfy %s" % (name, version, wanted[name]))
    if problems:
        raise DeployError(
            "The npm registry %s cannot serve the shared packages %s: %s." % (url, asker, "; ".join(problems)),
            hint=_HINT_PUBLISH + " A lockfile that pins another version: run pnpm install and commit it.",
            incompatible=incompatible)


def rewrite_for_registry(package, shared, requirements, prod=False):
    """mode=registry: each shared dependency keeps its declared range (`workspace:` ones as pnpm
    publishes them: `workspace:^` -> `^<workspace version>`), so pnpm resolves it in the registry
    the .npmrc maps its scope to; other `workspace:` dependencies go (no workspace in the image)."""
    ranges = dict((name, rng) for name, spec, rng in requirements)

    def keep(name, spec):
        return not (isinstance(spec, str) and spec.startswith("workspace:") and name not in shared)
    out = _product._rewrite(package, keep, prod)
    for field in ("dependencies", "devDependencies", "optionalDependencies"):
        for name in list(out.get(field) or {}):
            if name in shared and ranges.get(name):
                out[field][name] = ranges[name]
    return out


def registry_of(opts):
    """The NpmRegistry of the options (shared_registry, npm_token, ca_bundle, shared_registry_allow_http)."""
    if not opts.get("shared_registry"):
        raise DeployError("shared_registry is required with product_image mode=registry and base_image source=registry.",
                          hint="Give the npm registry's URL, e.g. https://git.example.com/api/packages/<owner>/npm/.")
    return NpmRegistry(check_registry_url(opts["shared_registry"], bool(opts.get("shared_registry_allow_http"))),
                       token=opts.get("npm_token"), ca_file=opts.get("ca_bundle"),
                       allow_http=bool(opts.get("shared_registry_allow_http")))


def stage(opts, runtime, runtime_ref, compat, package, requirements, shared, locked, registry=None):
    """mode=registry: check the registry's versions, rewrite package.json, say what the build needs.

    runtime: the engine's runtime image (both stages start from it; the check runs in it);
    compat: _product_image.engine_compat's callable; locked: the product's lockfile closure (or None);
    registry: an NpmRegistry (default: registry_of(opts)). Returns the fields _product_image.plan stages."""
    registry = registry or registry_of(opts)
    unscoped = sorted(name for name, spec, rng in requirements if not scope_of(name))
    if unscoped:
        raise DeployError("mode=registry maps scopes to the registry, and %s has no scope." % ", ".join(unscoped),
                          hint="Publish shared packages under a scope (@bytelyst/...), or build with mode=tarball.")
    pins = dict((n, v) for n, v in _lockfile.locked_versions(locked).items() if n in shared)
    held = published(registry, [r[0] for r in requirements] + list(pins))
    dummy, dummy, checks = compat(runtime_ref, versions_payload(requirements, held), "runtime image",
                                  name=registry.url)
    good, invalid = satisfying(requirements, held, checks)
    check(registry.url, requirements, held, good, invalid, pins)
    compatibility = [{"name": n, "spec": s, "range": r, "from": "registry", "ok": True, "versions": good[n]}
                     for n, s, r in requirements]
    npmrc = npmrc_text(registry.url, shared)
    return dict(
        builder_package=rewrite_for_registry(package, shared, requirements),
        runtime_package=rewrite_for_registry(package, shared, requirements, prod=True),
        compatibility=compatibility, npmrc=npmrc, token_registry=token_registry(registry.url),
        inputs=dict(runtime_id=runtime.id, shared_registry=registry.url, npmrc=npmrc,
                    registry_versions=dict((n, dict((v, held[n][v]) for v in good[n])) for n in good)))


# Base images from the registry (base_image source=registry) ------------------------------------
#
# A base for packages another team published: base_image's `packages` names each package with a
# version or range. Each is resolved once, before any build, to the version the registry holds
# that npm and pnpm would pick (the dist-tag `latest` when it satisfies, else the newest that
# does; which versions satisfy is the compatibility check's word, as above), and so are the
# shared packages those versions depend on (their scopes'), until none is left. The base's
# package.json then names exact versions, in its dependencies and its pnpm.overrides, so its
# provides.json and labels record exactly them, as a tarball-built base records the manifest's.

RESOLVE_FIELDS = ("dependencies", "optionalDependencies", "peerDependencies")


def precedence(version):
    """Sort key of semver 2.0 precedence for a valid version ('1.2.3-beta.2+build'). The registry
    holds valid versions only (npm refuses others on publish)."""
    core, dummy, pre = version.split("+", 1)[0].partition("-")
    numbers = tuple(int(part) for part in core.split("."))
    if not pre:
        return numbers, 1, ()
    return numbers, 0, tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))


def pick(doc, versions):
    """The version npm and pnpm install of those that satisfy: `latest` when among them, else the newest."""
    latest = (doc.get("dist-tags") or {}).get("latest")
    return latest if latest in versions else max(versions, key=precedence)


def base_requirements(packages):
    """[(name, spec, range)] of base_image's `packages` with source=registry ({name: version or range})."""
    if not isinstance(packages, dict) or not packages:
        raise DeployError("source=registry needs packages as a mapping of package name to version or range; "
                          "got %r." % (packages,),
                          hint='Give e.g. packages: {"@bytelyst/config": "^2.0.0", "@bytelyst/logger": "1.4.0"}.')
    out = []
    for name, spec in sorted(packages.items()):
        spec = "" if spec is None else str(spec).strip()
        out.append((name, spec, expand_spec(spec) if spec else None))
    unscoped = [name for name, spec, rng in out if not scope_of(name)]
    if unscoped:
        raise DeployError("source=registry maps scopes to the registry, and %s has no scope." % ", ".join(unscoped),
                          hint="Publish shared packages under a scope (@bytelyst/...), or build with source=tarballs.")
    return out


def resolve(registry, compat, runtime_ref, requirements):
    """({name: version}, {name: packument}): every requirement and the shared packages the picked
    versions depend on (RESOLVE_FIELDS, in the scopes of the names asked), one compatibility
    check per round. A name asked again (by a second dependent) keeps its version, which the
    later range must accept. Raises DeployError, naming package, range and the registry's versions."""
    shared = Shared([name for name, spec, rng in requirements])
    docs, resolved, chosen_by = {}, {}, {}
    pending = [(name, spec, rng, "packages") for name, spec, rng in requirements]
    while pending:
        now, later, seen = [], [], set()
        for item in pending:  # one requirement per name and round: the check's answers are per name@version
            (later if item[0] in seen else now).append(item)
            seen.add(item[0])
        pending = later
        docs.update(documents(registry, [name for name in seen if name not in docs]))
        every = held_of(docs)
        held = dict((n, {resolved[n]: every[n][resolved[n]]} if n in resolved else every[n]) for n in seen)
        asked = [item[:3] for item in now]
        dummy, dummy, checks = compat(runtime_ref, versions_payload(asked, held), "runtime image", name=registry.url)
        good, invalid = satisfying(asked, held, checks)
        conflicts = ["%s %s (declared %r by %s) does not accept %s, which %s asked for" % (
            name, rng, spec, by, resolved[name], chosen_by[name])
            for name, spec, rng, by in now if name in resolved and not good.get(name)]
        if conflicts:
            raise DeployError("The shared packages asked of the npm registry %s disagree: %s." % (
                registry.url, "; ".join(conflicts)), hint="Ask for versions whose shared dependencies agree "
                "(name the dependency in packages with a version every dependent accepts), or publish such versions.")
        check(registry.url, [q for q in asked if q[0] not in resolved], every, good, invalid, {},
              asker="the base image asks for")
        for name, spec, rng, by in now:
            if name in resolved:
                continue
            resolved[name], chosen_by[name] = pick(docs[name], good[name]), by
            meta = docs[name]["versions"][resolved[name]] or {}
            for field in RESOLVE_FIELDS:
                for dep, dep_spec in sorted((meta.get(field) or {}).items()):
                    if dep in shared:
                        pending.append((dep, dep_spec, expand_spec(dep_spec), "%s@%s" % (name, resolved[name])))
    return resolved, docs


def base_source(opts, runtime_ref, compat, registry=None):
    """base_image source=registry: (manifest, source) for _base_image.plan, nothing built.

    manifest: shaped as workspace_pack's (path, packages with version, integrity, peer and dev
    dependencies, order), of the resolved versions; source: the registry's part of the plan:
    specs ({name: exact version} for package.json), npmrc (scopes to the registry, no token),
    token_registry, revision (digest of the resolved integrities) and the registry's URL."""
    registry = registry or registry_of(opts)
    resolved, docs = resolve(registry, compat, runtime_ref, base_requirements(opts.get("packages")))
    every = held_of(docs)
    packages = {}
    for name, version in resolved.items():
        meta = docs[name]["versions"][version] or {}
        packages[name] = {"name": name, "version": version, "integrity": every[name][version],
                          "peer_dependencies": meta.get("peerDependencies") or {},
                          "dev_dependencies": meta.get("devDependencies") or {}}
    order = sorted(resolved)
    manifest = {"path": registry.url, "packages": packages, "order": order}
    source = {"specs": dict(resolved), "npmrc": npmrc_text(registry.url, Shared(order)),
              "token_registry": token_registry(registry.url), "registry": registry.url,
              "revision": "sha256:" + digest_json(dict((n, packages[n]["integrity"]) for n in order))}
    return manifest, source
