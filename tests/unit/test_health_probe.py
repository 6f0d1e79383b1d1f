"""The product images' HEALTHCHECK command (_dockerfile.health_argv), run for real on this
host against a local HTTP server: the bash branch (what node:22-slim runs) and the node
fallback (a runtime image without bash) must both pass on 200 only."""

import os
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.bytelyst.deploy.plugins.module_utils._dockerfile import PROBE_BASH, PROBE_NODE, health_argv


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.paths.append(self.path)
        status = {"/health": 200, "/api/health?deep=1": 200, "/broken": 500}.get(self.path, 404)
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"ok" if status == 200 else b"no")

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.paths = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


CASES = [("/health", True), ("/api/health?deep=1", True), ("/broken", False), ("/missing", False)]


@pytest.mark.skipif(not os.path.exists("/bin/bash"), reason="needs /bin/bash")
@pytest.mark.parametrize("path,healthy", CASES)
def test_bash_branch(server, path, healthy):
    port = server.server_address[1]
    proc = subprocess.run(health_argv(port, path), capture_output=True, timeout=10, check=False)
    assert (proc.returncode == 0) is healthy, proc.stderr
    assert server.paths[-1] == path


@pytest.mark.skipif(not shutil.which("node"), reason="needs node on PATH")
@pytest.mark.parametrize("path,healthy", CASES)
def test_node_branch(server, path, healthy):
    port = server.server_address[1]
    proc = subprocess.run(["node", "-e", PROBE_NODE, "health", str(port), path], capture_output=True, timeout=20,
                          check=False)
    assert (proc.returncode == 0) is healthy, proc.stderr
    assert server.paths[-1] == path


@pytest.mark.skipif(not shutil.which("node"), reason="needs node on PATH")
def test_without_bash_the_shell_runs_node(server, tmp_path):
    """An image without bash: PATH holds node only, and the same argv still decides."""
    os.symlink(shutil.which("node"), str(tmp_path / "node"))
    env = {"PATH": str(tmp_path)}
    port = server.server_address[1]
    for path, healthy in CASES:
        proc = subprocess.run(health_argv(port, path), capture_output=True, timeout=20, env=env, check=False)
        assert (proc.returncode == 0) is healthy, (path, proc.stderr)
        assert server.paths[-1] == path


def test_nothing_listening_is_unhealthy():
    proc = subprocess.run(["/bin/bash", "-c", PROBE_BASH, "health", str(free_port()), "/health"],
                          capture_output=True, timeout=10, check=False)
    assert proc.returncode != 0
