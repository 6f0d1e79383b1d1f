# shellcheck shell=bash
# Shared helpers for the set-up scripts. Sourced, never run directly.
# Everything here is idempotent: a second run finds what is there and moves on.

export BYTELYST_REPO
BYTELYST_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Where the development stack keeps its state (venv, node, registry data, logs).
# It lives outside the checkout so a fresh clone reuses a warm machine.
BYTELYST_DEV_HOME=${BYTELYST_DEV_HOME:-/var/lib/bytelyst-dev}
BYTELYST_REGISTRY_ADDR=${BYTELYST_REGISTRY_ADDR:-127.0.0.1:5000}
BYTELYST_NODE_VERSION=${BYTELYST_NODE_VERSION:-22}
BYTELYST_PNPM_VERSION=${BYTELYST_PNPM_VERSION:-10.6.5}
# The private npm registry (Verdaccio) the tests publish to, on loopback.
BYTELYST_NPM_REGISTRY_ADDR=${BYTELYST_NPM_REGISTRY_ADDR:-127.0.0.1:4873}
BYTELYST_VERDACCIO_VERSION=${BYTELYST_VERDACCIO_VERSION:-6.10.4}
# The stand-in for node:22-slim lives under a reserved, unresolvable domain, so
# it can never shadow (or be mistaken for) the real upstream image.
BYTELYST_STANDIN_IMAGE=${BYTELYST_STANDIN_IMAGE:-bytelyst-standin.invalid/node:22-slim}
BYTELYST_CA_BUNDLE=${BYTELYST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

log() { printf '\033[1m[bytelyst]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31m[bytelyst] error:\033[0m %s\n' "$*" >&2; exit 1; }

need_root() {
  if [ "$(id -u)" != 0 ]; then
    exec sudo -E bash "$0" "$@"
  fi
}

apt_install() {
  # apt_install PKG... : install only the packages that are missing.
  local missing=()
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  if [ ! -f "$BYTELYST_DEV_HOME/.apt-updated" ] || [ -n "$(find "$BYTELYST_DEV_HOME/.apt-updated" -mmin +1440 2>/dev/null)" ]; then
    apt-get update -qq
    touch "$BYTELYST_DEV_HOME/.apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

wait_for() {
  # wait_for SECONDS DESCRIPTION CMD...
  local secs=$1 what=$2; shift 2
  local i=0
  until "$@" >/dev/null 2>&1; do
    i=$((i + 1))
    [ "$i" -ge "$((secs * 2))" ] && return 1
    sleep 0.5
  done
  log "$what is ready"
}

ensure_default_bridge() {
  # The engine's default bridge interface has been seen to vanish while the engine runs
  # (next to extra engines on the same machine); put it back with the address the engine
  # recorded for its "bridge" network, so containers on the default network can start.
  local want=${1:-docker0} subnet gateway
  ip link show "$want" >/dev/null 2>&1 && return 0
  subnet=$(DOCKER_HOST='' docker network inspect bridge -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' 2>/dev/null) || return 0
  gateway=$(DOCKER_HOST='' docker network inspect bridge -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' 2>/dev/null)
  [ -n "$subnet" ] || return 0
  # The default bridge often records no gateway: it is the subnet's first address.
  [ -n "$gateway" ] || { gateway=${subnet%/*}; gateway="${gateway%.*}.1"; }
  log "the engine's bridge $want is missing; recreating it ($gateway, ${subnet#*/} bits)"
  ip link add "$want" type bridge
  ip addr add "$gateway/${subnet#*/}" dev "$want"
  ip link set "$want" up
}
