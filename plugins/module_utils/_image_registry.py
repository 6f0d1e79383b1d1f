# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small client of the registry HTTP API v2. PRIVATE to the collection.

Enough to decide a push and to promote a tag: image manifest HEAD/GET/PUT and blob
HEAD, with Basic or Bearer-token authentication (answering the registry's
challenge), bounded retries with backoff on connection errors and 5xx, and TLS
with an extra CA. Plain HTTP only when the caller allows it.

``registry`` is the name images use (in messages and for credentials);
``api_url`` is where the API answers, when that is not at ``registry`` itself.

Authentication failures are never retried, and no message ever holds the
password or a token.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import json
import re
import ssl
import time

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._http import (
    Answer, Transient, backoff_delays, exchange, opener, origin)

from urllib.parse import urlencode, urlsplit

SCHEMA2 = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST_ACCEPT = ", ".join((SCHEMA2, MANIFEST_LIST, OCI_MANIFEST, OCI_INDEX))


class AuthenticationError(DeployError):
    """401/403 after presenting the credentials: never retried."""


class _Response(Answer):
    def error_text(self):
        """The registry's own words for an error (its JSON errors list), if any."""
        try:
            errors = json.loads(self.body.decode("utf-8")).get("errors") or []
            return "; ".join("%s: %s" % (e.get("code", "?"), e.get("message", "")) for e in errors)
        except (ValueError, AttributeError, UnicodeDecodeError):
            return self.body[:200].decode("utf-8", "replace").strip()


class ImageManifest(object):
    """An image manifest (or index) as the registry serves it: body, media type, digest."""

    def __init__(self, body, media_type, digest):
        self.body = body
        self.media_type = media_type
        self.digest = digest

    def parsed(self):
        return json.loads(self.body.decode("utf-8"))

    @property
    def config_digest(self):
        return (self.parsed().get("config") or {}).get("digest")

    @property
    def layers(self):
        """[(digest, size)] of a single-image manifest."""
        return [(layer["digest"], layer.get("size", 0)) for layer in self.parsed().get("layers") or []]


_CHALLENGE_PARAM_RE = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*,?')


def parse_challenge(header):
    """'Bearer realm="x",service="y"' -> ("bearer", {"realm": "x", "service": "y"}).

    Values may be quoted (with backslash escapes) or bare tokens (error=invalid_token).
    """
    if not header:
        return None, {}
    scheme, _sep, rest = header.strip().partition(" ")
    params = {}
    for match in _CHALLENGE_PARAM_RE.finditer(rest):
        quoted, bare = match.group(2), match.group(3)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        params.setdefault(match.group(1).lower(), value)
    return scheme.lower(), params


def merge_scopes(*texts):
    """The scopes to ask a token service for: every scope of texts (each may hold several, space
    separated), one per resource, with the actions of all asked for it ("pull" first, then "push")."""
    merged = []
    actions = {}
    for text in texts:
        for scope in (text or "").split():
            kind, _sep, rest = scope.partition(":")
            name, _sep, wanted = rest.rpartition(":")
            if not kind or not name:
                continue
            key = (kind, name)
            if key not in actions:
                merged.append(key)
                actions[key] = []
            actions[key].extend(a for a in wanted.split(",") if a and a not in actions[key])
    order = {"pull": 0, "push": 1}
    return ["%s:%s:%s" % (kind, name, ",".join(sorted(actions[(kind, name)], key=lambda a: order.get(a, 2))))
            for kind, name in merged]


def token_expiry(token):
    """The exp claim (epoch seconds) of a JWT, or None when token is not one. Read for messages only:
    the registry, not this client, checks a token."""
    parts = (token or "").split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)).decode("utf-8"))
        exp = claims.get("exp")
    except (ValueError, AttributeError, UnicodeDecodeError, TypeError):
        return None
    return exp if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None


def token_lifetime(document, default=60):
    """Seconds a token service's answer says its token lasts (expires_in; 60 when absent, as Docker's
    token specification says)."""
    value = document.get("expires_in")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return default
    return value


