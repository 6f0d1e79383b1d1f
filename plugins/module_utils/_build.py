# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""BuildKit image builds from generated Dockerfile text. PRIVATE to the collection.

Any image module uses it the same way:

    cli = find_buildkit_cli(preferred=docker_cli, connection=module_options)
    spec = BuildSpec(dockerfile_text, context_dir, tag="bytelyst-tmp/x:build-ab12",
                     secrets={"npmrc": "/path/to/npmrc", "ca": "/path/to/ca.pem"},
                     labels={"dev.bytelyst.fingerprint": "..."})
    result = build(cli, spec, what="build of the backend base image")
    result.image_id   # "sha256:..."
    result.builder    # "buildx" or "buildkit" (the client's builder)

Secrets reach the build ONLY as `--secret id=<id>,src=<file>` (a Dockerfile reads them
with `RUN --mount=type=secret,id=<id>`): never as build args, never in the context.
`redact` lists secret values to scrub from any output shown (errors, results).
The tag given is meant to be temporary: callers verify the image, then apply their
final tags (see _tags.py) and remove the temporary tag.

A build can take minutes with nothing to show: with `BuildSpec(..., log=path)` BuildKit's
plain progress goes, line by line as it comes and with the secrets' values scrubbed, to
that file (`log_path` names one under DEFAULT_LOG_DIR), so a person can follow it with
`tail -f` while the task runs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os
import re
import select
import shutil
import subprocess
import tempfile
import time

from ansible_collections.bytelyst.deploy.plugins.module_utils._command import Result, redact, run, tail
from ansible_collections.bytelyst.deploy.plugins.module_utils._contract import SECRET_CA, SECRET_NPMRC, TOKEN_LINE
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._files import write_atomic

SECRET_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
DEFAULT_TIMEOUT = 1800
# Where build logs go unless an option says otherwise: kept across reboots for a while, and
# independent of any user's home (the remote user of an AWX job has none to speak of).
DEFAULT_LOG_DIR = "/var/tmp/bytelyst/builds"


class BuildSpec(object):
    """What to build.

    dockerfile: the Dockerfile TEXT (written to a temporary file outside the context).
    context: the build context directory (should hold only what the build copies).
    tag: the (temporary) tag the built image gets.
    secrets: {secret id: path of the file holding it}.
    labels: {label: value}, set with --label (so they do not change the Dockerfile text).
    build_args: {name: value} for NON-secret values only.
    target: a stage name to stop at, or None.
    redact: secret values to scrub from shown output.
    log: a file for BuildKit's progress while the build runs (None: kept in memory only).
    """

    def __init__(self, dockerfile, context, tag, secrets=None, labels=None, build_args=None,
                 target=None, redact=None, no_cache=False, timeout=DEFAULT_TIMEOUT, log=None):
        self.dockerfile = dockerfile
        self.context = context
        self.tag = tag
        self.secrets = dict(secrets or {})
        self.labels = dict(labels or {})
        self.build_args = dict(build_args or {})
        self.target = target
        self.redact = [r for r in (redact or []) if r]
        self.no_cache = no_cache
        self.timeout = timeout
        self.log = log


class BuildResult(object):
    """image_id ("sha256:..."), builder ("buildx"/"buildkit"), command (shown form), output (tail),
    log (the progress file, or None)."""

    def __init__(self, image_id, builder, command, output, log=None):
        self.image_id = image_id
        self.builder = builder
        self.command = command
        self.output = output
        self.log = log

    def as_dict(self):
        return {"image_id": self.image_id, "builder": self.builder, "command": self.command, "build_log": self.log}


