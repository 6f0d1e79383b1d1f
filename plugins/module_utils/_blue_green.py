# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A blue/green deploy behind the proxy: one run of proxy_deploy. PRIVATE to the collection.

A product runs as two Compose projects, <project>-blue and <project>-green; the proxy routes
to one of them (the active color). A deploy brings the release up as the other color beside
the running one, gates it (`up --wait`, the HTTP checks on each new container directly, every
service running and healthy), then switches the proxy's routes (validated by nginx before they
take effect, confirmed by asking the proxy's workers), waits until the old workers have
finished their requests (the drain timeout), and only then stops the old color. A release that
fails its gate is stopped before any request reaches it; a proxy that refuses the new routes,
does not take them or restarts fails the deploy the same way: the old color never stopped
serving.

Everything else is compose_deploy's: the release (files, pins, env, secret names), the
history and audit log, the lock, the plan and the gate come from the Deployer, which this
extends; the release record adds `color`. A rollback is a switch back: the release to return
to is brought up as the inactive color, which, when it still holds that release's containers
(kept stopped or running, `keep_previous`), only starts them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import re

from ansible_collections.bytelyst.deploy.plugins.module_utils._deployer import Deployer, default_runner, write_private
from ansible_collections.bytelyst.deploy.plugins.module_utils._deploy_input import refuse_risky
from ansible_collections.bytelyst.deploy.plugins.module_utils._engine import engine_client
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError
from ansible_collections.bytelyst.deploy.plugins.module_utils._proxy import (
    CONF_DIR, check_product_config, check_routes, network_override, render_product)
from ansible_collections.bytelyst.deploy.plugins.module_utils._proxy_host import ProxyHost
from ansible_collections.bytelyst.deploy.plugins.module_utils._release import images_text, same_state, state_text

COLORS = ("blue", "green")
NETWORK_FILE = "proxy-network.yml"


def other(color):
    return "green" if color == "blue" else "blue"


