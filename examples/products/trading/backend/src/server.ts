import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { bearerToken, loadAuthConfig, verifyToken, type AuthConfig } from '@bytelyst/auth';
import { loadServiceConfig } from '@bytelyst/config';
import { BytelystError, NotFoundError } from '@bytelyst/errors';
import { formatCurrency, formatPercent } from '@bytelyst/format';
import { errorReply, healthPayload } from '@bytelyst/http';
import { createLogger } from '@bytelyst/logger';

const SERVICE = 'trading-backend';
const DEFAULT_PORT = 4018;
const { version } = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };

const QUOTES: Record<string, { price: number; change: number }> = {
  BLST: { price: 128.4, change: 0.021 },
  ACME: { price: 42.05, change: -0.004 },
};

export function buildApp() {
  const log = createLogger(SERVICE);
  const app = Fastify({ logger: false });
  // Auth is optional at start-up: /health and quotes work without AUTH_SECRET,
  // only /portfolio needs it.
  let auth: AuthConfig | undefined;
  try {
    auth = loadAuthConfig();
  } catch {
    log.warn('AUTH_SECRET not set: /portfolio is disabled');
  }

  app.setErrorHandler((err, _req, reply) => {
    const { statusCode, body } = errorReply(err, log);
    void reply.code(statusCode).send(body);
  });

  app.get('/health', async () => healthPayload(SERVICE, version));

  app.get<{ Params: { symbol: string } }>('/quotes/:symbol', async (req) => {
    const symbol = req.params.symbol.toUpperCase();
    const quote = QUOTES[symbol];
    if (!quote) throw new NotFoundError(`symbol ${symbol}`);
    return { symbol, price: formatCurrency(quote.price), change: formatPercent(quote.change) };
  });

  app.get('/portfolio', async (req) => {
    if (!auth) throw new BytelystError('authentication is not configured', 'AUTH_DISABLED', 503);
    const claims = await verifyToken(bearerToken(req.headers.authorization), auth);
    return { owner: claims.sub, positions: [{ symbol: 'BLST', quantity: 10 }] };
  });

  return { app, log };
}

async function main() {
  const config = loadServiceConfig(DEFAULT_PORT);
  const { app, log } = buildApp();
  await app.listen({ port: config.PORT, host: config.HOST });
  log.info('listening', { port: config.PORT, host: config.HOST, version });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => void app.close().then(() => process.exit(0)));
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
