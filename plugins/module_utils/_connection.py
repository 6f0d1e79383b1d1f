# -*- coding: utf-8 -*-
# Copyright: (c) 2026, ByteLyst
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How to reach a Docker engine: the connection options, parsed once, for the Docker SDK and the
docker CLI alike. PRIVATE to the collection.

    conn = Connection.from_options(module.params)   # options, then DOCKER_* variables, then defaults
    docker.DockerClient(**conn.sdk_kwargs())
    Command([...], env=conn.cli_env())               # DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH ...

The option names and environment variables are those community.docker users know
(doc_fragments/docker.py). Both clients must reach the same engine the same way, so whatever one
of them cannot honour is refused here, with the reason, rather than dropped for one of them.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import atexit
import os
import shutil
import tempfile

from urllib.parse import urlsplit

from ansible_collections.bytelyst.deploy.plugins.module_utils._errors import DeployError

DEFAULT_HOST = "unix:///var/run/docker.sock"
DEFAULT_TIMEOUT = 60
SCHEMES = ("unix", "tcp", "ssh", "http", "https")
TRUE = ("1", "true", "yes", "on", "y", "t")
FALSE = ("", "0", "false", "no", "off", "n", "f")

# option: the variable read when the option is not given (DOCKER_CERT_PATH is a directory: below)
ENV = dict(docker_host="DOCKER_HOST", tls_hostname="DOCKER_TLS_HOSTNAME", api_version="DOCKER_API_VERSION",
           timeout="DOCKER_TIMEOUT", tls="DOCKER_TLS", validate_certs="DOCKER_TLS_VERIFY")
# option: the file DOCKER_CERT_PATH holds for it (the docker CLI's names)
CERT_FILES = dict(ca_path="ca.pem", client_cert="cert.pem", client_key="key.pem")

OPTIONS = tuple(ENV) + tuple(CERT_FILES)


def _flag(name, value):
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise DeployError("%s is %r, which is not a boolean." % (name, value), hint="Use 1 or 0 (true or false).")


