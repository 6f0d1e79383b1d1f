# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Helpers shared by the benchmark files: paths, playbook runs, timing, tables, JSON.

Everything the benchmarks build is named under a bench-only prefix (registry
namespace bytelyst-bench-*, Compose projects bench-*), works on copies of the
sample workspace in a scratch directory, and is removed again by cleanup().
"""

from __future__ import absolute_import, division, print_function

import contextlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
RESULTS = os.path.join(BENCH, "results")
PLAYBOOKS = os.path.join(REPO, "playbooks")
EXAMPLES = os.path.join(REPO, "examples")
sys.path.insert(0, BENCH)

import disk  # noqa: E402  pylint: disable=wrong-import-position

# Left out of copies of the sample workspace: what installs and builds make again.
_GENERATED = ("node_modules", "dist", ".next", ".turbo", "*.tsbuildinfo")


class BenchError(Exception):
    """A benchmark step failed; the message says which and how."""


def usage_core():
    """The collection's _usage core (the one bytelyst.deploy.image_usage runs)."""
    return disk._import_usage()  # pylint: disable=protected-access


def engine(docker_host=None):
    """A Docker SDK client on the engine at docker_host (default: the environment's)."""
    usage_core()
    from ansible_collections.bytelyst.deploy.plugins.module_utils._engine import engine_client
    return engine_client(docker_host)


def need_env(*names):
    """Values of environment variables the development stack's env.sh sets; stop if one is missing."""
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        raise BenchError("%s not set: source the env.sh that scripts/setup.sh writes, then run again."
                         % ", ".join(missing))
    return [os.environ[n] for n in names]


def unique():
    return uuid.uuid4().hex[:8]


def scratch(name):
    """A fresh scratch directory for one benchmark (BYTELYST_BENCH_WORK, else the temp dir)."""
    root = os.environ.get("BYTELYST_BENCH_WORK") or os.path.join(tempfile.gettempdir(), "bytelyst-bench")
    path = os.path.join(root, name)
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)
    return path


def copy_sample(dest):
    """Copies of examples/common_plat and examples/products under dest (nothing generated)."""
    ignore = shutil.ignore_patterns(*_GENERATED)
    for name in ("common_plat", "products"):
        shutil.copytree(os.path.join(EXAMPLES, name), os.path.join(dest, name), ignore=ignore, symlinks=True)
    return os.path.join(dest, "common_plat"), os.path.join(dest, "products")


def generate_workspace(dest, products, packages, payload_kib):
    """A synthetic workspace (examples/generate_workspace.py, plain JS) under dest."""
    argv = [sys.executable, os.path.join(EXAMPLES, "generate_workspace.py"), dest, "--products", str(products),
            "--packages", str(packages), "--payload-kib", str(payload_kib), "--plain-js", "--force"]
    run(argv, "generating the synthetic workspace")
    workspace, products_root = os.path.join(dest, "common_plat"), os.path.join(dest, "products")
    # The generator writes no lockfiles; the pipeline installs with --frozen-lockfile.
    for folder in [workspace] + [os.path.join(products_root, p) for p in sorted(os.listdir(products_root))]:
        run([os.environ.get("BYTELYST_PNPM", "pnpm"), "install", "--lockfile-only"], "pnpm lockfile of %s" % folder,
            cwd=folder, log=os.path.join(dest, "pnpm.log"))
    return workspace, products_root


