#!/usr/bin/env bash
# Runs every test of the collection on this machine, setting up what they need first
# (scripts/setup.sh: venv, Docker engine, registry, Compose, Node 22 + pnpm, stand-in image).
#
#   scripts/test.sh                 all stages, in four lanes at once (see below)
#   scripts/test.sh unit lint       only the named stages, one after the other
# Stages: unit, integration, sanity, lint, build (collection artifact), molecule (the default
# scenario: the main job run from the built artifact installed into a fresh collections path),
# and fleet (the Molecule fleet scenario: three extra engines, one reached over SSH).
# All stages run in four lanes side by side, each lane's stages one after the other: unit then
# half of the integration suite (integration1: images and the workspace), the other half
# (integration2: deploys, registry, usage, AWX, dev compose, the harness, the main job from a repository),
# sanity, lint, build and molecule,
# then the remote engine and proxy deploys (integration4), and the fleet then the host roles over
# SSH (integration3). Each lane alone keeps about one core busy; four of them keep both cores of a
# small CI machine busy to the end. The lanes share nothing they could trip over (own registry
# namespaces, compose projects, engines for the fleet, pytest directories); a lane's output is
# printed when it ends. BYTELYST_TEST_LANES=1 runs everything in one lane.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/common.sh"
need_root "$@"
bash "$here/setup.sh"
source "$BYTELYST_DEV_HOME/env.sh"
cd "$BYTELYST_REPO"

stages=("$@")


stage_unit() { python -m pytest tests/unit -q; }
# The lanes split the integration suite in two halves of about the same CPU time (per-test CPU
# measured from /proc/stat, warm and alone: ~310 CPU-seconds each, unit tests included),
# each with its own pytest directory.
integration2_files=(tests/integration/test_compose_deploy.py tests/integration/test_image_usage.py
  tests/integration/test_image_prune.py tests/integration/test_image_push.py
  tests/integration/test_awx_runner.py tests/integration/test_dev_compose.py
  tests/integration/test_harness.py tests/integration/test_compose_release.py
  tests/integration/test_compose_inputs.py tests/integration/test_deploy_role.py
  tests/integration/test_action_group.py tests/integration/test_registry_token.py
  # the main job from a file:// repository at a tag, clock's backend only (~50 CPU-seconds warm,
  # three ansible-playbook runs, mostly waiting on the engine and the health gate)
  tests/integration/test_pipeline_from_repo.py)
# The host roles (over SSH in a container of their own, mostly waiting on apt, pip and npm) and the
# acme workspace through the main job (three ansible-playbook runs, mostly waiting on the engine) go
# to the fleet's lane; the remote engine (a dockerd of its own over TLS), the proxy deploys and the
# builds from a private npm registry to Molecule's: those lanes have room.
integration3_files=(tests/integration/test_host_roles.py tests/integration/test_acme_pipeline.py)
integration4_files=(tests/integration/test_remote_engine.py tests/integration/test_proxy_deploy.py
  tests/integration/test_registry_source.py
  # rollout_base.yml behind two hosts' proxies (~40 CPU-seconds warm, mostly waiting on health gates and drains)
  tests/integration/test_proxy_rollout.py
  # stacked bases: a common base, backend and web on it, a product on the stacked backend
  tests/integration/test_base_stack.py)
