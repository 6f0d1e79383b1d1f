# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""pnpm: its version, and building and packing workspace packages. PRIVATE to the collection.

Commands are built first (pure: the tests assert them) and run second. Several packages
are built by one pnpm start (recursive_build_command: pnpm selects them, orders them by
their dependencies and runs several at once); failed_package reads which one failed from
its output. run_jobs runs one job per package (a pack) with at most `jobs` at once, each
only after the jobs of the packages it depends on succeeded.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shutil
import tempfile
import threading

from ansible_collections.bytelyst.deploy.plugins.module_utils._command import Command, run
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

MIN_MAJOR = 9
# pnpm must not stop to ask, nor look for its own updates, in an unattended run.
PNPM_ENV = {"CI": "true", "npm_config_update_notifier": "false"}


def version_command(pnpm):
    return Command([pnpm, "--version"], env=PNPM_ENV, timeout=120)


def parse_version(text):
    """'10.6.5' (possibly after other lines) -> (10, 6, 5); None if there is none."""
    for line in reversed((text or "").strip().splitlines()):
        found = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", line.strip())
        if found:
            return tuple(int(x) for x in found.groups())
    return None


def check_version(pnpm, runner=run):
    """The pnpm version as a string; DeployError if pnpm is missing, broken or older than 9."""
    command = version_command(pnpm)
    try:
        result = runner(command, check=False)
    except DeployError as exc:
        raise DeployError("pnpm could not be run as %r: %s" % (pnpm, exc.message),
                          hint="Install pnpm 9 or newer, or set the pnpm option to its path.",
                          command=command.display())
    version = parse_version(result.stdout)
    if result.rc != 0 or version is None:
        raise DeployError("%r --version did not report a pnpm version (exit code %d)." % (pnpm, result.rc),
                          hint="Set the pnpm option to a working pnpm 9 or newer.",
                          command=command.display(), output=result.output.strip()[-2000:])
    if version[0] < MIN_MAJOR:
        raise DeployError("%r is pnpm %s; workspace_pack needs pnpm %d or newer." % (
            pnpm, ".".join(map(str, version)), MIN_MAJOR),
            hint="Upgrade pnpm (e.g. corepack prepare pnpm@10 --activate) or set the pnpm option to a newer one.",
            command=command.display())
    return ".".join(map(str, version))


def build_command(pnpm, package_dir, timeout=None):
    """Run the package's build script in its directory (pnpm puts node_modules/.bin on PATH)."""
    return Command([pnpm, "run", "build"], cwd=package_dir, env=PNPM_ENV, timeout=timeout)


def recursive_build_command(pnpm, root, names, jobs, timeout=None):
    """One pnpm start runs the build script of every package in names (from the workspace root).

    pnpm selects them (one --filter per name: an exact package name), sorts them so that a
    package builds after the selected packages it depends on, runs up to jobs builds at once,
    skips selected packages without a build script and stops at the first failure. names
    should hold every package between two of them in the dependency graph: pnpm orders the
    selected packages only by the edges among them. The append-only reporter prefixes each
    line of a build with the package's directory, which failed_package reads."""
    argv = [pnpm, "--recursive", "--reporter=append-only", "--workspace-concurrency=%d" % max(1, jobs)]
    argv += ["--filter=%s" % name for name in names]
    return Command(argv + ["run", "build"], cwd=root, env=PNPM_ENV, timeout=timeout)


# The append-only reporter's last line for a failed script ("packages/logger build: Failed"), and
# the summary pnpm prints after it ("ERR_PNPM_RECURSIVE_RUN_FIRST_FAIL  @bytelyst/logger@0.3.1 build: ...").
_FAILED_LINE = re.compile(r"^(\S+) build: Failed\s*$", re.MULTILINE)
_FIRST_FAIL = re.compile(r"ERR_PNPM_RECURSIVE_RUN_FIRST_FAIL\s+(\S+)@[^@\s]+\s+build\b")


