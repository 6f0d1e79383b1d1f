import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { loadServiceConfig } from '@bytelyst/config';
import { ValidationError } from '@bytelyst/errors';
import { formatDate, formatDuration, formatTime } from '@bytelyst/format';
import { errorReply, healthPayload, uptimeSeconds } from '@bytelyst/http';
import { createLogger } from '@bytelyst/logger';

const SERVICE = 'clock-backend';
const DEFAULT_PORT = 4017;
const { version } = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };

export function buildApp() {
  const log = createLogger(SERVICE);
  const app = Fastify({ logger: false });

  app.setErrorHandler((err, _req, reply) => {
    const { statusCode, body } = errorReply(err, log);
    void reply.code(statusCode).send(body);
  });

  app.get('/health', async () => healthPayload(SERVICE, version));

  app.get('/time', async () => {
    const now = Date.now();
    return { epochMs: now, date: formatDate(now), time: formatTime(now), uptime: formatDuration(uptimeSeconds(now) * 1000) };
  });

  // GET /timer?seconds=90 -> { "human": "1m 30s" }
  app.get<{ Querystring: { seconds?: string } }>('/timer', async (req) => {
    const seconds = Number(req.query.seconds);
    if (!Number.isFinite(seconds) || seconds < 0) throw new ValidationError('seconds must be a non-negative number');
    return { seconds, human: formatDuration(seconds * 1000) };
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
