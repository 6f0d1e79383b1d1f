# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dockerfile text: the steps both image types share, and the stages of a product image.
PRIVATE to the collection. Pure functions.

Shared steps (base images use them too, see _base_image.dockerfile): the optional build
secrets (ids `npmrc` and `ca`, _contract.SECRET_IDS) as BuildKit secret mounts, the shell
that hands them to npm and pnpm, the pnpm store in a cache mount, and the pnpm set-up. So
how an image installs its dependencies is written once, here.

A product image: two modes x two kinds, one shape (the guide's 5.1 layer order):

    builder: FROM <dev base | runtime> AS builder, [apt-get install build_os_packages],
             WORKDIR /app/<kind>, COPY package.json [.npmrc], pnpm install (dev included),
             COPY extra dirs to /app/<dir>, COPY sources, ARG build_args, pnpm run build
    final:   FROM <backend|web base | runtime>, [apt-get install os_packages],
             WORKDIR /app/<kind>, COPY package.json [.npmrc], pnpm install --prod (when
             anything is left), COPY the build output, COPY extra dirs to /app/<dir>,
             ENV, EXPOSE, HEALTHCHECK, USER node, CMD

Extra source directories (the guide's product-level shared/) sit at /app/<dir> in both
stages, so `../shared` from the kind's directory finds them as it does in the product.
Build arguments are declared just before the build step: the install layers do not
depend on them. OS packages come in a layer of their own right after FROM, before
anything of the product, so a source change reuses it.

mode=tarball installs the production dependencies in a `deps` stage (FROM the runtime
image: pnpm, vendor/*.tgz, package.json, pnpm install --prod) and the final stage copies
only its node_modules, so neither the tarballs nor pnpm end up in the final image.

package.json, .npmrc, the lockfile and the install come before the sources, so a source-only
change reuses the dependency layers of every stage. Labels are not in the text: the
build passes them (--label), so the fingerprint of the text does not depend on itself.
The context is the one _product.stage_context writes. Secrets are read only by the
install steps, never stored in a layer.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import shlex

from ansible_collections.bytelyst.deploy.plugins.module_utils._contract import (
    AUTH_DIR, PNPM_STORE, PNPM_STORE_CACHE_ID, SECRET_CA, SECRET_IDS, SECRET_NPMRC, UID)

# Where the Next.js standalone server of /app/<kind> may land in .next/standalone,
# depending on the tracing root the product's next.config chooses.
STANDALONE_OUT = "/tmp/bytelyst-standalone"
PNPM_FLAGS = ("--ignore-workspace", "--ignore-pnpmfile", "--no-frozen-lockfile", "--config.node-linker=hoisted")


# Steps both image types share ---------------------------------------------------------------

def secret_mounts(uid):
    """The RUN flags that expose the optional secrets to one step (readable by uid), and the
    tmpfs the token's npmrc is written to. An absent secret is simply not mounted."""
    flags = ["--mount=type=secret,id=%s,uid=%s,mode=0400" % (secret_id, uid) for secret_id in SECRET_IDS]
    flags.append("--mount=type=tmpfs,target=%s" % (AUTH_DIR % uid))
    return " ".join(flags)


def store_mount(uid):
    """The pnpm store as a BuildKit cache mount, one per uid (it must be writable by the step's user)."""
    return "--mount=type=cache,id=%s,target=%s,uid=%s,gid=%s" % (PNPM_STORE_CACHE_ID % uid, PNPM_STORE, uid, uid)


def store_flags():
    """pnpm options that keep the store, its metadata cache and its state in the cache mount
    (by default they live under the user's home, where they would land in the layer)."""
    return ["--config.store-dir=%s" % PNPM_STORE, "--config.cache-dir=%s/.cache" % PNPM_STORE,
            "--config.state-dir=%s/.state" % PNPM_STORE]


# Shell run before every step that reaches the registry: the CA bundle and the token come only
# from secret mounts. The `npmrc` secret holds `_authToken=<token>`; npm refuses a token not
# scoped to a registry, so the step writes `//<registry>/:_authToken=<token>` for the registry
# npm is configured with to the tmpfs, which no layer keeps. npm writes no debug log or update
# check under the home directory (they would stay in the layer).
def secret_env(uid, token_registry=None):
    """Shell that points node, npm and pnpm at the mounted secrets (see secret_mounts(uid)), when given.
    token_registry ('//host/path/'): the token is for that registry only (product_image mode=registry),
    not for the default one."""
    auth = AUTH_DIR % uid
    text = (
        "export npm_config_logs_max=0 npm_config_update_notifier=false; "
        "if [ -f /run/secrets/%(ca)s ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/%(ca)s "
        "npm_config_cafile=/run/secrets/%(ca)s; fi; "
        "if [ -f /run/secrets/%(token)s ]; then reg=$(npm config get registry); "
        "printf '%%s:_authToken=%%s\\n' \"${reg#*:}\" \"$(sed -n 's/^_authToken=//p' /run/secrets/%(token)s)\" > %(auth)s/npmrc; "
        "export NPM_CONFIG_USERCONFIG=%(auth)s/npmrc; fi"
    ) % {"ca": SECRET_CA, "token": SECRET_NPMRC, "auth": auth}
    if token_registry:
        text = text.replace("reg=$(npm config get registry)", "reg=%s" % shlex.quote(":" + token_registry))
    return text


# After an install from a seed lockfile (_lockfile): every installed package of a name the
# lockfile holds must have a version it holds. argv: the {name: [versions]} file, node_modules.
# Double quotes only: the script goes into a single-quoted shell word.
LOCK_CHECK_SCRIPT = (
    "const fs=require(\"fs\"),p=require(\"path\"),locked=JSON.parse(fs.readFileSync(process.argv[1])),bad=[];"
    "const walk=(nm)=>{let ds=[];try{ds=fs.readdirSync(nm);}catch(e){return;}"
    "for(const d of ds){if(d.startsWith(\".\"))continue;"
    "const names=d.startsWith(\"@\")?fs.readdirSync(p.join(nm,d)).map((s)=>d+\"/\"+s):[d];"
    "for(const n of names){const dir=p.join(nm,n);let j;"
    "try{j=JSON.parse(fs.readFileSync(p.join(dir,\"package.json\")));}catch(e){continue;}"
    "const want=locked[j.name];if(want&&!want.includes(j.version))"
    "bad.push(j.name+\" \"+j.version+\" (the lockfile has \"+want.join(\", \")+\")\");"
    "walk(p.join(dir,\"node_modules\"));}}};"
    "walk(process.argv[2]);"
    "if(bad.length){console.error(\"ERR_BYTELYST_LOCKFILE installed versions the lockfile does not hold: \"+"
    "bad.join(\"; \")+\". The lockfile no longer matches package.json: run pnpm install and commit it.\");"
    "process.exit(1);}"
)
LOCKED_JSON = "/tmp/bytelyst-locked.json"


def lock_check_mount(source):
    """The RUN flag that shows the build context's {name: [versions]} file to one step (no layer keeps it)."""
    return "--mount=type=bind,source=%s,target=%s" % (source, LOCKED_JSON)


def lock_check(node_modules):
    """Shell that fails the step when node_modules holds a version the lockfile does not."""
    return "node -e '%s' %s %s" % (LOCK_CHECK_SCRIPT, LOCKED_JSON, node_modules)


def pnpm_setup_step(pnpm_version, token_registry=None):
    """Install pnpm (as root, with npm) when the image lacks that version; npm's cache stays in a cache mount."""
    return ("RUN --mount=type=cache,target=/root/.npm %s \\\n"
            "    set -e; %s; if [ \"$(pnpm --version 2>/dev/null)\" != \"%s\" ]; then "
            "npm install -g --no-fund --no-audit pnpm@%s; fi; pnpm --version"
            % (secret_mounts("0"), secret_env("0", token_registry), pnpm_version, pnpm_version))


# The product image's stages -----------------------------------------------------------------

class DockerfileSpec(object):
    """Everything the text depends on.

    mode: "base" | "tarball"; kind: "backend" | "web"; next: Next.js standalone web.
    builder_image / final_image: pinned refs (image id or digest). install_builder /
    install_final: whether each stage has anything to install. output_dir: what the
    final stage copies (non-Next). start: argv. pnpm_version: tarball mode installs pnpm
    when the runtime image lacks that version. mode "registry" builds like "tarball" (on the
    runtime image) with no vendor/: npmrc puts the generated bytelyst/npmrc (scope -> registry,
    no token) beside package.json, token_registry is the registry the token is for.
    """

    def __init__(self, mode, kind, builder_image, final_image, start, port, health_path="/health",
                 next_standalone=False, output_dir="dist", install_builder=True, install_final=True,
                 pnpm_version="10.6.5", vendor=False, lockfile=False, extra_dirs=(), build_args=(),
                 os_packages=(), build_os_packages=(), npmrc=False, token_registry=None):
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
        # the context holds bytelyst/pnpm-lock.yaml and bytelyst/locked.json (_lockfile)
        self.lockfile = lockfile
        # extra/<dir>/ in the context, copied to /app/<dir> (paths from the product root)
        self.extra_dirs = list(extra_dirs)
        # names of the build arguments the build step sees (values come with the build: --build-arg)
        self.build_args = sorted(build_args)
        # Debian packages (validated, _build_inputs) for the final stage and the install stages
        self.os_packages = list(os_packages)
        self.build_os_packages = list(build_os_packages)
        # the context holds bytelyst/npmrc: the product's registry settings without credentials
        # (_npmrc) and, in mode=registry, the shared scopes' registry (_registry_source)
        self.npmrc = npmrc
        # mode=registry: the registry the npmrc secret's token is written for (and only it)
        self.token_registry = token_registry

    @property
    def workdir(self):
        return "/app/" + self.kind


def install_step(prod, uid, auto_install_peers, lockfile=False, token_registry=None):
    flags = list(PNPM_FLAGS) + store_flags() + [
        "--config.auto-install-peers=%s" % ("true" if auto_install_peers else "false")]
    if prod:
        flags.insert(0, "--prod")
    if not lockfile:
        return "RUN %s %s \\\n    set -e; %s; pnpm install %s" % (
            store_mount(uid), secret_mounts(uid), secret_env(uid, token_registry), " ".join(flags))
    return "RUN %s %s %s \\\n    set -e; %s; pnpm install %s; \\\n    %s" % (
        store_mount(uid), secret_mounts(uid), lock_check_mount("bytelyst/locked.json"), secret_env(uid, token_registry),
        " ".join(flags), lock_check("node_modules"))


def base_install_step(tarball_dir, flags, then, lock_file=None, token_registry=None):
    """A base image's install (as root, in /app): the tarballs bind-mounted for the install only
    (copied into a layer they would stay in the image beside the installed packages), the
    lockfile's versions checked when lock_file names the recorded versions, then `then` (the
    step that gives the installed files to node)."""
    return ("RUN %s %s --mount=type=bind,source=%s,target=/app/%s%s \\\n"
            "    set -e; %s; export CI=1; pnpm install %s; %s%s"
            % (store_mount("0"), secret_mounts("0"), tarball_dir, tarball_dir,
               " " + lock_check_mount(lock_file) if lock_file else "", secret_env("0", token_registry),
               " ".join(flags), lock_check("/app/node_modules") + "; " if lock_file else "", then))


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


def apt_step(packages):
    """Install Debian packages as root in one layer (no lists or .deb files kept). An https apt
    source is verified with the `ca` secret when one is given (TLS-intercepting proxies)."""
    return ("RUN --mount=type=secret,id=%s,mode=0444 set -e; export DEBIAN_FRONTEND=noninteractive; "
            "if [ -f /run/secrets/%s ]; then set -- -o Acquire::https::CAInfo=/run/secrets/%s; fi; \\\n"
            "    apt-get \"$@\" update; apt-get \"$@\" install -y --no-install-recommends %s; \\\n"
            "    apt-get clean; rm -rf /var/lib/apt/lists/*"
            % (SECRET_CA, SECRET_CA, SECRET_CA, " ".join(packages)))


def _os_packages(packages, user_after):
    """The apt step as root, then back to user_after (None: stay root)."""
    if not packages:
        return []
    return ["USER root", apt_step(packages)] + (["USER %s" % user_after] if user_after else [])


def _extra_copies(spec, owner):
    return ["COPY %sextra/%s/ /app/%s/" % (owner, name, name) for name in spec.extra_dirs]


def _package_files_copy(spec, which, owner):
    """COPY the install's inputs: the vendored tarballs, the stage's package.json, .npmrc, the lockfile."""
    lines = []
    if spec.vendor:
        lines.append("COPY %svendor/ ./vendor/" % owner)
    lines.append("COPY %sbytelyst/%s.json ./package.json" % (owner, which))
    if spec.npmrc:
        lines.append("COPY %sbytelyst/npmrc ./.npmrc" % owner)
    if spec.lockfile:
        lines.append("COPY %sbytelyst/pnpm-lock.yaml ./pnpm-lock.yaml" % owner)
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
    uid = UID if spec.mode == "base" else "0"
    lines = ["FROM %s AS builder" % spec.builder_image]
    if spec.mode != "base":
        lines += ["USER root"] + ([apt_step(spec.build_os_packages)] if spec.build_os_packages else [])
        lines.append(pnpm_setup_step(spec.pnpm_version, spec.token_registry))
    else:
        lines += _os_packages(spec.build_os_packages, "node")
    lines.append("WORKDIR %s" % spec.workdir)
    if spec.kind == "web":
        lines.append("ENV NEXT_TELEMETRY_DISABLED=1")
    lines += _package_files_copy(spec, "builder", "")
    if spec.install_builder:
        lines.append(install_step(False, uid, auto_install_peers=spec.mode != "base", lockfile=spec.lockfile,
                                  token_registry=spec.token_registry))
    lines += _extra_copies(spec, "--chown=node:node " if spec.mode == "base" else "")
    lines.append("COPY source/ ./")
    # Public build-time values (NEXT_PUBLIC_*): declared here, so the install layers do not depend on them.
    lines += ["ARG %s" % name for name in spec.build_args]
    # The dev base says NODE_ENV=development (devDependencies install); the build itself is for production.
    lines.append("RUN NODE_ENV=production pnpm run build")
    if spec.next_standalone:
        lines.append(standalone_step(spec))
    return lines


def uses_deps_stage(spec):
    """mode=tarball with production dependencies to install (a Next.js standalone web carries its own)."""
    return spec.mode != "base" and spec.install_final and not spec.next_standalone


def deps_stage(spec):
    """mode=tarball: install the production dependencies (the vendored tarballs among them) in a
    stage of their own, on the runtime image, as node in /app/<kind>; the final stage copies
    node_modules only, so no tarball and no pnpm reach the final image."""
    lines = ["FROM %s AS deps" % spec.final_image, "USER root"]
    lines += [apt_step(spec.build_os_packages)] if spec.build_os_packages else []
    lines += [pnpm_setup_step(spec.pnpm_version, spec.token_registry), "RUN install -d -o 1000 -g 1000 %s" % spec.workdir,
              "USER node", "WORKDIR %s" % spec.workdir]
    lines += _package_files_copy(spec, "runtime", "--chown=node:node ")
    lines.append(install_step(True, UID, auto_install_peers=True, lockfile=spec.lockfile,
                              token_registry=spec.token_registry))
    return lines


def final_stage(spec):
    lines = ["FROM %s" % spec.final_image, "USER root"]
    lines += [apt_step(spec.os_packages)] if spec.os_packages else []
    lines += ["RUN install -d -o 1000 -g 1000 %s" % spec.workdir, "USER node", "WORKDIR %s" % spec.workdir]
    if spec.next_standalone:
        # Standalone carries the traced product-only modules; the base provides the rest.
        lines.append("COPY --from=builder --chown=node:node %s/ ./" % STANDALONE_OUT)
        lines.append("COPY --chown=node:node bytelyst/runtime.json ./package.json")
    else:
        lines.append("COPY --chown=node:node bytelyst/runtime.json ./package.json")
        if spec.npmrc and not uses_deps_stage(spec) and spec.install_final:
            lines.append("COPY --chown=node:node bytelyst/npmrc ./.npmrc")
        if spec.lockfile and not uses_deps_stage(spec) and spec.install_final:
            lines.append("COPY --chown=node:node bytelyst/pnpm-lock.yaml ./pnpm-lock.yaml")
        if uses_deps_stage(spec):
            lines.append("COPY --from=deps --chown=node:node %s/node_modules ./node_modules" % spec.workdir)
        elif spec.install_final:
            lines.append(install_step(True, UID, auto_install_peers=spec.mode != "base", lockfile=spec.lockfile,
                                      token_registry=spec.token_registry))
        lines.append("COPY --from=builder --chown=node:node %s/%s ./%s" % (spec.workdir, spec.output_dir, spec.output_dir))
    # Owned by root: the app reads them, never writes them.
    lines += _extra_copies(spec, "")
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
