# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Does a base image provide what a product asks for? PRIVATE to the collection.

Semver is npm's, never ours: the check runs `node` in a throwaway container of the
image that provides the packages (the base image in mode=base, the runtime image in
mode=tarball), with the `semver` package every Node image carries inside npm
(`<npm root -g>/npm/node_modules/semver`). So the rules (`^`, `~`, `||`, hyphen
ranges, prereleases) are exactly the ones npm and pnpm apply, in the Node version
the product will run on, and nothing has to be installed on the host.

Python only turns pnpm's `workspace:` protocol into plain ranges (pnpm does the
same when it packs: `workspace:^` -> `^<current workspace version>`), builds the
command, and turns the answer into a decision and an error naming the package,
the range and the version found.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.bytelyst.deploy.plugins.module_utils._contract import (
    COMPAT_LABEL, DEP_FIELDS, PROVIDES_LABEL, PROVIDES_PATH)
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._fingerprint import digest_json

# Runs in the image: read what it provides, evaluate every range with npm's semver.
# Input (argv[1], JSON): {"provides": {...} | null, "provides_file": path, "fallback": {...},
# "checks": [{"name", "range", "from": "packages" | "third_party"}]}.
CHECK_SCRIPT = r"""
const fs = require('fs'), path = require('path');
function loadSemver() {
  const npmRoot = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules');
  const places = [process.env.BYTELYST_SEMVER_JS, path.join(npmRoot, 'npm', 'node_modules', 'semver'),
    '/usr/local/lib/node_modules/npm/node_modules/semver', '/usr/lib/node_modules/npm/node_modules/semver'];
  for (const p of places.filter(Boolean)) {
    try { return {lib: require(p), version: require(path.join(p, 'package.json')).version}; } catch (e) { /* next */ }
  }
  return null;
}
const input = JSON.parse(process.argv[1]);
const found = loadSemver();
const semver = found && found.lib;
if (!semver) { console.log(JSON.stringify({error: 'npm semver package not found in this image'})); process.exit(0); }
let provides = input.provides, source = 'input';
if (!provides) {
  try { provides = JSON.parse(fs.readFileSync(input.provides_file, 'utf8')); source = input.provides_file; }
  catch (e) { provides = input.fallback ? {packages: input.fallback} : null; source = input.fallback ? 'label' : null; }
}
const checks = (input.checks || []).map((c) => {
  const found = provides && provides[c.from] ? provides[c.from][c.name] : undefined;
  const version = typeof found === 'string' ? found : null;
  const valid = semver.validRange(c.range) !== null;
  const ok = Boolean(valid && version && semver.valid(version) && semver.satisfies(version, c.range));
  return Object.assign({}, c, {version, valid, ok});
});
console.log(JSON.stringify({semver: found.version, provides, source, checks}));
"""


def expand_spec(spec, workspace_version=None):
    """The semver range pnpm would publish for spec, or None when spec names no version.

    `workspace:*` accepts any version; `workspace:^`/`workspace:~` mean `^`/`~` of the
    current workspace version (when it is not known the base's own version is, and
    that always satisfies, so any version is accepted); `workspace:<range>` is the range.
    """
    spec = (spec or "").strip()
    if spec.startswith("workspace:"):
        rest = spec[len("workspace:"):].strip()
        if rest in ("", "*"):
            return "*"
        if rest in ("^", "~"):
            return rest + workspace_version if workspace_version else "*"
        return rest
    if spec.startswith("npm:"):
        alias = spec[len("npm:"):]
        at = alias.rfind("@")
        return alias[at + 1:] if at > 0 else "*"
    if spec.startswith(("link:", "file:", "git", "http:", "https:", "portal:")) or "/" in spec:
        return None
    return spec or "*"


def shared_requirements(package, shared, workspace_versions=None, fields=DEP_FIELDS):
    """[(name, declared spec, range or None)] for every dependency on a shared package
    (`name in shared`, see _scope.Shared), sorted."""
    versions = workspace_versions or {}
    found = {}
    for field in fields:
        for name, spec in sorted((package.get(field) or {}).items()):
            if name in shared and name not in found:
                found[name] = (name, spec, expand_spec(spec, versions.get(name)))
    return [found[n] for n in sorted(found)]


def third_party_ranges(package, fields, shared=()):
    """{name: range} of the dependencies in fields that are not shared, with a plain semver spec."""
    out = {}
    for field in fields:
        for name, spec in (package.get(field) or {}).items():
            if name in shared or not isinstance(spec, str) or spec.startswith("workspace:"):
                continue
            rng = expand_spec(spec)
            if rng is not None and not spec.startswith("npm:"):
                out.setdefault(name, rng)
    return out


