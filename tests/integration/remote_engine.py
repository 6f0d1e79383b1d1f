"""A second Docker engine on this machine that listens on TCP with TLS (client certificates
required), as a remote build or deploy host would: its own data root, exec root, pidfile,
bridge and address pool, on 127.0.0.1 only (the approach of scripts/fleet.sh). The CA, the
engine's certificate and a client certificate are made here with openssl, and so is a client
certificate from another CA that the engine must refuse."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

from registry_fixtures import free_port, sh

BRIDGE = "blremote0"
BRIDGE_ADDR = "10.229.7.1/24"
POOL = "base=10.228.0.0/16,size=24"


def _cert(directory, name, ca, ca_key, subject, ext):
    key, csr, cert = (os.path.join(directory, "%s.%s" % (name, e)) for e in ("key", "csr", "crt"))
    ext_file = os.path.join(directory, "%s.ext" % name)
    with open(ext_file, "w") as f:
        f.write(ext)
    sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", subject)
    sh("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
       "-days", "2", "-extfile", ext_file)
    return cert, key


def _ca(directory, name):
    key, cert = os.path.join(directory, name + ".key"), os.path.join(directory, name + ".crt")
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
       "-subj", "/CN=bytelyst test %s" % name)
    return cert, key


CERT_FILES = dict(ca="engine-ca.crt", server_cert="server.crt", server_key="server.key", client_cert="client.crt",
                  client_key="client.key", wrong_cert="stranger.crt", wrong_key="stranger.key")


def make_certs(directory):
    """{ca, server_cert, server_key, client_cert, client_key, wrong_cert, wrong_key} paths (made
    once per directory)."""
    if all(os.path.isfile(os.path.join(directory, name)) for name in CERT_FILES.values()):
        return dict((key, os.path.join(directory, name)) for key, name in CERT_FILES.items())
    os.makedirs(directory, exist_ok=True)
    ca, ca_key = _ca(directory, "engine-ca")
    other_ca, other_key = _ca(directory, "other-ca")
    server_cert, server_key = _cert(directory, "server", ca, ca_key, "/CN=127.0.0.1",
                                    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    client_ext = "extendedKeyUsage=clientAuth\n"
    client_cert, client_key = _cert(directory, "client", ca, ca_key, "/CN=bytelyst deploy", client_ext)
    wrong_cert, wrong_key = _cert(directory, "stranger", other_ca, other_key, "/CN=stranger", client_ext)
    return dict(ca=ca, server_cert=server_cert, server_key=server_key, client_cert=client_cert,
                client_key=client_key, wrong_cert=wrong_cert, wrong_key=wrong_key)


class TlsEngine(object):
    """dockerd on tcp://127.0.0.1:<port> with --tlsverify; start() then stop()."""

    def __init__(self, root, port=None):
        self.root = str(root)
        self.port = port or free_port()
        self.shared = False  # started by scripts/test.sh before the lanes: stop() leaves it running
        self.host = "tcp://127.0.0.1:%d" % self.port
        self.certs = make_certs(os.path.join(self.root, "certs"))
        self.run_dir = os.path.join(self.root, "run")
        self.pidfile = os.path.join(self.run_dir, "dockerd.pid")
        self.log = os.path.join(self.root, "dockerd.log")
        self.proc = None

    def options(self, wrong=False):
        """The module options that reach this engine (wrong: with the stranger's certificate)."""
        return dict(docker_host=self.host, validate_certs=True, ca_path=self.certs["ca"],
                    client_cert=self.certs["wrong_cert" if wrong else "client_cert"],
                    client_key=self.certs["wrong_key" if wrong else "client_key"])

    def cli_env(self):
        """Environment for the docker CLI run by the test itself."""
        cert_dir = os.path.join(self.root, "cli-certs")
        if not os.path.isdir(cert_dir):
            os.makedirs(cert_dir)
            for name, key in (("ca.pem", "ca"), ("cert.pem", "client_cert"), ("key.pem", "client_key")):
                os.symlink(self.certs[key], os.path.join(cert_dir, name))
        return dict(os.environ, DOCKER_HOST=self.host, DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=cert_dir)

    def client(self):
        import docker
        from docker.tls import TLSConfig
        tls = TLSConfig(client_cert=(self.certs["client_cert"], self.certs["client_key"]), ca_cert=self.certs["ca"],
                        verify=True)
        client = docker.DockerClient(base_url=self.host, tls=tls, timeout=120, version="1.41")
        client.api.trust_env = False  # else REQUESTS_CA_BUNDLE replaces the engine's CA
        return client

    def answers(self):
        try:
            client = self.client()
            try:
                return client.ping()
            finally:
                client.close()
        except Exception:
            return False

    def start(self, timeout=60):
        os.makedirs(self.run_dir, exist_ok=True)
        if subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True, check=False).returncode != 0:
            sh("ip", "link", "add", BRIDGE, "type", "bridge")
            sh("ip", "addr", "add", BRIDGE_ADDR, "dev", BRIDGE)
            sh("ip", "link", "set", BRIDGE, "up")
        c = self.certs
        argv = ["dockerd", "--data-root", os.path.join(self.root, "data"), "--exec-root", os.path.join(self.run_dir, "exec"),
                "--pidfile", self.pidfile, "-H", self.host, "--tlsverify", "--tlscacert", c["ca"],
                "--tlscert", c["server_cert"], "--tlskey", c["server_key"], "--bridge", BRIDGE,
                "--default-address-pool", POOL, "--live-restore",
                "--containerd-namespace", "blremote", "--containerd-plugins-namespace", "blremote-plugins"]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + timeout
        while not self.answers():
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise AssertionError("the TLS engine did not answer; its log:\n" + open(self.log).read()[-3000:])
            time.sleep(0.3)
        return self

    def load(self, main_client, ref):
        """Copy ref from the main engine into this one (docker save | docker load)."""
        save = subprocess.Popen(["docker", "save", ref], stdout=subprocess.PIPE, env=dict(os.environ, DOCKER_HOST=""))
        subprocess.run(["docker", "load", "--quiet"], stdin=save.stdout, check=True, capture_output=True,
                       env=self.cli_env())
        save.stdout.close()
        assert save.wait() == 0, "docker save %s failed" % ref

    def remove_containers(self):
        try:
            client = self.client()
            for container in client.containers.list(all=True):
                container.remove(force=True)
            client.close()
        except Exception:  # an engine that does not answer has none to remove
            pass

    def stop(self):
        if self.shared:  # scripts/test.sh stops it after every lane; leave no container of ours behind
            self.remove_containers()
            return
        if self.proc is not None and self.proc.poll() is None:
            self.remove_containers()  # first: with --live-restore they would outlive the engine
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True, check=False)
        shutil.rmtree(os.path.join(self.root, "data"), ignore_errors=True)


