"""Run modules of the collection through real Ansible (ansible-playbook on localhost) and
return their registered results as dicts: what a playbook user would get."""

import json
import os
import subprocess
import sys
import tempfile

import yaml


def _fqcn(module):
    return module if "." in module else "bytelyst.deploy." + module


CALLBACKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "callback_plugins")


def _run_play(tasks, registers, check, diff, env, timeout, play_keys=None):
    """Run tasks; return the results registered under the names `registers` (a callback
    plugin saves them to a file that is read back: no stdout to parse)."""
    play = [dict({"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": tasks}, **(play_keys or {}))]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "play.yml")
        with open(path, "w") as f:
            yaml.safe_dump(play, f)
        result_path = os.path.join(tmp, "result.json")
        argv = ["ansible-playbook", "-i", "localhost,", path]
        if check:
            argv.append("--check")
        if diff:
            argv.append("--diff")
        run_env = dict(os.environ, ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCALHOST_WARNING="false",
                       ANSIBLE_INVENTORY_UNPARSED_WARNING="false", BYTELYST_TEST_RESULTS=result_path)
        run_env["ANSIBLE_CALLBACK_PLUGINS"] = os.pathsep.join(
            p for p in (CALLBACKS, os.environ.get("ANSIBLE_CALLBACK_PLUGINS")) if p)
        run_env.update(env or {})
        proc = subprocess.run(argv, capture_output=True, text=True, env=run_env, timeout=timeout, check=False)
        try:
            with open(result_path) as f:
                saved = json.load(f)
            result = [saved[name] for name in registers]
        except (IOError, OSError, ValueError, KeyError):
            raise AssertionError("ansible-playbook gave no result:\n%s\n%s" % (proc.stdout[-3000:], proc.stderr[-3000:]))
    return result, proc.stdout + proc.stderr


def run_module(module, args, check=False, diff=False, env=None, timeout=1800):
    """Run bytelyst.deploy.<module> (or a FQCN) with args; return (result dict, raw output)."""
    task = {"name": "under test", _fqcn(module): args, "register": "out", "ignore_errors": True}
    results, raw = _run_play([task], ["out"], check, diff, env, timeout)
    return results[0], raw


def run_module_many(module, many_args, check=False, env=None, timeout=1800, play_keys=None):
    """Run the module once per args dict, all in ONE playbook (one Ansible start-up, failures
    ignored so every case runs); return (list of result dicts, raw output)."""
    tasks = [{"name": "case %d" % i, _fqcn(module): args, "register": "case_%d" % i, "ignore_errors": True}
             for i, args in enumerate(many_args)]
    return _run_play(tasks, ["case_%d" % i for i in range(len(many_args))], check, False, env, timeout, play_keys)
