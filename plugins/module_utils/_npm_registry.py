# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small client of the npm registry HTTP API. PRIVATE to the collection.

Enough to publish: GET a package's packument (what versions the registry holds,
with their integrity) and PUT a publish document. Works with any registry that
speaks the npm API (Gitea's at ``https://<host>/api/packages/<owner>/npm/``,
Verdaccio, the public one).

The token travels only in an ``Authorization: Bearer`` header: never in a URL,
argv, a file or a message. Connection errors and 5xx are retried with the same
backoff as the image registry client; 401/403/404 are answers, never retried.
Requests are built first (``build_request``, pure) and sent second.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import ssl
import time

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils import _http
from ansible_collections.bytelyst.deploy.plugins.module_utils._http import Transient, backoff_delays

from urllib.parse import quote, urlsplit

_EXAMPLE = "https://git.example.com/api/packages/<owner>/npm/"
_HEAD_RE = re.compile(r"<head>.*?</head>", re.S | re.I)
_TAG_RE = re.compile(r"<[^>]*>")


class Answer(_http.Answer):
    """One HTTP answer of an npm registry."""

    def error_text(self):
        """The registry's own words (npm registries answer {"error": ...} or {"reason": ...})."""
        try:
            data = self.json()
            if isinstance(data, dict):
                words = data.get("error") or data.get("reason") or data.get("message")
                if words:
                    return str(words)
        except (ValueError, UnicodeDecodeError):
            pass
        text = self.body[:600].decode("utf-8", "replace")
        if "<" in text:  # an HTML error page (a web server or a proxy, not the registry): its words only
            text = _TAG_RE.sub(" ", _HEAD_RE.sub(" ", text))
        return " ".join(text.split())[:300]


def check_registry_url(text, allow_http=False):
    """The registry's base URL with one trailing slash, or a DeployError saying what to fix."""
    if not isinstance(text, str) or not text.strip():
        raise DeployError("The registry URL is empty.", hint="Give the npm registry's URL, e.g. %s" % _EXAMPLE)
    text = text.strip()
    parts = urlsplit(text)
    if "@" in parts.netloc:
        # Never repeat the text: what precedes '@' may be a password.
        raise DeployError("The registry URL holds credentials (user@ or user:password@ before the host).",
                          hint="Remove them from the URL and give the token in token.")
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise DeployError("The registry URL %r is not an http(s) URL with a host." % text,
                          hint="Give the npm registry's URL, e.g. %s" % _EXAMPLE)
    if parts.scheme == "http" and not allow_http:
        raise DeployError("The registry URL %r uses plain HTTP, and allow_http is not set." % text,
                          hint="Use https://, or set allow_http: true (only for a loopback registry or a network you "
                               "trust: the token travels with every request).")
    if parts.query or parts.fragment:
        raise DeployError("The registry URL %r has a query or fragment." % text,
                          hint="Give the registry's base URL only, e.g. %s" % _EXAMPLE)
    return "%s://%s%s/" % (parts.scheme, parts.netloc, parts.path.rstrip("/"))


def package_url(base_url, name):
    """The packument URL of a package: a scoped name's slash is escaped, as npm does (@scope%2fname)."""
    return base_url + quote(name, safe="@")


def tarball_url(base_url, name, version):
    """Where npm says a version's tarball lives: <registry>/<name>/-/<unscoped name>-<version>.tgz."""
    return "%s%s/-/%s-%s.tgz" % (base_url, name, name.rsplit("/", 1)[-1], version)


def build_request(method, url, token=None, document=None):
    """(method, url, headers, body) of one request: pure, so tests can read exactly what is sent."""
    headers = {"Accept": "application/json"}
    body = None
    if document is not None:
        body = json.dumps(document, separators=(",", ":"), sort_keys=True).encode("utf-8")
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = "Bearer " + token
    return method, url, headers, body


