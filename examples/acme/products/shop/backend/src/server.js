// shop backend: GET /health answers through the whole chain of shared packages
// (@acme/service -> @acme/store -> @acme/util -> @acme/errors, and @acme-ui/widgets).
import http from 'node:http';
import { createRequire } from 'node:module';
import { createService } from '@acme/service';
import widgets from '@acme-ui/widgets';
import bytes from 'bytes';

const require = createRequire(import.meta.url);
const service = createService('shop-backend');
const version = require('../package.json').version;
const port = Number(process.env.PORT || 4030);

const server = http.createServer((req, res) => {
  if (req.url !== '/health') {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"status":"not found"}');
    return;
  }
  const body = Object.assign(service.health(), {
    version,
    widgets: widgets.describe(),
    badge: widgets.badge('items', 3),
    size: bytes(2048),
    bytes: require('bytes/package.json').version,
  });
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
});

server.listen(port, process.env.HOST || '0.0.0.0');
