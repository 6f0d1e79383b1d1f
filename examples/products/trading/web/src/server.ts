import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadServiceConfig } from '@bytelyst/config';
import { formatCurrency, formatDate, formatPercent } from '@bytelyst/format';

const SERVICE = 'trading-web';
const DEFAULT_PORT = 3000;
const { version } = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const WATCHLIST = [
  { symbol: 'BLST', price: 128.4, change: 0.021 },
  { symbol: 'ACME', price: 42.05, change: -0.004 },
];

function body(now: number): string {
  const rows = WATCHLIST.map(
    (q) => `<tr><td>${q.symbol}</td><td>${escapeHtml(formatCurrency(q.price))}</td><td>${escapeHtml(formatPercent(q.change))}</td></tr>`,
  ).join('\n');
  return `<p>Watchlist on ${formatDate(now)}</p>
<table>
<tr><th>Symbol</th><th>Price</th><th>Change</th></tr>
${rows}
</table>`;
}

export function renderPage(now = Date.now()): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>ByteLyst Trading</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 720px; margin: 2rem auto">
<h1>ByteLyst Trading <small>v${escapeHtml(version)}</small></h1>
${body(now)}
</body>
</html>
`;
}

export function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
  } else if (url.pathname === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'ok', service: SERVICE, version }));
  } else if (url.pathname === '/') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(renderPage());
  } else {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }
}

if (require.main === module) {
  const config = loadServiceConfig(DEFAULT_PORT);
  const server = createServer(handle);
  server.listen(config.PORT, config.HOST, () => {
    console.log(JSON.stringify({ level: 'info', service: SERVICE, msg: 'listening', port: config.PORT, version }));
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => server.close(() => process.exit(0)));
  }
}
