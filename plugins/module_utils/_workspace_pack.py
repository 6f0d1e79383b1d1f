# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tarball directory of a pnpm workspace: which packages to repack, and replacing the
directory (tarballs plus manifest) in one step. PRIVATE to the collection.

pack_workspace() is the whole job of the workspace_pack module, without Ansible. It plans
first (fingerprint every selected package, compare with the previous manifest: the
reasons to rebuild) and applies second: kept tarballs are linked into a staging directory
beside the output, the packages to rebuild are built (one pnpm start for all of them: pnpm
orders them by their dependencies and runs several at once) and packed there (several
`pnpm pack` at once), the manifest is written, and the staging directory replaces the
output in one step (swap). A failure anywhere leaves the previous output as it was; a run
killed half-way leaves a staging directory that the next run removes (under a lock that
keeps two runs from writing beside the same output at once).

pnpm is run through `runner` (_command.run unless a test passes a fake).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import fcntl
import os
import shutil
import tempfile
import time

from ansible_collections.bytelyst.deploy.plugins.module_utils import _fingerprint as fp
from ansible_collections.bytelyst.deploy.plugins.module_utils import _lockfile
from ansible_collections.bytelyst.deploy.plugins.module_utils import _pnpm
from ansible_collections.bytelyst.deploy.plugins.module_utils import _tarball_manifest
from ansible_collections.bytelyst.deploy.plugins.module_utils import _workspace as ws
from ansible_collections.bytelyst.deploy.plugins.module_utils._command import run, tail
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._scope import Shared

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
    path = os.path.join(output, _tarball_manifest.MANIFEST_NAME)
    if os.path.isfile(path):
        try:
            return _tarball_manifest.load(path)
        except DeployError:
            return {"packages": {}, "order": [], "path": path, "unreadable": True}
    if os.path.isdir(output) and os.listdir(output):
        raise DeployError("The output %s holds files but no %s, so it is not an earlier output of this module." % (
            output, _tarball_manifest.MANIFEST_NAME),
            hint="This module replaces the whole directory; choose a new or empty one.")
    return None


def stale_tarball(output, entry):
    """Why the tarball a manifest entry names cannot be kept, or None when it can."""
    path = os.path.join(output, entry.get("tarball") or "")
    if not entry.get("tarball") or not os.path.isfile(path):
        return "tarball missing from the output directory"
    if _tarball_manifest.sha256_file(path) != entry.get("sha256"):
        return "tarball in the output directory does not match the manifest"
    return None


# -- planning ----------------------------------------------------------------------------------

def locked_closure(workspace, names, lock):
    """What the workspace lockfile resolves for the packages (None without a lockfile), after
    checking it was written for their package.json files (else DeployError naming each)."""
    if lock is None:
        return None
    shared = Shared(workspace.packages)
    for name in names:
        pkg = workspace.packages[name]
        _lockfile.check_importer(lock, pkg.rel_dir, pkg.data, shared, "%s/package.json of %s" % (pkg.rel_dir, name))
    return _lockfile.closure(lock, [workspace.packages[n].rel_dir for n in names])


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
             "fingerprint": fingerprint, _tarball_manifest.KINDS: pkg.kinds, "inputs": inputs}
    # The deprecated name of `kinds`, written too until 1.0.0: a reader older than 0.2.0 would
    # take a package without it for both kinds (docs/manifest.md).
    entry[_tarball_manifest.KINDS_DEPRECATED] = pkg.kinds
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


# renameat2(2) flag: swap two paths in one step (Linux 3.15+, most local file systems).
RENAME_EXCHANGE = 2
AT_FDCWD = -100


def _renameat2():
    """libc's renameat2, or None where there is none (not Linux, an old C library)."""
    try:
        import ctypes
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (ImportError, OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


def exchange(first, second):
    """Swap two existing paths atomically; False when the system or file system cannot."""
    function = _renameat2()
    if function is None:
        return False
    import ctypes
    if function(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), second)


def previous_path(output):
    """Where the output replaced last stays until the next swap."""
    return os.path.join(os.path.dirname(output), ".%s.previous" % os.path.basename(output))


