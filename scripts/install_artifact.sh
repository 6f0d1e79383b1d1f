#!/usr/bin/env bash
# Builds the collection artifact from this checkout and installs it into a fresh collections
# path: scripts/install_artifact.sh DEST leaves DEST/bytelyst-deploy-<version>.tar.gz and
# DEST/collections/ansible_collections/bytelyst/deploy. DEST is emptied first.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
dest=${1:?usage: install_artifact.sh DEST}
rm -rf "$dest" && mkdir -p "$dest"
cd "$BYTELYST_REPO"
ansible-galaxy collection build --force --output-path "$dest" . >/dev/null
artifact=$(ls "$dest"/bytelyst-deploy-*.tar.gz)
ANSIBLE_COLLECTIONS_PATH="$dest/collections" ansible-galaxy collection install --force -p "$dest/collections" "$artifact" >/dev/null
ANSIBLE_COLLECTIONS_PATH="$dest/collections" ansible-galaxy collection list bytelyst.deploy -p "$dest/collections" \
  | grep -q 'bytelyst.deploy' || die "bytelyst.deploy is not listed in $dest/collections after installing $artifact"
log "installed $(basename "$artifact") into a fresh collections path"
