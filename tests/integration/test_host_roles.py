"""The docker_host and build_host roles run for real, over SSH, against one Debian 12 "VM":
a container of a local Debian bookworm image (nothing can be pulled) with python3, python3-apt
and sshd, as a fresh cloud VM has them (without python3-apt, Ansible's apt module installs it
on the first run, and check mode fails until then). What it has beyond that is arranged per test:

- an engine: the host's docker client (kept in /opt/test, linked onto PATH or not) talking to
  this machine's engine through its socket, mounted into the container;
- Compose v2: the docker-compose binary of the development stack as a CLI plugin (or not);
- Compose v1: Debian 12's own docker-compose 1.29.2 package (or not).

Docker's apt repository is out of reach here: its path is tested up to the written source and
the clear failure to read it; see docs/managed-hosts.md for what is and is not tested here.
"""

import json
import os
import shutil
import subprocess
import tempfile
import uuid

import pytest
import yaml

from registry_fixtures import Registry

pytestmark = pytest.mark.integration

HERE = os.path.dirname(os.path.abspath(__file__))
CALLBACKS = os.path.join(os.path.dirname(HERE), "callback_plugins")
IMAGE = "bytelyst-test/host-roles-vm:1"
BASE = "bytelyst-standin.invalid/debian:bookworm-minbase"
DOCKERFILE = """\
FROM %s
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
      python3 python3-apt openssh-server openssh-sftp-server ca-certificates docker-compose >/dev/null \\
 && mkdir -p /opt/test /run/sshd /root/.ssh && mv /usr/bin/docker-compose /opt/test/docker-compose-v1 \\
 && ssh-keygen -A
COPY docker /opt/test/docker
COPY docker-compose /opt/test/docker-compose-v2
# The host's CA bundle: outbound HTTPS here passes a TLS-intercepting proxy, as on many company networks.
COPY ca-bundle.crt /etc/ssl/certs/ca-certificates.crt
CMD ["/usr/sbin/sshd", "-D", "-e"]
""" % BASE
# What the "nothing changed" checks look at: every file under these, and the installed packages.
WATCHED = "/etc/apt /etc/docker /opt /usr/local/bin /usr/local/lib/docker /root/.docker /srv /var/lib/bytelyst"


def sh(*argv, **kwargs):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)


def compose_binary():
    venv = os.environ.get("BYTELYST_VENV", "")
    path = os.path.join(venv, "bin", "docker-compose")
    if not os.path.isfile(path):
        pytest.fail("no docker-compose binary in the development venv (%s): run scripts/setup.sh" % path)
    return path


class VM(object):
    def __init__(self, root):
        self.root = root
        self.name = "bytelyst-test-vm-" + uuid.uuid4().hex[:8]
        self.key = os.path.join(root, "key")
        self.inventory = os.path.join(root, "inventory.yml")

    def start(self):
        context = os.path.join(self.root, "context")
        os.makedirs(context)
        with open(os.path.join(context, "Dockerfile"), "w") as f:
            f.write(DOCKERFILE)
        shutil.copy(os.path.realpath(shutil.which("docker")), os.path.join(context, "docker"))
        shutil.copy(os.path.realpath(compose_binary()), os.path.join(context, "docker-compose"))
        shutil.copy(os.environ.get("BYTELYST_CA_BUNDLE") or "/etc/ssl/certs/ca-certificates.crt",
                    os.path.join(context, "ca-bundle.crt"))
        sh("docker", "build", "-q", "-t", IMAGE, context)
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.key)
        sh("docker", "run", "-d", "--name", self.name, "-p", "127.0.0.1::22",
           "-v", "/var/run/docker.sock:/var/run/docker.sock", IMAGE)
        sh("docker", "cp", self.key + ".pub", self.name + ":/root/.ssh/authorized_keys")
        self.run("chown root:root /root/.ssh/authorized_keys")
        port = sh("docker", "port", self.name, "22").stdout.splitlines()[0].rsplit(":", 1)[1]
        with open(self.inventory, "w") as f:
            yaml.safe_dump({"all": {"hosts": {"vm": {
                "ansible_host": "127.0.0.1", "ansible_port": int(port), "ansible_user": "root",
                "ansible_ssh_private_key_file": self.key,
                "ansible_ssh_common_args": "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
                "ansible_python_interpreter": "/usr/bin/python3"}}}}, f)
        return self

    def remove(self):
        subprocess.run(["docker", "rm", "-f", self.name], capture_output=True, check=False)

    def run(self, script, check=True):
        return subprocess.run(["docker", "exec", self.name, "sh", "-c", script],
                              capture_output=True, text=True, check=check)

    def arrange(self, engine=False, compose_v2=False, compose_v1=False):
        """What the host has before a run: each piece linked into place or removed."""
        links = [(engine, "/opt/test/docker", "/usr/local/bin/docker"),
                 (compose_v2, "/opt/test/docker-compose-v2", "/usr/local/lib/docker/cli-plugins/docker-compose"),
                 (compose_v1, "/opt/test/docker-compose-v1", "/usr/local/bin/docker-compose")]
        script = ["mkdir -p /usr/local/lib/docker/cli-plugins"]
        for wanted, source, link in links:
            script.append(("ln -sfn %s %s" if wanted else "rm -f %s%s") % ((source, link) if wanted else ("", link)))
        self.run(" && ".join(script))

    def state(self):
        """Every watched file (path, type, size, mode, content digest) and every installed package."""
        files = self.run("find %s -xdev 2>/dev/null | sort | while read -r p; do "
                         "printf '%%s %%s ' \"$p\" \"$(stat -c '%%F %%s %%a' \"$p\")\"; "
                         "[ -f \"$p\" ] && md5sum < \"$p\" || echo; done" % WATCHED, check=False).stdout
        packages = self.run("dpkg-query -W -f '${Package} ${Version} ${Status}\\n'").stdout
        return files, packages

    def play(self, plays, check=False, diff=False, extra_env=None):
        """Run plays (list of dicts) against the VM; (returncode, output, registered results)."""
        with tempfile.TemporaryDirectory(dir=self.root) as tmp:
            path = os.path.join(tmp, "play.yml")
            with open(path, "w") as f:
                yaml.safe_dump(plays, f)
            results = os.path.join(tmp, "results.json")
            argv = ["ansible-playbook", "-i", self.inventory, path] + (["--check"] if check else []) \
                + (["--diff"] if diff else [])
            env = dict(os.environ, ANSIBLE_PIPELINING="1", BYTELYST_TEST_RESULTS=results,
                       ANSIBLE_CALLBACK_PLUGINS=CALLBACKS, ANSIBLE_HOST_KEY_CHECKING="false")
            env.update(extra_env or {})
            proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900, check=False)
            saved = {}
            if os.path.exists(results):
                with open(results) as f:
                    saved = json.load(f)
        return proc.returncode, proc.stdout + proc.stderr, saved


