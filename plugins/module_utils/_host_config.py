# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the host roles read from a host's JSON files, decided in Python. PRIVATE to the collection.

The roles fetch a file with ansible.builtin.slurp (base64 content; no content when the file is
absent) and hand the result to a filter (plugins/filter/host_config.py, package_manager.py),
so no role decodes or parses data in Jinja:

- slurped_json(): the JSON document of a slurp result (None when the file is absent); a file
  that is not JSON fails naming it and the fix.
- daemon_options(): the engine's daemon.json with the role's log rotation and extra options
  merged over what is there (mappings merged key by key, like combine(recursive=true)).
- logins_due(): the registries of docker_host_registry_logins whose credentials the client's
  config.json does not hold yet. The answer holds names only, never a password.

Pure (no Ansible).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import json


class HostConfigError(ValueError):
    """A host file the role cannot use; the message names it and the fix."""


def slurped_json(result, what="the file"):
    """The JSON document in an ansible.builtin.slurp result, or None when it has no content
    (the file is absent: the roles slurp with failed_when false)."""
    if not isinstance(result, dict) or result.get("content") is None:
        return None
    path = result.get("source") or what
    try:
        text = base64.b64decode(result["content"]).decode("utf-8")
        return json.loads(text)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise HostConfigError("%s (%s) is not valid JSON: %s. Fix it or remove it, then run again." % (
            path, what, exc))


def merge(base, over):
    """over merged into base: mappings key by key (recursively), anything else replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def daemon_options(existing, log_driver, max_size, max_file, extra=None):
    """daemon.json as the role writes it: what is there, then the log rotation, then extra options."""
    if existing is None:
        existing = {}
    if not isinstance(existing, dict):
        raise HostConfigError("The engine's daemon.json holds %s, not a JSON object of options. Fix it or remove "
                              "it, then run again." % type(existing).__name__)
    rotation = {"log-driver": log_driver, "log-opts": {"max-size": max_size, "max-file": str(max_file)}}
    return merge(merge(existing, rotation), extra or {})


def _auth(username, password):
    return base64.b64encode(("%s:%s" % (username, password)).encode("utf-8")).decode("ascii")


def logins_due(config, logins):
    """The registries (in the order of logins) whose username and password the docker client's
    config.json (parsed; None when absent) does not hold yet."""
    auths = (config.get("auths") or {}) if isinstance(config, dict) else {}
    due = []
    for login in logins or []:
        held = auths.get(login["registry"]) or {}
        if not isinstance(held, dict) or held.get("auth") != _auth(login["username"], login["password"]):
            due.append(login["registry"])
    return due
