# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small client of the registry HTTP API v2. PRIVATE to the collection.

Enough to decide a push and to promote a tag: manifest HEAD/GET/PUT and blob
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
import socket
import ssl
import time

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

from http.client import HTTPException
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urlsplit
from urllib.request import HTTPSHandler, HTTPRedirectHandler, Request, build_opener

SCHEMA2 = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST_ACCEPT = ", ".join((SCHEMA2, MANIFEST_LIST, OCI_MANIFEST, OCI_INDEX))
MAX_DELAY = 30.0


class AuthenticationError(DeployError):
    """401/403 after presenting the credentials: never retried."""


class _Transient(Exception):
    """A failure worth another attempt (connection error, 5xx)."""


class _Response(object):
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = dict((k.lower(), v) for k, v in (headers or {}).items())
        self.body = body or b""

    def error_text(self):
        """The registry's own words for an error (its JSON errors list), if any."""
        try:
            errors = json.loads(self.body.decode("utf-8")).get("errors") or []
            return "; ".join("%s: %s" % (e.get("code", "?"), e.get("message", "")) for e in errors)
        except (ValueError, AttributeError, UnicodeDecodeError):
            return self.body[:200].decode("utf-8", "replace").strip()


class Manifest(object):
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


def parse_challenge(header):
    """'Bearer realm="x",service="y"' -> ("bearer", {"realm": "x", "service": "y"})."""
    if not header:
        return None, {}
    scheme, _sep, rest = header.strip().partition(" ")
    params = dict((k.lower(), v) for k, v in re.findall(r'([A-Za-z_]+)="([^"]*)"', rest))
    return scheme.lower(), params


def backoff_delays(retries, retry_delay):
    """The waits before each retry: retry_delay, doubled each time, capped."""
    return [min(MAX_DELAY, retry_delay * (2 ** i)) for i in range(max(0, retries))]


