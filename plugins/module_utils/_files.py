# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writing files so that a reader never sees half of one. PRIVATE to the collection.

The one atomic writer of the collection: manifests, release histories and their files, env
files, pinned overrides, lock holders, proxy configuration.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile


def fsync_dir(path):
    """Make a rename in directory path durable (best effort: not every file system allows it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_text(path):
    """The file's text, or None when there is no such file."""
    try:
        with open(path) as f:
            return f.read()
    except (IOError, OSError):
        return None


def write_atomic(path, text, mode=None, durable=False, keep_previous=None):
    """Write text to path through a temporary file in the same directory and a rename, so
    path holds either its old or its new content. mode: permission bits of the file (0o600 for
    a secret: the temporary file is created with them, never readable by others); durable:
    fsync the file and the directory (a history must survive a crash); keep_previous: a path
    where the replaced file stays whole (hard-linked before the rename)."""
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
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        if keep_previous and os.path.exists(path):
            link = keep_previous + ".tmp"
            if os.path.lexists(link):
                os.remove(link)
            os.link(path, link)  # the old file stays whole under its new name
            os.rename(link, keep_previous)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    if durable:
        fsync_dir(directory)
    return path


def write_if_changed(path, text, mode=0o600):
    """write_atomic only when path does not already hold text; True when written."""
    if read_text(path) == text:
        return False
    write_atomic(path, text, mode=mode)
    return True