class BlueGreen(Deployer):
    def __init__(self, params, check_mode, warn, runner=default_runner, engine=engine_client, proxy=None):
        super(BlueGreen, self).__init__(params, check_mode, warn, runner, engine)
        self.color = "blue"
        self.proxy = proxy
        self.routes = None
        self.tls = None

    # -- the Deployer, per color --------------------------------------------------------------
    def color_env(self, color):
        return os.path.join(self.history_dir, "deploy-%s.env" % color)

    def project(self, spec, env_file):
        project = super(BlueGreen, self).project(spec, env_file)
        project.name = "%s-%s" % (self.name, self.color)
        return project

    def stage(self, texts, project_dir, env, definition_file=None):
        """The release's files, plus one attaching the routed services to the proxy's network."""
        spec = super(BlueGreen, self).stage(texts, project_dir, env, definition_file)
        name = "%d-%s" % (len(spec.files) + 1, NETWORK_FILE)
        services = sorted(set(r["service"] for r in self.routes))
        write_private(os.path.join(spec.directory, name), network_override(services, self.proxy.spec["network"]), mode=0o640)
        spec.files.append(name)
        return spec

    def http_checks_for(self, project):
        """Each route's health path on its new container, by the container's address on the proxy
        network, then its warm-up paths (each must answer 200): all before the switch."""
        containers = self.current_state(project)
        checks = []
        for route in self.routes:
            warmup = route.get("warmup_paths") or []
            if not route["health_path"] and not warmup:
                continue
            address = self.address_of(containers.get(route["service"]), route["service"])
            base = "http://%s:%d" % (address, route["port"])
            if route["health_path"]:
                checks.append({"url": base + route["health_path"], "status": route["health_status"],
                               "timeout": route["health_timeout"]})
            checks.extend({"url": base + path, "status": 200, "timeout": route["health_timeout"]} for path in warmup)
        return checks

    def address_of(self, container, service):
        if not container:
            raise DeployError("Service %s has no container." % service)
        attrs = self.docker_engine().containers.get(container["id"]).attrs
        networks = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
        address = (networks.get(self.proxy.spec["network"]) or {}).get("IPAddress")
        if not address:
            raise DeployError("Container %s is not on the proxy network %s." % (container["name"], self.proxy.spec["network"]))
        return address

    # -- helpers ------------------------------------------------------------------------------
    def route_files(self, containers):
        upstreams = {}
        for route in self.routes:
            container = containers.get(route["service"])
            if not container:
                raise DeployError("Service %s of %s-%s has no container to route to." % (route["service"], self.name, self.color))
            upstreams[route["service"]] = "%s:%d" % (container["name"], route["port"])
        return render_product(self.name, self.routes, upstreams, self.tls_paths())

    def read_tls(self):
        """The user's certificate and key (bytes) and a hash of both, or None without TLS."""
        if not self.p.get("tls_certificate"):
            return None
        texts = []
        for option in ("tls_certificate", "tls_key"):
            path = self.p.get(option)
            try:
                with open(path, "rb") as f:
                    texts.append(f.read())
            except (IOError, OSError, TypeError) as exc:
                raise DeployError("%s %s cannot be read: %s." % (option, path, exc),
                                  hint="Give the path of a PEM file on the host (both tls_certificate and tls_key).")
        return texts[0], texts[1], hashlib.sha256(texts[0] + b"\0" + texts[1]).hexdigest()[:12]

    def cert_name(self, suffix):
        return "%s-%s.%s" % (self.name, self.tls[2], suffix)

    def tls_paths(self):
        """Inside the proxy. Named by content, so a new certificate never replaces the one the live
        configuration uses before nginx has accepted it."""
        if not self.tls:
            return None
        return {"certificate": "%s/certs/%s" % (CONF_DIR, self.cert_name("crt")),
                "key": "%s/certs/%s" % (CONF_DIR, self.cert_name("key"))}

    def install_certificates(self):
        """Write the certificate and key into the proxy's directory (the key readable by the proxy's user only)."""
        if not self.tls:
            return
        directory = os.path.join(self.proxy.spec["config_dir"], "certs")
        if not os.path.isdir(directory):
            os.makedirs(directory, mode=0o755)
        uid, gid = (int(x) for x in (self.proxy.spec["user"].split(":") + ["0"])[:2])
        for data, suffix, mode in ((self.tls[0], "crt", 0o644), (self.tls[1], "key", 0o600)):
            target = os.path.join(directory, self.cert_name(suffix))
            fd = os.open(target + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(target + ".tmp", mode)
            os.chown(target + ".tmp", uid, gid)
            os.rename(target + ".tmp", target)

    def remove_unused_certificates(self):
        """The product's certificate files the live configuration does not name (an older
        certificate after a switch, or the new one after nginx refused it)."""
        directory = os.path.join(self.proxy.spec["config_dir"], "certs")
        if not os.path.isdir(directory):
            return
        live = self.proxy.live_files(self.name).get("conf") or ""
        pattern = re.compile(r"^%s-[0-9a-f]{12}\.(crt|key)$" % re.escape(self.name))
        for name in os.listdir(directory):
            if pattern.match(name) and "/certs/%s;" % name not in live:
                os.remove(os.path.join(directory, name))

    def compose_of(self, release, color):
        """The Compose project of a recorded release as color (None when its files are gone)."""
        spec = self.spec_of(release) if release else None
        if spec is None:
            return None
        keep, self.color = self.color, color
        try:
            return self.project(spec, self.color_env(color))
        finally:
            self.color = keep

    # -- the run ------------------------------------------------------------------------------
    def _execute(self):
        self.begin()
        if self.proxy is None:
            self.proxy = ProxyHost(self.p.get("proxy"), self.runner, self.docker_engine(), self.p["docker_cli"], self.p["docker_host"])
        if self.p.get("http_checks"):
            raise DeployError("http_checks is not used behind the proxy.",
                              hint="Give each route a health_path: it is checked on each new container directly.")
        self.routes = check_routes(self.p.get("routes"))
        for option, low, high in (("drain_timeout", 0, 3600), ("reload_timeout", 1, 300)):
            value = self.p.get(option)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise DeployError("%s is %r; it is a number of seconds from %d to %d." % (option, value, low, high),
                                  hint="Give %s within those bounds." % option)
        self.tls = self.read_tls()
        current = self.history.current()
        active = current.get("color") if current else None
        if current is not None and active not in COLORS:
            raise DeployError("The current release %s of %s was not deployed behind the proxy (it has no color)."
                              % (current["id"], self.name),
                              hint="Deploy behind the proxy with a history_dir of its own, then stop the in-place project.")
        # What the proxy routes to wins over the history: a run stopped between the switch and
        # saving its release must not bring the next release up over the color that serves.
        serving = self.proxy.live_color(self.name)
        if serving and active and serving != active:
            self.warn("The proxy routes %s to %s, but its history's current release %s ran on %s (a run was "
                      "interrupted after the switch); %s is treated as the serving color."
                      % (self.name, serving, current["id"], active, serving))
            active = serving
        rollback = self.p["action"] == "rollback"
        self.color = other(active) if active else "blue"
        if rollback:
            spec, config, target = self.plan_rollback(self.env_next)
        else:
            (spec, config), target = self.plan_deploy(self.env_next), None
        check_routes(self.p.get("routes"), set(config.get("services") or {}))
        check_product_config(config, self.name)
        refuse_risky(config, self.p.get("allow"), self.p["docker_host"])
        state = spec.fingerprint()
        result = self.result
        result.update(images=spec.images, color=self.color, previous_color=active)
        # In sync: the active color runs this state, healthy, and the proxy routes to it.
        in_sync = False
        if current is not None and same_state(current, state, spec.images):
            keep, self.color = self.color, active
            project = self.project(spec, self.env_next)
            containers = self.current_state(project)
            if not self.recreate_list(self.desired_hashes(project), containers):
                try:
                    in_sync = self.proxy.plan() is None and self.proxy.in_sync(self.name, self.route_files(containers))
                except DeployError:
                    in_sync = False
            if in_sync:
                self.containers = containers
                result["color"] = active
            else:
                self.color = keep
        before = (state_text(current["images"], current.get("env"), current.get("secret_names"), current.get("provenance"))
                  if current else "")
        result["diff"] = {"before": before, "after": before if in_sync else spec.state_text(),
                          "before_header": "running release (%s)" % (active or "none"),
                          "after_header": "this release (%s)" % (active if in_sync else self.color)}
        if in_sync or self.check_mode:
            result["changed"] = not in_sync
            result["release"] = current
            if self.check_mode and not in_sync:
                proxy_plan = self.proxy.plan()
                result["proxy"] = {"container": proxy_plan or "running"}
            return self.finish()
        if target is not None:
            release = self.history.new_release("rollback", spec.images, self.triggered_by)
            release["restores"] = target["id"]
        else:
            release = self.history.new_release("deploy", spec.images, self.triggered_by)
        result["changed"] = True
        result["release"] = self.switch_to(spec, release, "missing" if target is not None else "never", current, active)
        return self.finish()

    def switch_to(self, spec, release, pull, current, active):
        """Bring release up as self.color, gate it, switch the proxy, drain, stop the old color."""
        drain_timeout = self.p["drain_timeout"]
        result = self.result
        proxy_changed = self.proxy.ensure(drain_timeout)
        result["proxy"] = {"container": self.proxy.name, "changed": proxy_changed}
        self.install_certificates()
        try:
            spec, dir_name = self.place(spec, release)
            release.update(spec.record(dir_name))
            release["color"] = self.color
            env_path = self.color_env(self.color)
            os.rename(self.env_next, env_path)
            self.commit_definition(spec)
        except (IOError, OSError) as exc:
            raise DeployError("Could not write the files of release %s in %s: %s." % (release["id"], self.history_dir, exc),
                              hint="Free space or fix permissions there; no container was touched.")
        project = self.project(spec, env_path)
        before = self.current_state(project)
        hashes = self.desired_hashes(project)
        reuse = sorted(s for s in spec.images if s in before and before[s]["config_hash"] == hashes.get(s))
        result["reused"] = reuse
        self.applying = release
        if self.lock is not None:
            self.lock.note(release=release["id"])
        ok, reason, containers = self.gate(project, spec.images, pull)
        switch_s = None
        if ok:
            try:
                files = self.route_files(containers)
                switch_s = self.proxy.switch(self.name, files, drain_timeout, self.p["reload_timeout"])
            except DeployError as err:
                ok, reason = False, err.message
            except (IOError, OSError) as exc:
                ok, reason = False, "the proxy's files could not be written: %s" % exc
        if not ok:
            return self.refuse(project, spec, release, reason, current, active)
        drained, left = self.proxy.drain(drain_timeout)
        result["switch"] = {"reload_s": switch_s, "drained_s": drained, "draining_left": left}
        if left:
            self.warn("%d proxy worker(s) still served old connections after drain_timeout (%d s); nginx closes them."
                      % (left, drain_timeout))
        stopped = None
        if active and active != self.color and self.p["keep_previous"] == "stopped":
            old = self.compose_of(current, active)
            if old is not None:
                out = self.run(old.stop(), "stopping %s-%s" % (self.name, active), check=False)
                stopped = "%s-%s" % (self.name, active) if out.rc == 0 else None
                if out.rc != 0:
                    self.warn("The previous color %s-%s could not be stopped: %s" % (self.name, active, out.output[-500:]))
        result["stopped"] = stopped
        try:
            self.remove_unused_certificates()
        except OSError as exc:
            self.warn("Old certificates of %s could not be removed: %s" % (self.name, exc))
        release["result"] = "success"
        problems = []
        self.save(release, True, problems)
        self.audited = True
        problems.append(self.audit(release["action"], release["id"], "success",
                                   "%s on %s" % (images_text(release["images"]), self.color)))
        for problem in problems:
            if problem:
                self.warn("Release %s serves, but %s." % (release["id"], problem))
        self.containers = containers
        self.result["override_file"] = spec.pins
        return release

    def refuse(self, project, spec, release, reason, current, active):
        """The new color failed its gate or the switch: stop it (it never got a request) and fail."""
        logs = self.failing_logs(project, spec.images)
        try:
            self.remove_unused_certificates()
        except OSError:
            pass  # an unused file; the next switch removes it
        out = self.run(project.stop(), "stopping %s-%s" % (self.name, self.color), check=False)
        release["result"], release["reason"] = "failed", reason
        problems = []
        self.save(release, False, problems)
        self.audited = True
        problems.append(self.audit(release["action"], release["id"], "failed", reason))
        if out.rc != 0:
            problems.append("stopping %s-%s failed: %s" % (self.name, self.color, self.shown(out.output)[-300:]))
        log_text = "".join("\n--- %s (last 30 lines) ---\n%s" % (s, t) for s, t in sorted(logs.items()))
        serving = ("Release %s still serves on %s." % (current["id"], active)) if current else \
            "Nothing of %s was routed before, and nothing is now." % self.name
        raise DeployError(
            "Release %s of %s failed before the proxy switched to it, so it never received a request: %s. "
            "Its containers (%s-%s) were stopped. %s%s%s" % (
                release["id"], self.name, reason, self.name, self.color, serving, self.problem_text(problems), log_text),
            failed_release=release["id"], running_release=current["id"] if current else None, logs=logs, reason=reason)