def failed_package(output, dirs):
    """The name of the package whose build failed in a recursive build's output, or None.

    dirs maps each package's directory relative to the workspace root to its name. pnpm
    prints directories longer than 40 characters as '\u2026' and their end; the summary line
    (name@version) is the fallback."""
    for found in _FAILED_LINE.finditer(output or ""):
        prefix = found.group(1)
        if prefix in dirs:
            return dirs[prefix]
        if prefix.startswith(u"\u2026"):  # pnpm shortens long directories to their last characters
            matches = [d for d in dirs if d.endswith(prefix[1:])]
            if len(matches) == 1:
                return dirs[matches[0]]
    found = _FIRST_FAIL.search(output or "")
    if found and found.group(1) in dirs.values():
        return found.group(1)
    return None


def pack_command(pnpm, package_dir, destination, timeout=None):
    """pnpm pack rewrites workspace: ranges into the real versions in the packed package.json."""
    return Command([pnpm, "pack", "--pack-destination", destination], cwd=package_dir, env=PNPM_ENV,
                   timeout=timeout)


def tarball_name(name, version):
    """The file name pnpm gives a package's tarball: @scope/name 1.0.0 -> scope-name-1.0.0.tgz."""
    return "%s-%s.tgz" % (name.lstrip("@").replace("/", "-"), version)


def pack(pnpm, package, staging, timeout=None, runner=run):
    """Pack package into staging; return the tarball's file name there."""
    scratch = tempfile.mkdtemp(prefix=".pack-", dir=staging)
    try:
        runner(pack_command(pnpm, package.dir, scratch, timeout), what="pnpm pack of %s" % package.name)
        made = [f for f in os.listdir(scratch) if f.endswith(".tgz")]
        if len(made) != 1:
            raise DeployError("pnpm pack of %s left %d tarballs (%s); expected one." % (
                package.name, len(made), ", ".join(made) or "none"),
                hint="Check the package's prepack/postpack scripts.")
        os.rename(os.path.join(scratch, made[0]), os.path.join(staging, made[0]))
        return made[0]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run_jobs(names, edges, job, jobs):
    """Run job(name) for every name, at most `jobs` at once, a name only after its
    dependencies (edges: name -> names) among `names` succeeded. Returns {name: result}.
    After the first failure no new job starts; the running ones finish; the first
    failure is raised (a DeployError naming the package, with later failures listed)."""
    pending = set(names)
    waiting_on = dict((n, set(edges.get(n, ())) & pending) for n in names)
    results, failures, running = {}, [], set()
    lock = threading.Condition()

    def worker(name):
        try:
            outcome = (job(name), None)
        except Exception as exc:  # pylint: disable=broad-except
            outcome = (None, exc)
        with lock:
            running.discard(name)
            if outcome[1] is None:
                results[name] = outcome[0]
                for other in waiting_on.values():
                    other.discard(name)
            else:
                failures.append((name, outcome[1]))
            lock.notify_all()

    with lock:
        while True:
            ready = sorted(n for n in pending if not waiting_on[n]) if not failures else []
            while ready and len(running) < max(1, jobs):
                name = ready.pop(0)
                pending.discard(name)
                running.add(name)
                threading.Thread(target=worker, args=(name,), daemon=True).start()
            if not running:
                break
            lock.wait()
    if pending and not failures:
        raise DeployError("Some packages could never start, as they wait on each other: %s." % ", ".join(
            sorted(pending)), hint="Their dependencies form a cycle; remove one of them.")
    if failures:
        name, exc = failures[0]
        if not isinstance(exc, DeployError):
            exc = DeployError("Preparing %s failed: %s" % (name, exc))
        if len(failures) > 1:
            exc.message += " (also failed: %s)" % ", ".join(n for n, dummy in failures[1:])
        exc.details.setdefault("package", name)
        raise exc
    return results
