#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: workspace_pack
short_description: Build and pack the shared packages of a pnpm workspace into tarballs, incrementally
version_added: 0.1.0
description:
  - Discovers the packages of a pnpm workspace from the globs of its C(pnpm-workspace.yaml), selects those whose
    name matches O(filter) (plus every workspace package they depend on), orders them by their internal dependencies,
    builds them (their C(build) script) and packs each with C(pnpm pack), so C(workspace:) ranges become real
    versions in the packed C(package.json).
  - Writes the tarballs and a JSON manifest (C(bytelyst-manifest.json)) into O(output). The image modules of this
    collection read that manifest; its format is in C(docs/manifest.md).
  - Incremental. A package's fingerprint covers every file of its directory (what pnpm packs and what its build
    reads, C(node_modules) excepted), its entries in C(pnpm-lock.yaml), the workspace-wide O(shared_inputs), the pnpm
    version, and the fingerprints of the workspace packages it depends on. Only packages whose fingerprint changed
    are built and packed, in dependency order, O(jobs) at a time. When nothing changed no build runs and the result
    is C(changed=false).
  - O(output) changes atomically. The new tarballs and manifest are made in a staging directory beside it, which
    replaces O(output) only when everything succeeded; a failed run leaves the previous tarballs and manifest as
    they were.
author:
  - ByteLyst DevOps (@bytelyst)
attributes:
  check_mode:
    support: full
    description: Reports which packages would be rebuilt and why (RV(packages[].reasons)); builds, packs and writes nothing.
  diff_mode:
    support: full
    description: Shows the manifest's package versions and tarball digests before and after.
