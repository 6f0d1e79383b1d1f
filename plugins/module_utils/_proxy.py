# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reverse proxy in front of a host's products: nginx, its configuration as data, and the
commands that validate, reload and watch it. PRIVATE to the collection.

One nginx container per host (default name bytelyst-proxy) publishes the host ports and routes
to products' containers over a Docker network of its own. Its configuration directory (bind
mounted read-only at CONF_DIR) holds the main file, written here, and three files per product:

- routes/<project>.conf       server blocks for the product's routes that name hosts;
- routes/<project>.locations  locations of its routes without hosts (in the default server);
- routes/<project>.status     one location on the internal status port answering the marker
                              (a hash of the product's route files), so a reload is confirmed
                              by asking the proxy which configuration its workers run.

A change is atomic and validated before it takes effect: the new files are written beside the
live ones, `nginx -t` checks a main file that includes exactly them (and the other products'
live files), and only then are they renamed over the live ones and nginx told to reload
(SIGHUP): new workers take the new configuration, the old ones finish their in-flight
requests and long-lived connections (within worker_shutdown_timeout, the drain timeout) and
exit. Upstreams are named by container name through Docker's DNS (re-resolved every few
seconds), so a container restarting with a new address keeps being reached.

Building text and commands is pure (unit-tested); running them is the caller's.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import re

from ansible_collections.bytelyst.deploy.plugins.module_utils._command import Command
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

CONF_DIR = "/etc/bytelyst-proxy"
MAIN_NAME = "nginx.conf"
# Per product: two products validating at once on one proxy each test their own staged files.
TEST_NAME = "nginx.test.%s.conf"
# Held (flock) from a product's validation to its confirmed reload: another product's switch on the
# same proxy waits, so every configuration nginx loads is one nginx -t accepted as a whole.
SWITCH_LOCK = ".switch.lock"
HTTP_PORT = 8080
HTTPS_PORT = 8443
STATUS_PORT = 8099
KINDS = ("conf", "locations", "status")
DEFAULT_IMAGE = "nginx:1.27"
DEFAULT_NAME = "bytelyst-proxy"
DEFAULT_NETWORK = "bytelyst-proxy"
DEFAULT_CONFIG_DIR = "/var/lib/bytelyst/proxy"
DEFAULT_USER = "101:101"
SPEC_LABEL = "dev.bytelyst.proxy.spec"

