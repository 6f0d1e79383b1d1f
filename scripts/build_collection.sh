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
# Every module's page, rendered from the installed artifact (one ansible-doc for all of them).
modules=()
for module in plugins/modules/*.py; do
  [ -f "$module" ] && modules+=("bytelyst.deploy.$(basename "$module" .py)")
done
ANSIBLE_NOCOLOR=1 ANSIBLE_COLLECTIONS_PATH="$out/collections" ansible-doc "${modules[@]}" >"$out/docs.txt" \
  || die "ansible-doc failed from the installed artifact for one of: ${modules[*]}"
for module in "${modules[@]}"; do
  grep -qF "> MODULE $module ($out/collections/" "$out/docs.txt" || die "ansible-doc rendered no page for $module from the installed artifact"
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