options:
  workspace:
    description:
      - The pnpm workspace root, the directory holding C(pnpm-workspace.yaml).
      - Its dependencies must be installed (C(pnpm install)) for builds to work.
    type: path
    required: true
  filter:
    description:
      - A glob on package names selecting the packages to pack, such as C(@bytelyst/*) or C(@acme/ui-*).
      - Workspace packages that a selected package depends on are packed too (its tarball needs them).
      - A filter that matches no package is an error.
    type: str
    default: '@bytelyst/*'
  output:
    description:
      - The directory for the tarballs and the manifest. Created if missing.
      - The module owns it. It must be new, empty, or an earlier output of this module (it holds the
        manifest); other files in it are not kept.
    type: path
    required: true
  build:
    description:
      - Run each package's C(build) script (C(pnpm run build) in its directory) before packing it.
      - Packages without a C(build) script are packed as they are.
    type: bool
    default: true
  pnpm:
    description:
      - The pnpm executable, a name looked up on E(PATH) or a path. pnpm 9 or newer is required.
    type: str
    default: pnpm
  jobs:
    description:
      - How many packages are built and packed at once (packages that do not depend on each other).
      - Defaults to the number of CPU cores.
    type: int
  force:
    description:
      - Build and pack every selected package, whatever the fingerprints say.
    type: bool
    default: false
  shared_inputs:
    description:
      - Glob patterns for files in the workspace root that every package build reads; a change to one of
        them rebuilds every package.
      - The root importer of C(pnpm-lock.yaml) and the lockfile's settings always count.
    type: list
    elements: str
    default: [pnpm-workspace.yaml, .npmrc, .pnpmfile.cjs, 'tsconfig*.json']
  timeout:
    description:
      - Seconds each pnpm command (one build, one pack) may take.
    type: int
    default: 1800
requirements:
  - pnpm 9 or newer and Node.js on the host the module runs on
  - PyYAML
notes:
  - The fingerprint is a superset of what pnpm packs; a change to a test file also rebuilds its package.
  - Builds write into the workspace (for example C(dist/)); only O(output) is kept atomic.
seealso:
  - name: docs/workspace_pack.md
    description: How the module decides what to rebuild, and its errors.
    link: https://github.com/bytelyst/bytelyst.deploy/blob/main/docs/workspace_pack.md
  - name: docs/manifest.md
    description: The manifest format.
    link: https://github.com/bytelyst/bytelyst.deploy/blob/main/docs/manifest.md
"""

EXAMPLES = r"""
- name: Tarballs of every @bytelyst/* package
  bytelyst.deploy.workspace_pack:
    workspace: /srv/src/learning_ai_common_plat
    output: /srv/build/bytelyst-tarballs
  register: tarballs

- name: Show what was rebuilt
  ansible.builtin.debug:
    msg: "rebuilt {{ tarballs.rebuilt | join(', ') or 'nothing' }} in {{ tarballs.duration }} s"

- name: Another scope, a pinned pnpm, two builds at a time
  bytelyst.deploy.workspace_pack:
    workspace: /srv/src/acme-platform
    filter: '@acme/*'
    output: /srv/build/acme-tarballs
    pnpm: /opt/pnpm/bin/pnpm
    jobs: 2

- name: What would be rebuilt, and why (nothing is touched)
  bytelyst.deploy.workspace_pack:
    workspace: /srv/src/learning_ai_common_plat
    output: /srv/build/bytelyst-tarballs
  check_mode: true
  diff: true
"""

RETURN = r"""
packages:
  description: Every packed package, dependencies first.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The package name.
      type: str
      sample: '@bytelyst/config'
    version:
      description: The package version.
      type: str
      sample: 2.0.0
    dir:
      description: The package directory, relative to the workspace root.
      type: str
      sample: packages/config
    tarball:
      description: The tarball's file name in O(output) (as pnpm names it).
      type: str
      sample: bytelyst-config-2.0.0.tgz
    sha256:
      description: The tarball's sha256; null in check mode for a package that would be rebuilt.
      type: str
    fingerprint:
      description: The fingerprint of the package's inputs.
      type: str
    targets:
      description: The base image flavours the package is for (C(bytelyst.targets) in its package.json).
      type: list
      elements: str
      sample: [backend, web]
    rebuilt:
      description: Whether this run built and packed it (would, in check mode).
      type: bool
    reasons:
      description:
        - "Why it was (would be) rebuilt, such as C(new), C(source changed: src/index.ts),
          C(dependency @bytelyst/errors changed), C(forced)."
        - Empty when it was up to date.
      type: list
      elements: str
rebuilt:
  description: Names of the packages built and packed by this run (that would be, in check mode), in build order.
  returned: always
  type: list
  elements: str
removed:
  description: Packages of the previous manifest that are no longer selected, so are no longer in O(output).
  returned: always
  type: list
  elements: str
order:
  description: Every packed package, dependencies first.
  returned: always
  type: list
  elements: str
manifest:
  description: Path of the manifest.
  returned: always
  type: str
  sample: /srv/build/bytelyst-tarballs/bytelyst-manifest.json
pnpm_version:
  description: The version of the pnpm used.
  returned: always
  type: str
  sample: 10.6.5
duration:
  description: Seconds the run took.
  returned: always
  type: float
  sample: 4.2
"""

import os
import shutil
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.bytelyst.deploy.plugins.module_utils import _fingerprint as fp
from ansible_collections.bytelyst.deploy.plugins.module_utils import _manifest
from ansible_collections.bytelyst.deploy.plugins.module_utils import _pnpm
from ansible_collections.bytelyst.deploy.plugins.module_utils import _workspace as ws
from ansible_collections.bytelyst.deploy.plugins.module_utils._command import run
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

DEFAULT_SHARED_INPUTS = ["pnpm-workspace.yaml", ".npmrc", ".pnpmfile.cjs", "tsconfig*.json"]
LOCKFILE = "pnpm-lock.yaml"


def _load_lockfile(root):
    path = os.path.join(root, LOCKFILE)
    if not os.path.isfile(path):
        return None
    try:
        return ws.load_yaml(path)
    except ws.yaml.YAMLError as exc:
        raise DeployError("%s is not valid YAML: %s" % (path, exc), hint="Run pnpm install to rewrite it.")


def _previous(output):
    """The previous manifest in output, or None; DeployError if output is not ours to replace."""
    if os.path.exists(output) and not os.path.isdir(output):
        raise DeployError("The output %s exists and is not a directory." % output,
                          hint="Set output to a new or empty directory, or to an earlier output of this module.")
    path = os.path.join(output, _manifest.MANIFEST_NAME)
    if os.path.isfile(path):
        try:
            return _manifest.load(path)
        except DeployError:
            return {"packages": {}, "order": [], "path": path, "unreadable": True}
    if os.path.isdir(output) and os.listdir(output):
        raise DeployError("The output %s holds files but no %s, so it is not an earlier output of this module." % (
            output, _manifest.MANIFEST_NAME),
            hint="This module replaces the whole directory; choose a new or empty one.")
    return None


def _old_tarball_ok(output, entry):
    path = os.path.join(output, entry.get("tarball") or "")
    if not entry.get("tarball") or not os.path.isfile(path):
        return "tarball missing from the output directory"
    if _manifest.sha256_file(path) != entry.get("sha256"):
        return "tarball in the output directory does not match the manifest"
    return None


def _inputs(workspace, name, edges, lock, shared, tool, fingerprints, nested):
    pkg = workspace.packages[name]
    files = fp.tree_digests(pkg.dir, skip_paths=nested.get(name, ()))
    deps = dict((d, fingerprints[d]) for d in edges[name])
    return fp.package_inputs(files, fp.lockfile_entries(lock, pkg.rel_dir), shared, tool, deps)


def _nested(workspace, names):
    """name -> directories of other workspace packages inside its own (fingerprinted on their own)."""
    dirs = [p.rel_dir for p in workspace.packages.values()]
    out = {}
    for name in names:
        own = workspace.packages[name].rel_dir + "/"
        out[name] = [d[len(own):] for d in dirs if d.startswith(own)]
    return out


def _entry(workspace, name, tarball, sha256, fingerprint, inputs):
    pkg = workspace.packages[name]
    entry = {"name": name, "version": pkg.version, "dir": pkg.rel_dir, "tarball": tarball, "sha256": sha256,
             "fingerprint": fingerprint, "targets": pkg.targets, "inputs": inputs}
    entry.update(ws.split_dependencies(workspace, pkg))
    return entry


def _diff_text(packages, order, pending=()):
    lines = []
    for name in order:
        entry = packages[name]
        digest = "(rebuilt)" if name in pending else "sha256:%s" % (entry.get("sha256") or "")[:16]
        lines.append("%s %s %s %s\n" % (name, entry.get("version"), entry.get("tarball"), digest))
    return "".join(lines)


def _staging(output):
    parent = os.path.dirname(output)
    try:
        if not os.path.isdir(parent):
            os.makedirs(parent)
        staging = tempfile.mkdtemp(prefix=".%s.staging-" % os.path.basename(output), dir=parent)
        os.chmod(staging, 0o755)  # mkdtemp's 0700 would hide the tarballs from image builds run as others
        return staging
    except OSError as exc:
        raise DeployError("The output directory %s is not writable: cannot create a staging directory in %s (%s)." % (
            output, parent, exc.strerror or exc),
            hint="Choose an output whose parent directory this user can write, or fix its permissions.")


def _swap(staging, output):
    """Replace output by staging: two renames on one file system, the old one removed last."""
    old = None
    if os.path.exists(output):
        old = tempfile.mkdtemp(prefix=".%s.old-" % os.path.basename(output), dir=os.path.dirname(output))
        os.rmdir(old)
        os.rename(output, old)
    try:
        os.rename(staging, output)
    except OSError:
        if old:
            os.rename(old, output)
        raise
    if old:
        shutil.rmtree(old, ignore_errors=True)


def _builder(workspace, pnpm, build, staging, timeout):
    def job(name):
        pkg = workspace.packages[name]
        if build and pkg.scripts.get("build"):
            try:
                run(_pnpm.build_command(pnpm, pkg.dir, timeout), what="The build of %s in %s" % (name, pkg.rel_dir))
            except DeployError as exc:
                exc.hint = ("Fix the package's build (run 'pnpm run build' in %s to see all of it); the previous "
                            "tarballs and manifest are unchanged." % pkg.rel_dir)
                exc.details["package"] = name
                raise
        return _pnpm.pack(pnpm, pkg, staging, timeout)
    return job


def pack_workspace(workspace, output, package_filter="@bytelyst/*", build=True, pnpm="pnpm", jobs=None,
                   force=False, shared_inputs=None, timeout=1800, check_mode=False):
    """The whole job, without Ansible: returns the module's result (plus 'diff')."""
    started = time.time()
    root, output = os.path.abspath(workspace), os.path.abspath(output)
    version = _pnpm.check_version(pnpm)
    space = ws.discover(root)
    names = ws.select(space, package_filter)
    ws.validate(space, names)
    edges = ws.graph(space, names)
    order = ws.topological_order(names, edges)
    previous = _previous(output)
    old_packages = (previous or {}).get("packages") or {}

    lock = _load_lockfile(root)
    shared = fp.shared_inputs(root, DEFAULT_SHARED_INPUTS if shared_inputs is None else shared_inputs, lock)
    tool = {"pnpm": version, "build": bool(build)}
    nested = _nested(space, names)
    fingerprints, inputs, reasons = {}, {}, {}
    for name in order:
        inputs[name] = _inputs(space, name, edges, lock, shared, tool, fingerprints, nested)
        fingerprints[name] = fp.fingerprint(inputs[name])
        old = old_packages.get(name)
        why = ["forced"] if force else fp.reasons((old or {}).get("inputs"), inputs[name])
        if not why:
            problem = _old_tarball_ok(output, old)
            why = [problem] if problem else []
        reasons[name] = why
    rebuild = [n for n in order if reasons[n]]
    removed = sorted(n for n in old_packages if n not in names)

    packages = {}
    for name in order:
        old = old_packages.get(name) or {}
        kept = name not in rebuild
        packages[name] = _entry(space, name, old.get("tarball") if kept else _pnpm.tarball_name(name, space.packages[name].version),
                                old.get("sha256") if kept else None, fingerprints[name], inputs[name])

    def current_state(pkgs):
        return {"packages": pkgs, "order": list(order), "filter": package_filter}

    old_state = {"packages": old_packages, "order": (previous or {}).get("order"),
                 "filter": (previous or {}).get("filter")}
    changed = bool(rebuild) or previous is None or current_state(packages) != old_state
    result = {"changed": changed, "rebuilt": rebuild, "removed": removed, "order": order, "pnpm_version": version,
              "manifest": os.path.join(output, _manifest.MANIFEST_NAME)}
    diff_before = _diff_text(old_packages, [n for n in (previous or {}).get("order") or [] if n in old_packages])

    if changed and check_mode and not os.access(os.path.dirname(output) if os.path.isdir(os.path.dirname(output)) else "/", os.W_OK):
        raise DeployError("The output directory %s is not writable (its parent is not writable by this user)." % output,
                          hint="Choose an output whose parent directory this user can write, or fix its permissions.")
    if changed and not check_mode:
        staging = _staging(output)
        try:
            for name in order:
                if name not in rebuild:
                    src = os.path.join(output, packages[name]["tarball"])
                    dst = os.path.join(staging, packages[name]["tarball"])
                    try:
                        os.link(src, dst)
                    except OSError:
                        shutil.copy2(src, dst)
            made = _pnpm.run_jobs(rebuild, edges, _builder(space, pnpm, build, staging, timeout), jobs or os.cpu_count() or 1)
            for name in order:  # fingerprints after the build: what a later run will find
                if name in rebuild:
                    inputs[name] = _inputs(space, name, edges, lock, shared, tool, fingerprints, nested)
                    fingerprints[name] = fp.fingerprint(inputs[name])
                    packages[name] = _entry(space, name, made[name], _manifest.sha256_file(os.path.join(staging, made[name])),
                                            fingerprints[name], inputs[name])
            _manifest.write(staging, packages, order, package_filter)
            _swap(staging, output)
        finally:
            if os.path.isdir(staging):
                shutil.rmtree(staging, ignore_errors=True)

    pending = rebuild if check_mode else ()
    result["packages"] = []
    for name in order:
        entry = dict((k, v) for k, v in packages[name].items() if k != "inputs")
        entry.update({"rebuilt": name in rebuild, "reasons": reasons[name]})
        result["packages"].append(entry)
    result["diff"] = {"before": diff_before, "after": _diff_text(packages, order, pending),
                      "before_header": result["manifest"], "after_header": result["manifest"]}
    result["duration"] = round(time.time() - started, 3)
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            workspace=dict(type="path", required=True),
            filter=dict(type="str", default="@bytelyst/*"),
            output=dict(type="path", required=True),
            build=dict(type="bool", default=True),
            pnpm=dict(type="str", default="pnpm"),
            jobs=dict(type="int"),
            force=dict(type="bool", default=False),
            shared_inputs=dict(type="list", elements="str", default=DEFAULT_SHARED_INPUTS),
            timeout=dict(type="int", default=1800),
        ),
        supports_check_mode=True,
    )
    if not ws.HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"))
    params = module.params
    if params["jobs"] is not None and params["jobs"] < 1:
        module.fail_json(msg="jobs must be 1 or more, got %d." % params["jobs"])
    try:
        result = pack_workspace(params["workspace"], params["output"], params["filter"], params["build"],
                                params["pnpm"], params["jobs"], params["force"], params["shared_inputs"],
                                params["timeout"], module.check_mode)
    except DeployError as err:
        module.fail_json(msg=str(err), **err.result())
    diff = result.pop("diff")
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
