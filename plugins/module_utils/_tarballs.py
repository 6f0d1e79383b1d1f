# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tarball directory of a pnpm workspace: which packages to repack, and replacing the
directory (tarballs plus manifest) in one step. PRIVATE to the collection.

pack_workspace() is the whole job of the workspace_pack module, without Ansible. It plans
first (fingerprint every selected package, compare with the previous manifest: the
reasons to rebuild) and applies second: kept tarballs are linked into a staging directory
beside the output, the packages to rebuild are built and packed there (in dependency
order, several at once), the manifest is written, and the staging directory replaces the
output. A failure anywhere leaves the previous output as it was.

pnpm is run through `runner` (_command.run unless a test passes a fake).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import tempfile
import time

from ansible_collections.bytelyst.deploy.plugins.module_utils import _fingerprint as fp
from ansible_collections.bytelyst.deploy.plugins.module_utils import _manifest
from ansible_collections.bytelyst.deploy.plugins.module_utils import _pnpm
from ansible_collections.bytelyst.deploy.plugins.module_utils import _workspace as ws
from ansible_collections.bytelyst.deploy.plugins.module_utils._command import run
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

DEFAULT_SHARED_INPUTS = ["pnpm-workspace.yaml", ".npmrc", ".pnpmfile.cjs", "tsconfig*.json"]
LOCKFILE = "pnpm-lock.yaml"


# -- reading what is there -------------------------------------------------------------------

def load_lockfile(root):
    """The workspace's pnpm-lock.yaml, parsed, or None when there is none."""
    path = os.path.join(root, LOCKFILE)
    if not os.path.isfile(path):
        return None
    try:
        return ws.load_yaml(path)
    except ws.yaml.YAMLError as exc:
        raise DeployError("%s is not valid YAML: %s" % (path, exc), hint="Run pnpm install to rewrite it.")


def previous_manifest(output):
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


def stale_tarball(output, entry):
    """Why the tarball a manifest entry names cannot be kept, or None when it can."""
    path = os.path.join(output, entry.get("tarball") or "")
    if not entry.get("tarball") or not os.path.isfile(path):
        return "tarball missing from the output directory"
    if _manifest.sha256_file(path) != entry.get("sha256"):
        return "tarball in the output directory does not match the manifest"
    return None


# -- planning ----------------------------------------------------------------------------------

def nested_dirs(workspace, names):
    """name -> directories of other workspace packages inside its own (fingerprinted on their own)."""
    dirs = [p.rel_dir for p in workspace.packages.values()]
    out = {}
    for name in names:
        own = workspace.packages[name].rel_dir + "/"
        out[name] = [d[len(own):] for d in dirs if d.startswith(own)]
    return out


def inputs_of(workspace, name, edges, lock, shared, tool, fingerprints, nested):
    """What a package's fingerprint covers; its dependencies' fingerprints must be in fingerprints."""
    pkg = workspace.packages[name]
    files = fp.tree_digests(pkg.dir, skip_paths=nested.get(name, ()))
    deps = dict((d, fingerprints[d]) for d in edges[name])
    return fp.package_inputs(files, fp.lockfile_entries(lock, pkg.rel_dir), shared, tool, deps)


def rebuild_reasons(old, inputs, output, force=False):
    """Why a package must be built and packed again (empty: keep its tarball).

    old is its entry in the previous manifest (None when it was not there)."""
    if force:
        return ["forced"]
    why = fp.reasons((old or {}).get("inputs"), inputs)
    if why:
        return why
    problem = stale_tarball(output, old)
    return [problem] if problem else []


def manifest_entry(workspace, name, tarball, sha256, fingerprint, inputs):
    """A package's entry in the manifest."""
    pkg = workspace.packages[name]
    entry = {"name": name, "version": pkg.version, "dir": pkg.rel_dir, "tarball": tarball, "sha256": sha256,
             "fingerprint": fingerprint, "targets": pkg.targets, "inputs": inputs}
    entry.update(ws.split_dependencies(workspace, pkg))
    return entry


def diff_text(packages, order, pending=()):
    """One line per package (name, version, tarball, digest): the diff view of a manifest."""
    lines = []
    for name in order:
        entry = packages[name]
        digest = "(rebuilt)" if name in pending else "sha256:%s" % (entry.get("sha256") or "")[:16]
        lines.append("%s %s %s %s\n" % (name, entry.get("version"), entry.get("tarball"), digest))
    return "".join(lines)


# -- applying ----------------------------------------------------------------------------------

def make_staging(output):
    """A new directory beside output, on the same file system, readable by image builds."""
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


def swap(staging, output):
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