def swap(staging, output):
    """Replace output by staging so that output is always a complete directory.

    The two directories are exchanged in one step (renameat2 RENAME_EXCHANGE): a reader
    opening output finds the old or the new one, never nothing. The old one is kept beside
    it (previous_path) until the next swap, so a reader that was part-way through it (it
    listed the old directory, or read the old manifest) still finds every file it names;
    the manifest's sha256 tells a reader that mixed the two. Where the exchange is not
    available, two renames are used with the old directory kept until the new one is in
    place (a moment without output; a run killed in it is repaired by clean_leftovers)."""
    previous = previous_path(output)
    if not os.path.lexists(output):
        os.rename(staging, output)
        return
    if not exchange(staging, output):
        old = tempfile.mkdtemp(prefix=".%s.old-" % os.path.basename(output), dir=os.path.dirname(output))
        os.rmdir(old)
        os.rename(output, old)
        try:
            os.rename(staging, output)
        except OSError:
            os.rename(old, output)
            raise
        staging = old
    # staging now holds the replaced output: it becomes the previous one.
    if os.path.lexists(previous):
        shutil.rmtree(previous, ignore_errors=True)
    try:
        os.rename(staging, previous)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)


def leftovers(output):
    """Staging and old directories of output that earlier runs left behind (killed, say)."""
    parent, base = os.path.dirname(output), os.path.basename(output)
    try:
        names = os.listdir(parent)
    except OSError:
        return []
    return sorted(os.path.join(parent, n) for n in names
                  if n.startswith(".%s.staging-" % base) or n.startswith(".%s.old-" % base))


def clean_leftovers(output):
    """Remove what killed runs left beside output (call holding the output lock); returns the paths.

    A run killed between the two renames of the fallback swap left no output but a complete
    old one: that is put back first."""
    found = leftovers(output)
    if not os.path.lexists(output):
        olds = [p for p in found if os.path.basename(p).startswith(".%s.old-" % os.path.basename(output))]
        if olds:
            newest = max(olds, key=lambda p: os.stat(p).st_mtime)
            os.rename(newest, output)
            found.remove(newest)
    for path in found:
        shutil.rmtree(path, ignore_errors=True)
    return found


class OutputLock(object):
    """One writer per output's parent directory at a time: flock on the directory itself.

    The kernel drops the lock when its holder dies, so leftovers found by the holder are
    from runs that are gone. Nothing is written to take it."""

    def __init__(self, output, timeout, clock=time.time, sleep=time.sleep):
        self.parent = os.path.dirname(output)
        self.output = output
        self.timeout = timeout
        self.clock, self.sleep = clock, sleep
        self.fd = None

    def __enter__(self):
        try:
            self.fd = os.open(self.parent, os.O_RDONLY)
        except OSError as exc:
            raise DeployError("Cannot open the parent directory %s of the output %s: %s." % (
                self.parent, self.output, exc.strerror or exc),
                hint="Choose an output whose parent directory this user can read and write.")
        start = self.clock()
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except (IOError, OSError) as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
            if self.clock() - start >= self.timeout:
                os.close(self.fd)
                self.fd = None
                raise DeployError(
                    "Timed out after %ss waiting for another workspace_pack run writing beside %s "
                    "(it holds a lock on %s)." % (self.timeout, self.output, self.parent),
                    hint="Wait for that run to finish, or give each run its own output directory.")
            self.sleep(0.5)

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor releases the lock
            self.fd = None
        return False


def keep_tarball(output, staging, tarball):
    """Carry a kept tarball into staging: a hard link, or a copy across file systems."""
    src = os.path.join(output, tarball)
    dst = os.path.join(staging, tarball)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


BUILD_FAILED_HINT = ("Fix the package's build (run 'pnpm run build' in %s to see all of it); the previous "
                     "tarballs and manifest are unchanged.")


def build_packages(workspace, pnpm, names, jobs, timeout, runner=run):
    """Run the build script of the packages in names (in dependency order) with as few pnpm starts as can be.

    One package with a build script: `pnpm run build` in its directory. More: one recursive
    pnpm over all of names (recursive_build_command), which orders them and runs `jobs` at
    once. A failure raises DeployError naming the package whose build failed."""
    scripted = [n for n in names if workspace.packages[n].scripts.get("build")]
    if not scripted:
        return
    if len(scripted) == 1:
        pkg = workspace.packages[scripted[0]]
        try:
            runner(_pnpm.build_command(pnpm, pkg.dir, timeout), what="The build of %s in %s" % (pkg.name, pkg.rel_dir))
        except DeployError as exc:
            exc.hint = BUILD_FAILED_HINT % pkg.rel_dir
            exc.details["package"] = pkg.name
            raise
        return
    command = _pnpm.recursive_build_command(pnpm, workspace.root, names, jobs, timeout)
    result = runner(command, check=False, what="The build of %d packages" % len(scripted))
    if result.rc == 0:
        return
    dirs = dict((workspace.packages[n].rel_dir, n) for n in names)
    name = _pnpm.failed_package(result.stdout + "\n" + result.stderr, dirs)
    if name is None:
        raise DeployError("The build of %s failed (exit code %d)." % (", ".join(scripted), result.rc),
                          hint=BUILD_FAILED_HINT % "each package", command=command.display(),
                          output=tail(result.output))
    pkg = workspace.packages[name]
    raise DeployError("The build of %s in %s failed (exit code %d)." % (name, pkg.rel_dir, result.rc),
                      hint=BUILD_FAILED_HINT % pkg.rel_dir, command=command.display(), output=tail(result.output),
                      package=name)


