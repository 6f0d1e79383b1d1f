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

from ansible_collections.bytelyst.deploy.plugins.module_utils._build import DEFAULT_LOG_DIR
from ansible_collections.bytelyst.deploy.plugins.module_utils._engine import (
    DOCKER_COMMON_ARGS, DOCKER_IMPORT_ERROR, HAS_DOCKER, engine_client,
)
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._pull import PULL_ARGS


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


def image_build_argument_spec(**extra):
    """The options base_image and product_image share (the build log, pulling what the build needs
    and the engine connection), plus each module's own."""
    spec = dict(extra)
    spec.update(build_log=dict(type="path"), build_log_dir=dict(type="path", default=DEFAULT_LOG_DIR))
    spec.update(DOCKER_COMMON_ARGS)
    spec.update(PULL_ARGS)
    return spec


# A registry login is a user name and a password together (pulls of the bases, pushes).
IMAGE_BUILD_CONSTRAINTS = dict(required_together=[("username", "password")])


def deploy_argument_spec(**extra):
    """The options compose_deploy and proxy_deploy share (the project, its release, the lock and
    the engine connection), plus each module's own."""
    spec = dict(
        project_name=dict(type="str", required=True),
        project_src=dict(type="path"),
        files=dict(type="list", elements="path"),
        definition=dict(type="dict"),
        env=dict(type="dict"),
        secrets=dict(type="dict", no_log=True),
        images=dict(type="dict"),
        pull_policy=dict(type="str", default="missing", choices=["missing", "always", "never"]),
        action=dict(type="str", default="deploy", choices=["deploy", "rollback"]),
        rollback_to=dict(type="str"),
        wait_timeout=dict(type="int", default=120),
        up_timeout=dict(type="int"),
        history_dir=dict(type="path"),
        keep_releases=dict(type="int", default=10),
        lock_timeout=dict(type="int", default=600),
        triggered_by=dict(type="str"),
        provenance=dict(type="dict"),
        allow=dict(type="list", elements="str", default=[],
                   choices=["privileged", "host_network", "host_pid", "docker_socket"]),
    )
    spec.update(extra)
    spec.update(DOCKER_COMMON_ARGS)
    return spec


DEPLOY_CONSTRAINTS = dict(required_one_of=[("project_src", "files")], mutually_exclusive=[("definition", "files")],
                          required_by={"definition": "project_src"})


def run_deployer(module, deployer):
    """Run a Deployer (or a subclass); a DeployError fails the task with what was known by then."""
    if not HAS_DOCKER:
        module.fail_json(msg=missing_required_lib("docker"), exception=str(DOCKER_IMPORT_ERROR))
    try:
        result = deployer.execute()
    except DeployError as err:
        module.fail_json(msg=str(err), changed=deployer.result.get("changed", False),
                         images=deployer.result.get("images"), **err.result())
    if not module._diff:
        result.pop("diff", None)
    return result
