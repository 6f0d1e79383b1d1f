"""Container registries: FakeRegistryClient stands for a RegistryClient (what the push, pull and
promotion cores ask of it); FakeRegistry is a registry's HTTP API v2 with its token service, for
the client's own code: called in-process as the client's transport (no sockets), or served on
loopback (serve()) where a test needs a real socket. The npm registry is in fakes.npm.

USER and PASSWORD are the credentials these registries accept."""

import base64
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from ansible_collections.bytelyst.deploy.plugins.module_utils._image_registry import MANIFEST_ACCEPT, SCHEMA2, _Response

USER, PASSWORD = "ci-bot", "pa55-Word-never-shown"
REALM = "https://auth.example.test/token"  # FakeRegistry's token service, in-process
SERVICE = "fake-registry"
UNAUTHORIZED = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'


class FakeRegistryClient(object):
    """A RegistryClient of one repository: manifests by tag (or digest); every tag put is noted
    in puts; probe() answers as for a registry that refuses connections.

    repository: when given, the only repository it holds (any other has no manifest); fail: an
    error every look-up raises (an AuthenticationError, a DeployError). Called as RegistryClient
    is (registry, username, password, options), it notes what it was given and is that client.
    """

    def __init__(self, tags=None, repository=None, fail=None):
        self.tags = dict(tags or {})   # tag or digest -> ImageManifest
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
    """A container registry's HTTP API v2 and its token service, in one place.

    Call it as the RegistryClient's transport, (method, url, headers, body) -> _Response
    (`client._send = registry`), or serve() it on loopback and give the client its addr.

    manifests {(repository, tag or digest): body}: a HEAD or GET answers the body with its sha256
    digest, a PUT stores the body under the tag; blobs: the digests a blob HEAD finds.
    auth: None (anyone), "basic" (USER and PASSWORD) or "bearer": the registry's challenge names
    the token service (realm: REALM, or the served registry's own /token), SERVICE and the scope
    the request needs (pull; pull,push for a PUT), or no scope when challenge_scope is False. The
    token service gives USER (basic credentials) a JWT granting what was asked that grants
    allows, for lifetime seconds (expired: it was issued already expired, and the registry refuses
    it); revoked: tokens the registry no longer accepts.
    fail_first: the first registry requests (not the token service's) answer fail_status.

    Every request is noted in requests as (method, path, Authorization or None); the token
    service's queries, parsed, in token_queries; tokens: {token: {(type, name): actions}}.
    """

    def __init__(self, manifests=None, auth=None, grants=("pull", "push"), expired=False, lifetime=300,
                 fail_first=0, fail_status=503):
        self.manifests = dict(manifests or {})
        self.blobs = {"sha256:" + "1" * 64}
        self.auth = auth  # None, "basic" or "bearer"
        self.grants = grants
        self.expired = expired
        self.lifetime = lifetime
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.challenge_scope = True
        self.realm = REALM
        self.tokens = {}
        self.revoked = set()
        self.requests = []
        self.token_queries = []
        self.server = self.addr = None

    # -- the API -------------------------------------------------------------
    def __call__(self, method, url, headers, body):
        parts = urlsplit(url)
        headers = dict((k.lower(), v) for k, v in headers.items())
        auth = headers.get("authorization")
        self.requests.append((method, parts.path, auth))
        if url.startswith(self.realm):
            return self.token_service(parse_qs(parts.query), auth)
        if self.fail_first > 0:
            self.fail_first -= 1
            return _Response(self.fail_status, {}, b'{"errors":[{"code":"UNAVAILABLE","message":"busy"}]}')
        # /v2/<repository>/<manifests or blobs>/<reference>
        repo, kind, ref = (parts.path[len("/v2/"):].rsplit("/", 2) + ["", ""])[:3]
        refused = self.refusal(method, repo, auth)
        if refused:
            return refused
        if kind == "manifests":
            return self.manifest(method, repo, ref, headers, body)
        if kind == "blobs":
            return _Response(200 if ref in self.blobs else 404, {}, b"")
        return _Response(404, {}, b"")

    def manifest(self, method, repo, ref, headers, body):
        if method == "PUT":
            assert headers.get("content-type") == SCHEMA2
            self.manifests[(repo, ref)] = body
            return _Response(201, {"Docker-Content-Digest": digest_of(body)}, b"")
        assert headers.get("accept") == MANIFEST_ACCEPT
        held = self.manifests.get((repo, ref))
        if held is None:
            return _Response(404, {}, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
        return _Response(200, {"Content-Type": SCHEMA2, "Docker-Content-Digest": digest_of(held)},
                         b"" if method == "HEAD" else held)

    # -- auth ----------------------------------------------------------------
    def refusal(self, method, repo, auth):
        """None when auth may make this request, else the 401 that says how to authenticate."""
        if self.auth == "basic":
            if auth == basic(USER, PASSWORD):
                return None
            return _Response(401, {"WWW-Authenticate": 'Basic realm="fake"'}, UNAUTHORIZED)
        if self.auth != "bearer":
            return None
        needed = ("pull", "push") if method == "PUT" else ("pull",)
        scope = "repository:%s:%s" % (repo, ",".join(needed))
        if not auth or not auth.startswith("Bearer "):
            return self.challenge(scope)
        token = auth[len("Bearer "):]
        if token not in self.tokens or token in self.revoked or self.expired:
            return self.challenge(scope, "invalid_token")
        if not set(needed) <= self.tokens[token].get(("repository", repo), set()):
            return self.challenge(scope, "insufficient_scope")
        return None

    def challenge(self, scope, error=None):
        value = 'Bearer realm="%s",service="%s"' % (self.realm, SERVICE)
        if self.challenge_scope:
            value += ',scope="%s"' % scope
        if error:
            value += ',error="%s"' % error
        return _Response(401, {"WWW-Authenticate": value}, UNAUTHORIZED)

    def token_service(self, query, auth):
        self.token_queries.append(query)
        if auth != basic(USER, PASSWORD):
            return _Response(401, {}, b'{"errors":[{"code":"UNAUTHORIZED","message":"invalid credentials"}]}')
        if query.get("service") != [SERVICE]:
            return _Response(400, {}, b'{"errors":[{"code":"UNSUPPORTED","message":"unknown service"}]}')
        access = {}
        for scope in query.get("scope", []):
            kind, name, actions = scope.split(":")
            access[(kind, name)] = set(actions.split(",")) & set(self.grants)
        now = int(time.time())
        token = jwt({"sub": USER, "exp": now - 3600 if self.expired else now + self.lifetime, "n": len(self.tokens)})
        self.tokens[token] = access
        return _Response(200, {}, json.dumps({"token": token, "expires_in": self.lifetime}).encode())

    # -- on loopback ---------------------------------------------------------
    def serve(self):
        """Serve this registry on a loopback port (addr is host:port; the token service answers at
        /token there); close() stops it. Returns self."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                reply = fake(self.command, "http://%s%s" % (fake.addr, self.path), dict(self.headers.items()), body)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(reply.body)

            do_GET = do_HEAD = do_PUT = answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.addr = "127.0.0.1:%d" % self.server.server_address[1]
        self.realm = "http://%s/token" % self.addr
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def close(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def digest_of(body):
    return "sha256:" + hashlib.sha256(body).hexdigest()


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def jwt(claims):
    def enc(doc):
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()
    return "%s.%s.c2lnbmF0dXJl" % (enc({"alg": "RS256", "typ": "JWT"}), enc(claims))