def packer(workspace, pnpm, staging, timeout, runner=run):
    """The job run_jobs runs per package: pnpm pack into staging (packs need no order: several at once)."""
    def job(name):
        return _pnpm.pack(pnpm, workspace.packages[name], staging, timeout, runner=runner)
    return job


def pack_workspace(workspace, output, package_filter="@bytelyst/*", build=True, pnpm="pnpm", jobs=None,
                   force=False, shared_inputs=None, timeout=1800, check_mode=False, runner=run):
    """The whole job, without Ansible: returns the module's result (plus 'diff').

    Outside check mode it holds the output lock throughout, and first removes what killed
    runs left beside the output (reported as 'cleaned'; check mode reports what it would)."""
    output = os.path.abspath(output)
    args = (workspace, output, package_filter, build, pnpm, jobs, force, shared_inputs, timeout, check_mode, runner)
    if check_mode:
        result = _pack(*args)
        result["cleaned"] = leftovers(output)
        return result
    parent = os.path.dirname(output)
    if not os.path.isdir(parent):
        try:
            os.makedirs(parent)
        except OSError as exc:
            raise DeployError("The output directory %s is not writable: cannot create its parent %s (%s)." % (
                output, parent, exc.strerror or exc),
                hint="Choose an output whose parent directory this user can write, or fix its permissions.")
    with OutputLock(output, timeout):
        cleaned = clean_leftovers(output)
        result = _pack(*args)
    result["cleaned"] = cleaned
    return result


def _pack(workspace, output, package_filter, build, pnpm, jobs, force, shared_inputs, timeout, check_mode, runner):
    """pack_workspace's plan and apply (output absolute; the caller holds the lock)."""
    started = time.time()
    root = os.path.abspath(workspace)
    version = _pnpm.check_version(pnpm, runner=runner)
    space = ws.discover(root)
    names = ws.select(space, package_filter)
    ws.validate(space, names)
    edges = ws.graph(space, names)
    order = ws.topological_order(names, edges)
    previous = previous_manifest(output)
    old_packages = (previous or {}).get("packages") or {}

    lock = load_lockfile(root)
    locked = locked_closure(space, names, lock)
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
        return {"packages": pkgs, "order": list(order), "filter": package_filter, "lockfile": locked}

    old_state = {"packages": old_packages, "order": (previous or {}).get("order"),
                 "filter": (previous or {}).get("filter"), "lockfile": (previous or {}).get("lockfile")}
    changed = bool(rebuild) or previous is None or current_state(packages) != old_state
    result = {"changed": changed, "rebuilt": rebuild, "removed": removed, "order": order, "pnpm_version": version,
              "manifest": os.path.join(output, _tarball_manifest.MANIFEST_NAME)}
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
            jobs = jobs or os.cpu_count() or 1
            if build:
                build_packages(space, pnpm, rebuild, jobs, timeout, runner)
            made = _pnpm.run_jobs(rebuild, {}, packer(space, pnpm, staging, timeout, runner), jobs)
            for name in order:  # fingerprints after the build: what a later run will find
                if name in rebuild:
                    inputs[name] = inputs_of(space, name, edges, lock, shared, tool, fingerprints, nested)
                    fingerprints[name] = fp.fingerprint(inputs[name])
                    packages[name] = manifest_entry(space, name, made[name],
                                                    _tarball_manifest.sha256_file(os.path.join(staging, made[name])),
                                                    fingerprints[name], inputs[name])
            _tarball_manifest.write(staging, packages, order, package_filter, locked)
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


def ensure(client, opts, check_mode=False, diff=False):
    """workspace_pack's entry point (run_module's shape; client: unused, no engine is needed):
    pack opts' workspace; the result, with the diff when diff is asked."""
    if opts["jobs"] is not None and opts["jobs"] < 1:
        raise DeployError("jobs must be 1 or more, got %d." % opts["jobs"])
    result = pack_workspace(opts["workspace"], opts["output"], opts["filter"], opts["build"], opts["pnpm"],
                            opts["jobs"], opts["force"], opts["shared_inputs"], opts["timeout"], check_mode)
    changes = result.pop("diff")
    if diff:
        result["diff"] = changes
    return result
