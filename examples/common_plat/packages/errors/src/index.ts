/** Error classes shared by every ByteLyst service. */

export interface ErrorPayload {
  error: string;
  message: string;
  statusCode: number;
  details?: unknown;
}

export class BytelystError extends Error {
  readonly code: string;
  readonly statusCode: number;
  readonly details?: unknown;

  constructor(message: string, code = 'INTERNAL', statusCode = 500, details?: unknown) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.statusCode = statusCode;
    this.details = details;
  }

  toPayload(): ErrorPayload {
    const payload: ErrorPayload = { error: this.code, message: this.message, statusCode: this.statusCode };
    if (this.details !== undefined) payload.details = this.details;
    return payload;
  }
}

export class ValidationError extends BytelystError {
  constructor(message: string, details?: unknown) {
    super(message, 'VALIDATION_FAILED', 400, details);
  }
}

export class NotFoundError extends BytelystError {
  constructor(what: string) {
    super(`${what} not found`, 'NOT_FOUND', 404);
  }
}

export class UnauthorizedError extends BytelystError {
  constructor(message = 'unauthorized') {
    super(message, 'UNAUTHORIZED', 401);
  }
}

export function isBytelystError(value: unknown): value is BytelystError {
  return value instanceof BytelystError;
}

/** Turn anything thrown into a payload that is safe to send to a client. */
export function toErrorPayload(value: unknown): ErrorPayload {
  if (isBytelystError(value)) return value.toPayload();
  return { error: 'INTERNAL', message: 'internal error', statusCode: 500 };
}
