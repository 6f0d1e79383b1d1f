# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deployer: one run of compose_deploy on the target host. PRIVATE to the collection.

A run plans first: validate the compose files, pin every service's image by digest (or
take a release's images, for a rollback), and ask Compose which services a new pinned
override would recreate. Outside check mode, and only when something differs, it applies
behind the health gate (`up --wait` plus HTTP checks), under the project lock, recording
every release in the history; a failed gate brings the previous release back through the
same gate. The pieces are elsewhere: Compose commands in _compose.py, the history in
_release.py, the lock in _lock.py, the HTTP checks in _health.py.

Commands go through `runner` and the engine client comes from `engine`, so tests can fake
both (_command.run and _engine.engine_client unless given).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import getpass
import os
import shutil
import socket
import tempfile

from ansible_collections.bytelyst.deploy.plugins.module_utils._command import run as run_command
from ansible_collections.bytelyst.deploy.plugins.module_utils._compose import (
    ComposeProject, containers_by_service, default_compose_file, env_file_text, is_healthy, parse_config_hashes,
    parse_json_output, published_ports, render_definition, render_override, resolve_image, up_failure)
from ansible_collections.bytelyst.deploy.plugins.module_utils._deploy_input import refuse_risky, validate_params
from ansible_collections.bytelyst.deploy.plugins.module_utils._engine import engine_client
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._health import run_checks
from ansible_collections.bytelyst.deploy.plugins.module_utils._lock import ProjectLock
from ansible_collections.bytelyst.deploy.plugins.module_utils._release import History, images_text

OVERRIDE_NAME = "compose.bytelyst.yml"
DEFINITION_NAME = "compose.yml"
ENV_NAME = "deploy.env"
DEFAULT_HISTORY_ROOT = "/var/lib/bytelyst/deploy"
LOG_TAIL = 30


def read_text(path):
    """The file's text, or None when there is no such file."""
    try:
        with open(path) as f:
            return f.read()
    except (IOError, OSError):
        return None


def write_private(path, text, mode=0o600):
    """Write text to path with mode (only when it differs), atomically; True when written."""
    if read_text(path) == text:
        return False
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.rename(tmp, path)
    return True


def port_free(host_ip, port, protocol):
    """True when nothing holds host_ip:port on this host (we bind it for a moment)."""
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    sock = socket.socket(family, kind)
    try:
        # A port in TIME_WAIT is free for a new listener; only a live socket makes bind fail.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host_ip, port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


