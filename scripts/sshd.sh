#!/usr/bin/env bash
# An sshd on loopback with key authentication, so tests can reach a "VM" over SSH the
# way Ansible reaches real deploy hosts (modules shipped to the target's Python).
#   scripts/sshd.sh up     start it (port $BYTELYST_SSH_PORT, default 2222); prints the key path
#   scripts/sshd.sh down
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
need_root "$@"
port=${BYTELYST_SSH_PORT:-2222}
dir="$BYTELYST_DEV_HOME/ssh"

answers() { ssh -q -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
  -i "$dir/client_key" -p "$port" root@127.0.0.1 true; }

case "${1:-up}" in
  up)
    [ -x /usr/sbin/sshd ] || apt_install openssh-server
    command -v ssh >/dev/null || apt_install openssh-client
    mkdir -p "$dir" /run/sshd
    [ -f "$dir/host_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key"
    [ -f "$dir/client_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$dir/client_key" -C bytelyst-tests
    cp "$dir/client_key.pub" "$dir/authorized_keys"
    chmod 600 "$dir/authorized_keys"
    # Ansible copies files over SFTP; without it every transfer first fails over SFTP and SCP.
    sftp_server=/usr/lib/openssh/sftp-server
    [ -x "$sftp_server" ] || apt_install openssh-sftp-server
    cat >"$dir/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
AcceptEnv LANG LC_*
Subsystem sftp $sftp_server
CONF
    if ! answers 2>/dev/null; then
      /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log"
      wait_for 20 "sshd on 127.0.0.1:$port" answers || die "sshd did not answer; see $dir/sshd.log"
    fi
    echo "$dir/client_key" ;;
  down)
    if [ -f "$dir/sshd.pid" ]; then kill "$(cat "$dir/sshd.pid")" 2>/dev/null || true; fi ;;
  *) die "usage: sshd.sh up | down" ;;
esac
