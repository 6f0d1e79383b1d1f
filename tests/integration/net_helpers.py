"""Small helpers the integration tests share: a free loopback port, plain HTTP on loopback,
and the processes whose command line matches (to see what a killed or timed-out run left)."""

import http.client
import os
import socket
import urllib.error
import urllib.request


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(url):
    """(status, body) of a GET; an HTTP error status is an answer, not an exception."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def get_as_host(port, path, host, timeout=10):
    """GET http://127.0.0.1:<port><path> with a Host header (through a proxy that routes by host
    name): (status, body), or (None, the error) when nothing answered."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.read().decode()
    except (OSError, http.client.HTTPException) as exc:
        return None, str(exc)
    finally:
        connection.close()


def http_post(url, body):
    request = urllib.request.Request(url, data=body.encode(), method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.read().decode()


def processes(matches):
    """Pids (ints) of the processes whose argv (a list) matches(argv)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().decode("utf-8", "replace").split("\0")
        except IOError:
            continue
        if matches(argv):
            pids.append(int(pid))
    return pids
