"""The npm registry at three depths: FakeNpmRegistry stands for an NpmRegistry (packuments
held in memory, publishes recorded), FakeNpmPackuments is the transport (`send`) of a real
NpmRegistry that serves packuments, FakeNpmScript a transport that answers from a script
(for the client's own retries and errors)."""

import json

from ansible_collections.bytelyst.deploy.plugins.module_utils._npm_registry import Answer


class FakeNpmRegistry(object):
    """Holds packuments in memory; records every publish; can answer a PUT with 409."""

    def __init__(self, url="https://npm.example.com/", held=None, conflict_on=()):
        self.url = url
        self.held = held or {}
        self.puts = []
        self.conflict_on = set(conflict_on)

    def packument(self, name):
        return self.held.get(name)

    def publish(self, name, document):
        self.puts.append((name, document))
        version = list(document["versions"])[0]
        doc = self.held.setdefault(name, {"versions": {}, "dist-tags": {}})
        doc["versions"][version] = document["versions"][version]
        doc["dist-tags"].update(document["dist-tags"])
        return Answer(409 if name in self.conflict_on else 201)


class FakeNpmPackuments(object):
    """The `send` of an NpmRegistry: packuments of {name: [versions]}, every request recorded."""

    def __init__(self, held, status=200):
        self.held = held
        self.status = status
        self.requests = []
        self.latest = {}  # {name: the dist-tag latest}

    def __call__(self, request):
        method, url, headers, body = request
        self.requests.append((method, url, dict(headers)))
        if self.status != 200:
            return Answer(self.status, body=b'{"error":"bad token"}')
        name = url.rsplit("/", 1)[-1].replace("%2f", "/").replace("%2F", "/")
        if name not in self.held:
            return Answer(404, body=b'{"error":"not found"}')
        held = self.held[name]  # [versions], or {version: extra fields (dependencies ...)}
        doc = {"name": name, "versions": dict(
            (v, dict(held[v] if isinstance(held, dict) else {}, version=v,
                     dist={"integrity": "sha512-%s-%s" % (name, v)})) for v in held)}
        if name in self.latest:
            doc["dist-tags"] = {"latest": self.latest[name]}
        return Answer(200, body=json.dumps(doc).encode())


class FakeNpmScript(object):
    """A transport that answers from a list (an Answer or an exception per request) and records requests."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests = []

    def __call__(self, request):
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
