# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP health checks with an expected status and a deadline. PRIVATE to the collection.

A check is retried until it answers the expected status or its timeout passes, since
a service that Compose reports healthy may still be warming up its HTTP side.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import time

try:
    from http.client import HTTPConnection, HTTPException, HTTPSConnection
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported by the collection
    HTTPConnection = HTTPSConnection = HTTPException = urlsplit = None

BODY_LIMIT = 300


class CheckResult(object):
    def __init__(self, url, expected, ok, status=None, detail="", attempts=0):
        self.url = url
        self.expected = expected
        self.ok = ok
        self.status = status
        self.detail = detail
        self.attempts = attempts

    def describe(self):
        if self.ok:
            return "%s answered %s" % (self.url, self.status)
        got = ("status %s" % self.status) if self.status is not None else "no answer"
        return "%s: expected status %s, got %s after %d attempt(s)%s" % (
            self.url, self.expected, got, self.attempts, (": " + self.detail) if self.detail else "")

    def as_dict(self):
        return {"url": self.url, "expected": self.expected, "ok": self.ok, "status": self.status,
                "detail": self.detail, "attempts": self.attempts}


def probe(url, request_timeout):
    """One GET (no redirects followed, no proxy: health URLs are the service's own): (status or None, detail)."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a port that is no number or out of range
    except ValueError as exc:
        return None, "not a valid URL: %s" % exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None, "not an http(s) URL"
    connection_class = HTTPSConnection if parts.scheme == "https" else HTTPConnection
    connection = connection_class(parts.hostname, port, timeout=request_timeout)
    try:
        connection.request("GET", (parts.path or "/") + ("?" + parts.query if parts.query else ""))
        response = connection.getresponse()
        body = response.read(BODY_LIMIT).decode("utf-8", "replace")
        return response.status, "" if 200 <= response.status < 300 else " ".join(body.split())
    except (HTTPException, socket.timeout, OSError) as exc:
        return None, str(exc) or exc.__class__.__name__
    finally:
        connection.close()


def check(url, status=200, timeout=30, interval=1.0, clock=time.time, sleep=time.sleep, probe_fn=probe):
    """Poll url until it answers `status` or `timeout` seconds pass."""
    deadline = clock() + timeout
    attempts = 0
    got, detail = None, ""
    while True:
        attempts += 1
        got, detail = probe_fn(url, max(1.0, min(5.0, deadline - clock())))
        if got == status:
            return CheckResult(url, status, True, got, "", attempts)
        if clock() + interval > deadline:
            return CheckResult(url, status, False, got, detail, attempts)
        sleep(interval)


def run_checks(checks, **kwargs):
    """Run each {url, status, timeout}; return (all ok, [CheckResult])."""
    results = []
    for item in checks or []:
        results.append(check(item["url"], int(item.get("status") or 200), float(item.get("timeout") or 30), **kwargs))
    return all(r.ok for r in results), results
