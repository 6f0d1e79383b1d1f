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
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shutil
import tempfile

from ansible_collections.bytelyst.deploy.plugins.module_utils._command import run, tail
from ansible_collections.bytelyst.deploy.plugins.module_utils._contract import SECRET_CA, SECRET_NPMRC, TOKEN_LINE
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._files import write_atomic

SECRET_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
DEFAULT_TIMEOUT = 1800


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
    """

    def __init__(self, dockerfile, context, tag, secrets=None, labels=None, build_args=None,
                 target=None, redact=None, no_cache=False, timeout=DEFAULT_TIMEOUT):
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


class BuildResult(object):
    """image_id ("sha256:..."), builder ("buildx"/"buildkit"), command (shown form), output (tail)."""

    def __init__(self, image_id, builder, command, output):
        self.image_id = image_id
        self.builder = builder
        self.command = command
        self.output = output

    def as_dict(self):
        return {"image_id": self.image_id, "builder": self.builder, "command": self.command}


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
        result = run(command, what=what)
        try:
            with open(iidfile) as handle:
                image_id = handle.read().strip()
        except (IOError, OSError):
            image_id = ""
        if not image_id.startswith("sha256:"):
            raise DeployError("%s finished but reported no image id." % what, command=command.display(),
                              output=tail(result.output))
        return BuildResult(image_id, cli.builder, command.display(), tail(result.output, 40))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
