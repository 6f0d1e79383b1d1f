/** JWT helpers (HS256) for ByteLyst services. */
import { SignJWT, jwtVerify, type JWTPayload } from 'jose';
import { loadConfig, z } from '@bytelyst/config';
import { UnauthorizedError } from '@bytelyst/errors';

export const authSchema = z.object({
  AUTH_SECRET: z.string().min(16, 'AUTH_SECRET must be at least 16 characters'),
  AUTH_ISSUER: z.string().default('bytelyst'),
  AUTH_TTL: z.string().default('1h'),
});

export type AuthConfig = z.infer<typeof authSchema>;

export function loadAuthConfig(env: Record<string, string | undefined> = process.env): AuthConfig {
  return loadConfig(authSchema, env);
}

export interface Claims extends JWTPayload {
  sub: string;
  roles?: string[];
}

const key = (secret: string) => new TextEncoder().encode(secret);

export async function signToken(claims: Claims, config: AuthConfig): Promise<string> {
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(config.AUTH_ISSUER)
    .setIssuedAt()
    .setExpirationTime(config.AUTH_TTL)
    .sign(key(config.AUTH_SECRET));
}

export async function verifyToken(token: string, config: AuthConfig): Promise<Claims> {
  try {
    const { payload } = await jwtVerify(token, key(config.AUTH_SECRET), { issuer: config.AUTH_ISSUER });
    if (typeof payload.sub !== 'string') throw new UnauthorizedError('token has no subject');
    return payload as Claims;
  } catch (err) {
    if (err instanceof UnauthorizedError) throw err;
    throw new UnauthorizedError('invalid token');
  }
}

/** Extract the token from an `Authorization: Bearer ...` header value. */
export function bearerToken(header: string | undefined): string {
  const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
  if (!match) throw new UnauthorizedError('missing bearer token');
  return match[1];
}
