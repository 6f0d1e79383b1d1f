# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One HTTP exchange with a registry (container or npm), the way both clients need it.
PRIVATE to the collection.

An HTTP error status is an answer, not an exception; a connection failure is Transient (worth
another attempt); a TLS failure is the ssl.SSLError itself, for the caller to explain with its
own hint. Redirects are never followed: one could carry an Authorization header to another host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import socket
import ssl

from http.client import HTTPException
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import HTTPRedirectHandler, HTTPSHandler, Request, build_opener

MAX_DELAY = 30.0


class Transient(Exception):
    """A failure worth another attempt (connection error, 5xx)."""


class Answer(object):
    """One HTTP answer: status, lower-cased headers, body bytes."""

    def __init__(self, status, headers=None, body=b""):
        self.status = status
        self.headers = dict((k.lower(), v) for k, v in (headers or {}).items())
        self.body = body or b""

    def json(self):
        return json.loads(self.body.decode("utf-8"))


class _NoRedirect(HTTPRedirectHandler):
    # The 3xx is the answer (a blob HEAD redirected to storage means the blob exists).
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def opener(ca_file=None):
    """A urllib opener that trusts ca_file (else the system's CAs) and follows no redirect."""
    context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    return build_opener(HTTPSHandler(context=context), _NoRedirect())


def origin(url):
    """scheme://host[:port] of url: where a request went, without path or query."""
    parts = urlsplit(url)
    return "%s://%s" % (parts.scheme, parts.netloc)


def backoff_delays(retries, retry_delay):
    """The waits before each retry: retry_delay, doubled each time, capped."""
    return [min(MAX_DELAY, retry_delay * (2 ** i)) for i in range(max(0, retries))]


def exchange(url_opener, method, url, headers, body, timeout, answer=Answer):
    """Send one request; return answer(status, headers, body). Raises Transient or ssl.SSLError."""
    try:
        handle = url_opener.open(Request(url, data=body, headers=headers, method=method), timeout=timeout)
        with handle:
            return answer(handle.status, dict(handle.headers), handle.read())
    except HTTPError as exc:
        try:
            data = exc.read()
        finally:
            exc.close()
        return answer(exc.code, dict(exc.headers or {}), data)
    except URLError as exc:
        if isinstance(exc.reason, ssl.SSLError):
            raise exc.reason
        raise Transient("cannot connect to %s: %s" % (origin(url), exc.reason))
    except ssl.SSLError:
        raise
    except (HTTPException, socket.timeout, ConnectionError, OSError) as exc:
        raise Transient("connection to %s failed: %s" % (origin(url), exc or type(exc).__name__))
