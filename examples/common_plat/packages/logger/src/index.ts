/** A tiny structured logger writing one JSON object per line. */

export const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type Level = (typeof LEVELS)[number];

export interface LoggerOptions {
  level?: Level;
  /** Where lines go; defaults to stdout (stderr for warn and error). */
  sink?: (line: string, level: Level) => void;
  fields?: Record<string, unknown>;
}

export interface Logger {
  readonly name: string;
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export function isLevel(value: unknown): value is Level {
  return typeof value === 'string' && (LEVELS as readonly string[]).includes(value);
}

function defaultSink(line: string, level: Level): void {
  const stream = level === 'warn' || level === 'error' ? process.stderr : process.stdout;
  stream.write(line + '\n');
}

export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  const envLevel = process.env.LOG_LEVEL;
  const threshold = LEVELS.indexOf(options.level ?? (isLevel(envLevel) ? envLevel : 'info'));
  const sink = options.sink ?? defaultSink;
  const base = options.fields ?? {};

  const emit = (level: Level, msg: string, fields?: Record<string, unknown>): void => {
    if (LEVELS.indexOf(level) < threshold) return;
    const record = { time: new Date().toISOString(), level, logger: name, msg, ...base, ...fields };
    sink(JSON.stringify(record), level);
  };

  return {
    name,
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (fields) => createLogger(name, { ...options, fields: { ...base, ...fields } }),
  };
}