def keep_tarball(output, staging, tarball):
    """Carry a kept tarball into staging: a hard link, or a copy across file systems."""
    src = os.path.join(output, tarball)
    dst = os.path.join(staging, tarball)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def builder(workspace, pnpm, build, staging, timeout, runner=run):
    """The job run_jobs runs per package: its build script (if any, and if build), then pnpm pack."""
    def job(name):
        pkg = workspace.packages[name]
        if build and pkg.scripts.get("build"):
            try:
                runner(_pnpm.build_command(pnpm, pkg.dir, timeout), what="The build of %s in %s" % (name, pkg.rel_dir))
            except DeployError as exc:
                exc.hint = ("Fix the package's build (run 'pnpm run build' in %s to see all of it); the previous "
                            "tarballs and manifest are unchanged." % pkg.rel_dir)
                exc.details["package"] = name
                raise
        return _pnpm.pack(pnpm, pkg, staging, timeout, runner=runner)
    return job


def pack_workspace(workspace, output, package_filter="@bytelyst/*", build=True, pnpm="pnpm", jobs=None,
                   force=False, shared_inputs=None, timeout=1800, check_mode=False, runner=run):
    """The whole job, without Ansible: returns the module's result (plus 'diff')."""
    started = time.time()
    root, output = os.path.abspath(workspace), os.path.abspath(output)
    version = _pnpm.check_version(pnpm, runner=runner)
    space = ws.discover(root)
    names = ws.select(space, package_filter)
    ws.validate(space, names)
    edges = ws.graph(space, names)
    order = ws.topological_order(names, edges)
    previous = previous_manifest(output)
    old_packages = (previous or {}).get("packages") or {}

    lock = load_lockfile(root)
    shared = fp.shared_inputs(root, DEFAULT_SHARED_INPUTS if shared_inputs is None else shared_inputs, lock)
    tool = {"pnpm": version, "build": bool(build)}
    nested = nested_dirs(space, names)
    fingerprints, inputs, reasons = {}, {}, {}
    for name in order:
        inputs[name] = inputs_of(space, name, edges, lock, shared, tool, fingerprints, nested)
        fingerprints[name] = fp.fingerprint(inputs[name])
        reasons[name] = rebuild_reasons(old_packages.get(name), inputs[name], output, force)
    rebuild = [n for n in order if reasons[n]]
    removed = sorted(n for n in old_packages if n not in names)

    packages = {}
    for name in order:
        old = old_packages.get(name) or {}
        kept = name not in rebuild
        packages[name] = manifest_entry(
            space, name, old.get("tarball") if kept else _pnpm.tarball_name(name, space.packages[name].version),
            old.get("sha256") if kept else None, fingerprints[name], inputs[name])

    def current_state(pkgs):
        return {"packages": pkgs, "order": list(order), "filter": package_filter}

    old_state = {"packages": old_packages, "order": (previous or {}).get("order"),
                 "filter": (previous or {}).get("filter")}
    changed = bool(rebuild) or previous is None or current_state(packages) != old_state
    result = {"changed": changed, "rebuilt": rebuild, "removed": removed, "order": order, "pnpm_version": version,
              "manifest": os.path.join(output, _manifest.MANIFEST_NAME)}
    diff_before = diff_text(old_packages, [n for n in (previous or {}).get("order") or [] if n in old_packages])

    parent = os.path.dirname(output)
    if changed and check_mode and not os.access(parent if os.path.isdir(parent) else "/", os.W_OK):
        raise DeployError("The output directory %s is not writable (its parent is not writable by this user)." % output,
                          hint="Choose an output whose parent directory this user can write, or fix its permissions.")
    if changed and not check_mode:
        staging = make_staging(output)
        try:
            for name in order:
                if name not in rebuild:
                    keep_tarball(output, staging, packages[name]["tarball"])
            made = _pnpm.run_jobs(rebuild, edges, builder(space, pnpm, build, staging, timeout, runner),
                                  jobs or os.cpu_count() or 1)
            for name in order:  # fingerprints after the build: what a later run will find
                if name in rebuild:
                    inputs[name] = inputs_of(space, name, edges, lock, shared, tool, fingerprints, nested)
                    fingerprints[name] = fp.fingerprint(inputs[name])
                    packages[name] = manifest_entry(space, name, made[name],
                                                    _manifest.sha256_file(os.path.join(staging, made[name])),
                                                    fingerprints[name], inputs[name])
            _manifest.write(staging, packages, order, package_filter)
            swap(staging, output)
        finally:
            if os.path.isdir(staging):
                shutil.rmtree(staging, ignore_errors=True)

    pending = rebuild if check_mode else ()
    result["packages"] = []
    for name in order:
        entry = dict((k, v) for k, v in packages[name].items() if k != "inputs")
        entry.update({"rebuilt": name in rebuild, "reasons": reasons[name]})
        result["packages"].append(entry)
    result["diff"] = {"before": diff_before, "after": diff_text(packages, order, pending),
                      "before_header": result["manifest"], "after_header": result["manifest"]}
    result["duration"] = round(time.time() - started, 3)
    return result