@pytest.fixture(scope="module")
def vm(tmp_path_factory):
    machine = VM(str(tmp_path_factory.mktemp("vm")))
    try:
        yield machine.start()
    finally:
        machine.remove()


def docker_host(**variables):
    return [{"hosts": "vm", "gather_facts": False,
             "roles": [{"role": "bytelyst.deploy.docker_host", "vars": variables}]}]


def recap(output):
    return [line for line in output.splitlines() if line.startswith("vm ")][-1]


def test_distribution_packages_on_debian12_are_refused_and_nothing_changes(vm):
    vm.arrange(engine=False, compose_v1=True)
    before = vm.state()
    rc, out = vm.play(docker_host(docker_host_package_source="distribution"))[:2]
    assert rc != 0
    assert "Debian 12's archive has no Compose v2: its docker-compose package is Compose v1 (1.29)" in out
    assert "This host has docker-compose 1.29.2 (Compose v1)" in out
    assert "Nothing was installed" in out and "docker_host_package_source: docker" in out
    assert vm.state() == before


def test_compose_v1_alone_is_refused_when_installing_is_off(vm):
    vm.arrange(engine=True, compose_v1=True)
    before = vm.state()
    rc, out = vm.play(docker_host(docker_host_install=False))[:2]
    assert rc != 0
    assert "Only Compose v1 is here (docker-compose 1.29.2)" in out
    assert "needs Compose v2 2.17.0 or newer as `docker compose`" in out
    assert vm.state() == before


KEY = "printf -- '-----BEGIN PGP PUBLIC KEY BLOCK-----\\n\\nnot a key\\n-----END PGP PUBLIC KEY BLOCK-----\\n' > /opt/test/docker.asc"


def test_docker_repository_source_and_key_are_planned_as_docker_documents_them(vm):
    vm.arrange(engine=True)
    vm.run(KEY)  # check mode still asks for the key: give it one it can reach
    before = vm.state()
    rc, out, saved = vm.play(docker_host(docker_host_docker_repo_key_url="file:///opt/test/docker.asc"),
                             check=True, diff=True)
    assert rc == 0, out[-3000:]
    source = saved["docker_host__source_written"]
    assert source["changed"] and source["diff"][0]["before"] == ""  # a new file
    lines = source["diff"][0]["after"].splitlines()
    assert lines[1:] == ["Types: deb", "URIs: https://download.docker.com/linux/debian", "Suites: bookworm",
                         "Components: stable", "Architectures: amd64", "Signed-By: /etc/apt/keyrings/docker.asc"]
    key = saved["docker_host__key_written"]
    assert key["changed"] and key["dest"] == "/etc/apt/keyrings/docker.asc"
    assert vm.state() == before


