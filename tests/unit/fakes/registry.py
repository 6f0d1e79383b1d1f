"""Container registries: FakeRegistryClient stands for a RegistryClient (what the push and
promotion cores ask of it), FakeRegistry is a registry's HTTP API served on loopback (for the
client's HTTP transport), FakeTokenRegistry a registry with a token service as the client's
transport function (scopes, grants, expiry). The npm registry is in fakes.npm.

USER and PASSWORD are the credentials these registries accept."""

import base64
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from ansible_collections.bytelyst.deploy.plugins.module_utils._registry import MANIFEST_ACCEPT, SCHEMA2, _Response

USER, PASSWORD = "ci-bot", "pa55-Word-never-shown"
REALM = "https://auth.example.test/token"  # FakeTokenRegistry's token service


class FakeRegistryClient(object):
    """A RegistryClient of one repository: manifests by tag (or digest); every tag put is noted
    in puts; probe() answers as for a registry that refuses connections.

    repository: when given, the only repository it holds (any other has no manifest); fail: an
    error every look-up raises (an AuthenticationError, a DeployError). Called as RegistryClient
    is (registry, username, password, options), it notes what it was given and is that client.
    """

    def __init__(self, tags=None, repository=None, fail=None):
        self.tags = dict(tags or {})   # tag or digest -> Manifest
        self.repository = repository
        self.fail = fail
        self.puts = []
        self.registry = self.where = self.username = self.password = None
        self.options = {}

    def __call__(self, registry, username=None, password=None, **options):
        self.registry = self.where = registry
        self.username, self.password, self.options = username, password, options
        return self

    def _holds(self, repo):
        if self.fail is not None:
            raise self.fail
        return self.repository is None or repo == self.repository

    def manifest_digest(self, repo, ref, what=None):
        m = self.tags.get(ref) if self._holds(repo) else None
        return m.digest if m else None

    def get_manifest(self, repo, ref, what=None):
        if not self._holds(repo):
            return None
        return self.tags.get(ref) or next((m for m in self.tags.values() if m.digest == ref), None)

    def put_manifest(self, repo, tag, manifest, what=None):
        self.puts.append(tag)
        self.tags[tag] = manifest
        return manifest.digest

    def store(self, tag, manifest):
        """The registry takes manifest under tag (as a completed push does); its digest."""
        self.tags[tag] = manifest
        return manifest.digest

    def probe(self):
        return "cannot connect: refused"