def free_port():
    """A TCP port on loopback nobody listens on right now."""
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(addr):
    try:
        with contextlib.closing(socket.create_connection(tuple(addr.rsplit(":", 1)), timeout=1)):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def throwaway_registry(work):
    """A registry of our own on a free loopback port, storage under work; stopped and removed after.

    The bench pushes there, never to the shared registry: nothing is left behind, and one
    registry's cross-repository mounts cannot hide bytes a measurement should see. Engines
    treat loopback registries as plain HTTP ones.
    """
    binary = shutil.which("docker-registry") or shutil.which("registry")
    if not binary:
        raise BenchError("No registry binary (docker-registry) on PATH: install the distribution registry.")
    root = os.path.join(work, "registry-%s" % unique())
    os.makedirs(root)
    addr = "127.0.0.1:%d" % free_port()
    config = os.path.join(root, "config.yml")
    with open(config, "w") as handle:
        handle.write("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n"
                     "  delete:\n    enabled: true\nhttp:\n  addr: %s\n" % (os.path.join(root, "data"), addr))
    with open(os.path.join(root, "registry.log"), "w") as log:
        proc = subprocess.Popen([binary, "serve", config], stdout=log, stderr=subprocess.STDOUT)
    try:
        for dummy in range(100):
            if _answers(addr) or proc.poll() is not None:
                break
            time.sleep(0.1)
        if not _answers(addr):
            raise BenchError("The bench registry did not start; see %s" % os.path.join(root, "registry.log"))
        yield addr
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)


def run(argv, what, cwd=None, env=None, log=None):
    """Run a command, its output streamed to log (a temporary file if none); return its seconds.

    A failure raises BenchError with the command and the output's tail.
    """
    if not log:
        handle, log = tempfile.mkstemp(prefix="bytelyst-bench-", suffix=".log")
        os.close(handle)
    with open(log, "a") as handle:
        handle.write("$ %s\n" % " ".join(argv))
        handle.flush()
        offset = handle.tell()
        start = time.monotonic()
        proc = subprocess.run(argv, cwd=cwd, env=env, stdout=handle, stderr=subprocess.STDOUT, check=False)
        seconds = time.monotonic() - start
    if proc.returncode:
        with open(log) as handle:
            handle.seek(offset)
            tail = "\n".join(handle.read().splitlines()[-25:])
        raise BenchError("%s failed (exit %d; full output in %s): %s\n%s"
                         % (what, proc.returncode, log, " ".join(argv), tail))
    return seconds


def write_yaml_json(path, data):
    """Write data as JSON (which YAML and Ansible read) and return the path."""
    with open(path, "w") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
    return path


def build_inventory(path, extra_vars=None):
    """An inventory with only the build host (this machine, local connection)."""
    host_vars = dict(ansible_connection="local", ansible_python_interpreter=sys.executable)
    data = {"all": {"vars": extra_vars or {}, "children": {
        "build_host": {"hosts": {"localhost": host_vars}},
        "products": {"hosts": {}},
    }}}
    return write_yaml_json(path, data)


def playbook(names, inventory, extra_vars, work, forks=None, log=None, env=None):
    """Run playbooks/<names> with the variables in extra_vars; return the seconds it took (env: more
    environment variables)."""
    vars_file = write_yaml_json(os.path.join(work, "vars-%s.json" % unique()), extra_vars)
    argv = ["ansible-playbook", "-i", inventory, "-e", "@" + vars_file]
    if forks:
        argv += ["-f", str(forks)]
    argv += [os.path.join(PLAYBOOKS, n) for n in names]
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="false", ANSIBLE_HOST_KEY_CHECKING="false",
               ANSIBLE_RETRY_FILES_ENABLED="false", **(env or {}))
    return run(argv, "ansible-playbook %s" % " ".join(names), env=env, log=log or os.path.join(work, "ansible.log"))