def test_unreachable_docker_repository_fails_clearly_and_leaves_nothing_behind(vm):
    vm.arrange(engine=True)
    vm.run(KEY)
    before = vm.state()
    # The key is there (a file URL) but the repository does not answer: the key and the source
    # were written, then removed again.
    rc, out, saved = vm.play(docker_host(docker_host_docker_repo_url="http://127.0.0.1:9/linux/debian",
                                         docker_host_docker_repo_key_url="file:///opt/test/docker.asc"))
    assert rc != 0
    assert saved["docker_host__source_written"]["changed"] and saved["docker_host__key_written"]["changed"]
    assert "Docker's apt repository cannot be used from this host: \"Read the repository's package lists\" failed" in out
    assert "Could not connect to 127.0.0.1:9" in out and "Repository http://127.0.0.1:9/linux/debian" in out
    assert "the key and source files this run wrote were removed" in out
    assert vm.state() == before
    # The key itself cannot be downloaded.
    rc, out = vm.play(docker_host(docker_host_docker_repo_key_url="http://127.0.0.1:9/gpg"))[:2]
    assert rc != 0
    assert "\"Download the repository's signing key\" failed" in out and "key http://127.0.0.1:9/gpg" in out
    assert vm.state() == before


def test_prepared_host_runs_the_collections_modules_and_logs_in_once(vm, tmp_path):
    vm.arrange(engine=True, compose_v2=True, compose_v1=True)
    password = "pw-" + uuid.uuid4().hex
    registry = Registry(tmp_path / "registry", user="deployer", password=password).start()
    try:
        logins = [{"registry": registry.addr, "username": "deployer", "password": password}]
        plays = docker_host(docker_host_registry_logins=logins, docker_host_log_max_size="20m")
        # A module of the collection on the prepared host: it imports the Docker SDK, which the
        # role put into a venv and pointed the play's interpreter at.
        plays[0]["tasks"] = [{"name": "Read image usage", "register": "usage",
                              "bytelyst.deploy.image_usage": {"images": [BASE]}}]
        rc, out, saved = vm.play(plays)
        assert rc == 0, out[-4000:]
        assert password not in out
        assert saved["usage"]["totals"]["images"] == 1
        assert vm.run("/opt/bytelyst/python/bin/python -c 'import docker; print(docker.__version__)'").stdout.startswith("7.")
        options = json.loads(vm.run("cat /etc/docker/daemon.json").stdout)
        assert options["log-opts"] == {"max-size": "20m", "max-file": "3"}
        auths = json.loads(vm.run("cat /root/.docker/config.json").stdout)["auths"]
        assert registry.addr in auths
        assert vm.run("test -d /var/lib/bytelyst/deploy", check=False).returncode == 0

        # Second run: nothing to install, the same credentials are there: no change, no login.
        rc, out, saved = vm.play(plays)
        assert rc == 0 and "changed=0" in recap(out), out[-3000:]
        assert saved.get("docker_host__logins", {}).get("results", []) == []

        # A wrong password: a clear message that never shows it; the stored login stays.
        config_before = vm.run("cat /root/.docker/config.json").stdout
        wrong = "wrong-" + uuid.uuid4().hex
        rc, out = vm.play(docker_host(docker_host_registry_logins=[dict(logins[0], password=wrong)]))[:2]
        assert rc != 0
        assert "docker login failed for %s as deployer" % registry.addr in out
        assert wrong not in out and password not in out
        assert vm.run("cat /root/.docker/config.json").stdout == config_before
    finally:
        registry.close()


