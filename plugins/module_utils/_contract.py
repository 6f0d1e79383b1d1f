# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The image contract's shared terms, in one place. PRIVATE to the collection.

Base images (_base_image) and product images (_product_image) both build on these names:
the labels a product reads from its base, where a base says what it provides, the
sample's package filter, the dependency fields, the build secrets and the pnpm store. The contract
itself is written out in docs/base-images.md. Constants only: no logic, no imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Defaults of the module options both image types share.
DEFAULT_RUNTIME_IMAGE = "node:22-slim"
DEFAULT_PNPM_VERSION = "10.6.5"

# What an image is for, its kind: a base is backend, web or dev (the builder stage's tools); a product
# image is backend or web, and so is a shared package (package.json `bytelyst.kinds`, absent: both).
# The one word for this axis ("flavour" and "target" are its deprecated names, see docs/migration.md).
BASE_KINDS = ("backend", "web", "dev", "common")  # common: what stacked backend and web bases are built on
PACKAGE_KINDS = ("backend", "web")
# Where a package.json says its kinds: `"bytelyst": {"kinds": [...]}`; `targets` is the deprecated
# name, still read when `kinds` is absent.
PACKAGE_JSON_KINDS = "kinds"
PACKAGE_JSON_KINDS_DEPRECATED = "targets"

# The shared packages are the ones the tarball manifest lists, of any scope (see _scope.py); they
# come from the workspace's tarballs, never a registry by name. The sample workspace's filter:
DEFAULT_FILTER = "@bytelyst/*"
# package.json fields that declare dependencies; the runtime ones survive `pnpm install --prod`.
DEP_FIELDS = ("dependencies", "devDependencies", "optionalDependencies")
RUNTIME_DEP_FIELDS = ("dependencies", "optionalDependencies")

# The non-root user every image ends with (the runtime image's `node`, created when absent).
USER = "node"
UID = "1000"
APP_DIR = "/app"
# What a base image provides (written after its install, read by the compatibility check).
PROVIDES_PATH = "/app/.bytelyst/provides.json"

# Labels. Every image built here carries the fingerprint of its inputs.
FINGERPRINT_LABEL = "dev.bytelyst.fingerprint"
# Base images: their kind and the compact JSON {package: version} of what they provide. A base is
# labelled with its kind twice: BASE_KIND_LABEL, and the deprecated BASE_FLAVOUR_LABEL that images
# built before 0.2.0 carry alone (and tools written for them read). Readers try them in the order
# of BASE_KIND_LABELS (docs/base-images.md, "Labels").
BASE_KIND_LABEL = "dev.bytelyst.base.kind"
BASE_FLAVOUR_LABEL = "dev.bytelyst.base.flavour"
BASE_KIND_LABELS = (BASE_KIND_LABEL, BASE_FLAVOUR_LABEL)
PROVIDES_LABEL = "dev.bytelyst.base.provides"
# A base's extra third-party packages ({name: version}, compact JSON), only on bases that have any.
EXTRAS_LABEL = "dev.bytelyst.base.extras"
# Product images: which base they were built on, and what they are.
BASE_REF_LABEL = "dev.bytelyst.base.ref"
BASE_VERSION_LABEL = "dev.bytelyst.base.version"
BASE_DIGEST_LABEL = "dev.bytelyst.base.digest"
PRODUCT_LABEL = "dev.bytelyst.product"
KIND_LABEL = "dev.bytelyst.kind"  # the product image's kind (backend or web)
MODE_LABEL = "dev.bytelyst.mode"
# Product images: the compatibility check's answers, by the digest of what was asked (the checked
# image's id and the payload), so a re-run on the same inputs needs no throwaway container (_compat).
COMPAT_LABEL = "dev.bytelyst.compat"
OCI_VERSION_LABEL = "org.opencontainers.image.version"

# BuildKit secret ids, the same in base and product Dockerfiles. The `npmrc` secret holds one
# line `_authToken=<token>` (see TOKEN_LINE); the install steps turn it into a registry-scoped
# npmrc in AUTH_DIR % uid, a tmpfs no layer keeps (one per uid: a tmpfs mounted where an earlier
# image's root step left the directory keeps that directory's root-only mode). The `ca` secret
# is a PEM bundle.
SECRET_NPMRC = "npmrc"
SECRET_CA = "ca"
SECRET_IDS = (SECRET_NPMRC, SECRET_CA)
TOKEN_LINE = "_authToken=%s\n"
AUTH_DIR = "/run/bytelyst-auth-%s"

# pnpm's content store (and its metadata cache and state) in a BuildKit cache mount, one per uid.
PNPM_STORE = "/tmp/pnpm-store"
PNPM_STORE_CACHE_ID = "bytelyst-pnpm-store-%s"
