#!/usr/bin/env bash
# A simulated fleet: extra Docker engines on this machine, each with its own data root,
# exec root, socket, bridge and address pool, so each acts as a separate deploy host
# (own images, own layer store, own containers). They pull from the loopback registry.
# Each also listens on tcp://127.0.0.1:<23760 + N> with TLS (client certificates required; a CA
# made here with openssl), as a remote engine does: the client's DOCKER_CERT_PATH directory
# (ca.pem, cert.pem, key.pem) is $BYTELYST_DEV_HOME/fleet/tls/client. Each reads its daemon
# options from $BYTELYST_DEV_HOME/fleet/fleetN/daemon.json (the docker_host role writes them there).
#
#   scripts/fleet.sh up [N]    start engines fleet1..fleetN (default 3); prints their sockets
#                              (engine N also listens with TLS on tcp://127.0.0.1:<23760 + N>)
#   scripts/fleet.sh down      stop them (their data stays, so the next `up` is warm)
#   scripts/fleet.sh status
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
need_root "$@"
run_dir=/run/bytelyst-fleet
home="$BYTELYST_DEV_HOME/fleet"

tls="$home/tls"
tls_port_base=${BYTELYST_FLEET_TLS_PORT_BASE:-23760}

socket() { echo "$run_dir/fleet$1.sock"; }
tls_url() { echo "tcp://127.0.0.1:$((tls_port_base + $1))"; }
answers() { DOCKER_HOST="unix://$(socket "$1")" docker info >/dev/null 2>&1; }
answers_tls() {
  DOCKER_HOST="$(tls_url "$1")" DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$tls/client" docker info >/dev/null 2>&1
}

# A CA, the engines' certificate (127.0.0.1) and a client certificate, made once.
make_certs() {
  [ -f "$tls/client/key.pem" ] && return 0
  mkdir -p "$tls/client"
  local cn
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=bytelyst fleet CA" \
    -keyout "$tls/ca-key.pem" -out "$tls/ca.pem" 2>/dev/null
  for cn in server client; do
    openssl req -newkey rsa:2048 -nodes -subj "/CN=bytelyst fleet $cn" -keyout "$tls/$cn-key.pem" \
      -out "$tls/$cn.csr" 2>/dev/null
  done
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$tls/server.ext"
  printf 'extendedKeyUsage=clientAuth\n' >"$tls/client.ext"
  for cn in server client; do
    openssl x509 -req -days 3650 -in "$tls/$cn.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca-key.pem" \
      -CAcreateserial -extfile "$tls/$cn.ext" -out "$tls/$cn-cert.pem" 2>/dev/null
  done
  cp "$tls/ca.pem" "$tls/client/ca.pem"
  cp "$tls/client-cert.pem" "$tls/client/cert.pem"
  cp "$tls/client-key.pem" "$tls/client/key.pem"
  chmod 600 "$tls"/*key.pem "$tls/client/key.pem"
}

up_one() {
  local i=$1 br="blfleet$1"
  if answers "$i"; then
    answers_tls "$i" && return 0
    # Started by an older fleet.sh, without the TLS listener: live-restore keeps its containers.
    log "fleet$i answers on its socket only; restarting it with its TLS listener"
    down_one "$i"
  fi
  mkdir -p "$run_dir" "$home/fleet$i"
  [ -f "$home/fleet$i/daemon.json" ] || echo '{}' >"$home/fleet$i/daemon.json"
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
    -H "$(tls_url "$i")" --tlsverify --tlscacert "$tls/ca.pem" \
    --tlscert "$tls/server-cert.pem" --tlskey "$tls/server-key.pem" \
    --config-file "$home/fleet$i/daemon.json" \
    --bridge "$br" \
    --default-address-pool "base=10.$((232 + i)).0.0/16,size=24" \
    --live-restore \
    --containerd-namespace "fleet$i" --containerd-plugins-namespace "fleet$i-plugins" \
    >>"$home/fleet$i/dockerd.log" 2>&1 </dev/null &
  wait_for 60 "fleet engine fleet$i" answers_tls "$i" || die "fleet$i did not answer; see $home/fleet$i/dockerd.log"
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
    make_certs
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