def log_path(name, build_log=None, log_dir=None, now=None):
    """The progress file of a build of image name: build_log when given, else
    <log_dir or DEFAULT_LOG_DIR>/<name's last path part, without tag>-<UTC time>.log."""
    if build_log:
        return build_log
    short = re.sub(r"[^A-Za-z0-9_.-]", "-", name.rsplit("/", 1)[-1].split(":", 1)[0]) or "image"
    stamp = (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    return os.path.join(log_dir or DEFAULT_LOG_DIR, "%s-%s.log" % (short, stamp))


def open_log(path):
    """Create (or empty) the progress file, and its directory, for writing."""
    try:
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, 0o755, exist_ok=True)  # another build may make it at the same time
        return open(path, "w")
    except (IOError, OSError) as exc:
        raise DeployError("Cannot write the build log %s: %s." % (path, exc.strerror or exc),
                          hint="Set build_log_dir (or build_log) to a place the remote user may write. Nothing was built.")


def run_logged(command, path, what=None):
    """Run command as _command.run does (stdout and stderr as one stream), writing each line
    to the file at path as it comes, the command's secrets scrubbed (people read that file).

    The deadline is checked while waiting for output, not only when the output ends: the
    docker CLI runs buildx as a child of its own, which would keep the pipe open (and a
    blocking read waiting) after the CLI itself is stopped."""
    env = dict(os.environ)
    env.update(command.env)
    with open_log(path) as handle:
        handle.write("# %s\n" % command.display())
        handle.flush()
        try:
            proc = subprocess.Popen(command.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, cwd=command.cwd, env=env)
        except OSError as exc:
            raise DeployError("Could not run %s: %s." % (command.argv[0], exc),
                              hint="Check that it is installed and on PATH, or set the option that names it.",
                              command=command.display())
        deadline = time.time() + command.timeout if command.timeout else None
        output, pending, expired = [], b"", False
        try:
            while True:
                if deadline is not None and time.time() > deadline:
                    expired = True
                    proc.kill()
                    break
                if not select.select([proc.stdout], [], [], 1.0)[0]:
                    continue
                chunk = os.read(proc.stdout.fileno(), 65536)
                # whole lines only: a secret (or a UTF-8 character) split between two reads is
                # scrubbed (decoded) once its line is complete
                lines = [line + b"\n" for line in (pending + chunk).split(b"\n")]
                pending = lines.pop()[:-1] if chunk else b""
                for raw in lines if chunk else [lines[0][:-1]]:
                    line = raw.decode("utf-8", "replace")
                    output.append(line)
                    handle.write(redact(line, command.secrets))
                handle.flush()
                if not chunk:
                    break
            returncode = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            proc.stdout.close()
    result = Result(command, returncode, "".join(output), "")
    if expired:
        raise DeployError("%s did not finish within %s seconds. Its output so far is in %s." % (
            what or command.argv[0], command.timeout, path), command=command.display(),
            output=tail(result.output) or None, build_log=path)
    if returncode != 0:
        raise DeployError("%s failed (exit code %d). Its whole output is in %s." % (
            what or "Command", returncode, path), command=command.display(), output=tail(result.output),
            build_log=path)
    return result


def build_secrets(directory, npm_token=None, ca_bundle=None):
    """({secret id: file}, [values to redact]) for the optional npm token and CA bundle, the
    same for every image type: the token goes into a 0600 file in directory (a private
    scratch directory removed after the build), in the form the Dockerfile steps read."""
    secrets, redact = {}, []
    if npm_token:
        secrets[SECRET_NPMRC] = write_atomic(os.path.join(directory, SECRET_NPMRC), TOKEN_LINE % npm_token, mode=0o600)
        redact.append(npm_token)
    if ca_bundle:
        secrets[SECRET_CA] = ca_bundle
    return secrets, redact


def check_secrets(secrets):
    """Raise DeployError for a bad secret id or a secret file that is not there."""
    for secret_id, path in sorted(secrets.items()):
        if not SECRET_ID.match(secret_id or ""):
            raise DeployError("The build secret id %r is not valid (letters, digits, '.', '_', '-')." % secret_id)
        if not path or not os.path.isfile(path):
            raise DeployError("The file for build secret %r (%s) does not exist." % (secret_id, path),
                              hint="Check the option that names it (for example ca_bundle).")