class RegistryClient(object):
    """One registry, one set of credentials.

    registry names the registry as image references do (messages, credentials);
    api_url is the base URL of its API v2 (scheme://host[:port]) when that is
    not the registry host itself; by default https://<registry> (http:// with
    allow_http).
    """

    def __init__(self, registry, username=None, password=None, ca_file=None, allow_http=False,
                 retries=3, retry_delay=1.0, timeout=60, api_url=None, sleep=time.sleep, clock=time.monotonic):
        self.registry = registry
        self.username = username
        self.password = password
        self.allow_http = allow_http
        self.retries = retries
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.sleep = sleep
        self.clock = clock
        default = ("http://" if allow_http else "https://") + registry
        self.base_url = (api_url or default).rstrip("/")
        # How messages name the registry: with the API address when it is elsewhere.
        self.where = registry if self.base_url == default else "%s (API at %s)" % (registry, self.base_url)
        self._opener = opener(ca_file)
        self._auth = {}  # scope -> (Authorization header value, clock() after which it is stale, or None)
        self._bearer = None  # realm and service of the registry's Bearer challenge, once seen
        # With credentials, ask for push rights even to read: a token service may refuse
        # a pull-only token for a repository that does not exist yet.
        self._read = "pull,push" if username else "pull"

    # -- the API -----------------------------------------------------------
    def manifest_digest(self, repository, reference, what=None):
        """The digest the registry holds for a tag or digest, or None."""
        resp = self.request("HEAD", "/v2/%s/manifests/%s" % (repository, reference),
                            {"Accept": MANIFEST_ACCEPT}, scope=_scope(repository, self._read), what=what)
        if resp.status == 404:
            return None
        self._expect(resp, (200,), "HEAD of manifest %s:%s" % (repository, reference))
        digest = resp.headers.get("docker-content-digest")
        if digest:
            return digest
        manifest = self.get_manifest(repository, reference, what=what)
        return manifest.digest if manifest else None

    def get_manifest(self, repository, reference, what=None):
        """The image manifest of a tag or digest, or None when the registry has none."""
        resp = self.request("GET", "/v2/%s/manifests/%s" % (repository, reference),
                            {"Accept": MANIFEST_ACCEPT}, scope=_scope(repository, self._read), what=what)
        if resp.status == 404:
            return None
        self._expect(resp, (200,), "GET of manifest %s:%s" % (repository, reference))
        digest = "sha256:" + hashlib.sha256(resp.body).hexdigest()
        media_type = resp.headers.get("content-type", "").split(";")[0].strip()
        if not media_type:
            media_type = json.loads(resp.body.decode("utf-8")).get("mediaType") or SCHEMA2
        return ImageManifest(resp.body, media_type, digest)

    def put_manifest(self, repository, tag, manifest, what=None):
        """Point tag at manifest (no layer is sent); return the digest the registry reports."""
        resp = self.request("PUT", "/v2/%s/manifests/%s" % (repository, tag),
                            {"Content-Type": manifest.media_type}, body=manifest.body,
                            scope=_scope(repository, "pull,push"), what=what)
        self._expect(resp, (200, 201), "PUT of manifest %s:%s" % (repository, tag))
        return resp.headers.get("docker-content-digest") or manifest.digest

    def blob_exists(self, repository, digest, what=None):
        resp = self.request("HEAD", "/v2/%s/blobs/%s" % (repository, digest),
                            scope=_scope(repository, self._read), what=what)
        if resp.status == 404:
            return False
        if resp.status in (200, 307, 302):
            return True
        self._expect(resp, (200,), "HEAD of blob %s in %s" % (digest, repository))
        return False

    def probe(self):
        """None when the registry answers at all (one attempt), else what went wrong."""
        try:
            self._send("GET", self.base_url + "/v2/", {}, None)
            return None
        except Transient as exc:
            return str(exc)
        except DeployError as exc:
            return exc.message

    # -- requests, auth and retries ----------------------------------------
    def request(self, method, path, headers=None, body=None, scope=None, what=None):
        """Send with auth; retry connection errors and 5xx; return the _Response."""
        delays = backoff_delays(self.retries, self.retry_delay)
        attempt = 0
        while True:
            attempt += 1
            try:
                resp = self._authorized(method, path, headers or {}, body, scope, what)
                if resp.status >= 500:
                    detail = resp.error_text()
                    raise Transient("HTTP %d from %s %s%s" % (resp.status, method, path, ": " + detail if detail else ""))
                return resp
            except Transient as exc:
                if attempt > len(delays):
                    raise DeployError(
                        "The registry %s failed %s after %d attempt(s); last error: %s"
                        % (self.where, what or "%s %s" % (method, path), attempt, exc),
                        hint="Check that the registry runs and is reachable from this host, "
                             "or raise retries/retry_delay.",
                        registry=self.registry,
                    )
                self.sleep(delays[attempt - 1])

    def _authorized(self, method, path, headers, body, scope, what=None):
        key = scope or ""
        sent = dict(headers)
        header = self._cached_auth(key)
        if header is None and self._bearer and scope:
            # The token service is known: ask it for this scope without a 401 round trip first.
            header = self._fetch_token(self._bearer, scope)
        if header:
            sent["Authorization"] = header
        resp = self._send(method, self.base_url + path, sent, body)
        if resp.status not in (401, 403):
            return resp
        if resp.status == 403:
            raise self._auth_failed(resp)
        # No credentials yet, or the token sent is stale (expired, or for less than this needs):
        # answer the challenge once.
        self._auth.pop(key, None)
        scheme, params = parse_challenge(resp.headers.get("www-authenticate"))
        if scheme == "basic":
            if not self.username:
                raise self._auth_failed(resp)
            header = self._remember(key, "Basic " + self._basic(), None)
        elif scheme == "bearer":
            self._bearer = dict((k, params[k]) for k in ("realm", "service") if params.get(k))
            header = self._fetch_token(params, scope)
        else:
            raise self._auth_failed(resp)
        sent["Authorization"] = header
        resp = self._send(method, self.base_url + path, sent, body)
        if resp.status in (401, 403):
            self._auth.pop(key, None)
            raise self._refused(resp, header, what or "%s %s" % (method, path))
        return resp

    def _cached_auth(self, key):
        """The Authorization header cached for key, or None (never cached, or its token is about to expire)."""
        header, stale_after = self._auth.get(key, (None, None))
        if header and stale_after is not None and self.clock() >= stale_after:
            del self._auth[key]
            return None
        return header

    def _remember(self, key, header, lifetime):
        # Refresh a token a little before it expires, so it does not expire in flight.
        stale_after = None if lifetime is None else self.clock() + lifetime - min(10.0, lifetime / 2.0)
        self._auth[key] = (header, stale_after)
        return header

    def _fetch_token(self, params, scope):
        """Ask the token service of a Bearer challenge for a token covering the challenge's scope and
        scope; cache it under scope for as long as the service says it lasts."""
        realm = params.get("realm")
        if not realm:
            raise DeployError("The registry %s asked for a token but named no token service (realm)." % self.where)
        if not realm.startswith("https://") and not (self.allow_http and realm.startswith("http://")):
            raise DeployError(
                "The registry %s sends credentials to a token service over plain HTTP (%s)." % (self.where, realm),
                hint="Set allow_http only for a loopback registry you trust.",
            )
        query = [(k, params[k]) for k in ("service",) if params.get(k)]
        if self.username:
            query.append(("account", self.username))
        query.extend(("scope", s) for s in merge_scopes(params.get("scope"), scope))
        headers = {"Authorization": "Basic " + self._basic()} if self.username else {}
        sep = "&" if "?" in realm else "?"
        resp = self._send("GET", realm + sep + urlencode(query), headers, None)
        if resp.status in (401, 403):
            raise self._auth_failed(resp, token_service=origin(realm) + urlsplit(realm).path)
        if resp.status >= 500:
            raise Transient("HTTP %d from the token service %s" % (resp.status, realm))
        try:
            data = json.loads(resp.body.decode("utf-8"))
            token = data.get("token") or data["access_token"]
        except (ValueError, KeyError, UnicodeDecodeError, AttributeError):
            raise DeployError("The token service %s of registry %s answered HTTP %d without a token."
                              % (realm, self.where, resp.status))
        return self._remember(scope or "", "Bearer " + token, token_lifetime(data))

    def _basic(self):
        pair = "%s:%s" % (self.username or "", self.password or "")
        return base64.b64encode(pair.encode("utf-8")).decode("ascii")

    def _who(self):
        return "user %s" % self.username if self.username else "anonymous access (no credentials given)"

    def _auth_failed(self, resp, token_service=None):
        by = ": its token service %s refused the credentials" % token_service if token_service else ""
        return AuthenticationError(
            "Authentication failed for %s at registry %s%s (HTTP %d: %s). Not retried."
            % (self._who(), self.where, by, resp.status, resp.error_text() or "no details"),
            hint="Check the username and password, or the docker credentials stored for this registry, "
                 "and that the user may push to this repository.",
            registry=self.registry,
        )

    def _refused(self, resp, header, what):
        """The registry refused fresh credentials: say why, as its Bearer challenge tells it."""
        scheme, params = parse_challenge(resp.headers.get("www-authenticate"))
        error = params.get("error") if scheme == "bearer" else None
        if resp.status == 401 and error == "insufficient_scope":
            return AuthenticationError(
                "The registry %s refused the %s for %s: the token its token service issued does not grant "
                "%s (the token service gave the user less than it asked for). Not retried."
                % (self.where, what, self._who(), params.get("scope") or "the access this needs"),
                hint="Give the user push rights on this repository (a token with package write rights on "
                     "Gitea or GitHub's registry, Read & Write on Docker Hub), or use credentials that have them.",
                registry=self.registry)
        if resp.status == 401 and error == "invalid_token":
            exp = token_expiry(header.partition(" ")[2]) if header.startswith("Bearer ") else None
            late = ""
            if exp is not None and exp < time.time():
                late = ", issued already expired (exp %s)" % time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(exp))
            return AuthenticationError(
                "The registry %s did not accept the token its token service issued for %s%s, for the %s "
                "(error invalid_token). Not retried." % (self.where, self._who(), late, what),
                hint="Check the clocks of the token service, the registry and this host (tokens are valid "
                     "for minutes), and that the registry trusts the token service (issuer, service and "
                     "signing certificate in its token settings).",
                registry=self.registry)
        return self._auth_failed(resp)

    def _expect(self, resp, statuses, what):
        if resp.status not in statuses:
            raise DeployError("The registry %s refused the %s: HTTP %d: %s"
                              % (self.where, what, resp.status, resp.error_text() or "no details"),
                              registry=self.registry)

    def _send(self, method, url, headers, body):
        """One HTTP exchange (see _http.exchange); a TLS failure is explained with our hint."""
        try:
            return exchange(self._opener, method, url, headers, body, self.timeout, _Response)
        except ssl.SSLError as exc:
            raise self._tls_error(exc)

    def _tls_error(self, exc):
        return DeployError(
            "TLS with the registry %s failed: %s" % (self.where, exc),
            hint="Give the registry's CA certificate (ca_cert), or, only for a plain-HTTP loopback "
                 "registry, set allow_http%s." % ("" if self.where == self.registry else " and an http:// registry_api"),
            registry=self.registry,
        )


def stored_credentials(registry):
    """(username, password) the docker credentials (docker login) hold for registry, or (None, None)."""
    try:
        from docker import auth as docker_auth
    except ImportError:
        return None, None
    try:
        found = docker_auth.load_config().resolve_authconfig(registry) or {}
    except Exception:  # a broken credential helper must not leak details; anonymous then
        return None, None
    user = found.get("username") or found.get("Username")
    secret = found.get("password") or found.get("Password")
    return (user, secret) if user and secret else (None, None)


def _scope(repository, actions):
    return "repository:%s:%s" % (repository, actions)