def stack_vars(work, workspace, products_root, registry, products, mode, kinds):
    """The playbook variables of a bench pipeline run (registry: the bench's own, host:port/prefix)."""
    standin, ca_bundle = need_env("BYTELYST_STANDIN_IMAGE", "BYTELYST_CA_BUNDLE")
    return dict(
        bytelyst_workspace=workspace, bytelyst_products_root=products_root,
        bytelyst_tarball_dir=os.path.join(work, "tarballs"), bytelyst_runtime_image=standin,
        bytelyst_ca_bundle=ca_bundle, bytelyst_registry=registry,
        bytelyst_registry_allow_http=True, bytelyst_product_mode=mode,
        bytelyst_base_kinds=kinds if mode == "base" else [],
        bytelyst_products=products, bytelyst_selected_products=sorted(products),
        bytelyst_project_prefix="bench-", bytelyst_deploy_pattern="bench_nothing",
        bytelyst_deploy_root=os.path.join(work, "deploy"), bytelyst_verify_images=False,
        # As the main job's local inventory (playbooks/inventory/local.yml): an async step waits at
        # least one poll interval, so the default 5 s would be most of a no-op run of the sample.
        bytelyst_poll_interval=1,
    )


def products_spec(names, kinds, generated=False):
    """bytelyst_products for the sample products (their ports) or generated ones (4100 + n)."""
    spec = {}
    for index, name in enumerate(names, 1):
        services = {}
        for kind in kinds:
            if generated:
                port = 4100 + index if kind == "backend" else 3000
                services[kind] = dict(kind=kind, port=port, host_port=port, health_path="/health")
            else:
                port = {"notes": 4016, "clock": 4017, "trading": 4018}[name] if kind == "backend" else 3000
                health = "/api/health" if (name, kind) == ("notes", "web") else "/health"
                services[kind] = dict(kind=kind, port=port, host_port=port, health_path=health)
        spec[name] = dict(services=services)
    return spec


def image_refs(registry, products, base_kinds=(), base_version="1.0.0", base_prefix="bytelyst-common-base"):
    """Repositories of the product images ({product: [repos]}) and the base refs a run made."""
    prefix = registry + "/"
    found = {}
    for name, spec in sorted(products.items()):
        found[name] = [prefix + "%s-%s" % (name, kind) for kind in sorted(spec["services"])]
    bases = ["%s%s-%s:%s" % (prefix, base_prefix, f, base_version) for f in base_kinds]
    return found, bases


def resolve(client, repos):
    """Newest local tag of each repository (refs without a tag) or the ref itself."""
    refs = []
    for repo in repos:
        if ":" in repo.rsplit("/", 1)[-1]:
            refs.append(repo)
            continue
        images = client.images.list(name=repo)
        if not images:
            raise BenchError("No image %s on the engine after the build." % repo)
        images.sort(key=lambda i: i.attrs.get("Created", ""), reverse=True)
        tags = [t for t in images[0].tags if not t.endswith(":latest")]
        refs.append(tags[0] if tags else images[0].tags[0])
    return refs


def cleanup(client, registry):
    """Remove every local tag under a bench registry prefix (host:port/prefix)."""
    removed = 0
    for image in client.images.list():
        for tag in image.tags:
            if tag.startswith(registry + "/"):
                try:
                    client.images.remove(tag, noprune=False)
                    removed += 1
                except Exception:  # pylint: disable=broad-except
                    continue  # in use or already gone: leave it
    return removed


def machine():
    """The machine's details for the JSON: load matters, the machine is shared."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return dict(date=time.strftime("%Y-%m-%d %H:%M:%S %Z"), cpus=os.cpu_count(), load_average=load,
                python=platform.python_version(), platform=platform.platform())


def save(name, data):
    """Write bench/results/<name>.json and return its path."""
    if not os.path.isdir(RESULTS):
        os.makedirs(RESULTS)
    path = os.path.join(RESULTS, "%s.json" % name)
    with open(path, "w") as handle:
        json.dump(dict(data, machine=machine()), handle, indent=2, sort_keys=True)
    return path


mb = disk._mb  # pylint: disable=protected-access


def ratio(num, den):
    """num / den to three significant digits (None when either is missing or den is 0)."""
    return float("%.3g" % (float(num) / den)) if num is not None and den else None


def table(rows, header):
    """Plain text table: header and rows are lists of cells (first column left-aligned)."""
    cells = [[str("-" if c is None else c) for c in row] for row in [header] + rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        lines.append("  ".join([row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]))
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)
