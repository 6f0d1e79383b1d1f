"""The private npm registry for publish tests: Verdaccio, as scripts/setup.sh runs it.

login() gets a token the way `npm adduser` does (PUT /-/user/org.couchdb.user:<name>, which
also creates the user in Verdaccio's htpasswd file); packument(), tarball() and unpublish()
read and clean the registry through its HTTP API. rescoped_copy() copies a packed manifest
directory with every package moved to a scope of its own, so that each test publishes
versions no other test (or earlier run) published. Verdaccio is a second registry of a
test's own on a free loopback port (same configuration as the shared one), to be killed.
"""

import base64
import gzip
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

from ansible_collections.bytelyst.deploy.plugins.module_utils import _tarball_manifest
from registry_fixtures import free_port

SAMPLE_SCOPE = "@bytelyst"


def _call(method, url, token=None, body=None, basic=None):
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = "Bearer " + token
    if basic:
        headers["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % basic).encode()).decode()
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def registry_user():
    """(name, password) of the registry's test user, from the file scripts/setup.sh made."""
    path = os.environ.get("BYTELYST_NPM_REGISTRY_USER_FILE")
    if not path or not os.path.exists(path):
        raise AssertionError("BYTELYST_NPM_REGISTRY_USER_FILE is not set or missing: run scripts/setup.sh "
                             "(it starts the npm registry) and source its env.sh.")
    with open(path) as handle:
        name, password = handle.read().strip().split(":", 1)
    return name, password


def login(url, name, password):
    """A token for the user (created on first use, as `npm adduser` does)."""
    status, body = _call("PUT", url + "-/user/org.couchdb.user:" + urllib.parse.quote(name),
                         body={"name": name, "password": password}, basic=(name, password))
    assert status in (200, 201), "log-in at %s failed: HTTP %d %s" % (url, status, body[:200])
    return json.loads(body)["token"]


def package_url(url, name):
    return url + urllib.parse.quote(name, safe="@")


def packument(url, token, name):
    """The registry's document of name, or None (404)."""
    status, body = _call("GET", package_url(url, name), token)
    if status == 404:
        return None
    assert status == 200, "GET %s: HTTP %d %s" % (name, status, body[:200])
    return json.loads(body)


def tarball(url, token, name, version):
    """The bytes of a published tarball, fetched at the URL the packument names."""
    doc = packument(url, token, name)
    status, body = _call("GET", doc["versions"][version]["dist"]["tarball"], token)
    assert status == 200, "tarball of %s@%s: HTTP %d" % (name, version, status)
    return body


def unpublish(url, token, name):
    doc = packument(url, token, name)
    if doc is not None:
        _call("DELETE", package_url(url, name) + "/-rev/" + doc.get("_rev", "0"), token)


def state(url, token, names):
    """name -> {version: integrity} (or None when absent): what a test compares before and after."""
    out = {}
    for name in names:
        doc = packument(url, token, name)
        out[name] = None if doc is None else dict(
            (v, meta.get("dist", {}).get("integrity")) for v, meta in doc.get("versions", {}).items())
    return out


def _rename(deps, scope):
    return dict((_in_scope(k, scope), v) for k, v in (deps or {}).items())


def _in_scope(name, scope):
    return scope + name[len(SAMPLE_SCOPE):] if name.startswith(SAMPLE_SCOPE + "/") else name


def rescoped_copy(src, dest, scope, extra=None):
    """Copy the packed manifest directory src to dest with every @bytelyst package in `scope`
    (names, dependency names and tarball names). extra: {original name: {path in tarball: bytes}}
    adds files to a package. Tarballs are written with gzip mtime 0 (same bytes every run)."""
    manifest = _tarball_manifest.load(src)
    os.makedirs(dest)
    packages = {}
    for name, entry in manifest["packages"].items():
        new_name = _in_scope(name, scope)
        with tarfile.open(os.path.join(src, entry["tarball"]), "r:gz") as old:
            members = [(m, old.extractfile(m).read() if m.isfile() else None) for m in old.getmembers()]
        tarball_name = "%s-%s.tgz" % (new_name.lstrip("@").replace("/", "-"), entry["version"])
        path = os.path.join(dest, tarball_name)
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz, \
                tarfile.open(fileobj=gz, mode="w") as new:
            for member, data in members:
                if member.name == "package/package.json":
                    meta = json.loads(data)
                    meta["name"] = new_name
                    for field in ("dependencies", "peerDependencies", "devDependencies", "optionalDependencies"):
                        if field in meta:
                            meta[field] = _rename(meta[field], scope)
                    data = json.dumps(meta, indent=2).encode()
                    member.size = len(data)
                new.addfile(member, io.BytesIO(data) if data is not None else None)
            for member_name, data in sorted(((extra or {}).get(name) or {}).items()):
                info = tarfile.TarInfo(member_name)
                info.size, info.mode = len(data), 0o644
                new.addfile(info, io.BytesIO(data))
        copy = dict(entry, name=new_name, tarball=tarball_name)
        copy["sha256"] = copy["fingerprint"] = _tarball_manifest.sha256_file(path)
        copy["dependencies"] = {"internal": _rename(entry["dependencies"]["internal"], scope),
                                "external": entry["dependencies"]["external"]}
        copy["peer_dependencies"] = _rename(entry.get("peer_dependencies"), scope)
        copy.pop("inputs", None)
        packages[new_name] = copy
    _tarball_manifest.write(dest, packages, [_in_scope(n, scope) for n in manifest["order"]], scope + "/*")
    return dest


class Verdaccio(object):
    """A Verdaccio of a test's own on 127.0.0.1:<free port>, configured as the shared one,
    data kept across restarts (so a test can kill it and start it again)."""

    def __init__(self, root):
        self.root = str(root)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d/" % self.port
        self.proc = None
        shared = os.path.join(os.environ.get("BYTELYST_DEV_HOME", ""), "npm-registry", "config.yaml")
        if not shutil.which("verdaccio") or not os.path.exists(shared):
            raise AssertionError("verdaccio or %s is missing: run scripts/setup.sh and source its env.sh." % shared)
        with open(shared) as handle:
            config = yaml.safe_load(handle)
        config["storage"] = os.path.join(self.root, "storage")
        config["auth"]["htpasswd"]["file"] = os.path.join(self.root, "htpasswd")
        config["listen"] = "127.0.0.1:%d" % self.port
        os.makedirs(config["storage"], exist_ok=True)
        self.config = os.path.join(self.root, "config.yaml")
        with open(self.config, "w") as handle:
            yaml.safe_dump(config, handle)

    def start(self, timeout=60):
        log = open(os.path.join(self.root, "verdaccio.log"), "ab")
        self.proc = subprocess.Popen(["verdaccio", "--config", self.config], stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if _ping(self.url):
                return self
            assert self.proc.poll() is None, "verdaccio exited; see %s/verdaccio.log" % self.root
            time.sleep(0.1)
        raise AssertionError("verdaccio did not answer on %s within %d s" % (self.url, timeout))

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def listed(self, name):
        """True once the registry has added name to its package list (the file Verdaccio rewrites
        after storing a new package; a kill during that write would leave it empty)."""
        try:
            with open(os.path.join(self.root, "storage", ".verdaccio-db.json")) as handle:
                return name in json.load(handle).get("list", [])
        except (OSError, ValueError):
            return False

    close = kill


def _ping(url):
    try:
        with urllib.request.urlopen(url + "-/ping", timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False
