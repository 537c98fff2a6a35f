import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * JWT authorizers on a machine without the issuer: API Gateway checks a token's signature against the issuer's
 * published keys (a Cognito user pool's JWKS), which a laptop without network and without the pool cannot fetch. The
 * local gateway stands in for the issuer instead: it signs tokens itself (HS256, with a secret made at start and never
 * written anywhere but the runtime's 0600 discovery file) and checks them the way API Gateway checks a JWT: signature,
 * expiry, `iss` equal to the authorizer's issuer, `aud` or `client_id` among its audience ("Controlling access to HTTP
 * APIs with JWT authorizers"). The claims reach the integration as API Gateway passes them on.
 */
export class LocalJwtIssuer {
  private readonly secret: Buffer;

  constructor(secret: Buffer = randomBytes(32)) {
    this.secret = secret;
  }

  /** A token the local gateway accepts on routes of an authorizer with this issuer and audience. */
  mint(claims: {
    issuer: string;
    clientId: string;
    subject: string;
    groups?: readonly string[];
    ttlSeconds?: number;
    now?: number;
  }): string {
    const now = Math.floor((claims.now ?? Date.now()) / 1000);
    const payload = {
      iss: claims.issuer,
      client_id: claims.clientId,
      sub: claims.subject,
      username: claims.subject,
      token_use: 'access',
      scope: 'openid email profile',
      ...(claims.groups && claims.groups.length > 0 ? { 'cognito:groups': [...claims.groups] } : {}),
      iat: now,
      exp: now + (claims.ttlSeconds ?? 12 * 3600),
    };
    const head = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const body = base64url(JSON.stringify(payload));
    return `${head}.${body}.${this.sign(`${head}.${body}`)}`;
  }

  /**
   * The token's claims, as API Gateway hands them on (`requestContext.authorizer.jwt.claims`: strings, a list as
   * `[a b]`), or why it is refused.
   */
  verify(
    header: string | undefined,
    authorizer: { issuer: string; audience: readonly string[] },
    now: number = Date.now(),
  ): { ok: true; claims: Record<string, string>; scopes: string[] } | { ok: false; reason: string } {
    const token = header?.replace(/^Bearer\s+/i, '').trim();
    if (!token) return { ok: false, reason: 'no token' };
    const [head, body, signature] = token.split('.');
    if (!head || !body || !signature) return { ok: false, reason: 'not a JWT' };
    const expected = Buffer.from(this.sign(`${head}.${body}`));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given))
      return { ok: false, reason: 'bad signature' };
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return { ok: false, reason: 'unreadable claims' };
    }
    if (typeof payload.exp !== 'number' || payload.exp * 1000 <= now) return { ok: false, reason: 'expired' };
    if (payload.iss !== authorizer.issuer) return { ok: false, reason: 'issuer differs' };
    const audiences = [payload.aud, payload.client_id]
      .flat()
      .filter((a): a is string => typeof a === 'string');
    if (!audiences.some((a) => authorizer.audience.includes(a)))
      return { ok: false, reason: 'audience differs' };
    const claims = Object.fromEntries(
      Object.entries(payload).map(([name, value]) => [
        name,
        Array.isArray(value) ? `[${value.join(' ')}]` : String(value),
      ]),
    );
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
    return { ok: true, claims, scopes };
  }

  private sign(data: string): string {
    return createHmac('sha256', this.secret).update(data).digest('base64url');
  }
}

function base64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}
