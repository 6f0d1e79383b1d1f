# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of a freshly built image in throwaway containers. PRIVATE to the collection.

Generic: base images and product images use the same checks.

    from ..._verify import check_packages, wait_http
    report = check_packages(client, image_id, ["@bytelyst/config"], workdir="/app/backend")
    # {"uid": 1000, "user": "node", "workdir": "/app/backend",
    #  "packages": {"@bytelyst/config": "require"}}      ("require" or "import")
    health = wait_http(client, image_id, port=4016, path="/health", env={"PORT": "4016"})
    # {"status": 200, "seconds": 1.4, "url": "http://127.0.0.1:4016/health"}
    data = read_json(client, image_id, "/app/.bytelyst/provides.json")

Both run the container as the image's own user (or `user=`) and raise DeployError when
it is root, when a package does not load (naming the package and the error tail), or when
the health URL does not answer in time (with the container's log tail). Containers are
labelled `dev.bytelyst.verify=1`, never publish ports, and are always removed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time
import uuid

from ansible_collections.bytelyst.deploy.plugins.module_utils._command import tail
from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

VERIFY_LABEL = "dev.bytelyst.verify"
MARK = "@@bytelyst-verify "

# Loads each package named in argv[1] (JSON list) from the working directory: require()
# first, dynamic import() for ES-only packages. One marked JSON line per result.
LOAD_SCRIPT = r"""
const names = JSON.parse(process.argv[1]);
const say = (o) => process.stdout.write('@@bytelyst-verify ' + JSON.stringify(o) + '\n');
const short = (e) => String((e && e.stack) || e).split('\n').slice(0, 6).join('\n');
say({uid: process.getuid(), cwd: process.cwd()});
(async () => {
  for (const name of names) {
    try { require(name); say({package: name, ok: true, how: 'require'}); continue; }
    catch (err) {
      const esm = ['ERR_REQUIRE_ESM', 'ERR_PACKAGE_PATH_NOT_EXPORTED', 'ERR_REQUIRE_ASYNC_MODULE'];
      if (!esm.includes(err && err.code)) { say({package: name, ok: false, error: short(err)}); continue; }
    }
    try { await import(name); say({package: name, ok: true, how: 'import'}); }
    catch (err) { say({package: name, ok: false, error: short(err)}); }
  }
})();
"""

HTTP_SCRIPT = r"""
const url = process.argv[1];
require('http').get(url, (r) => { console.log(r.statusCode); process.exit(0); })
  .on('error', (e) => { console.log('error ' + e.message); process.exit(2); })
  .setTimeout(3000, function () { this.destroy(new Error('timeout')); });
"""


def parse_load_output(text, packages):
    """{"uid": int|None, "cwd": str, "packages": {name: how}, "failures": {name: error}}."""
    report = {"uid": None, "cwd": None, "packages": {}, "failures": {}}
    for line in (text or "").splitlines():
        if not line.startswith(MARK):
            continue
        try:
            item = json.loads(line[len(MARK):])
        except ValueError:
            continue
        if "uid" in item:
            report["uid"] = item["uid"]
            report["cwd"] = item.get("cwd")
        elif item.get("ok"):
            report["packages"][item["package"]] = item.get("how", "require")
        elif "package" in item:
            report["failures"][item["package"]] = item.get("error", "")
    for name in packages:
        if name not in report["packages"] and name not in report["failures"]:
            report["failures"][name] = "no result (the check stopped before reaching it)"
    return report


def image_user(client, image):
    """The user an image runs as ("" means root)."""
    return ((client.images.get(image).attrs.get("Config") or {}).get("User") or "").strip()


def require_non_root(image, user, uid):
    if uid == 0 or user.split(":")[0] in ("", "root", "0"):
        raise DeployError(
            "The image %s runs as root (user %r, uid %s); it must run as a non-root user." % (image, user, uid),
            hint="End the Dockerfile with USER node (uid 1000).")


def _run_once(client, image, argv, workdir, user, env, timeout):
    """Run argv (entrypoint node) to completion; return (exit code, output)."""
    kwargs = dict(entrypoint=["node"], command=argv, working_dir=workdir, environment=env or {},
                  labels={VERIFY_LABEL: "1"}, network_disabled=True, detach=True,
                  name="bytelyst-verify-" + uuid.uuid4().hex[:10])
    if user:
        kwargs["user"] = user
    container = client.containers.create(image, **kwargs)
    try:
        container.start()
        try:
            status = container.wait(timeout=timeout)
        except Exception as exc:  # requests' ReadTimeout and friends
            raise DeployError("The check container of %s did not finish within %s s: %s" % (image, timeout, exc))
        output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        return status.get("StatusCode", -1), output
    finally:
        container.remove(force=True)


def check_packages(client, image, packages, workdir="/app", user=None, env=None, timeout=120):
    """Load every package from workdir in a throwaway container, as a non-root user."""
    run_user = user or image_user(client, image)
    code, output = _run_once(client, image, ["-e", LOAD_SCRIPT, json.dumps(list(packages))],
                             workdir, user, env, timeout)
    report = parse_load_output(output, packages)
    if report["uid"] is None:
        raise DeployError("The check container of %s did not run node (exit code %s)." % (image, code),
                          output=tail(output))
    require_non_root(image, run_user, report["uid"])
    if report["failures"]:
        name = sorted(report["failures"])[0]
        raise DeployError(
            "Verification of %s failed: %s does not load from %s (%d of %d packages failed: %s)." % (
                image, name, workdir, len(report["failures"]), len(packages), ", ".join(sorted(report["failures"]))),
            hint="Check that the package's tarball holds its built files and that its dependencies install.",
            output=tail(report["failures"][name], 12), failed_packages=sorted(report["failures"]))
    return {"uid": report["uid"], "user": run_user, "workdir": workdir, "packages": report["packages"]}


def wait_http(client, image, port, path="/", env=None, user=None, timeout=60, interval=1.0, expect_status=200,
              command=None):
    """Start the image's own command (or `command`, a list) and wait until
    http://127.0.0.1:<port><path> answers expect_status, asking from inside the container."""
    url = "http://127.0.0.1:%d%s" % (int(port), path if path.startswith("/") else "/" + path)
    kwargs = dict(environment=env or {}, labels={VERIFY_LABEL: "1"}, detach=True,
                  name="bytelyst-verify-" + uuid.uuid4().hex[:10])
    if user:
        kwargs["user"] = user
    if command:
        kwargs["command"] = list(command)
    container = client.containers.create(image, **kwargs)
    started = time.time()
    last = ""
    try:
        container.start()
        while time.time() - started < timeout:
            container.reload()
            if container.status not in ("created", "running"):
                logs = container.logs().decode("utf-8", "replace")
                raise DeployError("The container of %s exited (%s) before %s answered." % (image, container.status, url),
                                  output=tail(logs))
            code, out = container.exec_run(["node", "-e", HTTP_SCRIPT, url], user=user or "")
            last = out.decode("utf-8", "replace").strip()
            if code == 0 and last == str(expect_status):
                return {"status": expect_status, "seconds": round(time.time() - started, 1), "url": url}
            time.sleep(interval)
        logs = container.logs().decode("utf-8", "replace")
        raise DeployError("%s in a container of %s did not answer %s within %s s (last: %s)." % (
            url, image, expect_status, timeout, last or "nothing"), output=tail(logs))
    finally:
        container.remove(force=True)


READ_SCRIPT = "process.stdout.write(require('fs').readFileSync(process.argv[1], 'utf8'))"


def read_json(client, image, path, timeout=60):
    """The JSON file at path inside image (read by node in a throwaway container)."""
    code, output = _run_once(client, image, ["-e", READ_SCRIPT, path], "/", None, None, timeout)
    try:
        if code != 0:
            raise ValueError("exit code %s" % code)
        return json.loads(output)
    except ValueError as exc:
        raise DeployError("Could not read %s from %s: %s." % (path, image, exc), output=tail(output))
