# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one shape of an image module's main(), after its options are parsed. PRIVATE to the collection.

A module builds its AnsibleModule (the options are its own), then hands it here with its core's
entry point: `ensure(client, options, check_mode=...)` returns the result; a DeployError becomes
the failure message (with its hint and data), anything unforeseen a failure with the trace.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import traceback

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.bytelyst.deploy.plugins.module_utils._engine import (
    DOCKER_IMPORT_ERROR, HAS_DOCKER, engine_client,
)
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError


def run_module(module, ensure, name, connect=engine_client, needs_docker=True):
    """Call ensure(client, options, check_mode) on the engine the options name; exit or fail module.

    connect(options) makes the client from the connection options (a module that needs the engine only sometimes passes a
    lazy one, and needs_docker=False when this run can do without the Docker SDK)."""
    if needs_docker and not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker"), exception=str(DOCKER_IMPORT_ERROR))
    try:
        client = connect(module.params)
        result = ensure(client, dict(module.params), check_mode=module.check_mode)
    except DeployError as err:
        module.fail_json(msg=str(err), **err.result())
    except Exception as exc:  # an engine error we did not foresee: say where, keep the trace
        module.fail_json(msg="%s failed unexpectedly: %s" % (name, exc), exception=traceback.format_exc())
    module.exit_json(**result)
