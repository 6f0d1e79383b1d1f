#!/usr/bin/env bash
# The main job: sets up the local stack, then runs the sample pipeline on the sample
# workspace with local defaults (local engine, local registry, stand-in runtime image).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib/common.sh"
need_root "$@"
bash "$here/setup.sh"
source "$BYTELYST_DEV_HOME/env.sh"
cd "$BYTELYST_REPO"
if [ ! -f playbooks/pipeline.yml ]; then
  log "set-up is done; the sample pipeline (playbooks/pipeline.yml) is not built yet."
  exit 0
fi
exec ansible-playbook -i playbooks/inventory/local.yml playbooks/pipeline.yml \
  -e "bytelyst_runtime_image=$BYTELYST_STANDIN_IMAGE" -e "bytelyst_registry=$BYTELYST_REGISTRY/bytelyst" \
  -e "bytelyst_ca_bundle=$BYTELYST_CA_BUNDLE" "$@"
