# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deployer: one run of compose_deploy on the target host. PRIVATE to the collection.

A release is everything a deploy brings up: the compose files as deployed (copied, byte for
byte, into the release's directory in the history), the override pinning every image by
digest, the plain env and the names of the secrets, and the project directory the files'
relative paths resolve from. Compose always runs the release's copies, so what was
validated is what runs, and a rollback brings back a release's whole state, not only its
images.

A run plans first: stage the compose files and the env file, validate them, pin every
service's image (or take a release's state, for a rollback), and ask Compose which
services would be recreated. Outside check mode, and only when something differs, it
applies under the project lock: everything a rollback needs is written before `up`
starts; then the health gate (`up --wait`, the HTTP checks, every service running and
healthy). Any failure after `up` starts (the gate, a timeout, Compose failing, the history
not saving) brings the previous release back through the same gate, and every attempt,
refused ones included, leaves one audit line.

The pieces are elsewhere: Compose commands in _compose.py, the history in _release.py,
the lock in _lock.py, the HTTP checks in _health.py, `up` in its own process group in
_process_group.py. Commands go through `runner` and the engine client comes from `engine`,
so tests can fake both.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import getpass
import os
import shutil
import signal
import socket
import tempfile

from ansible_collections.bytelyst.deploy.plugins.module_utils._command import redact
from ansible_collections.bytelyst.deploy.plugins.module_utils._command import run as run_command
from ansible_collections.bytelyst.deploy.plugins.module_utils._compose import (
    ComposeProject, containers_by_service, default_compose_file, env_file_text, is_healthy, parse_config_hashes,
    parse_json_output, published_ports, render_definition, render_override, resolve_image, up_failure)
from ansible_collections.bytelyst.deploy.plugins.module_utils._connection import Connection
from ansible_collections.bytelyst.deploy.plugins.module_utils._deploy_input import check_project_name, refuse_risky, validate_params
from ansible_collections.bytelyst.deploy.plugins.module_utils._engine import engine_client
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._files import read_text, write_if_changed
from ansible_collections.bytelyst.deploy.plugins.module_utils._health import run_checks
from ansible_collections.bytelyst.deploy.plugins.module_utils._lock import ProjectLock, lock_path
from ansible_collections.bytelyst.deploy.plugins.module_utils._process_group import run_in_group
from ansible_collections.bytelyst.deploy.plugins.module_utils import _provenance
from ansible_collections.bytelyst.deploy.plugins.module_utils._release import (
    History, fingerprint, images_text, same_state, state_text)

OVERRIDE_NAME = "compose.bytelyst.yml"
ROLLBACK_OVERRIDE_NAME = "rollback.compose.bytelyst.yml"
DEFINITION_NAME = "compose.yml"
ENV_NAME = "deploy.env"
STAGE_NAME = ".next"
DEFAULT_HISTORY_ROOT = "/var/lib/bytelyst/deploy"
LOG_TAIL = 30


class Interrupted(BaseException):
    """SIGTERM or SIGINT arrived: stop, clean up, say so (BaseException: no `except Exception` swallows it)."""

    def __init__(self, signum):
        super(Interrupted, self).__init__(signum)
        self.signum = signum


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


def default_runner(command, check=True, what=None, keep_fds=(), started=None):
    """_command.run; `compose up` (the caller passes keep_fds/started) runs in its own process group."""
    if keep_fds or started is not None:
        return run_in_group(command, check=check, what=what, keep_fds=keep_fds, started=started)
    return run_command(command, check=check, what=what)


def write_private(path, text, mode=0o600):
    """Write text to path with mode (only when it differs), atomically; True when written."""
    return write_if_changed(path, text, mode)


def remove_quietly(path):
    if path and os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    elif path and os.path.lexists(path):
        try:
            os.remove(path)
        except OSError:
            pass


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


def plain_values(mapping):
    """Option values as the strings an env file carries (None is empty)."""
    return dict((str(k), "" if v is None else str(v)) for k, v in (mapping or {}).items())


