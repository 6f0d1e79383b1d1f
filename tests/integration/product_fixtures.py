"""Inputs for the product_image integration tests: copies of the sample products.

A copy lands in its own scratch directory without the common plat repo beside it, so a
build that still needed the product's `.pnpmfile.cjs` (which links `@bytelyst/*` from
`../../common_plat`) or its workspace would fail. Installs and build outputs of the
checkout are left out, as a fresh clone has none.
"""

import os
import shutil

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PRODUCTS = os.path.join(REPO, "examples", "products")
IGNORE = shutil.ignore_patterns("node_modules", "dist", ".next", "vendor", "*.tgz", "*.tsbuildinfo")


def copy_product(name, dest):
    """A copy of examples/products/<name> at dest/<name>; return its path."""
    target = os.path.join(str(dest), name)
    shutil.copytree(os.path.join(PRODUCTS, name), target, ignore=IGNORE)
    return target
