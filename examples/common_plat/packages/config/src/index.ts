/** Environment configuration validated with zod. */
import { z } from 'zod';
import { ValidationError } from '@bytelyst/errors';

export { z };

export class ConfigError extends ValidationError {}

/** Variables every ByteLyst service understands. */
export function serviceSchema(defaultPort: number) {
  return z.object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    HOST: z.string().min(1).default('0.0.0.0'),
    PORT: z.coerce.number().int().min(1).max(65535).default(defaultPort),
    LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  });
}

export type ServiceConfig = z.infer<ReturnType<typeof serviceSchema>>;

/** Parse `env` with `schema`; throws ConfigError listing every bad variable. */
export function loadConfig<S extends z.ZodTypeAny>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`, problems);
  }
  return result.data;
}

export function loadServiceConfig(
  defaultPort: number,
  env: Record<string, string | undefined> = process.env,
): ServiceConfig {
  return loadConfig(serviceSchema(defaultPort), env);
}