class Spec(object):
    """The state of one release: a directory with its compose files and the pins override, the
    project directory their relative paths resolve from, the env, the secret names, the images."""

    def __init__(self, directory, files, project_dir, env, secret_names, images=None,
                 definition_file=None, pins_name=OVERRIDE_NAME, provenance=None, sbom_files=None):
        self.directory = directory
        self.files = list(files)
        self.project_dir = project_dir
        self.env = dict(env or {})
        self.secret_names = sorted(secret_names or [])
        self.images = dict(images or {})
        self.definition_file = definition_file
        self.pins_name = pins_name
        # Where the images come from (recorded and shown, never fingerprinted) and the SBOMs
        # kept in the directory.
        self.provenance = dict(provenance or {})
        self.sbom_files = dict(sbom_files or {})

    @property
    def paths(self):
        return [os.path.join(self.directory, name) for name in self.files]

    @property
    def pins(self):
        return os.path.join(self.directory, self.pins_name)

    def texts(self):
        return [read_text(path) or "" for path in self.paths]

    def fingerprint(self):
        return fingerprint(self.project_dir, self.texts(), self.images, self.env, self.secret_names)

    def state_text(self):
        return state_text(self.images, self.env, self.secret_names, self.provenance)

    def record(self, dir_name):
        """The fields of a release record that describe this state (provenance only when given)."""
        record = {"dir": dir_name, "files": list(self.files), "pins": self.pins_name, "project_dir": self.project_dir,
                  "env": dict(self.env), "secret_names": list(self.secret_names),
                  "definition_file": self.definition_file, "fingerprint": self.fingerprint()}
        if self.provenance:
            record.update(provenance=dict(self.provenance), sbom_files=dict(self.sbom_files))
        return record


