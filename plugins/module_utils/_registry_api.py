# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a registry's HTTP API v2 answers. PRIVATE to the collection.

Most registries serve the API at the host their image references name. The
Docker engine's official index does not: users write its index name in
references, while its API answers at the host of the engine's index server
address. No host name is written here: the engine's ``info()`` tells both
(``RegistryConfig.IndexConfigs`` entries with ``Official: true``, and
``IndexServerAddress``), or the user names the API with ``registry_api``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._reference import HOST_RE

from urllib.parse import urlsplit

_IPV4_RE = re.compile(r"^[0-9]+(?:\.[0-9]+){3}$")
_EXAMPLE = "https://registry.example.com or https://registry.example.com:5000"


def check_api_url(text, allow_http=False, what="registry_api"):
    """The base URL text names (scheme://host[:port], no trailing slash), or a DeployError saying what to fix."""
    if not isinstance(text, str) or not text.strip():
        raise DeployError("The %s is empty." % what, hint="Give the base URL of the registry's HTTP API v2, e.g. %s." % _EXAMPLE)
    text = text.strip()
    parts = urlsplit(text)
    if "@" in parts.netloc:
        # Never repeat the text: what precedes '@' may be a password.
        raise DeployError("The %s holds credentials (user@ or user:password@ before the host)." % what,
                          hint="Remove them from the URL and give them in username and password.")
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise DeployError("The %s %r is not an http(s) URL with a host." % (what, text),
                          hint="Give the base URL of the registry's HTTP API v2, e.g. %s." % _EXAMPLE)
    if parts.scheme == "http" and not allow_http:
        raise DeployError("The %s %r uses plain HTTP, and allow_http is not set." % (what, text),
                          hint="Use https://, or set allow_http: true (only for a loopback registry or a network you trust).")
    try:
        port_ok = parts.port is None or 0 < parts.port
    except ValueError:
        port_ok = False
    if not HOST_RE.match(parts.netloc) or not port_ok:
        raise DeployError("The %s %r has a malformed host or port %r." % (what, text, parts.netloc),
                          hint="Write host[:port] after the scheme, e.g. %s." % _EXAMPLE)
    if parts.path not in ("", "/") or parts.query or parts.fragment or text.endswith(("?", "#")):
        raise DeployError("The %s %r has more than a scheme, host and port (path %r)." % (what, text, parts.path),
                          hint="Give the base URL only, %s://%s: the module adds /v2/ itself." % (parts.scheme, parts.netloc))
    return "%s://%s" % (parts.scheme, parts.netloc)


def may_be_official_index(registry):
    """False when registry cannot be an index name (it has a port, is an IP address or localhost, or has no dot)."""
    host = (registry or "").lower()
    if ":" in host or host.startswith("[") or "." not in host:
        return False
    return not _IPV4_RE.match(host) and host != "localhost"


def _index_host(info):
    """host[:port] of the engine's IndexServerAddress, or None."""
    address = (info.get("IndexServerAddress") or "").strip()
    if not address:
        return None
    if "://" not in address:
        address = "https://" + address
    netloc = urlsplit(address).netloc.lower()
    return netloc if netloc and HOST_RE.match(netloc) else None


def official_index_names(info):
    """The names the engine gives its official index (IndexConfigs entries with Official: true), lowercased."""
    configs = ((info.get("RegistryConfig") or {}).get("IndexConfigs")) or {}
    names = set()
    for key, config in configs.items():
        if isinstance(config, dict) and config.get("Official"):
            names.add((config.get("Name") or key).lower())
    return names


def official_index_api(registry, info):
    """https://<host of IndexServerAddress> when registry names the engine's official index, else None.

    info is the engine's info() dict. registry names the official index when it
    equals one of its official index names or the host of IndexServerAddress.
    """
    info = info or {}
    wanted = (registry or "").lower()
    host = _index_host(info)
    if wanted not in official_index_names(info) and wanted != host:
        return None
    if host is None:
        raise DeployError(
            "The registry %s is the Docker engine's official index, but the engine reports no usable index "
            "server address (IndexServerAddress %r), so the address of its API is unknown."
            % (registry, info.get("IndexServerAddress")),
            hint="Set registry_api to the base URL of the registry's HTTP API v2.")
    return "https://" + host


def resolve_api_url(target, engine_info, registry_api=None, allow_http=False):
    """The base URL of the API v2 for target (a Reference), or None for the default (the registry host itself).

    registry_api, when given, wins (validated). Otherwise, when target's registry
    could be an index name, engine_info() (a callable returning the engine's
    info dict, or raising DeployError when the engine cannot be reached) tells
    whether it is the official index, and where that one's API answers.
    """
    if registry_api:
        return check_api_url(registry_api, allow_http)
    if not may_be_official_index(target.registry):
        return None
    try:
        info = engine_info()
    except DeployError as err:
        raise DeployError(
            "Cannot tell whether the registry %s is the Docker engine's official index, whose API answers at "
            "another address: %s" % (target.registry, err.message),
            hint="Set registry_api to the base URL of the registry's HTTP API v2 (https://<host>[:port]; "
                 "for most registries the host in the reference), or make a Docker engine reachable (docker_host).")
    api = official_index_api(target.registry, info)
    if api and "/" not in target.repository:
        raise DeployError(
            "The repository %r names no organisation; on the official index %s every repository you can push "
            "to is <organisation>/<name>." % (target.name, target.registry),
            hint="Write %s/<organisation>/%s (your user or organisation name)." % (target.registry, target.repository))
    return api
