#!/usr/bin/env bash
# Builds the collection artifact, installs it into a fresh collections path and checks
# that Ansible finds its modules there (not only in the checkout).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
bash "$(dirname "$0")/install_artifact.sh" "$out"
cd "$BYTELYST_REPO"
artifact=$(ls "$out"/bytelyst-deploy-*.tar.gz)
for module in plugins/modules/*.py; do
  [ -f "$module" ] || continue
  name=$(basename "$module" .py)
  ANSIBLE_COLLECTIONS_PATH="$out/collections" ansible-doc "bytelyst.deploy.$name" >/dev/null \
    || die "ansible-doc bytelyst.deploy.$name failed from the installed artifact"
done
log "collection artifact $(basename "$artifact") builds and installs"

# The execution environment definition produces a build context that installs our requirements.
ee=$(mktemp -d)
ansible-builder create -f execution-environment.yml -c "$ee/context" >/dev/null
grep -q '^docker==' "$ee/context/_build/requirements.txt" || die "EE context lacks the docker SDK requirement"
grep -q 'bytelyst.deploy' "$ee/context/_build/requirements.yml" || die "EE context does not install bytelyst.deploy"
grep -q 'ansible-core==' "$ee/context/Dockerfile" || die "EE Dockerfile does not pin ansible-core"
rm -rf "$ee"
log "execution environment context generates (ansible-builder create)"