integration() { python -m pytest -q -m integration --durations=15 -p no:cacheprovider "$@"; }
stage_integration() { integration tests/integration --basetemp="$BYTELYST_DEV_HOME/pytest-integration"; }
stage_integration1() {
  integration tests/integration "${integration2_files[@]/#/--ignore=}" "${integration3_files[@]/#/--ignore=}" \
    "${integration4_files[@]/#/--ignore=}" \
    --basetemp="$BYTELYST_DEV_HOME/pytest-integration"
}
stage_integration2() { integration "${integration2_files[@]}" --basetemp="$BYTELYST_DEV_HOME/pytest-integration2"; }
stage_integration3() { integration "${integration3_files[@]}" --basetemp="$BYTELYST_DEV_HOME/pytest-integration3"; }
stage_integration4() { integration "${integration4_files[@]}" --basetemp="$BYTELYST_DEV_HOME/pytest-integration4"; }
stage_sanity() { bash "$here/sanity.sh" >"$BYTELYST_DEV_HOME/sanity.log" 2>&1 || { grep -E '^(ERROR|FATAL)' "$BYTELYST_DEV_HOME/sanity.log" >&2; return 1; }; echo "sanity: clean"; }
# A HOME of its own: a copy of the collection installed in ~/.ansible/collections (by an older
# molecule prerun, or by hand) would shadow this checkout, and new modules would lint as unknown.
stage_lint() { mkdir -p "$BYTELYST_DEV_HOME/lint-home" && HOME="$BYTELYST_DEV_HOME/lint-home" ansible-lint --offline -q; }
stage_build() { bash "$here/build_collection.sh"; }
stage_molecule() {
  local installed="$BYTELYST_DEV_HOME/installed"
  bash "$here/install_artifact.sh" "$installed"
  ANSIBLE_COLLECTIONS_PATH="$installed/collections" BYTELYST_INSTALLED_COLLECTIONS="$installed/collections" \
    BYTELYST_RUN_ID=${BYTELYST_RUN_ID:-$(date +%Y%m%d%H%M%S)} molecule test -s default
}
stage_fleet() { BYTELYST_RUN_ID=${BYTELYST_RUN_ID:-$(date +%Y%m%d%H%M%S)} molecule test -s fleet; }

# run_lane FAILED_FILE STAGE...: the stages one after the other; failed ones go to FAILED_FILE.
run_lane() {
  local failed_file=$1 stage start
  shift
  for stage in "$@"; do
    log "stage: $stage"
    start=$SECONDS
    if "stage_$stage"; then
      log "stage $stage passed in $((SECONDS - start)) s"
    else
      log "stage $stage FAILED after $((SECONDS - start)) s"
      echo "$stage" >>"$failed_file"
    fi
  done
}

# The fleet's extra engines start before any lane: a dockerd that starts sets up its iptables
# chains afresh (the DOCKER chains every engine on the host shares), and a network another lane
# creates in that moment fails ("No chain/target/match by that name").
# So does the TLS engine of the remote-engine tests: started here once, before the lanes (the
# tests find it through BYTELYST_REMOTE_ENGINE), stopped when this script ends.
# The fleet scenario's destroy leaves them running then (BYTELYST_FLEET_HELD): stopping and
# starting them again inside the lane would reset those chains under the other lanes.
fleet_held=
case " ${stages[*]} " in
  *" fleet "*|"  ") bash "$here/fleet.sh" up 3 >/dev/null; fleet_held=1; export BYTELYST_FLEET_HELD=1 ;;
esac
remote_engine="$BYTELYST_DEV_HOME/remote-engine"
case " ${stages[*]} " in
  *" integration "*|*" integration4 "*|"  ")
    python tests/integration/remote_engine.py down "$remote_engine"
    python tests/integration/remote_engine.py up "$remote_engine"
    export BYTELYST_REMOTE_ENGINE="$remote_engine" ;;
esac

failed_file=$(mktemp)
lane_dir=$(mktemp -d)
trap 'rm -rf "$failed_file" "$lane_dir"; python tests/integration/remote_engine.py down "$remote_engine"
      [ -z "$fleet_held" ] || bash "$here/fleet.sh" down >/dev/null' EXIT
if [ ${#stages[@]} -gt 0 ] || [ "${BYTELYST_TEST_LANES:-2}" = 1 ]; then
  [ ${#stages[@]} -gt 0 ] || stages=(unit integration sanity lint build molecule fleet)
  run_lane "$failed_file" "${stages[@]}"
else
  stages=(unit integration sanity lint build molecule fleet)
  background=("integration2" "sanity lint build molecule integration4" "fleet integration3")
  pids=()
  for i in "${!background[@]}"; do
    # shellcheck disable=SC2086 # one word per stage
    run_lane "$failed_file" ${background[$i]} >"$lane_dir/$i.log" 2>&1 &
    pids+=($!)
    log "lane $((i + 2)) (${background[$i]}) runs beside this one; its output follows when it ends"
  done
  run_lane "$failed_file" unit integration1
  for i in "${!background[@]}"; do
    wait "${pids[$i]}" || true
    log "----- lane $((i + 2)) output (${background[$i]}) -----"
    cat "$lane_dir/$i.log"
    log "----- end of lane $((i + 2)) output -----"
  done
fi

if [ -s "$failed_file" ]; then
  die "failed stages: $(tr '\n' ' ' <"$failed_file")"
fi
log "all stages passed: ${stages[*]} ($SECONDS s)"