class _NoRedirect(HTTPRedirectHandler):
    # A redirect could carry our Authorization header to another host: we take
    # the 3xx as the answer instead (a blob HEAD redirected means it exists).
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class RegistryClient(object):
    """One registry, one set of credentials.

    registry names the registry as image references do (messages, credentials);
    api_url is the base URL of its API v2 (scheme://host[:port]) when that is
    not the registry host itself; by default https://<registry> (http:// with
    allow_http).
    """

    def __init__(self, registry, username=None, password=None, ca_file=None, allow_http=False,
                 retries=3, retry_delay=1.0, timeout=60, api_url=None, sleep=time.sleep):
        self.registry = registry
        self.username = username
        self.password = password
        self.allow_http = allow_http
        self.retries = retries
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.sleep = sleep
        default = ("http://" if allow_http else "https://") + registry
        self.base_url = (api_url or default).rstrip("/")
        # How messages name the registry: with the API address when it is elsewhere.
        self.where = registry if self.base_url == default else "%s (API at %s)" % (registry, self.base_url)
        context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
        self._opener = build_opener(HTTPSHandler(context=context), _NoRedirect())
        self._auth = {}  # scope -> Authorization header value
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
        """The Manifest of a tag or digest, or None when the registry has none."""
        resp = self.request("GET", "/v2/%s/manifests/%s" % (repository, reference),
                            {"Accept": MANIFEST_ACCEPT}, scope=_scope(repository, self._read), what=what)
        if resp.status == 404:
            return None
        self._expect(resp, (200,), "GET of manifest %s:%s" % (repository, reference))
        digest = "sha256:" + hashlib.sha256(resp.body).hexdigest()
        media_type = resp.headers.get("content-type", "").split(";")[0].strip()
        if not media_type:
            media_type = json.loads(resp.body.decode("utf-8")).get("mediaType") or SCHEMA2
        return Manifest(resp.body, media_type, digest)

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
        except _Transient as exc:
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
                resp = self._authorized(method, path, headers or {}, body, scope)
                if resp.status >= 500:
                    detail = resp.error_text()
                    raise _Transient("HTTP %d from %s %s%s" % (resp.status, method, path, ": " + detail if detail else ""))
                return resp
            except _Transient as exc:
                if attempt > len(delays):
                    raise DeployError(
                        "The registry %s failed %s after %d attempt(s); last error: %s"
                        % (self.where, what or "%s %s" % (method, path), attempt, exc),
                        hint="Check that the registry runs and is reachable from this host, "
                             "or raise retries/retry_delay.",
                        registry=self.registry,
                    )
                self.sleep(delays[attempt - 1])

    def _authorized(self, method, path, headers, body, scope):
        key = scope or ""
        sent = dict(headers)
        if key in self._auth:
            sent["Authorization"] = self._auth[key]
        resp = self._send(method, self.base_url + path, sent, body)
        if resp.status not in (401, 403):
            return resp
        if resp.status == 403:
            raise self._auth_failed(resp)
        if self._auth.pop(key, None):
            sent.pop("Authorization", None)  # an expired token: answer the challenge again
        scheme, params = parse_challenge(resp.headers.get("www-authenticate"))
        if scheme == "basic":
            if not self.username:
                raise self._auth_failed(resp)
            self._auth[key] = "Basic " + self._basic()
        elif scheme == "bearer":
            self._auth[key] = "Bearer " + self._token(params, scope)
        else:
            raise self._auth_failed(resp)
        sent["Authorization"] = self._auth[key]
        resp = self._send(method, self.base_url + path, sent, body)
        if resp.status in (401, 403):
            raise self._auth_failed(resp)
        return resp

    def _token(self, params, scope):
        realm = params.get("realm")
        if not realm:
            raise DeployError("The registry %s asked for a token but named no token service (realm)." % self.where)
        if not realm.startswith("https://") and not (self.allow_http and realm.startswith("http://")):
            raise DeployError(
                "The registry %s sends credentials to a token service over plain HTTP (%s)." % (self.where, realm),
                hint="Set allow_http only for a loopback registry you trust.",
            )
        query = [(k, params[k]) for k in ("service",) if params.get(k)]
        query.append(("scope", params.get("scope") or scope or ""))
        headers = {"Authorization": "Basic " + self._basic()} if self.username else {}
        sep = "&" if "?" in realm else "?"
        resp = self._send("GET", realm + sep + urlencode(query), headers, None)
        if resp.status in (401, 403):
            raise self._auth_failed(resp)
        if resp.status >= 500:
            raise _Transient("HTTP %d from the token service %s" % (resp.status, realm))
        try:
            data = json.loads(resp.body.decode("utf-8"))
            return data.get("token") or data["access_token"]
        except (ValueError, KeyError, UnicodeDecodeError):
            raise DeployError("The token service %s of registry %s answered HTTP %d without a token."
                              % (realm, self.where, resp.status))

    def _basic(self):
        pair = "%s:%s" % (self.username or "", self.password or "")
        return base64.b64encode(pair.encode("utf-8")).decode("ascii")

    def _auth_failed(self, resp):
        who = "user %s" % self.username if self.username else "anonymous access (no credentials given)"
        return AuthenticationError(
            "Authentication failed for %s at registry %s (HTTP %d: %s). Not retried."
            % (who, self.where, resp.status, resp.error_text() or "no details"),
            hint="Check the username and password, or the docker credentials stored for this registry, "
                 "and that the user may push to this repository.",
            registry=self.registry,
        )

    def _expect(self, resp, statuses, what):
        if resp.status not in statuses:
            raise DeployError("The registry %s refused the %s: HTTP %d: %s"
                              % (self.where, what, resp.status, resp.error_text() or "no details"),
                              registry=self.registry)

    def _send(self, method, url, headers, body):
        """One HTTP exchange. HTTP errors are answers; connection failures are _Transient."""
        req = Request(url, data=body, headers=headers, method=method)
        try:
            handle = self._opener.open(req, timeout=self.timeout)
            with handle:
                return _Response(handle.status, dict(handle.headers), handle.read())
        except HTTPError as exc:
            try:
                data = exc.read()
            finally:
                exc.close()
            return _Response(exc.code, dict(exc.headers or {}), data)
        except URLError as exc:
            reason = exc.reason
            if isinstance(reason, ssl.SSLError):
                raise self._tls_error(reason)
            raise _Transient("cannot connect to %s: %s" % (_origin(url), reason))
        except ssl.SSLError as exc:
            raise self._tls_error(exc)
        except (HTTPException, socket.timeout, ConnectionError, OSError) as exc:
            raise _Transient("connection to %s failed: %s" % (_origin(url), exc or type(exc).__name__))

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


def _origin(url):
    """scheme://host[:port] of url: where a request went, without path or query."""
    parts = urlsplit(url)
    return "%s://%s" % (parts.scheme, parts.netloc)


def _scope(repository, actions):
    return "repository:%s:%s" % (repository, actions)
