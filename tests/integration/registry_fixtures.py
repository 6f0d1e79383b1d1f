"""Extra registries for push tests: Debian's docker-registry on a free loopback port with
its own data directory, optionally with htpasswd auth and TLS from a CA made here.
Each can be stopped, killed and restarted on the same port and data."""

import base64
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from net_helpers import free_port

ENGINE_CERTS = "/etc/docker/certs.d"


def sh(*argv, **kwargs):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)


def make_tls(directory):
    """A CA and a server certificate for 127.0.0.1 and localhost; returns (ca, cert, key) paths."""
    ca_key, ca = os.path.join(directory, "ca.key"), os.path.join(directory, "ca.crt")
    key, csr, cert = (os.path.join(directory, n) for n in ("server.key", "server.csr", "server.crt"))
    ext = os.path.join(directory, "san.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
       "-days", "2", "-subj", "/CN=bytelyst test CA")
    sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1")
    sh("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
       "-out", cert, "-days", "2", "-extfile", ext)
    return ca, cert, key


def make_htpasswd(path, user, password):
    # -i reads the password from stdin: it never shows in a process list.
    out = sh("htpasswd", "-Bin", user, input=password).stdout
    with open(path, "w") as f:
        f.write(out)


class Registry(object):
    """One docker-registry process on 127.0.0.1:<port>, data kept across restarts."""

    def __init__(self, root, tls=False, user=None, password=None):
        self.root = str(root)
        self.port = free_port()
        self.addr = "127.0.0.1:%d" % self.port
        self.data = os.path.join(self.root, "data")
        self.ca = None
        self.proc = None
        self.log = os.path.join(self.root, "registry.log")
        os.makedirs(self.data, exist_ok=True)
        lines = ["version: 0.1", "log:", "  level: info", "storage:", "  filesystem:",
                 "    rootdirectory: %s" % self.data, "  delete:", "    enabled: true",
                 "http:", "  addr: %s" % self.addr]
        if tls:
            self.ca, cert, key = make_tls(self.root)
            lines += ["  tls:", "    certificate: %s" % cert, "    key: %s" % key]
        if user:
            htpasswd = os.path.join(self.root, "htpasswd")
            make_htpasswd(htpasswd, user, password)
            lines += ["auth:", "  htpasswd:", "    realm: bytelyst-test", "    path: %s" % htpasswd]
        self.config = os.path.join(self.root, "config.yml")
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")

    @property
    def url(self):
        return ("https://" if self.ca else "http://") + self.addr

    def start(self, timeout=20):
        log = open(self.log, "a")
        self.proc = subprocess.Popen(["docker-registry", "serve", self.config], stdout=log, stderr=log)
        log.close()
        deadline = time.time() + timeout
        context = ssl.create_default_context(cafile=self.ca) if self.ca else None
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url + "/v2/", timeout=2, context=context)
                return self
            except urllib.error.HTTPError:
                return self  # 401: it answers
            except (urllib.error.URLError, OSError):
                if self.proc.poll() is not None:
                    raise RuntimeError("docker-registry exited: %s" % open(self.log).read()[-2000:])
                time.sleep(0.1)
        raise RuntimeError("docker-registry on %s did not answer in %ss" % (self.addr, timeout))

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)
        self.proc = None

    def kill(self):
        self.stop(signal.SIGKILL)

    def restart(self):
        self.stop()
        return self.start()

    def uploads_started(self, repository):
        """True once the registry holds an upload in progress (or done) for repository."""
        base = os.path.join(self.data, "docker", "registry", "v2", "repositories", repository)
        return os.path.isdir(os.path.join(base, "_uploads")) or os.path.isdir(os.path.join(base, "_layers"))

    def trust_in_engine(self):
        """The engine reads certs.d per push: no restart needed."""
        directory = os.path.join(ENGINE_CERTS, self.addr)
        os.makedirs(directory, exist_ok=True)
        shutil.copy(self.ca, os.path.join(directory, "ca.crt"))

    def untrust_in_engine(self):
        shutil.rmtree(os.path.join(ENGINE_CERTS, self.addr), ignore_errors=True)

    def close(self):
        self.stop()
        if self.ca:
            self.untrust_in_engine()


ACCEPT = ", ".join((
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
))


def api(url, path, method="GET", ca=None, user=None, password=None):
    """(status, headers, body) of one request to a registry, straight, for checking real state."""
    headers = {"Accept": ACCEPT}
    if user:
        headers["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    req = urllib.request.Request(url + path, headers=headers, method=method)
    context = ssl.create_default_context(cafile=ca) if ca else None
    try:
        with urllib.request.urlopen(req, timeout=30, context=context) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def tag_digest(url, repository, tag, **auth):
    """The registry's digest for a tag, or None."""
    status, headers, _body = api(url, "/v2/%s/manifests/%s" % (repository, tag), "HEAD", **auth)
    return headers.get("Docker-Content-Digest") if status == 200 else None


def tag_list(url, repository, **auth):
    status, _headers, body = api(url, "/v2/%s/tags/list" % repository, **auth)
    return sorted(json.loads(body).get("tags") or []) if status == 200 else []


def manifest_layers(url, repository, ref, **auth):
    status, _headers, body = api(url, "/v2/%s/manifests/%s" % (repository, ref), **auth)
    assert status == 200, body
    return [(layer["digest"], layer["size"]) for layer in json.loads(body)["layers"]]


def delete_repository(url, repository, **auth):
    """Best effort: delete every manifest a test pushed (blobs stay until a registry GC)."""
    for tag in tag_list(url, repository, **auth):
        digest = tag_digest(url, repository, tag, **auth)
        if digest:
            api(url, "/v2/%s/manifests/%s" % (repository, digest), "DELETE", **auth)


class RecordingProxy(object):
    """The registry at target (host:port) under another address, http://localhost:<port>:
    forwards every request as it is and records (method, path), so a test sees which
    requests went through this address."""

    def __init__(self, target):
        self.target = target
        self.requests = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def forward(self):
                proxy.requests.append((self.command, self.path))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = dict((k, v) for k, v in self.headers.items() if k.lower() not in ("host", "connection"))
                conn = http.client.HTTPConnection(proxy.target, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    self.send_response(resp.status)
                    for key, value in resp.getheaders():
                        if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                            self.send_header(key, value)
                    length = resp.getheader("Content-Length", "0") if self.command == "HEAD" else len(data)
                    self.send_header("Content-Length", str(length))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://localhost:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def seen(self, method, path):
        return (method, path) in self.requests

    def close(self):
        self.server.shutdown()
        self.server.server_close()
