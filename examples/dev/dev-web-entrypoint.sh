#!/bin/sh
# Hot-reload entrypoint for a Next.js web on the `dev` base image (see README.md).
# The web directory is mounted read-only at /src/web and its src/ at /app/web/src; /app/web is a
# tmpfs owned by the node user, so `next dev` writes .next there and never into your checkout:
#   1. checks BYTELYST_PACKAGE_SOURCE: `base` (the dev base's shared packages, in /app/node_modules)
#      or `common-plat` (the packages of the checkout mounted at /src/common_plat, linked in);
#   2. copies the web's top-level files (package.json, next.config.*, tsconfig.json, .env*...)
#      to /app/web and links its other folders (public/...);
#   3. installs the packages the dev base does not provide (read from /app/.bytelyst/provides.json)
#      into ~/web-deps/<key>, once: the node user's home is a volume, so a later `up` reuses them;
#   4. runs `next dev`, which recompiles a saved page on the next request.
set -eu
src=/src/web
work=/app/web
common=/src/common_plat
source=${BYTELYST_PACKAGE_SOURCE:-base}

case $source in
  base) ;;
  common-plat)
    if [ ! -d "$common/packages" ]; then
      echo "dev: BYTELYST_PACKAGE_SOURCE=common-plat, but no common plat checkout is mounted at $common" \
        "(no $common/packages): add -f compose.common-plat.yml and set COMMON_PLAT_DIR to your checkout." >&2
      exit 2
    fi ;;
  *)
    echo "dev: BYTELYST_PACKAGE_SOURCE=$source is not supported by the dev recipe; allowed values:" \
      "base (the dev base's packages), common-plat (a mounted checkout)." >&2
    exit 2 ;;
esac
if [ ! -f "$src/package.json" ] || [ ! -d "$work/src" ]; then
  echo "dev: no web at $src (package.json) with its src/ at $work/src: check PRODUCT_DIR and DEV_WEB_SERVICE." >&2
  exit 2
fi

for path in "$src"/* "$src"/.[!.]*; do
  name=${path##*/}
  case $name in src|node_modules|.next|'*'|'.[!.]*') continue ;; esac
  if [ -d "$path" ]; then ln -sfn "$path" "$work/$name"; elif [ -f "$path" ]; then cp "$path" "$work/$name"; fi
done

# What the web needs and the dev base lacks; the shared packages (the base's scopes) never come
# from the npm registry: from the base, or linked from common plat below.
extras=$(node -e '
  const pkg = require(process.argv[1]);
  const provided = require("/app/.bytelyst/provides.json");
  const have = Object.assign({}, provided.packages, provided.third_party);
  const scopes = new Set(Object.keys(provided.packages).map((name) => name.split("/")[0] + "/"));
  const wanted = Object.assign({}, pkg.devDependencies, pkg.dependencies);
  console.log(Object.keys(wanted).sort()
    .filter((name) => !(name in have) && !scopes.has(name.split("/")[0] + "/"))
    .map((name) => name + "@" + wanted[name]).join(" "));
' "$src/package.json")
# One folder per set of packages (a volume shared by several webs, or a changed package.json,
# never reinstalls a set it already holds); installed aside and renamed when complete, so two
# containers starting at once or an interrupted install never leave a half-filled folder behind.
deps=$HOME/web-deps/$(printf '%s' "$extras" | sha256sum | cut -c1-16)
if [ -n "$extras" ] && [ ! -d "$deps/node_modules" ]; then
  echo "dev: installing what the dev base does not provide: $extras"
  mkdir -p "$HOME/web-deps"
  tmp=$(mktemp -d "$HOME/web-deps/.install.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  cd "$tmp"
  echo '{"private": true}' > package.json
  if [ -n "${NODE_EXTRA_CA_CERTS:-}" ]; then export npm_config_cafile="$NODE_EXTRA_CA_CERTS"; fi
  # shellcheck disable=SC2086  # one argument per package
  npm install --no-audit --no-fund --no-package-lock --cache /tmp/npm-cache $extras
  printf '%s\n' "$extras" > packages.txt
  mv -T "$tmp" "$deps" 2>/dev/null || rm -rf "$tmp"  # another container was first: use its copy
  trap - EXIT
fi

mkdir -p "$work/node_modules"
if [ -d "$deps/node_modules" ]; then
  for path in "$deps/node_modules"/* "$deps/node_modules"/.bin; do
    if [ -e "$path" ]; then ln -sfn "$path" "$work/node_modules/${path##*/}"; fi
  done
fi
if [ "$source" = common-plat ]; then
  # every package of the checkout by its package.json name, as .pnpmfile.cjs finds them
  node -e '
    const fs = require("fs"), path = require("path");
    const [packages, modules] = process.argv.slice(1);
    for (const dir of fs.readdirSync(packages)) {
      let name;
      try { name = JSON.parse(fs.readFileSync(path.join(packages, dir, "package.json"))).name; } catch (e) { continue; }
      if (!name) continue;
      const link = path.join(modules, name);
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.rmSync(link, { force: true, recursive: true });
      fs.symlinkSync(path.join(packages, dir), link);
      console.log("dev: " + name + " from common plat (" + path.join(packages, dir) + ")");
    }
  ' "$common/packages" "$work/node_modules"
else
  echo "dev: the shared packages from the dev base (/app/node_modules)"
fi

cd "$work"
next=$(node -p 'require.resolve("next/dist/bin/next", { paths: [process.cwd()] })')
export NEXT_TELEMETRY_DISABLED=1
exec node "$next" dev --port "${PORT:-3000}" --hostname 0.0.0.0
