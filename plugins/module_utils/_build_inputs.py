# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A product's build settings: build arguments and extra OS packages, checked before any
build. PRIVATE to the collection. Pure functions.

Build arguments carry public build-time values (Next.js `NEXT_PUBLIC_*`): the builder stage
sees them, the image's build history of that stage holds them. So they are never a way to
pass a secret: a name that looks like one (ending in TOKEN, PASSWORD, PASSWD, SECRET, KEY,
CREDENTIALS; `*_PUBLIC_KEY` and `*_PUBLISHABLE_KEY` are public by name) or a value holding a
secret the module knows (the npm token, a registry password) is refused. Secrets reach a
build only as BuildKit secrets.

OS packages are Debian package names (Debian Policy 5.6.7: lower-case letters, digits, `+`,
`-` and `.`, at least two characters, starting with a letter or digit), optionally pinned as
`name=version`; nothing else reaches the `apt-get install` line.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

ARG_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SECRET_SUFFIXES = ("TOKEN", "PASSWORD", "PASSWD", "SECRET", "KEY", "CREDENTIALS")
PUBLIC_SUFFIXES = ("PUBLIC_KEY", "PUBLISHABLE_KEY")
# Build arguments Docker defines itself (proxies): passing them would change nothing in the text.
RESERVED_ARGS = frozenset(("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY",
                           "http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "all_proxy"))
DEBIAN_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+~:-]+)?$")


def looks_secret(name):
    upper = name.upper()
    return upper.endswith(SECRET_SUFFIXES) and not upper.endswith(PUBLIC_SUFFIXES)


def check_build_args(build_args, secrets=()):
    """{name: value as text}, or DeployError naming the argument (never its value)."""
    if not build_args:
        return {}
    if not isinstance(build_args, dict):
        raise DeployError("build_args must be a mapping of NAME: value, got %s." % type(build_args).__name__)
    out = {}
    for name in sorted(build_args, key=str):
        value = build_args[name]
        if not isinstance(name, str) or not ARG_NAME.match(name):
            raise DeployError("build_args: %r is not a build argument name (letters, digits and _, not starting "
                              "with a digit)." % (name,))
        if name in RESERVED_ARGS:
            raise DeployError("build_args: %s is Docker's own proxy argument." % name,
                              hint="Configure proxies on the engine, not per product.")
        if isinstance(value, (dict, list)) or value is None:
            raise DeployError("build_args: %s must be a string, number or boolean, got %s." % (
                name, "null" if value is None else type(value).__name__))
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        if looks_secret(name):
            raise DeployError(
                "build_args: %s looks like a secret (its name ends in %s); build arguments stay in the build "
                "history and are never a way to pass secrets." % (
                    name, next(s for s in SECRET_SUFFIXES if name.upper().endswith(s))),
                hint="Give the npm token as npm_token (a BuildKit secret the install steps read); give runtime "
                     "secrets to the deploy (bytelyst_products services' secrets). A public value whose name ends "
                     "in KEY can be named *_PUBLIC_KEY or *_PUBLISHABLE_KEY.")
        if any(secret and str(secret) in text for secret in secrets):
            raise DeployError("build_args: the value of %s holds a secret the module was given (the npm token or "
                              "a registry password); build arguments are never a way to pass secrets." % name,
                              hint="Secrets reach a build only as BuildKit secrets (npm_token, ca_bundle).")
        if "\n" in text or "\0" in text:
            raise DeployError("build_args: the value of %s holds a newline or NUL byte." % name)
        out[name] = text
    return out


def check_os_packages(packages, option="os_packages"):
    """The list of Debian package names (sorted, each once), or DeployError naming the bad one."""
    if not packages:
        return []
    if isinstance(packages, str) or not isinstance(packages, (list, tuple)):
        raise DeployError("%s must be a list of Debian package names, got %s." % (option, type(packages).__name__))
    for name in packages:
        if not isinstance(name, str) or not DEBIAN_PACKAGE.match(name):
            raise DeployError(
                "%s: %r is not a Debian package name." % (option, name),
                hint="Use names as apt-get install takes them: lower-case letters, digits, '+', '-' and '.', at "
                     "least two characters, starting with a letter or digit, optionally =version (such as openssl, "
                     "libvips42).")
    return sorted(set(packages))
