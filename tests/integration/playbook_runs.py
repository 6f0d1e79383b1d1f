"""The main job as a test runs it: ansible-playbook with the run's variables in a file, the play
recap read back, and what the deployed product answers. Shared by the tests that drive the
playbooks end to end (test_acme_pipeline, test_pipeline_from_repo)."""

import json
import os
import subprocess
import sys

from net_helpers import http_get


class Run(object):
    """What a module-scoped fixture keeps of its playbook runs: the engine client, its work
    directory, the runs (completed processes) and what was deployed after each (the fixture adds
    extravars and the like)."""

    def __init__(self, client, work):
        self.client, self.work = client, work
        self.runs, self.after = [], []


def playbook(state, argv, extravars, timeout):
    """ansible-playbook <argv> -e @<extravars written under state.work>; the run, kept in state.runs."""
    path = os.path.join(state.work, "extravars-%d.json" % len(state.runs))
    with open(path, "w") as handle:
        json.dump(extravars, handle)
    env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_FORCE_COLOR="false",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    done = subprocess.run(["ansible-playbook"] + list(argv) + ["-e", "@" + path],
                          cwd=state.work, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    state.runs.append(done)
    return done


def recap(done):
    """{counter: value} of localhost's PLAY RECAP line."""
    line = [line for line in done.stdout.splitlines() if line.startswith("localhost ") and "ok=" in line][-1]
    return dict((key, int(value)) for key, value in (item.split("=") for item in line.split(":", 1)[1].split()))


def deployed(state, product, port):
    """What answers on the deploy host now: the health body on port (the product's port plus the
    run's offset) and the images of the product's containers."""
    containers = state.client.containers.list(
        filters={"label": "com.docker.compose.project=%s%s" % (state.extravars["bytelyst_project_prefix"], product)})
    status, body = http_get("http://127.0.0.1:%d/health" % (port + state.extravars["bytelyst_port_offset"]))
    return {"status": status, "health": json.loads(body) if status == 200 else body,
            "containers": [(c.id, c.attrs["Config"]["Image"]) for c in containers]}
