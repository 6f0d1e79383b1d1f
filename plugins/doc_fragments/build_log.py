# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Where the modules that build images write BuildKit's progress (_build.run_logged).
    DOCUMENTATION = r"""
options:
  build_log:
    description:
      - The file BuildKit's progress (C(--progress plain)) is written to while the image builds, line by line,
        so it can be followed with C(tail -f). Secret values are never in it (they reach the build only as
        BuildKit secrets, and their values are scrubbed from every line).
      - Defaults to a new file C(<name>-<UTC time>.log) in O(build_log_dir).
    type: path
  build_log_dir:
    description: The directory of the default O(build_log) on the host that builds (created when missing).
    type: path
    default: /var/tmp/bytelyst/builds
"""
