#!/usr/bin/env bash
# Builds a stand-in for the official nginx image without pulling anything: the Debian bookworm
# minbase image scripts/standin/build.sh imported, plus Debian 12's nginx package (apt-get in
# the build, on the host's network: only the Debian package mirror is needed).
# Usage: build.sh IMAGE RECIPE_HASH BASE_IMAGE
set -euo pipefail
image=$1 recipe=$2 base=$3
here=$(cd "$(dirname "$0")" && pwd)
docker image inspect "$base" >/dev/null 2>&1 \
  || { echo "the Debian base image $base is missing: scripts/setup.sh builds it with the Node stand-in" >&2; exit 1; }
docker build -q --network host --label "dev.bytelyst.standin.recipe=$recipe" --build-arg "BASE=$base" \
  -t "$image" "$here" >/dev/null
docker run --rm "$image" nginx -v >&2