def check_payload(requirements, third_party=None, provides=None, fallback=None):
    """The JSON the in-image script reads (pure)."""
    checks = [{"name": n, "spec": s, "range": r, "from": "packages"} for n, s, r in requirements if r is not None]
    checks += [{"name": n, "spec": r, "range": r, "from": "third_party"} for n, r in sorted((third_party or {}).items())]
    return {"provides": provides, "provides_file": PROVIDES_PATH, "fallback": fallback, "checks": checks}


def check_command(cli, image, payload):
    """`docker run` of the check in a throwaway container of image: no network, no mounts, removed."""
    return cli.command([
        "run", "--rm", "--network", "none", "--entrypoint", "node", "--user", "1000",
        "--label", "dev.bytelyst.compat-check=1", image, "-e", CHECK_SCRIPT, json.dumps(payload, sort_keys=True),
    ], timeout=120)


def parse_answer(stdout, image):
    """The script's JSON answer; a DeployError when the image could not answer."""
    lines = [line for line in (stdout or "").splitlines() if line.strip().startswith("{")]
    try:
        answer = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise DeployError("The compatibility check in %s gave no answer." % image,
                          hint="The image must have node and npm (every official Node image has).",
                          output=(stdout or "")[-2000:])
    if answer.get("error"):
        raise DeployError("The compatibility check cannot run in %s: %s." % (image, answer["error"]),
                          hint="Use a base or runtime image built from an official Node image (it ships npm).")
    return answer


def verdict(answer, image, what="base image"):
    """Raise DeployError naming every shared package's range the image does not satisfy.

    Returns (provides, third_party_satisfied) where third_party_satisfied is the set of
    third-party names whose declared range the image's installed version satisfies.
    """
    if answer.get("provides") is None:
        raise DeployError(
            "The %s %s does not say what it provides (no %s, no %s label)." % (what, image, PROVIDES_PATH, PROVIDES_LABEL),
            hint="Build it with bytelyst.deploy.base_image, or pass the image that module built.")
    bad, invalid = [], []
    satisfied = set()
    for check in answer.get("checks") or []:
        if check["from"] == "third_party":
            if check["ok"]:
                satisfied.add(check["name"])
            continue
        if not check["valid"]:
            invalid.append("%s: %r is not a valid semver range" % (check["name"], check["spec"]))
        elif not check["ok"]:
            bad.append("%s %s (declared %r) but %s provides %s" % (
                check["name"], check["range"], check["spec"], what,
                check["version"] if check["version"] else "no version of it"))
    if invalid or bad:
        raise DeployError(
            "Incompatible %s %s: %s." % (what, image, "; ".join(invalid + bad)),
            hint="Build against a base image whose shared package versions satisfy the product's ranges "
            "(rebuild the base from the current workspace), or widen the product's ranges.",
            incompatible=[c for c in answer.get("checks") or [] if c["from"] == "packages" and not c["ok"]])
    return answer["provides"], satisfied


# Remembering answers ------------------------------------------------------------------------

def answer_key(image_id, payload):
    """What an answer depends on: the checked image (by id: its content), the payload and this script."""
    return digest_json({"image": image_id, "payload": payload, "script": CHECK_SCRIPT})


def recorded_answers(labels):
    """The answers an image's COMPAT_LABEL recorded ({key: answer}); {} when it has none or they do not parse."""
    try:
        found = json.loads((labels or {}).get(COMPAT_LABEL) or "{}")
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return dict((k, v) for k, v in found.items() if isinstance(v, dict) and
                isinstance(v.get("satisfied"), list) and isinstance(v.get("checks"), list))


class Remembered(object):
    """The compatibility check (a callable (ref, payload, what, name) -> (provides, satisfied, checks))
    with a memory: an answer recorded for the same key (answer_key) is reused, no container is started.

    image_id_of(ref): the id of the image ref names; recorded: {key: answer} (recorded_answers of the
    image built from the same product and version last time). `answers` holds every answer this plan
    used, for the new image's COMPAT_LABEL. A recorded answer passed the verdict when it was recorded,
    and the verdict depends only on the key's inputs. The `provides` kept is the base's provides
    without its third_party list (long, and read from the checks instead).
    """

    def __init__(self, check, image_id_of, recorded=None):
        self.check = check
        self.image_id_of = image_id_of
        self.recorded = recorded or {}
        self.answers = {}

    def __call__(self, ref, payload, what, name=None):
        key = answer_key(self.image_id_of(ref), payload)
        found = self.recorded.get(key)
        if found is None:
            provides, satisfied, checks = self.check(ref, payload, what, name)
            found = dict(provides=dict((k, v) for k, v in (provides or {}).items() if k != "third_party"),
                         satisfied=sorted(satisfied), checks=checks)
        self.answers[key] = found
        return found.get("provides"), set(found["satisfied"]), found["checks"]

    def label(self):
        """The COMPAT_LABEL value of the answers used (compact JSON), or None when none was."""
        return json.dumps(self.answers, sort_keys=True, separators=(",", ":")) if self.answers else None
