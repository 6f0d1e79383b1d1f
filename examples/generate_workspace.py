#!/usr/bin/env python3
"""Write a synthetic ByteLyst workspace: a common plat of N @bytelyst/pkg-NN
packages and M products, in the shape of the hand-written sample next to this
script (common_plat/ and products/<name>/ with backend/, web/ and .pnpmfile.cjs).

The packages form a DAG (a package only depends on lower-numbered ones, through
workspace:^ or workspace:*); some use third-party runtime dependencies from a
small fixed list; some are web-only or backend-only ("bytelyst.targets"), and a
package only depends on packages available in every kind it is for.
Every backend and web is a small plain Node HTTP server answering /health.

Output is a pure function of the arguments: generating twice with the same
arguments gives byte-identical trees.

Example:
    python3 generate_workspace.py /tmp/ws --packages 63 --products 20 --plain-js --payload-kib 2048
    cd /tmp/ws/common_plat && pnpm install && pnpm -r build
    cd ../products/product-01 && pnpm install && pnpm -r build
"""
import argparse
import json
import random
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PNPMFILE = HERE / "products" / "notes" / ".pnpmfile.cjs"
MARKER = ".bytelyst-generated"
TYPESCRIPT = "5.9.3"
TYPES_NODE = "22.20.5"
# Third-party runtime dependencies: range, and a JS expression exercising the module {m}.
THIRD_PARTY = {
    "zod": ("^3.25.76", "{m}.z.string().parse('ok')"),
    "jose": ("^5.9.6", "typeof {m}.SignJWT"),
    "ms": ("^2.1.3", "{m}('2h')"),
    "dayjs": ("^1.11.13", "{m}(0).toISOString()"),
}
NPMRC = "link-workspace-packages=false\nauto-install-peers=true\nstrict-peer-dependencies=false\n"


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def write_json(path, data):
    write(path, json.dumps(data, indent=2) + "\n")


def tsconfig():
    return {
        "compilerOptions": {
            "target": "ES2022", "module": "commonjs", "moduleResolution": "node10", "lib": ["ES2022"],
            "outDir": "dist", "rootDir": "src", "strict": True, "noImplicitAny": False, "declaration": False,
            "skipLibCheck": True, "types": ["node"],
        },
        "include": ["src"],
    }


def build_script(plain_js):
    if plain_js:  # no compiler at all: the source already is CommonJS
        return "node -e \"require('fs').cpSync('src','dist',{recursive:true})\""
    return "tsc -p tsconfig.json"


def dev_dependencies(plain_js):
    return {} if plain_js else {"@types/node": TYPES_NODE, "typescript": TYPESCRIPT}


def plan_packages(rng, count):
    """Names, versions, targets, workspace and third-party dependencies of every package."""
    width = max(2, len(str(count)))
    packages = []
    for i in range(1, count + 1):
        roll = rng.random()
        targets = ["web"] if roll < 0.12 else ["backend"] if roll < 0.27 else ["backend", "web"]
        version = f"{rng.randint(0, 2)}.{rng.randint(0, 12)}.{rng.randint(0, 9)}"
        # Candidates: earlier packages present in every kind this one is for.
        candidates = [p for p in packages if set(targets) <= set(p["targets"])]
        picked = rng.sample(candidates, min(len(candidates), rng.randint(0, 3)))
        deps = {p["name"]: rng.choice(["workspace:^", "workspace:*"]) for p in sorted(picked, key=lambda p: p["name"])}
        third = sorted(rng.sample(sorted(THIRD_PARTY), 1)) if rng.random() < 0.25 else []
        packages.append({
            "name": f"@bytelyst/pkg-{i:0{width}d}", "dir": f"pkg-{i:0{width}d}", "version": version,
            "targets": targets, "deps": deps, "third": third,
            # Absent "bytelyst" field means both kinds: leave it out on some packages.
            "explicit_targets": targets != ["backend", "web"] or rng.random() < 0.5,
        })
    return packages


