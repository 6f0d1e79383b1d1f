"""Helpers for the AWX-style and dev compose tests.

private_data_dir() lays out what AWX hands ansible-runner, and remove_images_below() cleans
up every tag under a unique prefix. The packed sample workspace is packed_workspace.packed_once().
"""

import os
import shutil
import socket
import subprocess

import yaml

from engine_listing import remove_tags_under

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port_block(size, start=20000, stop=60000, step=97):
    """A port p such that p..p+size-1 are all free on 127.0.0.1 right now."""
    pid_offset = (os.getpid() * 131) % (stop - start - size)
    port = start + pid_offset
    for dummy in range((stop - start) // step):
        if all(_free(p) for p in range(port, port + size)):
            return port
        port = start + (port - start + step) % (stop - start - size)
    raise AssertionError("no block of %d free ports found" % size)


def _free(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def private_data_dir(root, extravars, envvars, inventory, playbooks=None):
    """Lay out an ansible-runner private data directory as an AWX job gets it.

    env/extravars (YAML, what a survey fills), env/envvars, inventory/hosts (YAML inventory)
    and project/ (a copy of the collection's playbooks/, as AWX checks out a project).
    """
    os.makedirs(os.path.join(root, "env"))
    os.makedirs(os.path.join(root, "inventory"))
    with open(os.path.join(root, "env", "extravars"), "w") as handle:
        yaml.safe_dump(extravars, handle, default_flow_style=False)
    with open(os.path.join(root, "env", "envvars"), "w") as handle:
        yaml.safe_dump(envvars, handle, default_flow_style=False)
    with open(os.path.join(root, "inventory", "hosts"), "w") as handle:
        yaml.safe_dump(inventory, handle, default_flow_style=False)
    shutil.copytree(playbooks or os.path.join(REPO, "playbooks"), os.path.join(root, "project"))
    return root


def write_extravars(root, extravars):
    """Replace env/extravars (a relaunch with other survey answers)."""
    with open(os.path.join(root, "env", "extravars"), "w") as handle:
        yaml.safe_dump(extravars, handle, default_flow_style=False)


def remove_images_below(client, prefix):
    """Remove every image tag that starts with prefix (only our unique names)."""
    remove_tags_under(client, prefix)


def compose_down(project, project_dir=None):
    """docker compose down for a project (containers, networks and its volumes)."""
    argv = ["docker", "compose", "-p", project]
    if project_dir and os.path.exists(os.path.join(project_dir, "compose.yml")):
        argv += ["--project-directory", project_dir]
    subprocess.run(argv + ["down", "--volumes", "--remove-orphans", "--timeout", "5"],
                   capture_output=True, text=True, timeout=180, check=False)
