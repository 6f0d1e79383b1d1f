"""A token service for a registry with `auth: token`, on loopback, for tests.

Docker's token authentication: the registry answers 401 with
`WWW-Authenticate: Bearer realm=...,service=...,scope=...`; the client GETs the
realm with Basic credentials and the scopes it wants, and gets a JWT the
registry verifies. This one checks the credentials of its users, grants each
the actions its entry allows (the intersection with what was asked, as the
reference token services do), and signs RS256 with a key made here by openssl.

What distribution 2.8 (Debian's docker-registry) checks: iss equal to its
`issuer`, aud equal to its `service`, exp/nbf within 60 s of leeway, and a
signature by a key of its `rootcertbundle`, found through the header's `kid`
(libtrust's key ID: SHA-256 of the DER public key, first 240 bits, base32 in
4-character groups joined by ':'; an `x5c` chain would work without it).
"""

import base64
import hashlib
import json
import os
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

SERVICE = "bytelyst-test-registry"
ISSUER = "bytelyst-test-token-issuer"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def libtrust_key_id(spki_der):
    """The key ID distribution 2.8 looks a `kid` up by."""
    encoded = base64.b32encode(hashlib.sha256(spki_der).digest()[:30]).decode("ascii").rstrip("=")
    return ":".join(encoded[i:i + 4] for i in range(0, len(encoded), 4))


class _Signer(object):
    """RS256 with the key at key_path: the cryptography package when the venv has it, else openssl."""

    def __init__(self, key_path):
        self.key_path = key_path
        try:
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import padding
        except ImportError:
            self._key = None
            self.spki_der = subprocess.run(["openssl", "pkey", "-in", key_path, "-pubout", "-outform", "DER"],
                                           check=True, capture_output=True).stdout
            return
        with open(key_path, "rb") as f:
            self._key = serialization.load_pem_private_key(f.read(), password=None)
        self._sign = lambda data: self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        self.spki_der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, data):
        if self._key is not None:
            return self._sign(data)
        return subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key_path], input=data,
                              check=True, capture_output=True).stdout


def parse_scope(text):
    """'repository:team/app:pull,push' -> ('repository', 'team/app', ['pull', 'push']); None if malformed."""
    kind, _sep, rest = text.partition(":")
    name, _sep, actions = rest.rpartition(":")
    if not kind or not name:
        return None
    return kind, name, [a for a in actions.split(",") if a]


class TokenIssuer(object):
    """users: {name: {"password": str, "actions": ("pull", "push"), "expired": bool}}.

    An "expired" user gets tokens whose exp lies an hour in the past (beyond the
    registry's leeway), as a token service with a wrong clock would hand out.
    Every token handed out is kept in `issued` and every request in `requests`
    (user, scopes asked, access granted), so a test can look for them in output.
    """

    def __init__(self, root, users, service=SERVICE, issuer=ISSUER, lifetime=300):
        self.root = str(root)
        os.makedirs(self.root, exist_ok=True)
        self.users = users
        self.service = service
        self.issuer = issuer
        self.lifetime = lifetime
        self.key = os.path.join(self.root, "token-signing.key")
        self.cert = os.path.join(self.root, "token-signing.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key,
                        "-out", self.cert, "-days", "2", "-subj", "/CN=bytelyst test token issuer"],
                       check=True, capture_output=True)
        self.signer = _Signer(self.key)
        self.kid = libtrust_key_id(self.signer.spki_der)
        self.issued = []
        self.requests = []
        self._lock = threading.Lock()
        issuer_self = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                issuer_self.answer(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = "http://127.0.0.1:%d/token" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def registry_auth_lines(self):
        """The `auth:` section of a docker-registry config.yml that trusts this issuer."""
        return ["auth:", "  token:", "    realm: %s" % self.realm, "    service: %s" % self.service,
                "    issuer: %s" % self.issuer, "    rootcertbundle: %s" % self.cert]

    def token(self, subject, access, expired=False):
        """A signed token for subject with access [{type, name, actions}]."""
        now = int(time.time())
        exp = now - 3600 if expired else now + self.lifetime
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        claims = {"iss": self.issuer, "sub": subject, "aud": self.service, "exp": exp, "nbf": now - 10,
                  "iat": now - 10, "jti": uuid.uuid4().hex, "access": access}
        signing_input = ("%s.%s" % (b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode()))).encode()
        token = signing_input.decode("ascii") + "." + b64url(self.signer.sign(signing_input))
        with self._lock:
            self.issued.append(token)
        return token

    def admin_token(self, repository=None):
        """Everything on repository and the catalog: for a test's own look at the registry."""
        access = [{"type": "registry", "name": "catalog", "actions": ["*"]}]
        if repository:
            access.append({"type": "repository", "name": repository, "actions": ["pull", "push", "delete"]})
        return self.token("test-admin", access)

    def user_of(self, header):
        if not header or not header.startswith("Basic "):
            return None
        try:
            name, _sep, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        entry = self.users.get(name)
        return name if entry and entry["password"] == password else None

    def answer(self, handler):
        query = parse_qs(urlsplit(handler.path).query)
        user = self.user_of(handler.headers.get("Authorization"))
        scopes = [s for value in query.get("scope", []) for s in value.split(" ") if s]
        record = dict(user=user, scopes=scopes, service=(query.get("service") or [""])[0], granted=None)
        with self._lock:
            self.requests.append(record)
        if user is None:
            return self.reply(handler, 401, {"errors": [{"code": "UNAUTHORIZED", "message": "invalid credentials"}]},
                              {"WWW-Authenticate": 'Basic realm="bytelyst test token issuer"'})
        if record["service"] != self.service:
            return self.reply(handler, 400, {"errors": [{"code": "DENIED", "message": "unknown service"}]})
        entry = self.users[user]
        access = []
        for scope in scopes:
            parsed = parse_scope(scope)
            if parsed and parsed[0] == "repository":
                allowed = [a for a in parsed[2] if a in entry["actions"]]
                access.append({"type": "repository", "name": parsed[1], "actions": allowed})
        record["granted"] = access
        token = self.token(user, access, expired=entry.get("expired", False))
        self.reply(handler, 200, {"token": token, "access_token": token, "expires_in": self.lifetime,
                                  "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})

    @staticmethod
    def reply(handler, status, document, headers=None):
        body = json.dumps(document).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
