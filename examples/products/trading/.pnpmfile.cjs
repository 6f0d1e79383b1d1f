'use strict';
/*
 * Resolve @bytelyst/* dependencies declared with the workspace: protocol.
 *
 * A product is its own pnpm workspace (backend, web), but the @bytelyst/*
 * packages live in the common plat repo. This hook rewrites every
 * `@bytelyst/*` dependency whose spec starts with `workspace:` according to
 * BYTELYST_PACKAGE_SOURCE:
 *
 *   common-plat (default)  link:<common plat root>/packages/<dir>
 *   vendor                 file:<product root>/vendor/<name>-<version>.tgz (from `pnpm pack`)
 *   gitea                  a registry range: workspace:^ -> ^<common plat version> (or *),
 *                          workspace:* / workspace:~ -> * / ~<version>
 *
 * BYTELYST_COMMON_PLAT_ROOT (default ../../common_plat; a relative value is
 * taken from the product root, the folder of this file) locates common plat.
 *
 * link:/file: specs are written relative to the project that declares them
 * (backend/, web/), so pnpm-lock.yaml holds no machine-specific paths. In vendor
 * mode the packed tarballs name their @bytelyst/* dependencies with plain
 * ranges (pnpm pack replaced workspace:), so those are pointed at the vendor
 * directory too, by absolute path.
 */
const fs = require('fs');
const path = require('path');

const PRODUCT_ROOT = __dirname;
const SOURCES = ['common-plat', 'vendor', 'gitea'];
const DEP_FIELDS = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'];

function packageSource() {
  const value = process.env.BYTELYST_PACKAGE_SOURCE || 'common-plat';
  if (!SOURCES.includes(value)) {
    throw new Error(
      `BYTELYST_PACKAGE_SOURCE=${JSON.stringify(value)} is not supported; allowed values: ${SOURCES.join(', ')}`,
    );
  }
  return value;
}

function commonPlatRoot() {
  return path.resolve(PRODUCT_ROOT, process.env.BYTELYST_COMMON_PLAT_ROOT || '../../common_plat');
}

let importers; // project name -> project folder, for the members of pnpm-workspace.yaml
function workspaceProjects() {
  if (importers) return importers;
  importers = new Map();
  let text = '';
  try {
    text = fs.readFileSync(path.join(PRODUCT_ROOT, 'pnpm-workspace.yaml'), 'utf8');
  } catch {
    return importers;
  }
  const dirs = [];
  for (const match of text.matchAll(/^\s*-\s*['"]?([^'"#\s]+)['"]?\s*$/gm)) {
    const pattern = match[1];
    if (pattern.endsWith('/*')) {
      const parent = path.join(PRODUCT_ROOT, pattern.slice(0, -2));
      try {
        for (const e of fs.readdirSync(parent, { withFileTypes: true })) if (e.isDirectory()) dirs.push(path.join(parent, e.name));
      } catch {
        // no such folder
      }
    } else {
      dirs.push(path.join(PRODUCT_ROOT, pattern));
    }
  }
  for (const dir of [PRODUCT_ROOT, ...dirs]) {
    try {
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
      if (manifest.name) importers.set(manifest.name, dir);
    } catch {
      // member without package.json
    }
  }
  return importers;
}

/** A path for a link:/file: spec, relative to the declaring project when it is one of ours. */
function specPath(target, fromDir) {
  if (!fromDir) return target;
  const rel = path.relative(fromDir, target).split(path.sep).join('/');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

let catalogue; // package name -> { dir, version }, read once per pnpm run
function commonPlatPackages() {
  if (catalogue) return catalogue;
  catalogue = new Map();
  const packagesDir = path.join(commonPlatRoot(), 'packages');
  let entries = [];
  try {
    entries = fs.readdirSync(packagesDir, { withFileTypes: true });
  } catch {
    return catalogue; // unreadable common plat: callers decide what that means
  }
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const dir = path.join(packagesDir, entry.name);
    try {
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
      if (manifest.name) catalogue.set(manifest.name, { dir, version: manifest.version });
    } catch {
      // not a package folder
    }
  }
  return catalogue;
}

/** `@bytelyst/config` -> `bytelyst-config-`, the prefix `pnpm pack` gives its tarball. */
function tarballPrefix(name) {
  return name.replace(/^@/, '').replace('/', '-') + '-';
}

function vendorTarball(name) {
  const vendorDir = path.join(PRODUCT_ROOT, 'vendor');
  const prefix = tarballPrefix(name);
  let files = [];
  try {
    files = fs.readdirSync(vendorDir);
  } catch {
    throw new Error(`BYTELYST_PACKAGE_SOURCE=vendor but ${vendorDir} does not exist (run pnpm pack into it first)`);
  }
  // The rest of the name must be a version, so @bytelyst/ui does not match bytelyst-ui-kit-1.0.0.tgz.
  const matches = files.filter((f) => f.startsWith(prefix) && f.endsWith('.tgz') && /^\d/.test(f.slice(prefix.length))).sort();
  if (matches.length === 0) throw new Error(`no tarball for ${name} (${prefix}<version>.tgz) in ${vendorDir}`);
  return path.join(vendorDir, matches[matches.length - 1]);
}

function resolveSpec(name, spec, source, fromDir) {
  if (source === 'common-plat') {
    const pkg = commonPlatPackages().get(name);
    if (!pkg) throw new Error(`${name} is not a package of common plat at ${commonPlatRoot()} (BYTELYST_COMMON_PLAT_ROOT)`);
    return `link:${specPath(pkg.dir, fromDir)}`;
  }
  if (source === 'vendor') return `file:${specPath(vendorTarball(name), fromDir)}`;
  // gitea: the packages are published to a registry; turn the workspace range into a semver range.
  const range = spec.slice('workspace:'.length);
  const pkg = commonPlatPackages().get(name);
  if ((range === '^' || range === '~') && pkg && pkg.version) return `${range}${pkg.version}`;
  if (range === '^' || range === '~' || range === '*' || range === '') return '*';
  return range; // workspace:^1.2.0 -> ^1.2.0
}

function readPackage(manifest, context) {
  const source = packageSource();
  const fromDir = workspaceProjects().get(manifest.name);
  const vendored = source === 'vendor' && !fromDir && String(manifest.name).startsWith('@bytelyst/');
  for (const field of DEP_FIELDS) {
    const deps = manifest[field];
    if (!deps) continue;
    for (const [name, spec] of Object.entries(deps)) {
      if (!name.startsWith('@bytelyst/') || typeof spec !== 'string') continue;
      if (vendored && field !== 'peerDependencies' && !spec.startsWith('file:')) {
        deps[name] = `file:${vendorTarball(name)}`;
        continue;
      }
      if (!spec.startsWith('workspace:')) continue;
      deps[name] = resolveSpec(name, spec, source, fromDir);
    }
  }
  return manifest;
}

module.exports = { hooks: { readPackage } };