def package_source(pkg, payload):
    lines = ["'use strict';", "const fs = require('fs');", "const path = require('path');"]
    for n, dep in enumerate(pkg["deps"]):
        lines.append(f"const d{n} = require('{dep}');")
    exercised = []
    for n, mod in enumerate(pkg["third"]):
        lines.append(f"const t{n} = require('{mod}');")
        exercised.append(THIRD_PARTY[mod][1].format(m=f"t{n}"))
    dep_calls = ", ".join(f"d{n}.describe()" for n in range(len(pkg["deps"])))
    lines += [
        f"const NAME = '{pkg['name']}';",
        f"const VERSION = '{pkg['version']}';",
        "function describe() {",
        f"  return {{ name: NAME, version: VERSION, deps: [{dep_calls}] }};",
        "}",
        "function selfCheck() {",
        f"  return [{', '.join(exercised)}];",
        "}",
        "function payloadBytes() {",
        "  const file = path.join(__dirname, '..', 'assets', 'payload.bin');",
        f"  return {'fs.statSync(file).size' if payload else '0'};",
        "}",
        "module.exports = { name: NAME, version: VERSION, describe, selfCheck, payloadBytes };",
    ]
    return "\n".join(lines) + "\n"


def write_package(root, pkg, args, seed):
    pdir = root / "packages" / pkg["dir"]
    manifest = {
        "name": pkg["name"], "version": pkg["version"], "license": "UNLICENSED",
        "main": "dist/index.js", "files": ["dist"] + (["assets"] if args.payload_kib else []),
        "scripts": {"build": build_script(args.plain_js)},
    }
    if pkg["explicit_targets"]:
        manifest["bytelyst"] = {"targets": pkg["targets"]}
    deps = dict(pkg["deps"])
    deps.update({mod: THIRD_PARTY[mod][0] for mod in pkg["third"]})
    if deps:
        manifest["dependencies"] = deps
    if dev_dependencies(args.plain_js):
        manifest["devDependencies"] = dev_dependencies(args.plain_js)
    write_json(pdir / "package.json", manifest)
    source = package_source(pkg, args.payload_kib)
    if args.plain_js:
        write(pdir / "src" / "index.js", source)
    else:
        write(pdir / "src" / "index.ts", source.replace("'use strict';\n", "") + "export {};\n")
        write_json(pdir / "tsconfig.json", tsconfig())
    if args.payload_kib:
        data = random.Random(f"{seed}:{pkg['name']}").randbytes(args.payload_kib * 1024)
        (pdir / "assets").mkdir(exist_ok=True)
        (pdir / "assets" / "payload.bin").write_bytes(data)


def write_common_plat(root, packages, args):
    write_json(root / "package.json", {
        "name": "bytelyst-common-plat-synthetic", "version": "0.0.0", "private": True,
        "packageManager": "pnpm@10.6.5", "scripts": {"build": "pnpm -r --filter './packages/*' build"},
    })
    write(root / "pnpm-workspace.yaml", 'packages:\n  - "packages/*"\n')
    write(root / ".npmrc", NPMRC)
    for pkg in packages:
        write_package(root, pkg, args, args.seed)


def server_source(service, default_port, deps):
    requires = "\n".join(f"  require('{d}')," for d in deps)
    return f"""'use strict';
const http = require('http');
const path = require('path');
const {{ version }} = require(path.join(__dirname, '..', 'package.json'));
const SERVICE = '{service}';
const packages = [
{requires}
];
const port = Number(process.env.PORT || {default_port});
const server = http.createServer((req, res) => {{
  const url = (req.url || '/').split('?')[0];
  if (url === '/health') {{
    res.writeHead(200, {{ 'content-type': 'application/json' }});
    res.end(JSON.stringify({{ status: 'ok', service: SERVICE, version }}));
  }} else if (url === '/') {{
    res.writeHead(200, {{ 'content-type': 'application/json' }});
    res.end(JSON.stringify({{ service: SERVICE, packages: packages.map((p) => p.describe()) }}));
  }} else {{
    res.writeHead(404);
    res.end();
  }}
}});
server.listen(port, process.env.HOST || '0.0.0.0');
process.once('SIGTERM', () => server.close(() => process.exit(0)));
"""


