"""The npm registry: one FakeNpmRegistry, the registry's HTTP API as the `send` (transport) of a
real NpmRegistry, so the client's own code runs; client() gives an NpmRegistry over it.
packuments() writes the documents of a registry from a short form."""

import json
from urllib.parse import unquote

from ansible_collections.bytelyst.deploy.plugins.module_utils._npm_registry import Answer, NpmRegistry


class FakeNpmRegistry(object):
    """Packuments, publishes and auth of an npm registry, answering (method, url, headers, body).

    held: {name: packument}; a GET of a package answers its packument (404 without one), a PUT
    stores the publish document's version and dist-tags into it. conflict_on: names whose PUT is
    stored and answered 409 (the version landed meanwhile). token: the only token it accepts
    (None: any request, anonymous too); any other gets 401 {"error": "bad token"}. script: answers
    (an Answer, or an exception to raise) of the first requests, before the registry answers itself
    (connection errors, a proxy's 5xx, redirects).

    requests: every request as (method, url, headers); puts: (name, document) of every publish.
    """

    def __init__(self, held=None, url="https://npm.example.com/", token=None, conflict_on=(), script=()):
        self.url = url
        self.held = held if held is not None else {}
        self.token = token
        self.conflict_on = set(conflict_on)
        self.script = list(script)
        self.requests = []
        self.puts = []

    def client(self, **kwargs):
        """An NpmRegistry at url over this registry (with the token it accepts, unless told)."""
        kwargs.setdefault("token", self.token)
        return NpmRegistry(self.url, send=self, **kwargs)

    def tag_latest(self, versions):
        """The dist-tag latest of each {name: version}."""
        for name, version in versions.items():
            self.held[name]["dist-tags"] = {"latest": version}

    def __call__(self, request):
        method, url, headers, body = request
        self.requests.append((method, url, dict(headers)))
        if self.script:
            answer = self.script.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        if self.token is not None and headers.get("Authorization") != "Bearer " + self.token:
            return Answer(401, body=b'{"error":"bad token"}')
        name = unquote(url.rsplit("/", 1)[-1])  # @scope%2fname
        if method == "PUT":
            return self.publish(name, json.loads(body.decode("utf-8")))
        if name not in self.held:
            return Answer(404, body=b'{"error":"not found"}')
        return Answer(200, body=json.dumps(self.held[name]).encode())

    def publish(self, name, document):
        self.puts.append((name, document))
        version = list(document["versions"])[0]
        doc = self.held.setdefault(name, {"versions": {}, "dist-tags": {}})
        doc.setdefault("versions", {})[version] = document["versions"][version]
        doc.setdefault("dist-tags", {}).update(document["dist-tags"])
        return Answer(409 if name in self.conflict_on else 201)


def packuments(short):
    """{name: packument} from {name: [versions]} or {name: {version: extra fields (dependencies ...)}};
    each version's dist.integrity is sha512-<name>-<version>. No dist-tags (see tag_latest)."""
    return dict((name, {"name": name, "versions": dict(
        (v, dict(versions[v] if isinstance(versions, dict) else {}, version=v,
                 dist={"integrity": "sha512-%s-%s" % (name, v)})) for v in versions)})
        for name, versions in short.items())
