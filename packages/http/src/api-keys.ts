/**
 * Bearer API keys for the admin API: keys given in the options (compared by digest in constant
 * time), then the `authenticate` hook (where keys stored hashed in a database plug in).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { PipesError } from '@openpipes/core';

/**
 * `read` may call GET routes; `write` may call every route.
 *
 * @example
 * ```ts
 * const scope: ApiScope = request.method === 'GET' ? 'read' : 'write';
 * ```
 */
/** `read` ⊂ `write` ⊂ `privacy` (docs/security.md, "The privacy scope"). */
export type ApiScope = 'read' | 'write' | 'privacy';

/**
 * An API key given in the handler's options (keys kept in a database go through `authenticate`).
 *
 * @example
 * ```ts
 * createHandler(pipes, { apiKeys: [{ name: 'ci', token: process.env.OPENPIPES_API_KEY!, scope: 'write' }] });
 * ```
 */
export interface StaticApiKey {
  /** Shown in the audit trail as the actor of every change made with this key. */
  name: string;
  /** The bearer token; at least 16 characters. */
  token: string;
  scope: ApiScope;
}

/**
 * Who is calling: the actor recorded in the audit trail, and what the key may do.
 *
 * @example
 * ```ts
 * const principal: ApiPrincipal = { actor: 'ci (key_01HX…)', scope: 'write' };
 * ```
 */
export interface ApiPrincipal {
  actor: string;
  scope: ApiScope;
}

/**
 * Resolves a bearer token that is not one of `apiKeys`: return the principal, or null to refuse.
 *
 * @example
 * ```ts
 * const authenticate: Authenticate = async (token) => {
 *   const key = await db.findApiKeyByHash(sha256(token));
 *   return key ? { actor: key.name, scope: key.scope } : null;
 * };
 * ```
 */
export type Authenticate = (
  token: string,
  request: Request,
) => Promise<ApiPrincipal | null> | ApiPrincipal | null;

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Returns the function that turns an `Authorization` header into a principal, or throws 401. */
export function createApiAuthenticator(keys: StaticApiKey[], hook: Authenticate | undefined) {
  for (const key of keys) {
    if (typeof key.token !== 'string' || key.token.length < 16) {
      throw new PipesError({
        code: 'VALIDATION_FAILED',
        message: `API key "${key.name}": the token must be at least 16 characters`,
      });
    }
    if (key.scope !== 'read' && key.scope !== 'write' && key.scope !== 'privacy') {
      throw new PipesError({
        code: 'VALIDATION_FAILED',
        message: `API key "${key.name}": scope must be "read", "write" or "privacy"`,
      });
    }
  }
  const known = keys.map((key) => ({
    hash: digest(key.token),
    principal: { actor: key.name, scope: key.scope },
  }));

  return async (request: Request): Promise<ApiPrincipal> => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '');
    if (!match) {
      throw new PipesError({
        code: 'UNAUTHORIZED',
        message: 'send an API key: Authorization: Bearer <key>',
        details: { auth: 'bearer' },
      });
    }
    const token = match[1]!;
    const hash = digest(token);
    let found: ApiPrincipal | null = null;
    // Compare with every key so the time taken does not say which one (or whether one) matched.
    for (const key of known) if (timingSafeEqual(hash, key.hash)) found = key.principal;
    found ??= (await hook?.(token, request)) ?? null;
    if (!found) {
      throw new PipesError({
        code: 'UNAUTHORIZED',
        message: 'the API key is not valid',
        details: { auth: 'bearer', reason: 'invalid_token' },
      });
    }
    return found;
  };
}