# One engine for the whole run. A dockerd that starts sets up its iptables chains afresh, and the
# DOCKER chains are shared by every engine on the host: a network another test lane creates in that
# moment fails. scripts/test.sh therefore starts this engine before the lanes (up) and stops it
# after them (down); the tests find it through BYTELYST_REMOTE_ENGINE.
STATE = "engine.json"


def shared_engine():
    """The engine scripts/test.sh started, when there is one and it answers; else None."""
    root = os.environ.get("BYTELYST_REMOTE_ENGINE")
    try:
        with open(os.path.join(root or "", STATE)) as f:
            state = json.load(f)
    except (IOError, OSError, ValueError):
        return None
    engine = TlsEngine(root, port=state["port"])
    engine.shared = True
    return engine if engine.answers() else None


def main(argv):
    action, root = argv[1], argv[2]
    if action == "up":
        engine = TlsEngine(root)
        engine.start()
        with open(os.path.join(root, STATE), "w") as f:
            json.dump({"port": engine.port, "pid": engine.proc.pid}, f)
    elif action == "down":
        try:
            with open(os.path.join(root, STATE)) as f:
                state = json.load(f)
        except (IOError, OSError, ValueError):
            return 0
        engine = TlsEngine(root, port=state["port"])
        engine.remove_containers()
        try:
            os.kill(state["pid"], signal.SIGTERM)
        except OSError:
            pass
        for dummy in range(60):
            if not engine.answers():
                break
            time.sleep(0.5)
        subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True, check=False)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
