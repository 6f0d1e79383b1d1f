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

# The execution environment definition produces a build context that installs our requirements
# and this collection from the artifact just built (never from Galaxy, where it is not published).
version=$(sed -n 's/^version: *//p' galaxy.yml)
grep -q "dist/bytelyst-deploy-$version.tar.gz" execution-environment.yml \
  || die "execution-environment.yml names another artifact than bytelyst-deploy-$version.tar.gz (galaxy.yml's version)"
ee=$(mktemp -d)
cp execution-environment.yml requirements.txt bindep.txt "$ee/"
mkdir -p "$ee/dist" && cp "$artifact" "$ee/dist/"
ansible-builder create -f "$ee/execution-environment.yml" -c "$ee/context" >/dev/null
grep -q '^docker' "$ee/context/_build/requirements.txt" || die "EE context lacks the docker SDK requirement"
grep -q "bytelyst-deploy-$version.tar.gz" "$ee/context/_build/requirements.yml" || die "EE context does not install the bytelyst.deploy artifact"
cmp -s "$artifact" "$ee/context/_build/collections/bytelyst-deploy-$version.tar.gz" || die "EE context does not hold the artifact built here"
grep -q 'ansible-core' "$ee/context/Dockerfile" || die "EE Dockerfile does not install ansible-core"
grep -q 'awx-ee:[0-9]' "$ee/context/Dockerfile" || die "EE base image is not pinned by tag"
rm -rf "$ee"
log "execution environment context generates (ansible-builder create)"
