"""What an image really holds, for tests: its saved archive (config, history, every layer's
bytes and file names) and what a container of it does when it runs.

save(client, ref, path)           docker save of ref (docker SDK image.save()) into path
layer_names(path)                 [(layer, [file names in that layer])], bottom layer first
layer_files(path)                 [(layer, {regular file: size})], bottom layer first
filesystem_names(client, image)   every path in the filesystem a container of image starts with
find_bytes(path, needles)         {needle: [archive members whose bytes hold it]}
serve(client, image, port, path)  start the image's own command; its answer and its processes' uids
"""

import json
import tarfile
import time
import uuid

CHUNK = 8 * 1024 * 1024
TEST_LABELS = {"dev.bytelyst.test": "1"}


def save(client, ref, path):
    """Write `docker save` of ref (one image, untagged in the archive) to path; return path."""
    with open(str(path), "wb") as handle:
        for chunk in client.images.get(ref).save(named=False):
            handle.write(chunk)
    return str(path)


def _layers(archive):
    with archive.extractfile("manifest.json") as handle:
        manifest = json.load(handle)
    assert len(manifest) == 1, manifest
    return manifest[0]["Layers"]


def _layer_members(path):
    """[(layer path in the archive, [its tar members])], bottom layer first."""
    found = []
    with tarfile.open(str(path), "r:") as archive:
        for layer in _layers(archive):
            with tarfile.open(fileobj=archive.extractfile(layer), mode="r:") as inner:
                found.append((layer, inner.getmembers()))
    return found


def layer_names(path):
    """[(layer path in the archive, [names of the files, directories and whiteouts in it])]."""
    return [(layer, [m.name for m in members]) for layer, members in _layer_members(path)]


def layer_files(path):
    """[(layer path in the archive, {regular file name: size})], bottom layer first."""
    return [(layer, dict((m.name, m.size) for m in members if m.isfile())) for layer, members in _layer_members(path)]


def filesystem_names(client, image):
    """Names of every file and directory a container of image sees (docker export of a created,
    never started container), without a leading slash."""
    container = client.containers.create(image, labels=TEST_LABELS, name="bytelyst-test-fs-" + uuid.uuid4().hex[:10])
    try:
        stream = _Stream(container.export())
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            return [member.name for member in archive]
    finally:
        container.remove(force=True)


class _Stream(object):
    """A read()-able file over an iterator of byte chunks (for tarfile's stream mode)."""

    def __init__(self, chunks):
        self.chunks = iter(chunks)
        self.buffer = b""

    def read(self, size=-1):
        while size < 0 or len(self.buffer) < size:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.buffer += chunk
        if size < 0:
            data, self.buffer = self.buffer, b""
        else:
            data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


def _holds(handle, needles):
    """The needles (bytes) that occur in the stream handle, read in chunks with an overlap."""
    keep = max(len(n) for n in needles) - 1
    seen, tail = set(), b""
    while True:
        chunk = handle.read(CHUNK)
        if not chunk:
            return seen
        data = tail + chunk
        seen.update(n for n in needles if n in data)
        tail = data[-keep:] if keep else b""


def find_bytes(path, needles):
    """{needle: [members of the saved archive (config JSON, manifest, layer tars) holding it]}.

    Layers of `docker save` are uncompressed tars, so a file of any layer that holds a needle
    makes the layer's bytes hold it. Also returns how many members were read (not vacuous)."""
    needles = [n if isinstance(n, bytes) else n.encode("utf-8") for n in needles]
    hits = dict((n, []) for n in needles)
    read = 0
    with tarfile.open(str(path), "r:") as archive:
        for member in archive.getmembers():
            if not member.isfile():
                continue
            read += 1
            with archive.extractfile(member) as handle:
                for needle in _holds(handle, needles):
                    hits[needle].append(member.name)
    return hits, read


PROBE = r"""
const fs = require('fs');
const procs = fs.readdirSync('/proc').filter((d) => /^[0-9]+$/.test(d)).map((pid) => {
  try {
    const m = /^Uid:\s+([0-9]+)/m.exec(fs.readFileSync('/proc/' + pid + '/status', 'utf8'));
    return m ? { pid: Number(pid), uid: Number(m[1]) } : null;
  } catch (e) { return null; }
}).filter(Boolean);
require('http').get(process.argv[1], (r) => {
  let body = '';
  r.setEncoding('utf8');
  r.on('data', (c) => { body += c; });
  r.on('end', () => console.log(JSON.stringify({ status: r.statusCode, body, procs })));
}).on('error', (e) => console.log(JSON.stringify({ error: e.message, procs })));
"""


def serve(client, image, port, path="/health", timeout=60):
    """Start image's own command, ask http://127.0.0.1:<port><path> from inside until it answers 200.

    Returns {"status", "body" (text), "procs": [{"pid", "uid"}] (every process in the container),
    "user" (the image's configured user)}; the container is always removed. Raises
    AssertionError with the logs when nothing answers 200 in time."""
    container = client.containers.create(image, detach=True, labels=TEST_LABELS,
                                         name="bytelyst-test-serve-" + uuid.uuid4().hex[:10])
    url = "http://127.0.0.1:%d%s" % (port, path)
    last = None
    try:
        container.start()
        deadline = time.time() + timeout
        while time.time() < deadline:
            container.reload()
            if container.status != "running":
                break
            code, out = container.exec_run(["node", "-e", PROBE, url])
            try:
                last = json.loads(out.decode("utf-8", "replace").strip().splitlines()[-1])
            except (ValueError, IndexError):
                last = {"error": out.decode("utf-8", "replace")}
            if code == 0 and last.get("status") == 200:
                last["user"] = container.attrs["Config"]["User"]
                return last
            time.sleep(1)
        logs = container.logs().decode("utf-8", "replace")
        raise AssertionError("%s of %s did not answer 200 (last: %s); logs:\n%s" % (url, image, last, logs[-2000:]))
    finally:
        container.remove(force=True)
