#!/usr/bin/env bash
# A simulated fleet: extra Docker engines on this machine, each with its own data root,
# exec root, socket, bridge and address pool, so each acts as a separate deploy host
# (own images, own layer store, own containers). They pull from the loopback registry.
#
#   scripts/fleet.sh up [N]    start engines fleet1..fleetN (default 3); prints their sockets
#   scripts/fleet.sh down      stop them (their data stays, so the next `up` is warm)
#   scripts/fleet.sh status
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
need_root "$@"
run_dir=/run/bytelyst-fleet
home="$BYTELYST_DEV_HOME/fleet"

socket() { echo "$run_dir/fleet$1.sock"; }
answers() { DOCKER_HOST="unix://$(socket "$1")" docker info >/dev/null 2>&1; }

up_one() {
  local i=$1 br="blfleet$1"
  if answers "$i"; then return 0; fi
  mkdir -p "$run_dir" "$home/fleet$i"
  if ! ip link show "$br" >/dev/null 2>&1; then
    ip link add "$br" type bridge
    ip addr add "10.231.$i.1/24" dev "$br"
    ip link set "$br" up
  fi
  setsid dockerd \
    --data-root "$home/fleet$i/data" \
    --exec-root "$run_dir/exec$i" \
    --pidfile "$run_dir/fleet$i.pid" \
    -H "unix://$(socket "$i")" \
    --bridge "$br" \
    --default-address-pool "base=10.$((232 + i)).0.0/16,size=24" \
    --live-restore \
    --containerd-namespace "fleet$i" --containerd-plugins-namespace "fleet$i-plugins" \
    >>"$home/fleet$i/dockerd.log" 2>&1 </dev/null &
  wait_for 60 "fleet engine fleet$i" answers "$i" || die "fleet$i did not answer; see $home/fleet$i/dockerd.log"
  # An engine restarted with --default-address-pool and without --live-restore deletes the
  # interface named docker0 (the MAIN engine's bridge) when it clears its stale default
  # network; --live-restore above avoids that. Check anyway.
  ensure_default_bridge
}

down_one() {
  local i=$1 pidfile="$run_dir/fleet$1.pid"
  [ -f "$pidfile" ] || return 0
  kill "$(cat "$pidfile")" 2>/dev/null || true
  for _ in $(seq 1 40); do [ -f "$pidfile" ] || break; sleep 0.5; done
}

case "${1:-status}" in
  up)
    for i in $(seq 1 "${2:-3}"); do up_one "$i"; echo "fleet$i unix://$(socket "$i")"; done
    ensure_default_bridge ;;
  down)
    for pidfile in "$run_dir"/fleet*.pid; do
      [ -f "$pidfile" ] || continue
      i=${pidfile##*/fleet}; down_one "${i%.pid}"
    done
    ensure_default_bridge ;;
  status)
    for s in "$run_dir"/fleet*.sock; do
      [ -S "$s" ] || continue
      if DOCKER_HOST="unix://$s" docker info >/dev/null 2>&1; then echo "$s up"; else echo "$s down"; fi
    done ;;
  *) die "usage: fleet.sh up [N] | down | status" ;;
esac