class Deployer(object):
    """One run of the module: plan, then (outside check mode) apply behind the health gate."""

    def __init__(self, params, check_mode, warn, runner=default_runner, engine=engine_client):
        self.p = params
        self.check_mode = check_mode
        self.warn = warn
        self.runner = runner
        self.engine = engine
        self.name = params["project_name"]
        self.history_dir = params["history_dir"] or os.path.join(DEFAULT_HISTORY_ROOT, self.name)
        self.triggered_by = params["triggered_by"] or getpass.getuser()
        self.history = History(self.history_dir, self.name, params["keep_releases"])
        self.env = plain_values(params.get("env"))
        self.secret_env = plain_values(params.get("secrets"))
        # Only secret values are scrubbed, and only from what people see: env is plain configuration.
        self.secrets = sorted(set(v for v in self.secret_env.values() if v))
        self.provenance = {}  # the provenance option, checked (in begin)
        self.lock = None
        self.scratch = None
        self.workdir = None  # the history directory, or a scratch directory in check mode
        self.env_next = None  # the env file of the state being planned
        self.applying = None  # the release whose `up` has started
        self.audited = False
        self.client = None
        self._connection = None
        self.containers = {}
        self.result = {"changed": False, "override_file": None, "recreate": [], "images": {}}

    # -- small helpers --------------------------------------------------------------------
    def shown(self, text):
        """Text for people: secret values scrubbed."""
        return redact(text, self.secrets)

    def run(self, command, what, check=True, **kw):
        return self.runner(command, check=check, what=what, **kw)

    @property
    def connection(self):
        """The engine the options (or the DOCKER_* variables) name, for the SDK and Compose alike."""
        if self._connection is None:
            self._connection = Connection.from_options(self.p)
        return self._connection

    def docker_engine(self):
        if self.client is None:
            self.client = self.engine(self.connection)
        return self.client

    @property
    def stage_dir(self):
        return os.path.join(self.workdir, "releases", STAGE_NAME)

    @property
    def env_path(self):
        return os.path.join(self.history_dir, ENV_NAME)

    def project(self, spec, env_file):
        """The Compose project of a release state; before a definition's project_src exists,
        its relative paths resolve from the release directory."""
        project_dir = spec.project_dir if os.path.isdir(spec.project_dir) else spec.directory
        return ComposeProject(self.name, project_dir, spec.paths, spec.pins, env_file,
                              self.p["docker_cli"] or "docker", self.connection, self.secrets)

    def write_env(self, path, spec):
        """The env file of a state: its plain env and the secrets given to this task (mode 0600)."""
        values = dict(spec.env)
        values.update(self.secret_env)
        write_private(path, env_file_text(values))
        return path

    def audit(self, action, release_id, result, detail="", who=None):
        """One audit line; a failure to write it never hides the outcome (it is returned instead)."""
        if self.check_mode:
            return None
        try:
            self.history.audit(action, release_id, result, who or self.triggered_by, self.shown(detail))
        except (IOError, OSError) as exc:
            return "the audit log could not be written: %s" % exc
        return None

    # -- inputs ---------------------------------------------------------------------------
    def check_inputs(self):
        both = sorted(set(self.env) & set(self.secret_env))
        if both:
            raise DeployError("%s given both in env and in secrets." % ", ".join(both),
                              hint="Pass each variable once: plain configuration in env, secret values in secrets.")
        self.provenance = _provenance.validate(self.p.get("provenance"))
        if self.provenance and self.p["action"] == "rollback":
            raise DeployError("provenance is given to a rollback. Nothing was changed.",
                              hint="Leave it out: a rollback records the provenance of the release it restores.")

    def sources(self):
        """[(path, text)] of this run's compose files, the project directory, the definition's path."""
        src, files = self.p["project_src"], self.p["files"] or []
        if self.p.get("definition") is not None:
            if not src:
                raise DeployError("definition is set but project_src is not.",
                                  hint="Set project_src: the directory the definition is written to as compose.yml.")
            path = os.path.join(src, DEFINITION_NAME)
            return [(path, render_definition(self.p["definition"]))], src, path
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
        texts = []
        for path in paths:
            text = read_text(path) if os.path.isfile(path) else None
            if text is None:
                raise DeployError("Compose file %s does not exist." % path, hint="Check project_src and files.")
            texts.append((path, text))
        return texts, base, None

    def stage(self, texts, project_dir, env, definition_file=None):
        """Copy the compose files into a fresh staging directory: the release directory to be."""
        remove_quietly(self.stage_dir)
        os.makedirs(self.stage_dir, mode=0o750)
        names = []
        for index, (source, text) in enumerate(texts):
            names.append("%d-%s" % (index + 1, os.path.basename(source)))
            write_private(os.path.join(self.stage_dir, names[-1]), text, mode=0o640)
        # The SBOMs are checked against their digests here, before anything outside the stage changes.
        sbom_files = {}
        for service, entry in sorted(self.provenance.items()):
            source = _provenance.source_file(entry)
            if source is not None:
                sbom_files[service] = _provenance.copy_verified(service, source, entry["sbom_sha256"], self.stage_dir)
            elif entry.get("sbom") and not _provenance.URL.match(entry["sbom"]):
                self.warn("The SBOM of %s, %s, is not on the deploy host: the release records its path and digest "
                          "only (give provenance.%s.sbom_file to keep it with the release)." % (service, entry["sbom"], service))
        return Spec(self.stage_dir, names, project_dir, env, self.secret_env, definition_file=definition_file,
                    provenance=_provenance.recorded(self.provenance), sbom_files=sbom_files)

    def load_config(self, project):
        out = self.run(project.config(), "validation of the compose files of %s" % self.name)
        items = parse_json_output(out.stdout, "docker compose config")
        config = items[0] if items else {}
        services = config.get("services") or {}
        unknown = sorted(set(self.p["images"] or {}) - set(services))
        if unknown and self.p["action"] == "deploy":
            raise DeployError(
                "images names service(s) %s, which the compose files do not define (services: %s)."
                % (", ".join(unknown), ", ".join(sorted(services)) or "none"),
                hint="Correct the service names in images, or add the services to the compose files.")
        if self.p["action"] == "deploy":
            _provenance.check_services(self.provenance, services)
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

    def plan_deploy(self, env_file, images=None):
        """Stage this run's files, validate them, pin the images (or take `images`): (spec, config)."""
        texts, project_dir, definition_file = self.sources()
        spec = self.stage(texts, project_dir, self.env, definition_file)
        self.write_env(env_file, spec)
        config = self.load_config(self.project(spec, env_file).with_override(None))
        if images is None:
            images = {}
            for service, ref in sorted(self.wanted_refs(config).items()):
                images[service] = resolve_image(self.docker_engine(), ref, self.p["pull_policy"], self.check_mode)["pinned"]
        else:
            unknown = sorted(set(images) - set(config.get("services") or {}))
            if unknown:
                raise DeployError("The release has service(s) %s that the compose files no longer define."
                                  % ", ".join(unknown), hint="Roll back with the compose files of that release.")
        spec.images = images
        write_private(spec.pins, render_override(images))
        return spec, config

    def rollback_target(self):
        target = self.history.get(self.p["rollback_to"]) if self.p["rollback_to"] else self.history.previous()
        if target is None or target.get("result") != "success":
            kept = ", ".join("%s (%s)" % (r["id"], r["result"]) for r in self.history.releases) or "none"
            raise DeployError(
                "No healthy release %s to roll back to in the history of %s."
                % (self.p["rollback_to"] or "before the current one", self.name),
                hint="Releases kept: %s." % kept)
        return target

    def spec_of(self, release):
        """The state a recorded release deployed, or None when the history does not hold its files."""
        if not release.get("dir"):
            return None
        spec = Spec(self.history.release_dir(release["dir"]), release.get("files") or [], release.get("project_dir"),
                    release.get("env"), release.get("secret_names"), release["images"],
                    release.get("definition_file"), release.get("pins") or OVERRIDE_NAME,
                    release.get("provenance"), release.get("sbom_files"))
        if not spec.files or not all(os.path.isfile(p) for p in spec.paths + [spec.pins]):
            return None
        return spec

    def plan_rollback(self, env_file):
        """The state of the release to return to: (spec, config, target)."""
        target = self.rollback_target()
        spec = self.spec_of(target)
        if spec is None:
            self.warn("Release %s has no compose files in the history (it was recorded before releases kept them, "
                      "or its directory is gone): it is brought back as its images with the compose files and env "
                      "given to this task." % target["id"])
            spec, config = self.plan_deploy(env_file, images=target["images"])
            return spec, config, target
        missing = sorted(set(spec.secret_names) - set(self.secret_env))
        if missing:
            raise DeployError(
                "Release %s used the secret(s) %s, which this task does not pass in secrets." % (target["id"], ", ".join(missing)),
                hint="Pass them in secrets: a rollback uses the secret values given to the task now.")
        self.write_env(env_file, spec)
        config = self.load_config(self.project(spec, env_file))
        return spec, config, target

    # -- planning ---------------------------------------------------------------------------
    def current_state(self, project):
        out = self.run(project.ps(), "listing the containers of %s" % self.name)
        return containers_by_service(parse_json_output(out.stdout, "docker compose ps"))

    def desired_hashes(self, project):
        out = self.run(project.config_hashes(), "hashing the configuration of %s" % self.name)
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

    def image_id_of(self, container_id):
        try:
            return self.docker_engine().containers.get(container_id).attrs.get("Image")
        except Exception:  # the engine's answer only sharpens the pin; the reference serves otherwise
            return None

    def found_state(self, containers, spec):
        """What runs now when the history does not know it (the history directory was deleted):
        a release-like record of the running containers' images (by digest, or image id) and the
        compose files they were started from (or, when those are gone, this run's files)."""
        images = {}
        for service, container in sorted(containers.items()):
            ref = container["image"] or ""
            images[service] = ref if "@sha256:" in ref else (self.image_id_of(container["id"]) or ref)
        files, workdir = [], None
        for container in containers.values():
            if container["config_files"]:
                files = [f for f in container["config_files"]
                         if os.path.basename(f) not in (OVERRIDE_NAME, ROLLBACK_OVERRIDE_NAME)]
                workdir = container["working_dir"]
                break
        texts = [(f, read_text(f)) for f in files]
        if not texts or any(t is None for dummy, t in texts):
            texts, workdir = list(zip(spec.paths, spec.texts())), spec.project_dir
        return {"id": None, "images": images, "found": {"texts": texts, "project_dir": workdir or spec.project_dir}}

    # -- applying ---------------------------------------------------------------------------
    def place(self, spec, release):
        """Move a staged release directory to releases/<id>; a rollback's files stay where they are."""
        if spec.directory != self.stage_dir:
            return spec, os.path.basename(spec.directory)
        target = self.history.release_dir(release["id"])
        remove_quietly(target)  # left by a run that died before saving its history
        os.rename(spec.directory, target)
        placed = Spec(target, spec.files, spec.project_dir, spec.env, spec.secret_names, spec.images,
                      spec.definition_file, spec.pins_name, spec.provenance, spec.sbom_files)
        return placed, release["id"]

    def commit_definition(self, spec):
        """A state that came from a definition writes its compose.yml in project_src (when it differs)."""
        if not spec.definition_file:
            return False
        directory = os.path.dirname(spec.definition_file)
        if not os.path.isdir(directory):
            os.makedirs(directory, mode=0o750)
        return write_private(spec.definition_file, spec.texts()[0], mode=0o640)

    def rollback_spec(self, previous, spec, release):
        """The state to return to if release fails, with everything it needs written now (before `up`)."""
        if "found" in previous:
            name = "found-before-%s" % release["id"]
            directory = self.history.release_dir(name)
            remove_quietly(directory)
            os.makedirs(directory, mode=0o750)
            names = []
            for index, (source, text) in enumerate(previous["found"]["texts"]):
                names.append("%d-%s" % (index + 1, os.path.basename(source)))
                write_private(os.path.join(directory, names[-1]), text, mode=0o640)
            back = Spec(directory, names, previous["found"]["project_dir"], self.env, self.secret_env, previous["images"])
            write_private(back.pins, render_override(back.images))
            return back, name
        back = self.spec_of(previous)
        if back is not None:
            return back, previous["dir"]
        # A release of the old format: its images, with the files and env of this run.
        back = Spec(spec.directory, spec.files, spec.project_dir, spec.env, spec.secret_names, previous["images"],
                    spec.definition_file, ROLLBACK_OVERRIDE_NAME)
        write_private(back.pins, render_override(back.images))
        return back, os.path.basename(spec.directory)

    def gate(self, project, images, pull, up_timeout=None):
        """up --wait, the HTTP checks, every service running and healthy: (ok, reason, containers).
        Never raises for a failure of the release: every failure is a reason to roll back.
        up_timeout: the whole up's limit (None: the up_timeout option, else Compose's default)."""
        keep = (self.lock.fd,) if self.lock is not None and self.lock.held else ()
        try:
            up = self.run(project.up(self.p["wait_timeout"], pull, up_timeout or self.p.get("up_timeout")),
                          "compose up of %s" % self.name,
                          check=False, keep_fds=keep, started=self.started_compose)
        except DeployError as err:
            return False, self.shown(err.message), {}
        finally:
            if self.lock is not None:
                self.lock.note(compose_pgid=None)
        if up.rc != 0:
            return False, "docker compose up --wait failed: %s" % self.shown(up_failure(up.output))[-800:], {}
        try:
            ok, results = run_checks(self.http_checks_for(project))
        except Exception as exc:  # a check that cannot even run fails the gate like one that fails
            return False, "the HTTP checks could not run: %s" % self.shown(str(exc) or exc.__class__.__name__), {}
        self.result["http_checks"] = [r.as_dict() for r in results]
        if not ok:
            return False, "HTTP check failed: " + self.shown("; ".join(r.describe() for r in results if not r.ok)), {}
        try:
            containers = self.current_state(project)
        except DeployError as err:
            return False, "listing the containers after up failed: %s" % self.shown(err.message), {}
        sick = sorted(s for s in images if not is_healthy(containers.get(s)))
        if sick:
            return False, "service(s) %s not running and healthy after up" % ", ".join(sick), containers
        return True, "", containers

    def http_checks_for(self, project):
        """The HTTP checks of the gate for project (the proxy mode checks each new container directly)."""
        return self.p["http_checks"]

    def started_compose(self, pgid):
        if self.lock is not None:
            self.lock.note(compose_pgid=pgid)

    def failing_logs(self, project, images):
        try:
            containers = self.current_state(project)
        except DeployError:
            containers = {}
        failing = sorted(s for s in images if not is_healthy(containers.get(s))) or sorted(images)
        logs = {}
        for service in failing:
            try:
                out = self.run(project.logs(service, LOG_TAIL), "logs of %s" % service, check=False)
                logs[service] = self.shown(out.output.rstrip()[-3000:])
            except DeployError as err:
                logs[service] = "(no logs: %s)" % self.shown(err.message)
        return logs

    def save(self, release, make_current, problems):
        try:
            self.history.commit(release, make_current)
        except (IOError, OSError) as exc:
            problems.append("the release history could not be saved (%s): %s" % (release["id"], exc))

    def apply(self, spec, release, pull, previous):
        """Bring release up behind the gate; on any failure bring `previous` back and raise."""
        # Everything is written before `up` starts: a full disk fails here, with nothing changed.
        back = back_dir = back_env = None
        try:
            spec, dir_name = self.place(spec, release)
            release.update(spec.record(dir_name))
            if previous is not None:
                back, back_dir = self.rollback_spec(previous, spec, release)
                self.history.in_use.add(back_dir)
                back_env = self.write_env(os.path.join(self.history_dir, "rollback.env"), back)
            self.commit_definition(spec)
            os.rename(self.env_next, self.env_path)
        except (IOError, OSError) as exc:
            raise DeployError("Could not write the files of release %s in %s: %s." % (release["id"], self.history_dir, exc),
                              hint="Free space or fix permissions there; no container was touched.")
        project = self.project(spec, self.env_path)
        self.applying = release
        if self.lock is not None:
            self.lock.note(release=release["id"])
        ok, reason, containers = self.gate(project, spec.images, pull)
        problems = []
        if ok:
            release["result"] = "success"
            self.save(release, True, problems)
            if not problems:
                self.audited = True
                audit_problem = self.audit(release["action"], release["id"], "success", images_text(release["images"]))
                if audit_problem:
                    self.warn("Release %s is healthy, but %s." % (release["id"], audit_problem))
                self.containers = containers
                self.result["override_file"] = spec.pins
                return release
            ok, reason = False, problems.pop()
        logs = self.failing_logs(project, spec.images)
        release["result"], release["reason"] = "failed", reason
        self.save(release, False, problems)
        self.audited = True
        problems.append(self.audit(release["action"], release["id"], "failed", reason))
        log_text = "".join("\n--- %s (last %d lines) ---\n%s" % (s, LOG_TAIL, t) for s, t in sorted(logs.items()))
        details = dict(failed_release=release["id"], logs=logs, reason=reason)
        if back is None:
            raise DeployError(
                "Release %s of %s failed its health gate: %s. There is no earlier release to roll back to, so the "
                "project is left as Compose left it.%s%s" % (release["id"], self.name, reason, self.problem_text(problems), log_text),
                running_release=None, **details)
        back_release = self.history.new_release("rollback", back.images, self.triggered_by, rollback_of=release["id"],
                                                **back.record(back_dir))
        back_release["restores"] = previous.get("id")
        restores = ("release %s" % previous["id"]) if previous.get("id") else "the containers that ran before %s" % release["id"]
        self.applying = back_release
        if self.lock is not None:
            self.lock.note(release=back_release["id"])
        # The restored state is not held to the failed release's up_timeout: it ran before, and
        # bringing it back deserves Compose's whole wait (wait_timeout plus the pulls' margin).
        ok, back_reason, containers = self.gate(self.project(back, back_env), back.images, "missing",
                                                up_timeout=max(int(self.p.get("up_timeout") or 0),
                                                               int(self.p["wait_timeout"]) + 180))
        back_release["result"], back_release["reason"] = ("success", "") if ok else ("failed", back_reason)
        if ok:
            try:
                os.rename(back_env, self.env_path)
                self.commit_definition(back)
            except (IOError, OSError) as exc:
                problems.append("the env file or compose.yml of the restored state could not be written: %s" % exc)
            self.containers = containers
            self.result["override_file"] = back.pins
        self.save(back_release, ok, problems)
        problems.append(self.audit("rollback", back_release["id"], back_release["result"],
                                   "restores %s after %s failed" % (restores, release["id"])))
        if not ok:
            raise DeployError(
                "Release %s of %s failed its health gate (%s), and rolling back to %s failed too (%s). "
                "The project may be down.%s%s" % (release["id"], self.name, reason, restores, back_reason,
                                                  self.problem_text(problems), log_text),
                running_release=None, rollback_release=back_release["id"], **details)
        raise DeployError(
            "Release %s of %s failed its health gate and was rolled back: %s. Now running release %s "
            "(the state of %s), healthy.%s%s" % (release["id"], self.name, reason, back_release["id"], restores,
                                                 self.problem_text(problems), log_text),
            running_release=back_release["id"], restored_release=previous.get("id"), **details)

    @staticmethod
    def problem_text(problems):
        problems = [p for p in problems if p]
        return (" Also, %s." % "; ".join(problems)) if problems else ""

    # -- the run ---------------------------------------------------------------------------
    def take_lock(self):
        self.lock = ProjectLock(lock_path(self.history_dir), self.triggered_by, "%s of %s" % (self.p["action"], self.name))
        try:
            self.lock.acquire(self.p["lock_timeout"])
        except DeployError as err:
            self.lock = None
            self.audited = True
            self.audit(self.p["action"], None, "lock-timeout", err.message)
            raise
        self.lock.note(action=self.p["action"])
        self.result["lock"] = {"waited": round(self.lock.waited, 1), "taken_over": self.lock.taken_over}
        holder = self.lock.taken_over
        if holder:
            self.warn("Took over the deploy lock from a run that ended without releasing it: %s (pid %s since %s)."
                      % (holder.get("who"), holder.get("pid"), holder.get("since")))
            self.audit(holder.get("action") or "deploy", holder.get("release"), "interrupted",
                       "pid %s on %s since %s ended without finishing; the next run took over its lock"
                       % (holder.get("pid"), holder.get("host"), holder.get("since")), who=holder.get("who"))

    def execute(self):
        # The project name names the history directory, where even a refusal is audited: a bad
        # one is refused before anything is written there.
        check_project_name(self.p.get("project_name"))
        handlers = {}
        try:
            for signum in (signal.SIGTERM, signal.SIGINT):
                handlers[signum] = signal.signal(signum, _raise_interrupted)
        except ValueError:  # not the main thread: leave signals alone
            pass
        try:
            return self._execute()
        except DeployError as err:
            if not self.audited:
                self.audit(self.p["action"], None, "refused", err.message)
            raise
        except (IOError, OSError) as exc:
            if not self.audited:
                self.audit(self.p["action"], None, "refused", str(exc))
            where = self.workdir or self.history_dir
            raise DeployError("The %s of %s could not write in %s: %s." % (self.p["action"], self.name, where, exc),
                              hint="Free space or fix permissions there; no container was touched.")
        except Interrupted as exc:
            release = self.applying
            if release is not None and release["result"] == "pending":
                release["result"], release["reason"] = "failed", "interrupted by signal %d" % exc.signum
                self.save(release, False, [])
            self.audit(self.p["action"], release["id"] if release else None, "interrupted",
                       "signal %d%s" % (exc.signum, " during compose up" if release else ""))
            raise DeployError(
                "The %s of %s was interrupted (signal %d)%s." % (
                    self.p["action"], self.name, exc.signum,
                    ", after release %s started: its containers may be half replaced" % release["id"] if release else
                    " before anything changed"),
                hint="Run the deploy again; it compares what runs with what it should run.")
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
            if self.lock is not None:
                self.lock.release()
            if self.scratch:
                shutil.rmtree(self.scratch, ignore_errors=True)
            elif self.workdir:
                for path in (self.stage_dir, self.env_next, os.path.join(self.history_dir, "rollback.env")):
                    remove_quietly(path)

    def begin(self):
        """Create the history directory, take the lock, check the options, load the history, and
        set the working directory (a scratch directory in check mode)."""
        if not self.check_mode:
            try:
                if not os.path.isdir(self.history_dir):
                    os.makedirs(self.history_dir, mode=0o750)
            except OSError as exc:
                raise DeployError("Cannot create the history directory %s: %s." % (self.history_dir, exc),
                                  hint="Create it, or set history_dir to a directory the deploying user can write.")
            self.take_lock()
        validate_params(self.p)
        self.check_inputs()
        self.history.load(use_previous=self.p["action"] == "rollback")
        if self.history.loaded_from == self.history.previous_path:
            self.warn("The release history %s is damaged; this rollback uses its previous copy %s."
                      % (self.history.path, self.history.previous_path))
        # Check mode writes nothing on the host: the staged files and env go to a scratch dir.
        if self.check_mode:
            self.scratch = tempfile.mkdtemp(prefix="bytelyst-deploy-")
        self.workdir = self.scratch or self.history_dir
        self.env_next = os.path.join(self.workdir, ENV_NAME + ".next")

    def _execute(self):
        self.begin()
        rollback = self.p["action"] == "rollback"
        if rollback:
            spec, config, target = self.plan_rollback(self.env_next)
        else:
            (spec, config), target = self.plan_deploy(self.env_next), None
        refuse_risky(config, self.p.get("allow"), self.connection.host)
        project = self.project(spec, self.env_next)
        containers = self.current_state(project)
        recreate = self.recreate_list(self.desired_hashes(project), containers)
        current = self.history.current()
        state = spec.fingerprint()
        in_sync = not recreate and current is not None and same_state(current, state, spec.images)
        before = (state_text(current["images"], current.get("env"), current.get("secret_names"), current.get("provenance"))
                  if current else images_text(dict((s, c["image"]) for s, c in containers.items())))
        # In sync, the running release stays as recorded, provenance included (a new scan of the
        # same images is not a new release).
        after = before if in_sync else spec.state_text()
        diff = {"before": before, "after": after, "before_header": "running release", "after_header": "this release"}
        file_changes = self.definition_changes(spec)
        # One diff for the release; a list when a definition changes compose.yml too.
        self.result.update(images=spec.images, recreate=recreate, diff=[diff] + file_changes if file_changes else diff)
        if in_sync or self.check_mode:
            self.result["changed"] = not in_sync or bool(file_changes)
            self.result["release"] = current
            current_spec = self.spec_of(current) if current else None
            self.result["override_file"] = current_spec.pins if current_spec else None
            if not self.check_mode:
                self.commit_definition(spec)
                self.containers = containers
            return self.finish()
        self.check_ports(config, containers)
        previous = current
        if previous is None and containers and not rollback:
            previous = self.found_state(containers, spec)
        if target is not None:
            release = self.history.new_release("rollback", spec.images, self.triggered_by)
            release["restores"] = target["id"]
        else:
            release = self.history.new_release("deploy", spec.images, self.triggered_by)
        self.result["changed"] = True
        self.result["release"] = self.apply(spec, release, "missing" if target is not None else "never", previous)
        return self.finish()

    def definition_changes(self, spec):
        if not spec.definition_file:
            return []
        previous, text = read_text(spec.definition_file), spec.texts()[0]
        self.result["definition_file"] = {"path": spec.definition_file, "changed": previous != text}
        if previous == text:
            return []
        return [{"before": previous or "", "after": text,
                 "before_header": spec.definition_file + " (now)",
                 "after_header": spec.definition_file + " (this release)"}]

    def finish(self):
        if not self.check_mode:
            self.result["containers"] = dict((s, c["id"]) for s, c in self.containers.items())
        self.result["history"] = [dict((k, r.get(k)) for k in ("id", "action", "result", "time", "triggered_by"))
                                  for r in self.history.releases]
        return self.result
