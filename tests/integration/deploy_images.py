"""Small test images for compose_deploy: a node HTTP server FROM the stand-in image.

Versions v1 and v2 are healthy; v3 is broken three ways: it exits at start ("exit"),
its /health answers 500 ("unhealthy"), or it never binds its port ("nobind").
Every image has a HEALTHCHECK with a 1s interval so Compose's --wait decides fast.
GET /slow/MS answers the version after MS milliseconds (at most 30 s).
GET /env/NAME answers the container's variable NAME (404 when unset), and with PORT set
the server listens on that port too (the health check keeps 3000): tests see what
configuration reached the container.
Images are pushed to the loopback registry, so they have repo digests.
"""

import json
import os
import tempfile

from ansible_collections.bytelyst.deploy.plugins.module_utils._dockerfile import health_argv

SERVER_JS = r"""
const http = require('http');
const fs = require('fs');
const version = process.env.APP_VERSION;
const mode = process.env.APP_MODE;
process.on('SIGTERM', () => process.exit(0));  // stop fast: node as PID 1 ignores SIGTERM otherwise
if (mode === 'exit') {
  console.error(`${version}: cannot start (broken on purpose: exits at start)`);
  process.exit(3);
}
const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    if (mode === 'unhealthy') {
      console.error(`${version}: health check failed (broken on purpose: answers 500)`);
      res.statusCode = 500;
      return res.end('unhealthy');
    }
    return res.end('ok');
  }
  if (req.url === '/version') return res.end(version);
  if (req.url.startsWith('/slow/')) {  // a request in flight for N ms (a drain across a switch)
    return setTimeout(() => res.end(version), Math.min(Number(req.url.slice(6)) || 0, 30000));
  }
  if (req.url.startsWith('/env/')) {
    const value = process.env[decodeURIComponent(req.url.slice(5))];
    if (value === undefined) { res.statusCode = 404; return res.end(); }
    return res.end(value);
  }
  if (req.url === '/data' && req.method === 'POST') {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => { fs.writeFileSync('/data/value', body); res.end('stored'); });
    return;
  }
  if (req.url === '/data') {
    try { return res.end(fs.readFileSync('/data/value')); } catch (e) { res.statusCode = 404; return res.end('none'); }
  }
  res.statusCode = 404;
  res.end();
});
if (mode === 'nobind') {
  console.error(`${version}: not listening (broken on purpose: never binds its port)`);
  setInterval(() => {}, 1000);
} else {
  server.listen(3000, () => console.log(`${version} listening on 3000`));
  if (process.env.PORT && process.env.PORT !== '3000') {
    http.createServer((req, res) => server.emit('request', req, res)).listen(Number(process.env.PORT));
  }
}
"""

# The products' own probe (bash over /dev/tcp, node where there is no bash): a 1 s interval
# of node probes cost a fifth of a core per running test container.
HEALTHCHECK = "HEALTHCHECK --interval=1s --timeout=2s --retries=3 CMD " + json.dumps(health_argv(3000, "/health"))

VARIANTS = {
    "v1": ("v1", "ok"),
    "v2": ("v2", "ok"),
    "v3-exit": ("v3", "exit"),
    "v3-unhealthy": ("v3", "unhealthy"),
    "v3-nobind": ("v3", "nobind"),
}

TEST_LABEL = {"dev.bytelyst.test": "1"}


def dockerfile(base, version, mode):
    return "\n".join([
        "FROM %s" % base,
        "COPY server.js /app/server.js",
        "RUN mkdir -p /data",
        "ENV APP_VERSION=%s APP_MODE=%s" % (version, mode),
        HEALTHCHECK,
        'CMD ["node", "/app/server.js"]',
        "",
    ])


def build_and_push(client, base, repo, variants=None):
    """Build each variant as repo:<variant>, push it; return {variant: ref}."""
    refs = {}
    with tempfile.TemporaryDirectory() as ctx:
        with open(os.path.join(ctx, "server.js"), "w") as f:
            f.write(SERVER_JS)
        for name in variants or sorted(VARIANTS):
            version, mode = VARIANTS[name]
            with open(os.path.join(ctx, "Dockerfile"), "w") as f:
                f.write(dockerfile(base, version, mode))
            client.images.build(path=ctx, tag="%s:%s" % (repo, name), rm=True, labels=TEST_LABEL)
            for line in client.images.push(repo, tag=name, stream=True, decode=True):
                if "error" in line:
                    raise RuntimeError("push of %s:%s failed: %s" % (repo, name, line["error"]))
            refs[name] = "%s:%s" % (repo, name)
    return refs


def remove_images(client, refs):
    for ref in refs.values():
        try:
            client.images.remove(ref, force=True)
        except Exception:
            pass