class NpmRegistry(object):
    """One npm registry, one token."""

    def __init__(self, url, token=None, ca_file=None, allow_http=False, retries=3, retry_delay=1.0,
                 timeout=60, sleep=time.sleep, send=None):
        self.url = check_registry_url(url, allow_http)
        self.token = token or None
        self.retries = retries
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.sleep = sleep
        if send is None:
            url_opener = _http.opener(ca_file)

            def send(request):
                method, url, headers, body = request
                return _http.exchange(url_opener, method, url, headers, body, self.timeout, Answer)
        self._send = send

    # -- the API -----------------------------------------------------------
    def packument(self, name):
        """The registry's document of a package (dict), or None when it holds no version of it."""
        answer = self.request(build_request("GET", package_url(self.url, name), self.token),
                              "the look-up of %s" % name, name)
        if answer.status == 404:
            return None
        if answer.status != 200:
            raise self._refused(answer, "the look-up of %s" % name, name)
        try:
            data = answer.json()
        except (ValueError, UnicodeDecodeError):
            raise DeployError("The npm registry %s answered the look-up of %s with something that is not JSON: %r."
                              % (self.url, name, answer.body[:200]),
                              hint="Check that the URL is the npm registry's base URL, e.g. %s" % _EXAMPLE)
        if not isinstance(data, dict) or not isinstance(data.get("versions", {}), dict):
            raise DeployError("The npm registry %s answered the look-up of %s with a document without versions."
                              % (self.url, name), hint="Check that the URL is the npm registry's base URL, e.g. %s" % _EXAMPLE)
        return data

    def publish(self, name, document):
        """PUT the publish document; return the Answer (200/201 published, 409/400 already there, for the caller)."""
        what = "the publish of %s" % name
        answer = self.request(build_request("PUT", package_url(self.url, name), self.token, document), what, name)
        if answer.status in (200, 201, 400, 409):
            return answer
        raise self._refused(answer, what, name)

    # -- retries and errors ------------------------------------------------
    def request(self, request, what, name):
        """Send; retry connection errors and 5xx; return the Answer."""
        delays = backoff_delays(self.retries, self.retry_delay)
        attempt = 0
        while True:
            attempt += 1
            try:
                answer = self._send(request)
                if answer.status >= 500:
                    raise Transient("HTTP %d: %s" % (answer.status, answer.error_text() or "no details"))
                return answer
            except ssl.SSLError as exc:
                raise DeployError("TLS with the npm registry %s failed: %s" % (self.url, exc),
                                  hint="Give the CA bundle that signs its certificate (ca_cert), e.g. the one of a "
                                       "TLS-intercepting proxy.", package=name)
            except Transient as exc:
                if attempt > len(delays):
                    raise DeployError(
                        "The npm registry %s failed %s after %d attempt(s); last error: %s"
                        % (self.url, what, attempt, exc),
                        hint="Check that the registry runs and is reachable from this host, or raise retries/"
                             "retry_delay; a re-run publishes only what is still missing.", package=name)
                self.sleep(delays[attempt - 1])

    def _refused(self, answer, what, name):
        words = answer.error_text() or "no details"
        status = answer.status
        scope = name.split("/", 1)[0] if name.startswith("@") else "(unscoped)"
        if status == 401:
            who = "the token given" if self.token else "anonymous access (no token given)"
            return DeployError(
                "The npm registry %s refused %s for %s (HTTP 401: %s). Not retried."
                % (self.url, who, what, words),
                hint="Give a valid token (token); on Gitea, a personal access token with the package scope "
                     "(read:package to read, write:package to publish).", package=name, status=status)
        if status == 403:
            return DeployError(
                "The npm registry %s does not allow %s with this token (HTTP 403: %s). Not retried."
                % (self.url, what, words),
                hint="Give a token of a user who may publish scope %s there (on Gitea: the owner in the URL, or a "
                     "member of that organisation with write access to packages)." % scope, package=name, status=status)
        if status == 404:
            return DeployError(
                "The npm registry %s answered HTTP 404 to %s (%s): no npm registry at that URL, or it does not take "
                "scope %s." % (self.url, what, words, scope),
                hint="Check the URL (Gitea: https://<host>/api/packages/<owner>/npm/ with an existing user or "
                     "organisation as owner) and which scopes go to this registry (scopes).", package=name, status=status)
        if 300 <= status < 400:
            return DeployError(
                "The npm registry %s answered %s with a redirect (HTTP %d to %s); it is not followed, so the token "
                "stays with this host." % (self.url, what, status, answer.headers.get("location", "?")),
                hint="Give the URL the registry redirects to.", package=name, status=status)
        return DeployError("The npm registry %s refused %s: HTTP %d: %s" % (self.url, what, status, words),
                           package=name, status=status)
