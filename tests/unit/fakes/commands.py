"""Programs the cores run through a command runner: pnpm over a small workspace on disk
(FakePnpm) and trivy (FakeTrivy). Compose is in fakes.compose, the proxy's nginx in fakes.proxy."""

import hashlib
import json
import os
import threading

from ansible_collections.bytelyst.deploy.plugins.module_utils._command import Result
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError


class FakePnpm(object):
    """A command runner standing in for pnpm: --version, run build (writes dist/), a recursive
    run build over --filter'ed packages (each in the order given, as pnpm would after sorting;
    it stops at the first failure and says so as pnpm's append-only reporter does), and pack
    (writes a .tgz)."""

    def __init__(self, version="10.6.5", failing_builds=()):
        self.version = version
        self.failing_builds = set(failing_builds)
        self.calls = []
        self.commands = []
        self.lock = threading.Lock()

    def __call__(self, command, check=True, what=None):
        args = command.argv[1:]
        package = os.path.basename(command.cwd or "")
        with self.lock:
            self.commands.append(command)
        if args == ["--version"]:
            self.log("--version")
            return Result(command, 0, self.version + "\n", "")
        if args == ["run", "build"]:
            self.log("%s build" % package)
            if package in self.failing_builds:
                raise DeployError("%s failed (exit code 2)." % what, command=command.display(), output="error TS2322")
            self.build(command.cwd)
            return Result(command, 0, "", "")
        if args[0] == "--recursive" and args[-2:] == ["run", "build"]:
            dirs = self.workspace_dirs(command.cwd)
            names = [a.split("=", 1)[1] for a in args if a.startswith("--filter=")]
            out = []
            for name in names:
                rel = dirs[name]
                with open(os.path.join(command.cwd, rel, "package.json")) as f:
                    if "build" not in json.load(f).get("scripts", {}):
                        continue
                self.log("%s build" % os.path.basename(rel))
                out.append("%s build$ tsc" % rel)
                if os.path.basename(rel) in self.failing_builds:
                    out += ["%s build: error TS2322" % rel, "%s build: Failed" % rel]
                    err = " ERR_PNPM_RECURSIVE_RUN_FIRST_FAIL  %s@1.0.0 build: `tsc`\nExit status 2\n" % name
                    return Result(command, 2, "\n".join(out) + "\n", err)
                self.build(os.path.join(command.cwd, rel))
                out.append("%s build: Done" % rel)
            return Result(command, 0, "\n".join(out) + "\n", "")
        if args[0] == "pack":
            self.log("%s pack" % package)
            with open(os.path.join(command.cwd, "package.json")) as f:
                meta = json.load(f)
            digest = hashlib.sha256()
            for current, dirs, files in sorted(os.walk(command.cwd)):
                dirs.sort()
                for name in sorted(files):
                    with open(os.path.join(current, name), "rb") as f:
                        digest.update(name.encode() + f.read())
            name = "%s-%s.tgz" % (meta["name"].lstrip("@").replace("/", "-"), meta["version"])
            with open(os.path.join(args[args.index("--pack-destination") + 1], name), "w") as f:
                f.write(digest.hexdigest())
            return Result(command, 0, name + "\n", "")
        raise AssertionError("unexpected pnpm call: %s" % command.display())

    def log(self, entry):
        with self.lock:
            self.calls.append(entry)

    @staticmethod
    def build(path):
        with open(os.path.join(path, "src", "index.js")) as f:
            source = f.read()
        os.makedirs(os.path.join(path, "dist"), exist_ok=True)
        with open(os.path.join(path, "dist", "index.js"), "w") as f:
            f.write("// built\n" + source)

    @staticmethod
    def workspace_dirs(root):
        """name -> directory relative to root, of every package.json two levels down."""
        found = {}
        for group in sorted(os.listdir(root)):
            if os.path.isdir(os.path.join(root, group)):
                for name in sorted(os.listdir(os.path.join(root, group))):
                    path = os.path.join(root, group, name, "package.json")
                    if os.path.isfile(path):
                        with open(path) as f:
                            found[json.load(f)["name"]] = "%s/%s" % (group, name)
        return found

    def actions(self):
        """Calls other than the version check, as '<package dir> build' or '<package dir> pack'."""
        return [c for c in self.calls if c != "--version"]

    def builds(self):
        return [c for c in self.actions() if c.endswith(" build")]

    def packs(self):
        return sorted(c for c in self.actions() if c.endswith(" pack"))

    def pnpm_starts(self):
        """pnpm processes started other than the version check."""
        return [c for c in self.commands if c.argv[1:] != ["--version"]]


class FakeTrivy(object):
    """Writes the fixture report where `trivy image --output` says, an SBOM for `trivy convert`."""

    def __init__(self, report_text, sbom_text):
        self.report_text = report_text
        self.sbom_text = sbom_text  # the SBOM of the n-th command: sbom_text(n)
        self.commands = []

    def __call__(self, command, what=None):
        self.commands.append(command)
        argv = command.argv
        out = argv[argv.index("--output") + 1]
        with open(out, "w") as handle:
            if argv[1] == "image":
                handle.write(self.report_text)
            else:
                handle.write(self.sbom_text(len(self.commands)))
