# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dockerfile text of a product image. PRIVATE to the collection. Pure functions.

Two modes x two kinds, one shape (the guide's 5.1 layer order):

    builder: FROM <dev base | runtime> AS builder, WORKDIR /app/<kind>,
             COPY package.json, pnpm install (dev included), COPY sources, pnpm run build
    final:   FROM <backend|web base | runtime>, WORKDIR /app/<kind>,
             COPY package.json, pnpm install --prod (when anything is left),
             COPY the build output, ENV, EXPOSE, HEALTHCHECK, USER node, CMD

mode=tarball installs the production dependencies in a `deps` stage (FROM the runtime
image: pnpm, vendor/*.tgz, package.json, pnpm install --prod) and the final stage copies
only its node_modules, so neither the tarballs nor pnpm end up in the final image.

Dependency manifests and their install come before the sources, so a source-only
change reuses the dependency layers of every stage. Labels are not in the text: the
build passes them (--label), so the fingerprint of the text does not depend on itself.
The context is the one _product.stage_context writes. Secrets (ids `npmrc`, `ca`)
are BuildKit secret mounts, read only by the install steps, never stored in a layer.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

SECRET_IDS = ("npmrc", "ca")
# Where the Next.js standalone server of /app/<kind> may land in .next/standalone,
# depending on the tracing root the product's next.config chooses.
STANDALONE_OUT = "/tmp/bytelyst-standalone"
PNPM_FLAGS = ("--ignore-workspace", "--ignore-pnpmfile", "--no-frozen-lockfile", "--config.node-linker=hoisted")


class DockerfileSpec(object):
    """Everything the text depends on.

    mode: "base" | "tarball"; kind: "backend" | "web"; next: Next.js standalone web.
    builder_image / final_image: pinned refs (image id or digest). install_builder /
    install_final: whether each stage has anything to install. output_dir: what the
    final stage copies (non-Next). start: argv. pnpm_version: tarball mode installs pnpm
    when the runtime image lacks it.
    """

    def __init__(self, mode, kind, builder_image, final_image, start, port, health_path="/health",
                 next_standalone=False, output_dir="dist", install_builder=True, install_final=True,
                 pnpm_version="10.6.5", vendor=False):
        self.mode = mode
        self.kind = kind
        self.builder_image = builder_image
        self.final_image = final_image
        self.start = list(start)
        self.port = int(port)
        self.health_path = health_path if health_path.startswith("/") else "/" + health_path
        self.next_standalone = next_standalone
        self.output_dir = output_dir
        self.install_builder = install_builder
        self.install_final = install_final
        self.pnpm_version = pnpm_version
        self.vendor = vendor

    @property
    def workdir(self):
        return "/app/" + self.kind


def secret_mounts(uid):
    """The RUN flags that expose the optional secrets and the pnpm store cache to one step."""
    flags = ["--mount=type=cache,id=bytelyst-pnpm-store-%s,target=/tmp/pnpm-store,uid=%s,gid=%s" % (uid, uid, uid)]
    for secret_id in SECRET_IDS:
        flags.append("--mount=type=secret,id=%s,uid=%s,mode=0400" % (secret_id, uid))
    return " ".join(flags)


def secret_env():
    """Shell that points node and pnpm at the mounted secrets, when they were given."""
    return ("if [ -f /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi; "
            "if [ -f /run/secrets/npmrc ]; then export NPM_CONFIG_USERCONFIG=/run/secrets/npmrc; fi")


def install_step(prod, uid, auto_install_peers):
    # The store and pnpm's metadata cache and state (by default under the user's home, where
    # they would land in the image's layer: 7.8 MB per sample backend) live in the cache mount.
    flags = list(PNPM_FLAGS) + ["--config.store-dir=/tmp/pnpm-store",
                                "--config.cache-dir=/tmp/pnpm-store/.cache",
                                "--config.state-dir=/tmp/pnpm-store/.state",
                                "--config.auto-install-peers=%s" % ("true" if auto_install_peers else "false")]
    if prod:
        flags.insert(0, "--prod")
    return "RUN %s \\\n    set -e; %s; pnpm install %s" % (secret_mounts(uid), secret_env(), " ".join(flags))


def pnpm_step(spec, uid):
    """mode=tarball: the runtime image (node:22-slim) has npm but no pnpm."""
    return ("RUN %s \\\n    set -e; %s; command -v pnpm >/dev/null || npm install -g --no-fund --no-audit pnpm@%s"
            % (secret_mounts(uid), secret_env(), spec.pnpm_version))


# The probe Docker runs every interval, in the container. bash (Debian's node:22-slim has it)
# asks over /dev/tcp: a few milliseconds of CPU, where starting node costs ~0.15 CPU-s, a
# steady load when dozens of services share a VM. A runtime image without bash gets the same
# check from node. Values are arguments ($1..$4), never spliced into the shell text.
PROBE_SH = 'command -v bash >/dev/null && exec bash -c "$1" health "$2" "$3"; exec node -e "$4" health "$2" "$3"'
PROBE_BASH = ('exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1; '
              "printf 'GET %s HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\nConnection: close\\r\\n\\r\\n' \"$2\" >&3 || exit 1; "
              'IFS= read -r status <&3 || exit 1; [[ $status == "HTTP/1."?" 200 "* ]]')
PROBE_NODE = ("const [port, path] = process.argv.slice(-2); require('http').get({host: '127.0.0.1', port, path}, "
              "(r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))")


def health_argv(port, path):
    """The exec-form HEALTHCHECK command: GET http://127.0.0.1:<port><path> must answer 200."""
    return ["/bin/sh", "-c", PROBE_SH, "health", PROBE_BASH, str(port), path, PROBE_NODE]


def health_command(spec):
    # A deploy waits for the first healthy probe, which Docker runs one interval after the start
    # (engines before 25 have no --start-interval): 10 s keeps deploys quick without probing
    # often. Deploys may override the timings (Compose `healthcheck:` without `test`).
    return "HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \\\n    CMD %s" % json.dumps(
        health_argv(spec.port, spec.health_path))


def _manifest_copy(spec, which, owner):
    lines = []
    if spec.vendor:
        lines.append("COPY %svendor/ ./vendor/" % owner)
    lines.append("COPY %sbytelyst/%s.json ./package.json" % (owner, which))
    return lines


def standalone_step(spec):
    """Collect this project's Next.js standalone server (plus static files and public/) in one place.

    The standalone tree mirrors next.config's tracing root, so /app/web's server.js may be at
    .next/standalone/app/web, .next/standalone/web or .next/standalone itself. Only that
    subtree is kept: modules traced from above it (/app/node_modules) are the base's.
    """
    parts = spec.workdir.strip("/").split("/")
    places = [".next/standalone/" + "/".join(parts[i:]) for i in range(len(parts))] + [".next/standalone"]
    out = STANDALONE_OUT
    return ("RUN set -e; for d in %s; do if [ -f \"$d/server.js\" ]; then mkdir -p %s; cp -a \"$d/.\" %s/; break; fi; done; \\\n"
            "    test -f %s/server.js || { echo 'no server.js in .next/standalone: set output: \"standalone\" in next.config' >&2; exit 1; }; \\\n"
            "    mkdir -p %s/.next && cp -a .next/static %s/.next/static; if [ -d public ]; then cp -a public %s/public; fi"
            % (" ".join(places), out, out, out, out, out, out))


def builder_stage(spec):
    # mode=base: the dev base runs as node and owns /app; mode=tarball: the runtime image's user.
    uid = "1000" if spec.mode == "base" else "0"
    lines = ["FROM %s AS builder" % spec.builder_image]
    if spec.mode == "tarball":
        lines += ["USER root", pnpm_step(spec, uid)]
    lines.append("WORKDIR %s" % spec.workdir)
    if spec.kind == "web":
        lines.append("ENV NEXT_TELEMETRY_DISABLED=1")
    lines += _manifest_copy(spec, "builder", "")
    if spec.install_builder:
        lines.append(install_step(False, uid, auto_install_peers=spec.mode == "tarball"))
    # The dev base says NODE_ENV=development (devDependencies install); the build itself is for production.
    lines += ["COPY source/ ./", "RUN NODE_ENV=production pnpm run build"]
    if spec.next_standalone:
        lines.append(standalone_step(spec))
    return lines


def uses_deps_stage(spec):
    """mode=tarball with production dependencies to install (a Next.js standalone web carries its own)."""
    return spec.mode == "tarball" and spec.install_final and not spec.next_standalone


def deps_stage(spec):
    """mode=tarball: install the production dependencies (the vendored tarballs among them) in a
    stage of their own, on the runtime image, as node in /app/<kind>; the final stage copies
    node_modules only, so no tarball and no pnpm reach the final image."""
    lines = ["FROM %s AS deps" % spec.final_image, "USER root", pnpm_step(spec, "0"),
             "RUN install -d -o 1000 -g 1000 %s" % spec.workdir, "USER node", "WORKDIR %s" % spec.workdir]
    lines += _manifest_copy(spec, "runtime", "--chown=node:node ")
    lines.append(install_step(True, "1000", auto_install_peers=True))
    return lines


def final_stage(spec):
    lines = ["FROM %s" % spec.final_image, "USER root"]
    lines += ["RUN install -d -o 1000 -g 1000 %s" % spec.workdir, "USER node", "WORKDIR %s" % spec.workdir]
    if spec.next_standalone:
        # Standalone carries the traced product-only modules; the base provides the rest.
        lines.append("COPY --from=builder --chown=node:node %s/ ./" % STANDALONE_OUT)
        lines.append("COPY --chown=node:node bytelyst/runtime.json ./package.json")
    else:
        lines.append("COPY --chown=node:node bytelyst/runtime.json ./package.json")
        if uses_deps_stage(spec):
            lines.append("COPY --from=deps --chown=node:node %s/node_modules ./node_modules" % spec.workdir)
        elif spec.install_final:
            lines.append(install_step(True, "1000", auto_install_peers=spec.mode == "tarball"))
        lines.append("COPY --from=builder --chown=node:node %s/%s ./%s" % (spec.workdir, spec.output_dir, spec.output_dir))
    env = ["NODE_ENV=production", "PORT=%d" % spec.port, "HOST=0.0.0.0"]
    if spec.kind == "web":
        env += ["HOSTNAME=0.0.0.0", "NEXT_TELEMETRY_DISABLED=1"]
    lines += ["ENV " + " ".join(env), "EXPOSE %d" % spec.port, health_command(spec), "USER node",
              "CMD %s" % json.dumps(spec.start)]
    return lines


def render(spec):
    """The Dockerfile text for spec."""
    header = ["# Generated by bytelyst.deploy.product_image (mode=%s, kind=%s). Do not edit." % (spec.mode, spec.kind)]
    deps = deps_stage(spec) + [""] if uses_deps_stage(spec) else []
    return "\n".join(header + builder_stage(spec) + [""] + deps + final_stage(spec)) + "\n"