def write_product(out, index, packages, rng, args):
    name = f"product-{index:02d}"
    root = out / "products" / name
    version = f"{rng.randint(0, 3)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
    write_json(root / "package.json", {
        "name": f"bytelyst-{name}", "version": version, "private": True,
        "packageManager": "pnpm@10.6.5", "scripts": {"build": "pnpm -r build"},
    })
    write(root / "pnpm-workspace.yaml", "packages:\n  - backend\n  - web\n")
    shutil.copyfile(PNPMFILE, root / ".pnpmfile.cjs")
    for part, default_port in (("backend", 4100 + index), ("web", 3000)):
        pool = [p["name"] for p in packages if part in p["targets"]]
        deps = sorted(rng.sample(pool, min(len(pool), rng.randint(2, 5))))
        manifest = {
            "name": f"{name}-{part}", "version": version, "private": True, "main": "dist/server.js",
            "scripts": {"build": build_script(args.plain_js), "start": "node dist/server.js"},
            "dependencies": {d: rng.choice(["workspace:^", "workspace:*"]) for d in deps},
        }
        if dev_dependencies(args.plain_js):
            manifest["devDependencies"] = dev_dependencies(args.plain_js)
        write_json(root / part / "package.json", manifest)
        source = server_source(f"{name}-{part}", default_port, deps)
        if args.plain_js:
            write(root / part / "src" / "server.js", source)
        else:
            write(root / part / "src" / "server.ts", source.replace("'use strict';\n", "") + "export {};\n")
            write_json(root / part / "tsconfig.json", tsconfig())


def prepare_output(out, force):
    if out.exists() and any(out.iterdir()):
        if not force:
            sys.exit(f"error: {out} is not empty (use --force to replace a workspace generated earlier)")
        if not (out / MARKER).exists():
            sys.exit(f"error: refusing to delete {out}: it has no {MARKER} file, so it was not generated here")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Generate a synthetic ByteLyst workspace (common_plat/ with @bytelyst/pkg-NN packages "
                    "and products/product-NN/ with backend and web) for tests and benchmarks.",
        epilog="Then: cd OUT/common_plat && pnpm install && pnpm -r build; "
               "cd OUT/products/product-01 && pnpm install && pnpm -r build.",
    )
    parser.add_argument("output", type=Path, help="directory to write (created; must be empty unless --force)")
    parser.add_argument("--packages", "-n", type=int, default=63, metavar="N", help="number of packages (default: 63)")
    parser.add_argument("--products", "-m", type=int, default=20, metavar="M", help="number of products (default: 20)")
    parser.add_argument("--seed", type=int, default=1, help="random seed; same arguments give the same tree (default: 1)")
    parser.add_argument("--payload-kib", type=int, default=0, metavar="K",
                        help="add assets/payload.bin of K KiB of deterministic incompressible bytes "
                             "to every package, to size the shared packages (default: 0, none)")
    parser.add_argument("--plain-js", action="store_true",
                        help="write CommonJS sources that 'build' by copying src/ to dist/ (no TypeScript; fast)")
    parser.add_argument("--force", action="store_true", help="replace OUTPUT if it holds a workspace generated earlier")
    args = parser.parse_args(argv)
    if args.packages < 1 or args.products < 0 or args.payload_kib < 0:
        parser.error("--packages must be >= 1, --products and --payload-kib >= 0")
    return args


def main(argv=None):
    args = parse_args(argv)
    out = args.output
    prepare_output(out, args.force)
    rng = random.Random(args.seed)
    packages = plan_packages(rng, args.packages)
    write_common_plat(out / "common_plat", packages, args)
    for index in range(1, args.products + 1):
        write_product(out, index, packages, rng, args)
    write(out / MARKER, json.dumps({
        "packages": args.packages, "products": args.products, "seed": args.seed,
        "payload_kib": args.payload_kib, "plain_js": args.plain_js,
    }, sort_keys=True) + "\n")
    print(f"wrote {args.packages} packages and {args.products} products to {out}")


if __name__ == "__main__":
    main()
