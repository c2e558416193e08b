/**
 * Authentication of `POST /collect/:slug` requests against their source's `auth` setting. It lives
 * in core because it needs the secret's value, which core never hands out: HTTP passes the
 * credentials in and gets the source back, or a `PipesError('UNAUTHORIZED')`.
 *
 * - `none`: anyone may send (public beacons).
 * - `bearer`: `Authorization: Bearer <token>`, the token being the value of the source's secret.
 * - `hmac`: `X-OpenPipes-Timestamp: <unix seconds>` and `X-OpenPipes-Signature: sha256=<hex>`, the
 *   hex HMAC-SHA256 of `${timestamp}.${rawBody}` keyed with the secret's value. Timestamps further
 *   than `tolerance_seconds` from now are refused, and so is a signature seen before within that
 *   window. The memory of seen signatures is per process: several processes behind one load
 *   balancer each refuse replays they have seen themselves.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { ConfigCache } from './config.js';
import { PipesError } from './errors.js';
import type { SecretResolver } from './registries/secrets.js';
import type { Source } from './schemas.js';

/**
 * What a collect request presents, as HTTP received it.
 *
 * @example
 * ```ts
 * const source = await pipes.authenticateCollect({
 *   slug: 'web',
 *   authorization: request.headers.get('authorization'),
 *   timestamp: request.headers.get('x-openpipes-timestamp'),
 *   signature: request.headers.get('x-openpipes-signature'),
 *   rawBody: bodyBytes,
 * });
 * ```
 */
export interface CollectCredentials {
  /** The source's slug, from `/collect/:slug`. */
  slug: string;
  /** The `Authorization` header, if any. */
  authorization?: string | null;
  /** The `X-OpenPipes-Timestamp` header, if any. */
  timestamp?: string | null;
  /** The `X-OpenPipes-Signature` header, if any. */
  signature?: string | null;
  /** The request body exactly as received (the HMAC covers these bytes). */
  rawBody: string | Uint8Array;
}

export interface CollectAuthDeps {
  config: ConfigCache;
  resolveSecrets: SecretResolver;
  now: () => number;
  /** Most signatures remembered for replay protection; the oldest are forgotten first. */
  maxRememberedSignatures?: number;
}

/** Signature header: `sha256=` and 64 hex digits. */
const signaturePattern = /^sha256=([0-9a-fA-F]{64})$/;

/**
 * Creates the authenticator behind `pipes.authenticateCollect()`. Resolves with the source when
 * the request may send to it; throws `UNKNOWN_SOURCE`, `SOURCE_DISABLED` or `UNAUTHORIZED`.
 */
export function createCollectAuthenticator(deps: CollectAuthDeps) {
  const maxRemembered = deps.maxRememberedSignatures ?? 100_000;
  // signature hex -> forget after (ms). Insertion order is roughly expiry order, so pruning from the
  // front is enough; the cap bounds memory under a flood of valid signatures.
  const seen = new Map<string, number>();

  const remember = (signature: string, forgetAt: number, now: number) => {
    for (const [key, until] of seen) {
      if (until > now && seen.size < maxRemembered) break;
      seen.delete(key);
    }
    seen.set(signature, forgetAt);
  };

  const secretValue = async (source: Source, secretId: string): Promise<string> => {
    const values = Object.values(await deps.resolveSecrets([secretId]));
    const value = values[0];
    if (value === undefined) {
      throw new PipesError({
        code: 'INTERNAL',
        message: `source "${source.slug}" authenticates with secret ${secretId}, which cannot be read`,
      });
    }
    return value;
  };

  return async function authenticateCollect(input: CollectCredentials): Promise<Source> {
    const config = await deps.config.current();
    const source = config.sourcesBySlug.get(input.slug);
    if (!source) {
      throw new PipesError({ code: 'UNKNOWN_SOURCE', message: `no source with slug "${input.slug}"` });
    }
    if (!source.enabled) {
      throw new PipesError({ code: 'SOURCE_DISABLED', message: `source "${input.slug}" is disabled` });
    }
    const auth = source.auth;
    if (auth.type === 'none') return source;

    if (auth.type === 'bearer') {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(input.authorization ?? '');
      if (!match) {
        throw unauthorized(
          'bearer',
          `source "${source.slug}" requires the header Authorization: Bearer <token>`,
        );
      }
      const expected = await secretValue(source, auth.secret_id);
      // Compare digests so neither the length nor the content of the token leaks through timing.
      if (!timingSafeEqual(sha256(match[1]!), sha256(expected))) {
        throw unauthorized('bearer', `the bearer token is not valid for source "${source.slug}"`);
      }
      return source;
    }

    const timestamp = input.timestamp?.trim() ?? '';
    const signature = signaturePattern.exec(input.signature?.trim() ?? '')?.[1]?.toLowerCase();
    if (!/^\d{1,12}$/.test(timestamp) || !signature) {
      throw unauthorized(
        'hmac',
        `source "${source.slug}" requires the headers X-OpenPipes-Timestamp: <unix seconds> and ` +
          'X-OpenPipes-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">',
      );
    }
    const now = deps.now();
    const skew = Math.abs(now / 1000 - Number(timestamp));
    if (skew > auth.tolerance_seconds) {
      throw unauthorized(
        'hmac',
        `X-OpenPipes-Timestamp is ${Math.round(skew)} s away from the server's clock; ` +
          `at most ${auth.tolerance_seconds} s is accepted (sign each request when you send it)`,
      );
    }
    const expected = await secretValue(source, auth.secret_id);
    const digest = createHmac('sha256', expected).update(`${timestamp}.`).update(input.rawBody).digest();
    if (!timingSafeEqual(digest, Buffer.from(signature, 'hex'))) {
      throw unauthorized('hmac', `X-OpenPipes-Signature does not match the body for source "${source.slug}"`);
    }
    const key = `${source.id}:${signature}`;
    const until = seen.get(key);
    if (until !== undefined && until > now) {
      throw unauthorized(
        'hmac',
        'this signature was already used; sign every request with a fresh timestamp',
      );
    }
    remember(key, (Number(timestamp) + auth.tolerance_seconds) * 1000 + 1000, now);
    return source;
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** `details.auth` tells HTTP which challenge to answer with (`WWW-Authenticate`). */
function unauthorized(auth: 'bearer' | 'hmac', message: string): PipesError {
  return new PipesError({ code: 'UNAUTHORIZED', message, details: { auth } });
}
