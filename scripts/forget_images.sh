#!/usr/bin/env bash
# Untags the images a test scenario pushed under its own registry namespaces, on the engine
# DOCKER_HOST names (default: this machine's). Each run of a scenario gets a namespace of its
# own (version tags are immutable), so without this every run leaves its tags behind and the
# engine's image list (which image_usage and image_prune read in full) grows run after run.
#
#   scripts/forget_images.sh NAMESPACE_PREFIX [KEEP_NAMESPACE]
#
# Removes the tags <registry>/NAMESPACE_PREFIX*/* except those under <registry>/KEEP_NAMESPACE/
# (a fleet engine keeps its newest run's images: their layers make the next run's pulls cheap).
# Tags, not image ids: an image that another lane tagged too (same build inputs give the same
# id) stays for that lane; layers go when their last tag does.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
prefix=${1:?usage: forget_images.sh NAMESPACE_PREFIX [KEEP_NAMESPACE]}
keep=${2:-}
registry=${BYTELYST_REGISTRY:?BYTELYST_REGISTRY is not set; source the environment setup.sh writes}
mapfile -t tags < <(docker image ls --filter "reference=$registry/$prefix*/*" --format '{{.Repository}}:{{.Tag}}' \
  | grep -v ':<none>$' | { if [ -n "$keep" ]; then grep -v "^$registry/$keep/" || true; else cat; fi; })
if [ ${#tags[@]} -gt 0 ]; then
  docker image rm "${tags[@]}" >/dev/null
fi
echo "untagged ${#tags[@]} image tag(s) under $registry/$prefix*"