class Deployer(object):
    """One run of the module: plan, then (outside check mode) apply behind the health gate."""

    def __init__(self, params, check_mode, warn, runner=run_command, engine=engine_client):
        self.p = params
        self.check_mode = check_mode
        self.warn = warn
        self.runner = runner
        self.engine = engine
        self.name = params["project_name"]
        self.history_dir = params["history_dir"] or os.path.join(DEFAULT_HISTORY_ROOT, self.name)
        self.override_path = os.path.join(self.history_dir, OVERRIDE_NAME)
        self.triggered_by = params["triggered_by"] or getpass.getuser()
        self.history = History(self.history_dir, self.name, params["keep_releases"])
        self.secrets = [str(v) for v in (params["env"] or {}).values() if v not in (None, "")]
        self.scratch = None
        self.definition = None  # with the definition option: {path, text, previous, candidate}
        self.result = {"changed": False, "override_file": self.override_path, "recreate": [], "images": {}}

    # -- inputs -------------------------------------------------------------------------
    def definition_files(self):
        """With the definition option: (project dir, [the file compose reads]). The text goes to a
        candidate beside the history (or to scratch in check mode); compose.yml in project_src is
        written only when the deploy is applied (commit_definition)."""
        src = self.p["project_src"]
        if not src:
            raise DeployError("definition is set but project_src is not.",
                              hint="Set project_src: the directory the definition is written to as compose.yml.")
        text = render_definition(self.p["definition"])
        path = os.path.join(src, DEFINITION_NAME)
        previous = read_text(path)
        candidate = os.path.join(self.workdir, DEFINITION_NAME + ".candidate")
        self.definition = {"path": path, "text": text, "previous": previous, "candidate": candidate}
        self.result["definition_file"] = {"path": path, "changed": previous != text}
        write_private(candidate, text)
        # A first deploy's project_src does not exist yet: it is created on commit, not before.
        return (src if os.path.isdir(src) else self.workdir), [candidate]

    def commit_definition(self, project):
        """Write compose.yml from the definition (when it differs); the project reads it from now on."""
        if self.definition is None:
            return project
        src = os.path.dirname(self.definition["path"])
        os.makedirs(src, mode=0o750, exist_ok=True)
        write_private(self.definition["path"], self.definition["text"], mode=0o640)
        return ComposeProject(project.name, src, [self.definition["path"]], project.override,
                              project.env_file, project.cli, project.docker_host, project.secrets)

    def definition_diff(self):
        if self.definition is None or self.definition["previous"] == self.definition["text"]:
            return []
        return [{"before": self.definition["previous"] or "", "after": self.definition["text"],
                 "before_header": self.definition["path"] + " (now)",
                 "after_header": self.definition["path"] + " (from definition)"}]

    def project_files(self):
        src, files = self.p["project_src"], self.p["files"] or []
        if not src and not files:
            raise DeployError("Neither project_src nor files is set.", hint="Give the project directory or its compose files.")
        base = src or os.path.dirname(os.path.abspath(files[0]))
        paths = [f if os.path.isabs(f) else os.path.join(base, f) for f in files]
        if not paths:
            found = default_compose_file(base)
            if not found:
                raise DeployError("No compose file in project_src %s." % base,
                                  hint="Add compose.yaml there, or list the files in files.")
            paths = [found]
        for path in paths:
            if not os.path.isfile(path):
                raise DeployError("Compose file %s does not exist." % path, hint="Check project_src and files.")
        return base, paths

    def run(self, command, what, check=True):
        return self.runner(command, check=check, what=what)

    def plan_project(self):
        # Check mode writes nothing on the host: the env file and candidates go to a scratch dir.
        if self.check_mode:
            self.scratch = tempfile.mkdtemp(prefix="bytelyst-deploy-")
        self.workdir = self.scratch or self.history_dir
        if self.p.get("definition") is not None:
            base, files = self.definition_files()
        else:
            base, files = self.project_files()
        self.env_path = os.path.join(self.workdir, ENV_NAME)
        write_private(self.env_path, env_file_text(self.p["env"]))
        return ComposeProject(self.name, base, files, None, self.env_path, self.p["docker_cli"] or "docker",
                              self.p["docker_host"], self.secrets)

    def load_config(self, project):
        out = self.run(project.config(), "validation of the compose files of %s" % self.name)
        items = parse_json_output(out.stdout, "docker compose config")
        config = items[0] if items else {}
        services = config.get("services") or {}
        unknown = sorted(set(self.p["images"] or {}) - set(services))
        if unknown:
            raise DeployError(
                "images names service(s) %s, which the compose files do not define (services: %s)."
                % (", ".join(unknown), ", ".join(sorted(services)) or "none"),
                hint="Correct the service names in images, or add the services to the compose files.")
        return config

    def wanted_refs(self, config):
        refs = {}
        for service, spec in sorted(config["services"].items()):
            ref = (self.p["images"] or {}).get(service) or spec.get("image")
            if not ref:
                raise DeployError("Service %s has no image (only a build section)." % service,
                                  hint="Build and push its image, then name it in images.")
            refs[service] = ref
        return refs

    def current_state(self, project):
        out = self.run(project.ps(), "listing the containers of %s" % self.name)
        return containers_by_service(parse_json_output(out.stdout, "docker compose ps"))

    def desired_hashes(self, project, images):
        path = os.path.join(self.workdir, OVERRIDE_NAME + ".candidate")
        write_private(path, render_override(images))
        try:
            out = self.run(project.with_override(path).config_hashes(), "hashing the configuration of %s" % self.name)
        finally:
            os.remove(path)
        return parse_config_hashes(out.stdout)

    def recreate_list(self, hashes, containers):
        return sorted(s for s, h in hashes.items()
                      if not (s in containers and containers[s]["config_hash"] == h and is_healthy(containers[s])))

    def check_ports(self, config, containers):
        ours = set()
        for container in containers.values():
            for pub in container["publishers"]:
                ours.add(int(pub.get("PublishedPort") or 0))
        for service, host_ip, port, protocol in published_ports(config):
            if port in ours:
                continue
            if not port_free(host_ip, port, protocol):
                raise DeployError(
                    "Port %s:%d/%s of service %s is already taken on the host." % (host_ip, port, protocol, service),
                    hint="Free the port or publish the service on another one; nothing was changed.")

    # -- applying ------------------------------------------------------------------------
    def gate(self, project, images, pull):
        """Write the override, run up --wait and the HTTP checks: (ok, reason, check results)."""
        write_private(self.override_path, render_override(images))
        up = self.run(project.up(self.p["wait_timeout"], pull), "compose up of %s" % self.name, check=False)
        if up.rc != 0:
            return False, "docker compose up --wait failed: %s" % up_failure(up.output)[-800:], []
        ok, results = run_checks(self.p["http_checks"])
        self.result["http_checks"] = [r.as_dict() for r in results]
        if not ok:
            return False, "HTTP check failed: " + "; ".join(r.describe() for r in results if not r.ok), results
        return True, "", results

    def failing_logs(self, project, images):
        containers = self.current_state(project)
        failing = sorted(s for s in images if not is_healthy(containers.get(s))) or sorted(images)
        logs = {}
        for service in failing:
            out = self.run(project.logs(service, LOG_TAIL), "logs of %s" % service, check=False)
            logs[service] = out.output.rstrip()[-3000:]
        return logs

    def apply(self, project, release, pull):
        """Deploy release behind the gate; on failure restore the current release and raise."""
        previous = self.history.current()
        ok, reason, dummy = self.gate(project, release["images"], pull)
        if ok:
            release["result"] = "success"
            self.history.record(release, make_current=True)
            self.history.save()
            self.history.audit(release["action"], release["id"], "success", self.triggered_by, images_text(release["images"]))
            return release
        logs = self.failing_logs(project, release["images"])
        release["result"], release["reason"] = "failed", reason
        self.history.record(release, make_current=False)
        self.history.save()
        self.history.audit(release["action"], release["id"], "failed", self.triggered_by, reason)
        log_text = "".join("\n--- %s (last %d lines) ---\n%s" % (s, LOG_TAIL, t) for s, t in sorted(logs.items()))
        details = dict(failed_release=release["id"], logs=logs, reason=reason)
        if previous is None:
            raise DeployError(
                "Release %s of %s failed its health gate: %s. There is no earlier release to roll back to, so the "
                "project is left as Compose left it.%s" % (release["id"], self.name, reason, log_text),
                running_release=None, **details)
        back = self.history.new_release("rollback", previous["images"], self.triggered_by, rollback_of=release["id"])
        back["restores"] = previous["id"]
        ok, back_reason, dummy = self.gate(project, previous["images"], "missing")
        back["result"], back["reason"] = ("success", "") if ok else ("failed", back_reason)
        self.history.record(back, make_current=ok)
        self.history.save()
        self.history.audit("rollback", back["id"], back["result"], self.triggered_by,
                           "restores %s after %s failed" % (previous["id"], release["id"]))
        if not ok:
            raise DeployError(
                "Release %s of %s failed its health gate (%s), and rolling back to release %s failed too (%s). "
                "The project may be down.%s" % (release["id"], self.name, reason, previous["id"], back_reason, log_text),
                running_release=None, rollback_release=back["id"], **details)
        raise DeployError(
            "Release %s of %s failed its health gate and was rolled back: %s. Now running release %s "
            "(the images of release %s), healthy.%s" % (release["id"], self.name, reason, back["id"], previous["id"], log_text),
            running_release=back["id"], restored_release=previous["id"], **details)

    # -- the run ---------------------------------------------------------------------------
    def target_images(self, config):
        if self.p["action"] == "rollback":
            target = self.history.get(self.p["rollback_to"]) if self.p["rollback_to"] else self.history.previous()
            if target is None or target.get("result") != "success":
                kept = ", ".join("%s (%s)" % (r["id"], r["result"]) for r in self.history.releases) or "none"
                raise DeployError(
                    "No healthy release %s to roll back to in the history of %s." % (self.p["rollback_to"] or "before the current one", self.name),
                    hint="Releases kept: %s." % kept)
            unknown = sorted(set(target["images"]) - set(config["services"]))
            if unknown:
                raise DeployError("Release %s has service(s) %s that the compose files no longer define." % (target["id"], ", ".join(unknown)),
                                  hint="Roll back with the compose files of that release.")
            return dict(target["images"]), target
        client = self.engine(self.p["docker_host"])
        images = {}
        for service, ref in sorted(self.wanted_refs(config).items()):
            images[service] = resolve_image(client, ref, self.p["pull_policy"], self.check_mode)["pinned"]
        return images, None

    def execute(self):
        lock = None
        try:
            validate_params(self.p)
            if not self.check_mode:
                os.makedirs(self.history_dir, mode=0o750, exist_ok=True)
                lock = ProjectLock(os.path.join(self.history_dir, "lock"), self.triggered_by,
                                   "%s of %s" % (self.p["action"], self.name))
                lock.acquire(self.p["lock_timeout"])
                self.result["lock"] = {"waited": round(lock.waited, 1), "taken_over": lock.taken_over}
                if lock.taken_over:
                    self.warn("Took over a stale deploy lock of a process that is gone: %s." % lock.taken_over)
            self.history.load()
            project = self.plan_project()
            config = self.load_config(project)
            refuse_risky(config, self.p.get("allow"), self.p["docker_host"])
            images, target = self.target_images(config)
            containers = self.current_state(project)
            hashes = self.desired_hashes(project, images)
            recreate = self.recreate_list(hashes, containers)
            current = self.history.current()
            before = current["images"] if current else dict((s, c["image"]) for s, c in containers.items())
            diff = {"before": images_text(before), "after": images_text(images),
                    "before_header": "running images", "after_header": "pinned images"}
            file_changes = self.definition_diff()
            # One diff for the images; a list of two when the definition changes compose.yml too.
            self.result.update(images=images, recreate=recreate, diff=[diff] + file_changes if file_changes else diff)
            in_sync = not recreate and current is not None and current["images"] == images
            if in_sync or self.check_mode:
                self.result["changed"] = not in_sync or bool(file_changes)
                self.result["release"] = current
                if not self.check_mode:
                    project = self.commit_definition(project)
                return self.finish(project if not self.check_mode else None)
            self.check_ports(config, containers)
            project = self.commit_definition(project)
            if target is not None:
                release = self.history.new_release("rollback", images, self.triggered_by)
                release["restores"] = target["id"]
            else:
                release = self.history.new_release("deploy", images, self.triggered_by)
            self.result["changed"] = True
            self.result["release"] = self.apply(project.with_override(self.override_path), release,
                                                "missing" if target is not None else "never")
            return self.finish(project)
        finally:
            if lock is not None:
                lock.release()
            if self.scratch:
                shutil.rmtree(self.scratch, ignore_errors=True)
            elif self.definition is not None and os.path.exists(self.definition["candidate"]):
                os.remove(self.definition["candidate"])

    def finish(self, project):
        if project is not None:
            self.result["containers"] = dict((s, c["id"]) for s, c in self.current_state(project).items())
        self.result["history"] = [dict((k, r.get(k)) for k in ("id", "action", "result", "time", "triggered_by"))
                                  for r in self.history.releases]
        return self.result
