#!/bin/sh
# Hot-reload entrypoint for a product service on the `dev` base image (see README.md).
# The product's service directory is mounted read-only at /src/service; this script works in
# /app/service (owned by the node user), so nothing is written into your checkout:
#   1. copies package.json and tsconfig.json, links src/ to the mounted sources;
#   2. installs the third-party packages the dev base does not provide (read from
#      /app/.bytelyst/provides.json), once per container, into /app/.dev-deps;
#   3. compiles once, then runs `tsc --watch` and `node --watch` on the compiled entry,
#      so a saved source file is recompiled and the server restarts.
set -eu
src=/src/service
work=/app/service
entry=${DEV_ENTRY:-dist/server.js}

mkdir -p "$work" /app/.dev-deps
cp "$src/package.json" "$src/tsconfig.json" "$work/"
ln -sfn "$src/src" "$work/src"

extras=$(node -e '
  const pkg = require(process.argv[1]);
  const provided = require("/app/.bytelyst/provides.json");
  const have = Object.assign({}, provided.packages, provided.third_party);
  const wanted = Object.assign({}, pkg.devDependencies, pkg.dependencies);
  console.log(Object.keys(wanted).sort()
    .filter((name) => !name.startsWith("@bytelyst/") && !(name in have))
    .map((name) => name + "@" + wanted[name]).join(" "));
' "$src/package.json")
if [ -n "$extras" ] && [ ! -f /app/.dev-deps/.installed ]; then
  echo "dev: installing what the dev base does not provide: $extras"
  cd /app/.dev-deps
  [ -f package.json ] || echo '{"private": true}' > package.json
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ]; then export npm_config_cafile="$NODE_EXTRA_CA_CERTS"; fi
  # shellcheck disable=SC2086  # one argument per package
  npm install --no-audit --no-fund --no-package-lock --cache /tmp/npm-cache $extras
  touch .installed
fi
ln -sfn /app/.dev-deps/node_modules "$work/node_modules"

cd "$work"
tsc -p tsconfig.json || echo "dev: type errors above; running what tsc emitted"
tsc -p tsconfig.json --watch --preserveWatchOutput &
exec node --watch "$entry"
