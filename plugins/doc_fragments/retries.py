# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # The retry policy of the modules that talk to a registry over HTTP (_http.backoff_delays).
    DOCUMENTATION = r"""
options:
  retries:
    description:
      - How many times to retry after a connection error or a 5xx answer. A refusal (401, 403) is never retried.
    type: int
    default: 3
  retry_delay:
    description:
      - Seconds before the first retry; each further retry waits twice as long (at most 30 s).
    type: float
    default: 1.0
"""