class Connection(object):
    """One engine and how to reach it.

    host: the engine URL (unix://, tcp://, ssh://); tls: TLS is used; verify: the engine's
    certificate is checked (against ca_path); ca_path, client_cert, client_key: PEM files;
    api_version: a version such as 1.41, or None for the engine's own; timeout: seconds.
    """

    def __init__(self, host=DEFAULT_HOST, tls=False, verify=False, ca_path=None, client_cert=None,
                 client_key=None, tls_hostname=None, api_version=None, timeout=DEFAULT_TIMEOUT):
        self.host = host
        self.tls = tls or verify
        self.verify = verify
        self.ca_path = ca_path
        self.client_cert = client_cert
        self.client_key = client_key
        self.tls_hostname = tls_hostname
        self.api_version = api_version
        self.timeout = timeout
        self._cert_dir = None

    # -- parsing --------------------------------------------------------------------------------
    @classmethod
    def from_options(cls, options=None, environ=None):
        """The connection the options name; an option not given (None) falls back to its DOCKER_*
        variable, then to the default. A DeployError names the option (or variable) that is wrong."""
        options = options or {}
        environ = os.environ if environ is None else environ

        def value(name):
            given = options.get(name)
            if given is not None:
                return given, name
            env_name = ENV.get(name)
            if env_name and environ.get(env_name) not in (None, ""):
                return environ[env_name], env_name
            return None, name

        host, host_from = value("docker_host")
        host = (host or DEFAULT_HOST).strip()
        scheme = urlsplit(host).scheme
        if scheme not in SCHEMES or (scheme != "unix" and not urlsplit(host).hostname):
            raise DeployError("%s %r is not a Docker engine URL." % (host_from, host),
                              hint="Use unix:///path/to/docker.sock, tcp://host:2376 or ssh://user@host.")
        tls, tls_from = value("tls")
        verify, verify_from = value("validate_certs")
        tls = _flag(tls_from, tls) if tls is not None else False
        # As the docker CLI reads it: DOCKER_TLS_VERIFY set to anything but empty turns verification on.
        if verify is not None and verify_from == "DOCKER_TLS_VERIFY":
            verify = str(verify).strip().lower() not in ("0", "false", "no", "off")
        verify = _flag(verify_from, verify) if verify is not None else False
        files = {}
        cert_path = environ.get("DOCKER_CERT_PATH") or ""
        for name, file_name in CERT_FILES.items():
            files[name] = options.get(name)
            if files[name] is None and cert_path and os.path.isfile(os.path.join(cert_path, file_name)):
                files[name] = os.path.join(cert_path, file_name)
        timeout, timeout_from = value("timeout")
        try:
            timeout = int(timeout) if timeout is not None else DEFAULT_TIMEOUT
        except ValueError:
            raise DeployError("%s is %r, not a number of seconds." % (timeout_from, timeout))
        api_version = value("api_version")[0]
        api_version = None if api_version in (None, "", "auto") else str(api_version)
        tls_hostname = value("tls_hostname")[0]
        conn = cls(host, tls, verify, files["ca_path"], files["client_cert"], files["client_key"], tls_hostname,
                   api_version, timeout)
        conn.check()
        return conn

    @classmethod
    def of(cls, value):
        """A Connection from a Connection, a dict of module options, a docker_host string, or None."""
        if isinstance(value, Connection):
            return value
        if isinstance(value, dict):
            return cls.from_options(value)
        return cls.from_options({"docker_host": value} if value else {})

    def check(self):
        scheme = urlsplit(self.host).scheme
        if self.tls and scheme not in ("tcp", "https"):
            raise DeployError("TLS was asked for (tls or validate_certs), but docker_host %s is not a tcp:// URL."
                              % self.host, hint="TLS applies to tcp:// engines only; unset tls/validate_certs "
                              "(and DOCKER_TLS/DOCKER_TLS_VERIFY) for %s:// engines." % scheme)
        for name in CERT_FILES:
            path = getattr(self, name)
            if path and not os.path.isfile(path):
                raise DeployError("%s %s does not exist." % (name, path),
                                  hint="Point %s at a PEM file on the host the module runs on." % name)
        if bool(self.client_cert) != bool(self.client_key):
            raise DeployError("client_cert and client_key go together; only %s was given."
                              % ("client_cert" if self.client_cert else "client_key"),
                              hint="Give both (or set DOCKER_CERT_PATH to a directory with cert.pem and key.pem).")
        if self.verify and not self.ca_path:
            raise DeployError("validate_certs is on, but no CA certificate was given to check the engine's "
                              "certificate against.", hint="Set ca_path (or DOCKER_CERT_PATH to a directory "
                              "holding ca.pem).")
        if self.tls_hostname and self.tls_hostname != self.hostname:
            raise DeployError(
                "tls_hostname %s differs from the host in docker_host (%s). Neither the Docker SDK 7 nor the docker "
                "CLI can check the engine's certificate against another name, so this module would not reach the "
                "engine the same way from both." % (self.tls_hostname, self.hostname),
                hint="Write the certificate's name in docker_host (an /etc/hosts entry can map it to the address), "
                "or leave tls_hostname unset.")

    @property
    def hostname(self):
        return urlsplit(self.host).hostname

    def describe(self):
        """The engine, for messages: its URL and whether TLS is on."""
        return "%s%s" % (self.host, " (TLS, verified)" if self.verify else " (TLS)" if self.tls else "")

    # -- for the Docker SDK ---------------------------------------------------------------------
    def sdk_kwargs(self, tls_config=None):
        """Keyword arguments of docker.DockerClient / APIClient. tls_config: docker.tls.TLSConfig (a seam for tests)."""
        kwargs = dict(base_url=self.host, version=self.api_version or "auto", timeout=self.timeout)
        if self.tls:
            if tls_config is None:
                from docker.tls import TLSConfig
                tls_config = TLSConfig
            cert = (self.client_cert, self.client_key) if self.client_cert else None
            kwargs["tls"] = tls_config(client_cert=cert, ca_cert=self.ca_path if self.verify else None,
                                       verify=self.verify)
        if self.host.startswith("ssh://"):
            # The ssh command, as the docker CLI uses it (ssh config, agent, known hosts), not paramiko.
            kwargs["use_ssh_client"] = True
        return kwargs

    # -- for the docker CLI ---------------------------------------------------------------------
    def cli_env(self):
        """Environment for docker CLI and Compose commands: every DOCKER_* variable set, so one
        inherited from the module's environment cannot point them elsewhere."""
        env = {"DOCKER_HOST": self.host, "DOCKER_API_VERSION": self.api_version or "",
               "DOCKER_TLS": "1" if self.tls else "", "DOCKER_TLS_VERIFY": "1" if self.verify else "",
               "DOCKER_CERT_PATH": self.cert_dir() if self.tls else ""}
        return env

    def cert_dir(self):
        """A directory the docker CLI reads as DOCKER_CERT_PATH: ca.pem, cert.pem, key.pem. When the
        files already carry those names in one directory, that one; else a private directory of links
        to them, removed when the process exits."""
        given = dict((CERT_FILES[n], getattr(self, n)) for n in CERT_FILES if getattr(self, n))
        dirs = set(os.path.dirname(os.path.abspath(p)) for p in given.values())
        if len(dirs) == 1 and all(os.path.basename(p) == name for name, p in given.items()):
            return dirs.pop()
        if self._cert_dir is None:
            self._cert_dir = tempfile.mkdtemp(prefix="bytelyst-docker-certs-")
            atexit.register(shutil.rmtree, self._cert_dir, True)
            for name, path in given.items():
                os.symlink(os.path.abspath(path), os.path.join(self._cert_dir, name))
        return self._cert_dir
