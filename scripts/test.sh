#!/usr/bin/env bash
# Runs every test of the collection on this machine, setting up what they need first
# (scripts/setup.sh: venv, Docker engine, registry, Compose, Node 22 + pnpm, stand-in image).
#
#   scripts/test.sh                 all stages
#   scripts/test.sh unit lint       only the named stages
# Stages: unit, integration, sanity, lint, build (collection artifact), molecule (the default
# scenario: the main job run from the built artifact installed into a fresh collections path),
# and fleet (the Molecule fleet scenario: three extra engines, one reached over SSH).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/common.sh"
need_root "$@"
bash "$here/setup.sh"
source "$BYTELYST_DEV_HOME/env.sh"
cd "$BYTELYST_REPO"

stages=("$@")
[ ${#stages[@]} -eq 0 ] && stages=(unit integration sanity lint build molecule fleet)
failed=()

stage_unit() { python -m pytest tests/unit -q; }
stage_integration() { python -m pytest tests/integration -q -m integration --durations=15; }
stage_sanity() { bash "$here/sanity.sh" >"$BYTELYST_DEV_HOME/sanity.log" 2>&1 || { grep -E '^(ERROR|FATAL)' "$BYTELYST_DEV_HOME/sanity.log" >&2; return 1; }; echo "sanity: clean"; }
stage_lint() { ansible-lint --offline -q; }
stage_build() { bash "$here/build_collection.sh"; }
stage_molecule() {
  local installed="$BYTELYST_DEV_HOME/installed"
  bash "$here/install_artifact.sh" "$installed"
  ANSIBLE_COLLECTIONS_PATH="$installed/collections" BYTELYST_INSTALLED_COLLECTIONS="$installed/collections" \
    BYTELYST_RUN_ID=${BYTELYST_RUN_ID:-$(date +%Y%m%d%H%M%S)} molecule test -s default
}
stage_fleet() { BYTELYST_RUN_ID=${BYTELYST_RUN_ID:-$(date +%Y%m%d%H%M%S)} molecule test -s fleet; }

for stage in "${stages[@]}"; do
  log "stage: $stage"
  start=$SECONDS
  if "stage_$stage"; then
    log "stage $stage passed in $((SECONDS - start)) s"
  else
    log "stage $stage FAILED after $((SECONDS - start)) s"
    failed+=("$stage")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  die "failed stages: ${failed[*]}"
fi
log "all stages passed: ${stages[*]}"
