# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing files so that a reader never sees half of one. PRIVATE to the collection."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile


def write_atomic(path, text, mode=None):
    """Write text to path through a temporary file in the same directory and a rename, so
    path holds either its old or its new content. mode: permission bits of a new file
    (0o600 for a secret: the file is created with them, never readable by others)."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        if mode is not None:
            os.chmod(tmp, mode)
        else:  # mkstemp creates 0600; an ordinary file gets the usual umask-governed mode
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    return path
