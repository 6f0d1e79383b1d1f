# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A product's own `.npmrc`, as the image build may see it. PRIVATE to the collection. Pure functions.

The settings (`registry=`, `@scope:registry=`, `strict-ssl`, `fetch-retries`, ...) of the
product root's `.npmrc` and then the kind directory's (which wins on the same key) reach
the install steps as `bytelyst/npmrc` in the context. What never does:

- credentials: every `//host/...:` key (`//host/:_authToken=`, `//host/:_auth=` ...), and the
  keys `_authToken`, `_auth`, `_password`, `username`, `password`, `email`, `cert`, `key`
  (also scoped, `@scope:_authToken`); the token reaches the install steps only as the
  BuildKit secret of the image contract (_contract.SECRET_NPMRC);
- paths on the build host (`cafile`, `certfile`, `keyfile`, `userconfig`, `globalconfig`,
  the store, cache and state directories: the build keeps pnpm's store in a cache mount);
- values that read the build host's environment (`${NPM_TOKEN}`): nothing of it is there.

A registry URL with credentials in it (`https://user:secret@host/`), or a kept value holding
a secret the module knows, is refused: the file has to be fixed, never quietly copied.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

CREDENTIAL_KEYS = frozenset(("_authtoken", "_auth", "_password", "username", "password", "email", "cert", "key",
                             "certfile", "keyfile"))
HOST_KEYS = frozenset(("cafile", "userconfig", "globalconfig", "store-dir", "cache-dir", "state-dir",
                       "virtual-store-dir", "global-dir", "global-bin-dir", "prefix", "npmrc-auth-file"))
URL_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s@]+@", re.IGNORECASE)


def dropped_reason(key, value):
    """Why key=value stays out of the image's npmrc (None: it is kept)."""
    low = key.lower()
    if low.startswith("//"):
        return "credentials"
    if low.rsplit(":", 1)[-1] in CREDENTIAL_KEYS:
        return "credentials"
    if low in HOST_KEYS:
        return "a path on the build host"
    if "${" in value:
        return "reads the build host's environment"
    return None


def parse(text):
    """[(key, value)] of an .npmrc text, in order (comments, sections and blank lines skipped)."""
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;[":
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if key:
            pairs.append((key, value.strip() if sep else "true"))
    return pairs


def settings(paths, npm_registry=None, secrets=()):
    """(the image's npmrc text or None when empty, [(file, key, reason) left out]).

    paths: the .npmrc files in order (later ones win on the same key; absent ones are skipped);
    npm_registry: the module option, which wins over any `registry=`; secrets: values no kept
    setting may hold (the npm token, registry passwords). Raises DeployError for a URL with
    credentials or a secret in a kept value (the message names the file and key, never the value)."""
    kept, dropped = {}, []
    for path in paths:
        if not path or not os.path.isfile(path):
            continue
        with open(path) as handle:
            pairs = parse(handle.read())
        for key, value in pairs:
            reason = dropped_reason(key, value)
            if reason:
                dropped.append((path, key, reason))
                continue
            if URL_CREDENTIALS.search(value):
                raise DeployError("%s: the value of %s holds credentials in a URL (user:password@host)." % (path, key),
                                  hint="Write the URL without them; give the token as npm_token (it reaches the "
                                       "build only as a BuildKit secret).")
            if any(secret and secret in value for secret in secrets):
                raise DeployError("%s: the value of %s holds a secret (the npm token or a password)." % (path, key),
                                  hint="Remove it; give the token as npm_token (a BuildKit secret).")
            kept.pop(key, None)
            kept[key] = value
    if npm_registry:
        if URL_CREDENTIALS.search(npm_registry):
            raise DeployError("npm_registry holds credentials in its URL (user:password@host).",
                              hint="Give the URL without them and the token as npm_token.")
        kept.pop("registry", None)
        kept["registry"] = npm_registry
    text = "".join("%s=%s\n" % (key, value) for key, value in kept.items())
    return (text or None), dropped