class FakeRegistry(object):
    """A registry's HTTP API on loopback (a real server, for the client's own transport):
    manifests {(repository, tag or digest): body}, blobs {digest}; auth None, "basic" (USER,
    PASSWORD) or "bearer" (its /token service hands "tok-for-USER" for USER's basic credentials);
    the first fail_first requests answer fail_status. Every request is noted in requests."""

    def __init__(self, manifests, auth=None, fail_first=0, fail_status=503):
        self.auth = auth  # None, "basic" or "bearer"
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.challenge_scope = ',scope="repository:team/app:pull"'
        self.requests = []
        self.manifests = dict(manifests)
        self.blobs = {"sha256:" + "1" * 64}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                fake.handle(self, "GET")

            def do_HEAD(self):
                fake.handle(self, "HEAD")

            def do_PUT(self):
                fake.handle(self, "PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.addr = "127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def reply(self, h, status, body=b"", headers=None):
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def authorized(self, h):
        got = h.headers.get("Authorization", "")
        basic = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
        if self.auth == "basic":
            if got == basic:
                return True
            self.reply(h, 401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                       {"WWW-Authenticate": 'Basic realm="fake"'})
            return False
        if self.auth == "bearer":
            if got == "Bearer tok-for-" + USER:
                return True
            self.reply(h, 401, b"", {"WWW-Authenticate": 'Bearer realm="http://%s/token",service="fake"%s'
                                                         % (self.addr, self.challenge_scope)})
            return False
        return True

    def handle(self, h, method):
        self.requests.append((method, h.path, h.headers.get("Authorization")))
        if h.path.startswith("/token"):
            basic = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
            if h.headers.get("Authorization") != basic or "service=fake" not in h.path:
                return self.reply(h, 401, b'{"details":"bad credentials"}')
            return self.reply(h, 200, json.dumps({"token": "tok-for-" + USER}).encode())
        if self.fail_first > 0:
            self.fail_first -= 1
            return self.reply(h, self.fail_status, b'{"errors":[{"code":"UNAVAILABLE","message":"busy"}]}')
        if not self.authorized(h):
            return None
        parts = h.path.split("/")  # '', 'v2', team, app, kind, ref
        repo, kind, ref = "/".join(parts[2:-2]), parts[-2], parts[-1]
        if kind == "manifests":
            if method == "PUT":
                body = h.rfile.read(int(h.headers["Content-Length"]))
                assert h.headers["Content-Type"] == SCHEMA2
                self.manifests[(repo, ref)] = body
                digest = "sha256:" + hashlib.sha256(body).hexdigest()
                return self.reply(h, 201, b"", {"Docker-Content-Digest": digest})
            assert h.headers.get("Accept") == MANIFEST_ACCEPT
            body = self.manifests.get((repo, ref))
            if body is None:
                return self.reply(h, 404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
            return self.reply(h, 200, body, {"Content-Type": SCHEMA2,
                                             "Docker-Content-Digest": "sha256:" + hashlib.sha256(body).hexdigest()})
        if kind == "blobs":
            return self.reply(h, 200 if ref in self.blobs else 404)
        return self.reply(h, 404)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def jwt(claims):
    def enc(doc):
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()
    return "%s.%s.c2lnbmF0dXJl" % (enc({"alg": "RS256", "typ": "JWT"}), enc(claims))


class FakeTokenRegistry(object):
    """A registry with token auth and its token service, as the client's transport.

    grants: the actions the token service gives the user (it hands out the intersection of
    what is asked with these). expired: its tokens carry an exp an hour in the past, and
    the registry refuses them. lifetime: the expires_in it answers.
    """

    def __init__(self, grants=("pull", "push"), expired=False, lifetime=300):
        self.grants = grants
        self.expired = expired
        self.lifetime = lifetime
        self.tokens = {}  # token -> {(type, name): set(actions)}
        self.revoked = set()
        self.log = []  # (method, path, Authorization header or None)
        self.token_queries = []

    def challenge(self, scope, error=None):
        value = 'Bearer realm="%s",service="fake-registry",scope="%s"' % (REALM, scope)
        if error:
            value += ',error="%s"' % error
        return _Response(401, {"WWW-Authenticate": value},
                         b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}')

    def __call__(self, method, url, headers, body):
        parts = urlsplit(url)
        auth = headers.get("Authorization")
        self.log.append((method, parts.path, auth))
        if url.startswith(REALM):
            return self.token_service(parse_qs(parts.query), auth)
        # /v2/<repo>/manifests/<ref>
        repo = parts.path[len("/v2/"):].rsplit("/", 2)[0]
        needed = ("pull", "push") if method == "PUT" else ("pull",)
        scope = "repository:%s:%s" % (repo, ",".join(needed))
        if not auth or not auth.startswith("Bearer "):
            return self.challenge(scope)
        token = auth[len("Bearer "):]
        if token not in self.tokens or token in self.revoked or self.expired:
            return self.challenge(scope, "invalid_token")
        if not set(needed) <= self.tokens[token].get(("repository", repo), set()):
            return self.challenge(scope, "insufficient_scope")
        if method == "PUT":
            return _Response(201, {"Docker-Content-Digest": "sha256:" + "d" * 64}, b"")
        return _Response(200, {"Docker-Content-Digest": "sha256:" + "a" * 64}, b"{}")

    def token_service(self, query, auth):
        self.token_queries.append(query)
        basic = "Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
        if auth != basic:
            return _Response(401, {}, b'{"errors":[{"code":"UNAUTHORIZED","message":"invalid credentials"}]}')
        access = {}
        for scope in query.get("scope", []):
            kind, name, actions = scope.split(":")
            access[(kind, name)] = set(actions.split(",")) & set(self.grants)
        now = int(time.time())
        token = jwt({"sub": USER, "exp": now - 3600 if self.expired else now + self.lifetime, "n": len(self.tokens)})
        self.tokens[token] = access
        return _Response(200, {}, json.dumps({"token": token, "expires_in": self.lifetime}).encode())