HOST = re.compile(r"^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
PREFIX = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")
SERVICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _refuse(message, hint):
    raise DeployError(message, hint=hint)


def check_routes(routes, services=None):
    """Routes as the module gives them -> normalised list; DeployError naming the first bad one."""
    if not routes:
        _refuse("routes is empty: the proxy would route nothing to the product.",
                "Give at least one route: {service: web, port: 3000, hosts: [notes.example.com]}.")
    out, seen = [], set()
    for index, route in enumerate(routes):
        where = "routes[%d]" % index
        service = route.get("service")
        if not service or not SERVICE.match(str(service)):
            _refuse("%s.service is %r, not a Compose service name." % (where, service), "Name a service of the compose files.")
        if services is not None and service not in services:
            _refuse("%s.service %s is not a service of the compose files (services: %s)."
                    % (where, service, ", ".join(sorted(services)) or "none"), "Correct the service name.")
        port = route.get("port")
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            _refuse("%s.port is %r, not a port number (1-65535)." % (where, port),
                    "Give the port the service listens on inside its container.")
        hosts = [str(h) for h in (route.get("hosts") or [])]
        for host in hosts:
            if not HOST.match(host):
                _refuse("%s.hosts has %r, which is not a host name." % (where, host),
                        "Use names like notes.example.com or *.example.com, without scheme or port.")
        prefix = route.get("path_prefix") or "/"
        if not PREFIX.match(prefix) or "//" in prefix or "/../" in prefix + "/" or "/./" in prefix + "/":
            _refuse("%s.path_prefix is %r, not a plain URL path." % (where, prefix),
                    "Give a path starting with /, such as /api/, without spaces, quotes or braces.")
        directives = [str(d) for d in (route.get("directives") or [])]
        for directive in directives:
            if any(c in directive for c in "{}\n\r") or not directive.strip().endswith(";"):
                _refuse("%s.directives has %r, which is not one nginx directive ending in ';'." % (where, directive),
                        "Give one directive per item, such as 'client_max_body_size 20m;'.")
        for host in hosts or [""]:
            key = (host, prefix)
            if key in seen:
                _refuse("%s routes %s%s, which an earlier route already routes." % (where, host or "(any host)", prefix),
                        "Give each host and path prefix to one route.")
            seen.add(key)
        health = route.get("health_path")
        if health is not None and not PREFIX.match(str(health)):
            _refuse("%s.health_path is %r, not a URL path." % (where, health), "Give a path such as /health.")
        warmup = [str(w) for w in (route.get("warmup_paths") or [])]
        for path in warmup:
            if not PREFIX.match(path):
                _refuse("%s.warmup_paths has %r, which is not a URL path." % (where, path),
                        "Give paths such as / or /notes, without scheme, host, spaces or quotes.")
        out.append({"service": service, "port": port, "hosts": hosts, "path_prefix": prefix, "directives": directives,
                    "health_path": health, "health_status": int(route.get("health_status") or 200),
                    "health_timeout": int(route.get("health_timeout") or 30), "warmup_paths": warmup})
    return out


def check_product_config(config, name):
    """Refuse what cannot run twice side by side: published ports and fixed container names."""
    for service, spec in sorted((config.get("services") or {}).items()):
        if spec.get("ports"):
            _refuse("Service %s of %s publishes ports, but behind the proxy the proxy publishes the host ports "
                    "(two colors of the product run side by side)." % (service, name),
                    "Remove ports from the service and give it a route (service, port, hosts or path_prefix).")
        if spec.get("container_name"):
            _refuse("Service %s of %s sets container_name %s, which the second color could not reuse."
                    % (service, name, spec["container_name"]), "Remove container_name; Compose names containers per project.")


def network_override(services, network):
    """The compose file (JSON is YAML) attaching the routed services to the proxy's network too."""
    body = {"services": dict((s, {"networks": {"default": {}, "bytelyst_proxy": {}}}) for s in sorted(services)),
            "networks": {"bytelyst_proxy": {"external": True, "name": network}}}
    return "# Written by bytelyst.deploy.proxy_deploy: the routed services join the proxy's network.\n" \
        + json.dumps(body, indent=2, sort_keys=True) + "\n"


# nginx keeps variable names in a hash of 64-byte buckets (variables_hash_bucket_size): a name
# longer than 46 characters fails `nginx -t` with "could not build variables_hash" on 64-bit hosts.
VARIABLE_MAX = 46


def upstream_variable(project, service):
    """The nginx variable a location's upstream is set in: $bytelyst_<project>_<service>, or, when
    that is longer than nginx takes, $bytelyst_<hash of project and service> (16 hex digits)."""
    name = "bytelyst_%s_%s" % (re.sub(r"[^A-Za-z0-9]", "_", project), re.sub(r"[^A-Za-z0-9]", "_", service))
    if len(name) > VARIABLE_MAX:
        name = "bytelyst_%s" % hashlib.sha256(("%s\0%s" % (project, service)).encode("utf-8")).hexdigest()[:16]
    return "$" + name


def _location(route, upstream, project):
    prefix = route["path_prefix"]
    match = "/" if prefix == "/" else "^~ %s" % prefix
    var = upstream_variable(project, route["service"])
    lines = [
        "    location %s {" % match,
        "        set %s %s;" % (var, upstream),
        "        proxy_pass http://%s;" % var,
    ]
    lines += ["        %s" % d.strip() for d in route["directives"]]
    lines.append("    }")
    return lines


def render_product(project, routes, upstreams, tls=None):
    """{kind: text} of one product's route files. upstreams: service -> 'container-name:port'."""
    by_hosts, hostless = {}, []
    for route in routes:
        upstream = upstreams[route["service"]]
        if route["hosts"]:
            by_hosts.setdefault(tuple(route["hosts"]), []).extend(_location(route, upstream, project))
        else:
            hostless.extend(_location(route, upstream, project))
    conf = ["# %s: routes by host name (written by bytelyst.deploy.proxy_deploy)" % project]
    for hosts, locations in sorted(by_hosts.items()):
        conf += ["server {", "    listen %d;" % HTTP_PORT]
        if tls:
            conf += ["    listen %d ssl;" % HTTPS_PORT,
                     "    ssl_certificate %s;" % tls["certificate"],
                     "    ssl_certificate_key %s;" % tls["key"]]
        conf += ["    server_name %s;" % " ".join(hosts)] + locations + ["}"]
    files = {"conf": "\n".join(conf) + "\n",
             "locations": "\n".join(["# %s: routes by path on any host" % project] + hostless) + "\n"}
    files["status"] = "location = /release/%s {\n    return 200 \"%s\\n\";\n}\n" % (project, marker(files))
    return files


def marker(files):
    """The hash the status port answers for a product's configuration (conf and locations)."""
    digest = hashlib.sha256()
    for kind in ("conf", "locations"):
        digest.update(files.get(kind, "").encode("utf-8") + b"\0")
    return digest.hexdigest()[:16]


def render_main(drain_timeout, includes=None):
    """The main nginx.conf. includes: {kind: [paths]} for a test file; None: the live globs."""
    def inc(kind):
        if includes is None:
            return ["include %s/routes/*.%s;" % (CONF_DIR, kind)]
        return ["include %s;" % p for p in includes.get(kind, [])]
    lines = [
        "# Written by bytelyst.deploy.proxy_deploy; edits here are overwritten.",
        "worker_processes 2;",
        "pid /tmp/nginx.pid;",
        "error_log stderr warn;",
        # Old workers finish in-flight requests and long-lived connections within this, then exit.
        "worker_shutdown_timeout %ds;" % int(drain_timeout),
        "events { worker_connections 1024; }",
        "http {",
        "    access_log off;",
        "    client_body_temp_path /tmp/nginx-client-body;",
        "    proxy_temp_path /tmp/nginx-proxy;",
        "    fastcgi_temp_path /tmp/nginx-fastcgi;",
        "    uwsgi_temp_path /tmp/nginx-uwsgi;",
        "    scgi_temp_path /tmp/nginx-scgi;",
        "    server_names_hash_bucket_size 128;",
        # Docker's DNS on the proxy network; names are looked up again after 5 s.
        "    resolver 127.0.0.11 valid=5s ipv6=off;",
        "    map $http_upgrade $bytelyst_connection { default upgrade; '' close; }",
        "    proxy_http_version 1.1;",
        "    proxy_set_header Host $host;",
        "    proxy_set_header Upgrade $http_upgrade;",
        "    proxy_set_header Connection $bytelyst_connection;",
        "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "    proxy_set_header X-Forwarded-Proto $scheme;",
        "    proxy_read_timeout 3600s;",
        "    server {",
        "        listen %d default_server;" % HTTP_PORT,
        "        root /nonexistent;",
    ] + ["        " + line for line in inc("locations")] + [
        "    }",
        "    server {",
        "        listen %d;" % STATUS_PORT,
        "        location = /ready { return 200 \"ok\\n\"; }",
    ] + ["        " + line for line in inc("status")] + [
        "    }",
    ] + ["    " + line for line in inc("conf")] + ["}", ""]
    return "\n".join(lines)


def proxy_spec(options):
    """The proxy container as data (with defaults) and its fingerprint, kept in a label."""
    spec = {
        "name": options.get("name") or DEFAULT_NAME,
        "image": options.get("image") or DEFAULT_IMAGE,
        "network": options.get("network") or DEFAULT_NETWORK,
        "config_dir": options.get("config_dir") or DEFAULT_CONFIG_DIR,
        "ports": [str(p) for p in (options.get("ports") or ["80:%d" % HTTP_PORT])],
        "user": options.get("user") or DEFAULT_USER,
    }
    spec["fingerprint"] = hashlib.sha256(json.dumps(spec, sort_keys=True).encode("utf-8")).hexdigest()[:16]
    return spec


def parse_ports(ports):
    """['127.0.0.1:8080:8080', '80:8080'] -> docker SDK ports {'8080/tcp': [(ip, port)]}."""
    out = {}
    for text in ports:
        parts = text.split(":")
        if len(parts) == 2:
            ip, host, target = "0.0.0.0", parts[0], parts[1]
        elif len(parts) == 3:
            ip, host, target = parts
        else:
            ip = host = target = ""
        if not (host.isdigit() and target.isdigit() and int(target) in (HTTP_PORT, HTTPS_PORT)):
            _refuse("proxy.ports has %r, not [IP:]HOST_PORT:%d or :%d." % (text, HTTP_PORT, HTTPS_PORT),
                    "The proxy listens on %d (HTTP) and %d (HTTPS) inside its container; publish those, "
                    "such as '80:%d' and '443:%d'." % (HTTP_PORT, HTTPS_PORT, HTTP_PORT, HTTPS_PORT))
        out.setdefault("%s/tcp" % target, []).append((ip, int(host)))
    return out


def run_argv(spec):
    """The proxy's command inside its container (nginx in the foreground on our main file)."""
    return ["nginx", "-e", "stderr", "-c", "%s/%s" % (CONF_DIR, MAIN_NAME), "-g", "daemon off;"]


class ProxyCommands(object):
    """docker CLI commands against the proxy container (pure builders)."""

    def __init__(self, name, cli="docker", docker_host=None):
        self.name = name
        self.cli = cli
        self.env = {"DOCKER_HOST": docker_host} if docker_host else {}

    def validate(self, main_file):
        return Command([self.cli, "exec", self.name, "nginx", "-e", "stderr", "-t", "-q", "-c",
                        "%s/%s" % (CONF_DIR, main_file)], env=self.env, timeout=60)

    def reload(self):
        # SIGHUP to the master (PID 1): re-read the configuration, start new workers, and let
        # the old workers finish what they serve (graceful; they exit by worker_shutdown_timeout).
        return Command([self.cli, "kill", "--signal", "HUP", self.name], env=self.env, timeout=60)

    def top(self):
        return Command([self.cli, "top", self.name], env=self.env, timeout=60)


def worker_pids(top_output):
    """The host PIDs of nginx's worker processes (serving or shutting down), from `docker top`."""
    pids = set()
    for line in (top_output or "").splitlines():
        fields = line.split()
        if "worker process" in line and len(fields) > 1 and fields[1].isdigit():
            pids.add(int(fields[1]))
    return pids
