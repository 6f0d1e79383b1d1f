# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Publishing the tarballs of a workspace_pack manifest to an npm registry. PRIVATE to the collection.

Plan first, act second: ``plan`` reads the manifest and asks the registry what
it holds; a version the registry holds with other content (an npm version is
immutable, as our image tags are) refuses the whole run before anything is
published. ``publish`` then PUTs the missing versions, dependencies first.

Content is compared by the tarball's sha512 integrity (``dist.integrity``, what
npm and pnpm check on install), or its sha1 ``shasum`` where a registry records
no integrity.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import json
import re
import tarfile

from ansible_collections.bytelyst.deploy.plugins.module_utils import _tarball_manifest
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._npm_registry import NpmRegistry, tarball_url

DEFAULT_DIST_TAG = "latest"
DEFAULT_PRERELEASE_DIST_TAG = "next"
_SCOPE_RE = re.compile(r"^@[a-z0-9][a-z0-9._~-]*$")
# A dist-tag must not read as a version or a range (npm and Gitea refuse those).
_TAG_RE = re.compile(r"^[A-Za-z][A-Za-z0-9._-]*$")


def integrity_of(path, chunk=1024 * 1024):
    """(sha512 integrity "sha512-<base64>", sha1 hex shasum) of a tarball, as npm records them."""
    sha512, sha1 = hashlib.sha512(), hashlib.sha1()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            sha512.update(block)
            sha1.update(block)
    return "sha512-" + base64.b64encode(sha512.digest()).decode("ascii"), sha1.hexdigest()


def scope_of(name):
    """'@bytelyst/config' -> '@bytelyst'; an unscoped name -> None."""
    return name.split("/", 1)[0] if name.startswith("@") and "/" in name else None


def check_scopes(scopes):
    """Scopes as written ('@bytelyst' or 'bytelyst'), normalised to '@bytelyst'; refuse malformed ones."""
    out = []
    for scope in scopes or []:
        text = scope if scope.startswith("@") else "@" + scope
        if not _SCOPE_RE.match(text):
            raise DeployError("The scope %r is not an npm scope." % scope,
                              hint="Write a scope as @name (lower case, no slash), e.g. @bytelyst.")
        if text not in out:
            out.append(text)
    return out


def check_dist_tag(tag, option):
    if not isinstance(tag, str) or not _TAG_RE.match(tag):
        raise DeployError("The %s %r is not a usable dist-tag." % (option, tag),
                          hint="A dist-tag starts with a letter and holds letters, digits, '.', '_' or '-' "
                               "(so it never reads as a version), e.g. latest or next.")
    return tag


def is_prerelease(version):
    """True for a semver prerelease (1.2.0-rc.1); build metadata (+...) alone is not one."""
    return "-" in version.split("+", 1)[0]


def dist_tag_for(version, dist_tag=DEFAULT_DIST_TAG, prerelease_dist_tag=DEFAULT_PRERELEASE_DIST_TAG):
    """The dist-tag a new version gets: prereleases never move `latest` unless told to."""
    return prerelease_dist_tag if is_prerelease(version) else dist_tag


def publish_order(packages, names):
    """names, dependencies first (runtime, optional and peer dependencies within `packages`),
    otherwise in the order given; a cycle is refused naming its packages."""
    wanted = list(names)
    index = dict((name, i) for i, name in enumerate(wanted))
    state, order = {}, []

    def needs(name):
        entry = packages[name]
        deps = set((entry.get("dependencies") or {}).get("internal") or {})
        deps |= set(entry.get("peer_dependencies") or {})
        return sorted((d for d in deps if d in index), key=index.get)

    def visit(name, path):
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = path[path.index(name):] + [name]
            raise DeployError("The packages %s depend on each other in a cycle; no order publishes each after "
                              "its dependencies." % " -> ".join(cycle),
                              hint="Break the cycle in the packages' package.json files.")
        state[name] = "visiting"
        for dep in needs(name):
            visit(dep, path + [name])
        state[name] = "done"
        order.append(name)

    for name in wanted:
        visit(name, [])
    return order


