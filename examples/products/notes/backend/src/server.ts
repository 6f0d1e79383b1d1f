import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { loadServiceConfig } from '@bytelyst/config';
import { NotFoundError, ValidationError } from '@bytelyst/errors';
import { errorReply, healthPayload } from '@bytelyst/http';
import { createLogger } from '@bytelyst/logger';

const SERVICE = 'notes-backend';
const DEFAULT_PORT = 4016;
// dist/server.js -> ../package.json: the version the image was built from.
const { version } = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };

interface Note {
  id: number;
  text: string;
  createdAt: string;
}

export function buildApp() {
  const log = createLogger(SERVICE);
  const app = Fastify({ logger: false });
  const notes: Note[] = [];

  app.setErrorHandler((err, _req, reply) => {
    const { statusCode, body } = errorReply(err, log);
    void reply.code(statusCode).send(body);
  });

  app.get('/health', async () => healthPayload(SERVICE, version));

  app.get('/notes', async () => notes);

  app.get<{ Params: { id: string } }>('/notes/:id', async (req) => {
    const note = notes.find((n) => n.id === Number(req.params.id));
    if (!note) throw new NotFoundError(`note ${req.params.id}`);
    return note;
  });

  app.post<{ Body: { text?: unknown } }>('/notes', async (req, reply) => {
    const text = req.body?.text;
    if (typeof text !== 'string' || text.trim() === '') throw new ValidationError('text must be a non-empty string');
    const note = { id: notes.length + 1, text, createdAt: new Date().toISOString() };
    notes.push(note);
    return reply.code(201).send(note);
  });

  return { app, log };
}

async function main() {
  const config = loadServiceConfig(DEFAULT_PORT);
  const { app, log } = buildApp();
  await app.listen({ port: config.PORT, host: config.HOST });
  log.info('listening', { port: config.PORT, host: config.HOST, version });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      log.info('shutting down', { signal });
      void app.close().then(() => process.exit(0));
    });
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