def build_command(cli, spec, dockerfile_path, iidfile):
    """The Command that runs the build (pure: nothing is run or checked here)."""
    argv = list(cli.build_argv()[1:])
    argv += ["--progress", "plain", "--file", dockerfile_path, "--iidfile", iidfile, "--tag", spec.tag]
    if spec.target:
        argv += ["--target", spec.target]
    if spec.no_cache:
        argv.append("--no-cache")
    for name in sorted(spec.build_args):
        argv += ["--build-arg", "%s=%s" % (name, spec.build_args[name])]
    for secret_id in sorted(spec.secrets):
        argv += ["--secret", "id=%s,src=%s" % (secret_id, spec.secrets[secret_id])]
    for key in sorted(spec.labels):
        argv += ["--label", "%s=%s" % (key, spec.labels[key])]
    argv.append(spec.context)
    env = {"DOCKER_BUILDKIT": "1"}
    return cli.command(argv, env=env, secrets=spec.redact, timeout=spec.timeout)


def build(cli, spec, what="image build"):
    """Run the build; return a BuildResult. Raise DeployError with the command and output tail."""
    if not os.path.isdir(spec.context):
        raise DeployError("The build context %s is not a directory." % spec.context)
    check_secrets(spec.secrets)
    for value in spec.build_args.values():
        if any(secret and secret in str(value) for secret in spec.redact):
            raise DeployError("A secret value was passed as a build argument; secrets go only through build secrets.")
    workdir = tempfile.mkdtemp(prefix="bytelyst-build-")
    try:
        dockerfile_path = os.path.join(workdir, "Dockerfile")
        with open(dockerfile_path, "w") as handle:
            handle.write(spec.dockerfile)
        iidfile = os.path.join(workdir, "iid")
        command = build_command(cli, spec, dockerfile_path, iidfile)
        try:
            result = run_logged(command, spec.log, what=what) if spec.log else run(command, what=what)
        except DeployError as err:
            explain_engine_cache(err)
            raise
        try:
            with open(iidfile) as handle:
                image_id = handle.read().strip()
        except (IOError, OSError):
            image_id = ""
        if not image_id.startswith("sha256:"):
            raise DeployError("%s finished but reported no image id." % what, command=command.display(),
                              output=tail(result.output))
        return BuildResult(image_id, cli.builder, command.display(), tail(result.output, 40), log=spec.log)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# BuildKit's own words when its cache names a layer the engine's layer store no longer has (seen with
# Docker Engine 20.10 after images a cached build step had produced were removed): every build that
# reuses that step fails the same way until the build cache is cleared.
STALE_CACHE_ERRORS = ("layer does not exist",)


def explain_engine_cache(err):
    """Give a failed build whose output shows a stale build cache the hint that fixes it."""
    if err.hint is None and any(text in (err.output or "") for text in STALE_CACHE_ERRORS):
        err.hint = ("The engine's build cache refers to a layer the engine no longer has (a Docker Engine fault "
                    "seen after images were removed while builds reused their steps); every build reusing that "
                    "step fails the same way. Clear the cache on that engine (docker builder prune) and run "
                    "again; nothing was tagged.")


INSTALL_ERRORS = ("ERR_PNPM", "ERR_BYTELYST", "npm ERR!", "npm error")


def lift_install_error(err):
    """Lift pnpm's or npm's own error line (it names the package), or the lockfile check's,
    from a failed build's output into the message."""
    for line in (err.output or "").splitlines():
        text = re.sub(r"^#\d+\s+[\d.]+\s+", "", line).strip()  # BuildKit's "#11 25.28 " prefix
        if text.startswith(INSTALL_ERRORS):
            err.message += " The install reported: %s" % text
            err.args = (err.message,)
            break
    return err