def read_package_json(path):
    """The package.json inside a tarball (its single top directory, 'package/' for pnpm and npm)."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                parts = member.name.lstrip("./").split("/")
                if member.isfile() and len(parts) == 2 and parts[1] == "package.json":
                    return json.loads(tar.extractfile(member).read().decode("utf-8"))
    except (tarfile.TarError, OSError, EOFError, ValueError, UnicodeDecodeError) as exc:
        raise DeployError("The tarball %s cannot be read as a package: %s." % (path, exc),
                          hint="Re-run bytelyst.deploy.workspace_pack to repack it.")
    raise DeployError("The tarball %s holds no package.json in its top directory." % path,
                      hint="Re-run bytelyst.deploy.workspace_pack to repack it.")


def publish_document(package_json, registry_url, data, integrity, shasum, dist_tag):
    """The body npm's publish PUTs: the version's package.json with dist, the dist-tag, the tarball attached."""
    name, version = package_json["name"], package_json["version"]
    meta = dict(package_json)
    meta.update({
        "_id": "%s@%s" % (name, version),
        "dist": {"integrity": integrity, "shasum": shasum, "tarball": tarball_url(registry_url, name, version)},
    })
    document = {
        "_id": name,
        "name": name,
        "dist-tags": {dist_tag: version},
        "versions": {version: meta},
        "access": None,
        "_attachments": {
            "%s-%s.tgz" % (name, version): {
                "content_type": "application/octet-stream",
                "data": base64.b64encode(data).decode("ascii"),
                "length": len(data),
            },
        },
    }
    for key in ("description", "readme", "license"):
        if package_json.get(key):
            document[key] = package_json[key]
    return document


def registry_content(packument, version):
    """(integrity or shasum, which) the registry records for version, or (None, None) when it has none."""
    meta = ((packument or {}).get("versions") or {}).get(version)
    if not isinstance(meta, dict):
        return None, None
    dist = meta.get("dist") or {}
    if dist.get("integrity"):
        return dist["integrity"], "integrity"
    if dist.get("shasum"):
        return dist["shasum"], "shasum"
    return "(unknown)", "unknown"


def conflict_message(name, version, local, remote, registry_url):
    return ("%s@%s is already in the npm registry %s with other content: the registry holds %s, the local "
            "tarball is %s." % (name, version, registry_url, remote, local))


def select(manifest, scopes):
    """(names to publish, rows of packages left out) for the scopes that go to this registry."""
    order = manifest.get("order") or sorted(manifest["packages"])
    present = []
    for name in order:
        scope = scope_of(name) or "(unscoped)"
        if scope not in present:
            present.append(scope)
    if not scopes:
        return list(order), []
    unknown = [s for s in scopes if s not in present]
    if unknown:
        raise DeployError("The scope(s) %s are not in the manifest %s, whose packages are in %s." % (
            ", ".join(unknown), manifest["path"], ", ".join(present)),
            hint="List in scopes only scopes of packages the manifest holds, or leave scopes empty for all of them.")
    chosen = [n for n in order if scope_of(n) in scopes]
    chosen_set = set(chosen)
    for name in chosen:
        entry = manifest["packages"][name]
        deps = set((entry.get("dependencies") or {}).get("internal") or {}) | set(entry.get("peer_dependencies") or {})
        left_out = sorted(d for d in deps if d in manifest["packages"] and d not in chosen_set)
        if left_out:
            raise DeployError(
                "%s needs %s, whose scope is not published to this registry (scopes: %s); whoever installs %s "
                "from it would miss them." % (name, ", ".join(left_out), ", ".join(scopes), name),
                hint="Add their scope to scopes, or publish them first to a registry the same installs read.")
    skipped = [dict(name=n, version=manifest["packages"][n]["version"], action="other_scope")
               for n in order if n not in chosen_set]
    return chosen, skipped


class Publisher(object):
    """The tarballs of one manifest, published to one registry."""

    def __init__(self, registry, manifest_location, scopes=None, dist_tag=DEFAULT_DIST_TAG,
                 prerelease_dist_tag=DEFAULT_PRERELEASE_DIST_TAG):
        self.registry = registry    # NpmRegistry
        self.manifest = _tarball_manifest.load(manifest_location)
        self.scopes = check_scopes(scopes)
        self.dist_tag = check_dist_tag(dist_tag, "dist_tag")
        self.prerelease_dist_tag = check_dist_tag(prerelease_dist_tag, "prerelease_dist_tag")

    def plan(self):
        """One row per package, dependencies first: action publish or unchanged (or other_scope).
        Raises before anything is published when a version is held with other content."""
        names, skipped = select(self.manifest, self.scopes)
        _tarball_manifest.verify(self.manifest, names)
        rows, conflicts = [], []
        for name in publish_order(self.manifest["packages"], names):
            entry = self.manifest["packages"][name]
            path = _tarball_manifest.tarball_path(self.manifest, name)
            package_json = read_package_json(path)
            if package_json.get("name") != name or package_json.get("version") != entry["version"]:
                raise DeployError("The tarball %s holds %s@%s, but the manifest %s lists it as %s@%s." % (
                    path, package_json.get("name"), package_json.get("version"), self.manifest["path"], name,
                    entry["version"]), hint="Re-run bytelyst.deploy.workspace_pack so tarballs and manifest agree.")
            if package_json.get("private"):
                raise DeployError("%s is marked private in its package.json; npm registries refuse to publish it."
                                  % name, hint="Remove \"private\": true from it, or keep its scope out of scopes.")
            integrity, shasum = integrity_of(path)
            remote, which = registry_content(self.registry.packument(name), entry["version"])
            local = {"integrity": integrity, "shasum": shasum}.get(which, integrity)
            row = dict(name=name, version=entry["version"], integrity=integrity, shasum=shasum,
                       previous_integrity=remote, dist_tag=dist_tag_for(entry["version"], self.dist_tag,
                                                                        self.prerelease_dist_tag),
                       tarball=path, action="unchanged" if remote and remote == local else "publish")
            if remote and remote != local:
                conflicts.append(conflict_message(name, entry["version"], local, remote, self.registry.url))
            rows.append(row)
        if conflicts:
            raise DeployError(
                " ".join(conflicts) + " An npm version is immutable.",
                hint="Give the changed packages new versions and re-pack them (bytelyst.deploy.workspace_pack). "
                     "Nothing was published.", conflicts=len(conflicts))
        return rows, skipped

    def publish(self, check_mode=False):
        """Publish what the plan says is missing; return the result dict (packages, published)."""
        rows, skipped = self.plan()
        published = []
        for row in rows:
            if row["action"] != "publish":
                continue
            if check_mode:
                row["action"] = "would_publish"
                continue
            try:
                self._put(row)
            except DeployError as err:
                err.details["published"] = list(published)
                if published:
                    err.message += " Published before the failure: %s." % ", ".join(published)
                raise
            row["action"] = "published"
            published.append("%s@%s" % (row["name"], row["version"]))
        return dict(registry=self.registry.url, packages=[_public(r) for r in rows] + skipped, published=published)

    def _put(self, row):
        with open(row["tarball"], "rb") as handle:
            data = handle.read()
        document = publish_document(read_package_json(row["tarball"]), self.registry.url, data,
                                    row["integrity"], row["shasum"], row["dist_tag"])
        answer = self.registry.publish(row["name"], document)
        if answer.status in (200, 201):
            return
        # 409 (Verdaccio) or 400 (Gitea): the version is there now. A retried PUT whose first
        # attempt landed says so too: the registry's content decides.
        remote, which = registry_content(self.registry.packument(row["name"]), row["version"])
        local = row["shasum"] if which == "shasum" else row["integrity"]
        if remote == local:
            return
        if remote:
            raise DeployError(conflict_message(row["name"], row["version"], local, remote, self.registry.url)
                              + " It appeared during this run.", hint="Give the package a new version.")
        raise DeployError("The npm registry %s refused the publish of %s@%s: HTTP %d: %s" % (
            self.registry.url, row["name"], row["version"], answer.status, answer.error_text() or "no details"),
            package=row["name"])


def _public(row):
    return dict((k, v) for k, v in row.items() if k != "tarball")


def diff_of(packages):
    """Per package version, the registry's content before and after."""
    rows = [p for p in packages if p["action"] != "other_scope"]
    before = "".join("%s@%s: %s\n" % (p["name"], p["version"], p["previous_integrity"] or "(absent)") for p in rows)
    after = "".join("%s@%s: %s\n" % (p["name"], p["version"], p["integrity"]) for p in rows)
    return dict(before=before, after=after)


def ensure(client, opts, check_mode=False, diff=False):
    """package_publish's entry point (run_module's shape; client: unused, no engine is needed):
    publish opts' manifest to opts' registry; the result, with the diff when diff is asked."""
    if opts["retries"] < 0 or opts["retry_delay"] < 0:
        raise DeployError("retries and retry_delay must not be negative (got %s and %s)."
                          % (opts["retries"], opts["retry_delay"]))
    registry = NpmRegistry(opts["registry"], token=opts["token"], ca_file=opts["ca_cert"],
                           allow_http=opts["allow_http"], retries=opts["retries"],
                           retry_delay=opts["retry_delay"], timeout=opts["timeout"])
    publisher = Publisher(registry, opts["manifest"], scopes=opts["scopes"], dist_tag=opts["dist_tag"],
                          prerelease_dist_tag=opts["prerelease_dist_tag"])
    result = publisher.publish(check_mode=check_mode)
    result["changed"] = any(p["action"] in ("published", "would_publish") for p in result["packages"])
    if diff:
        result["diff"] = diff_of(result["packages"])
    return result
