/** Backend HTTP helpers shared by the Fastify services. */
import { randomUUID } from 'node:crypto';
import { toErrorPayload, type ErrorPayload } from '@bytelyst/errors';
import { createLogger, type Logger } from '@bytelyst/logger';

export interface HealthPayload {
  status: 'ok' | 'degraded';
  service: string;
  version: string;
  uptimeSeconds?: number;
  checks?: Record<string, boolean>;
}

const startedAt = Date.now();

/**
 * Build the body of a `/health` answer. The first three keys are always
 * `status`, `service`, `version`; failing checks turn the status to `degraded`.
 */
export function healthPayload(
  service: string,
  version: string,
  checks?: Record<string, boolean>,
): HealthPayload {
  const ok = checks ? Object.values(checks).every(Boolean) : true;
  const payload: HealthPayload = { status: ok ? 'ok' : 'degraded', service, version };
  if (checks) payload.checks = checks;
  return payload;
}

export function uptimeSeconds(now = Date.now()): number {
  return Math.round((now - startedAt) / 1000);
}

/** Status code and body for anything thrown in a handler. */
export function errorReply(err: unknown, log?: Logger): { statusCode: number; body: ErrorPayload } {
  const body = toErrorPayload(err);
  if (body.statusCode >= 500) (log ?? createLogger('http')).error('request failed', { err: String(err) });
  return { statusCode: body.statusCode, body };
}

export function requestId(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value && /^[\w.-]{1,128}$/.test(value) ? value : randomUUID();
}