@pytest.fixture(scope="module")
def tiny_repo(vm, tmp_path_factory):
    """A two-package pnpm workspace in a bare repository on the VM: tag v1.0.0 installs (branch main
    has a commit more); branch stale adds a dependency without updating the lockfile."""
    root = str(tmp_path_factory.mktemp("tiny"))
    work = os.path.join(root, "work")
    pnpm_version = os.environ.get("BYTELYST_PNPM_VERSION") or "10.6.5"

    def write(path, text):
        full = os.path.join(work, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)

    # The hash is not checked by the role (corepack would); it is here to be split off.
    write("package.json", json.dumps({"name": "tiny", "private": True,
                                      "packageManager": "pnpm@%s+sha512.%s" % (pnpm_version, "ab" * 64)}))
    write("pnpm-workspace.yaml", "packages:\n  - packages/*\n")
    write("packages/a/package.json", json.dumps({"name": "@tiny/a", "version": "1.0.0"}))
    write("packages/b/package.json", json.dumps({"name": "@tiny/b", "version": "1.0.0",
                                                 "dependencies": {"@tiny/a": "workspace:*"}}))
    env = dict(os.environ, CI="true")
    sh("pnpm", "install", "--lockfile-only", cwd=work, env=env)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    sh(*git, "init", "-q", "-b", "main", cwd=work)
    sh(*git, "add", "package.json", "pnpm-workspace.yaml", "pnpm-lock.yaml", "packages", cwd=work)
    sh(*git, "commit", "-q", "-m", "tiny workspace", cwd=work)
    sh(*git, "tag", "v1.0.0", cwd=work)
    tagged = sh("git", "rev-parse", "HEAD", cwd=work).stdout.strip()
    write("README", "after the tag\n")
    sh(*git, "add", "README", cwd=work)
    sh(*git, "commit", "-q", "-m", "a commit after the tag", cwd=work)
    sh(*git, "checkout", "-q", "-b", "stale", cwd=work)
    write("packages/a/package.json", json.dumps({"name": "@tiny/a", "version": "1.0.0",
                                                 "dependencies": {"@tiny/b": "workspace:*"}}))
    sh(*git, "commit", "-q", "-am", "a dependency the lockfile does not know", cwd=work)
    sh("git", "clone", "-q", "--bare", work, os.path.join(root, "tiny.git"))
    sh("docker", "cp", os.path.join(root, "tiny.git"), vm.name + ":/srv/tiny.git")
    return {"url": "file:///srv/tiny.git", "pnpm": pnpm_version, "v1.0.0": tagged}


def build_host(repo, version):
    registry = sh("npm", "config", "get", "registry").stdout.strip()
    return [{"hosts": "vm", "gather_facts": False, "roles": [{"role": "bytelyst.deploy.build_host", "vars": {
        "build_host_repo_url": repo["url"], "build_host_repo_version": version,
        "build_host_workspace": "/srv/tiny",
        "build_host_node_method": "npm_registry", "build_host_node_version": "22.12.0",
        "build_host_npm_registry_url": registry,
        "build_host_environment": {"NODE_EXTRA_CA_CERTS": "/etc/ssl/certs/ca-certificates.crt"}}}]}]


def checkout_state(vm):
    """The checkout's commit, its files and what pnpm installed."""
    return vm.run("git -C /srv/tiny rev-parse HEAD; git -C /srv/tiny status --porcelain; ls -a /srv/tiny; "
                  "cat /srv/tiny/node_modules/.pnpm/lock.yaml; ls -la /srv/tiny/packages/*/node_modules").stdout


def test_build_host_installs_node_the_workspaces_pnpm_and_its_dependencies(vm, tiny_repo):
    rc, out, saved = vm.play(build_host(tiny_repo, "v1.0.0"))
    assert rc == 0, out[-4000:]
    assert vm.run("node --version").stdout.strip() == "v22.12.0"
    assert vm.run("pnpm --version").stdout.strip() == tiny_repo["pnpm"]
    # At the tag's commit, not main's newer one.
    assert vm.run("git -C /srv/tiny rev-parse HEAD").stdout.strip() == tiny_repo["v1.0.0"]
    assert saved["build_host__checkout"]["after"] == tiny_repo["v1.0.0"]
    assert vm.run("test -e /srv/tiny/README", check=False).returncode != 0
    assert vm.run("readlink /srv/tiny/packages/b/node_modules/@tiny/a").stdout.strip() == "../../../a"
    assert vm.run("test -f /srv/tiny/node_modules/.pnpm/lock.yaml", check=False).returncode == 0

    rc, out = vm.play(build_host(tiny_repo, "v1.0.0"))[:2]
    assert rc == 0 and "changed=0" in recap(out), out[-3000:]

    # A ref the repository does not have: a message naming it and the repository; the checkout
    # and its installed dependencies stay as they were.
    before = checkout_state(vm)
    rc, out = vm.play(build_host(tiny_repo, "v9.9.9"))[:2]
    assert rc != 0
    assert "build_host_repo_version v9.9.9 could not be checked out from file:///srv/tiny.git into /srv/tiny" in out
    assert "git ls-remote file:///srv/tiny.git" in out
    assert checkout_state(vm) == before

    # A ref whose lockfile is out of date: the frozen install refuses, naming pnpm's reason,
    # and the installed dependencies stay as they were.
    installed = vm.run("cat /srv/tiny/node_modules/.pnpm/lock.yaml; ls -la /srv/tiny/packages/*/node_modules").stdout
    rc, out = vm.play(build_host(tiny_repo, "stale"))[:2]
    assert rc != 0
    assert "`pnpm install --frozen-lockfile` failed in /srv/tiny" in out
    assert "ERR_PNPM_OUTDATED_LOCKFILE" in out and "commit pnpm-lock.yaml" in out
    assert vm.run("cat /srv/tiny/node_modules/.pnpm/lock.yaml; ls -la /srv/tiny/packages/*/node_modules").stdout == installed
