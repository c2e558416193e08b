/**
 * API keys for the admin API: a name (the actor in the audit trail), a `read` or `write` scope, and a
 * token shown once, at creation. Only the token's SHA-256 digest is stored, and only as the entity's
 * unique key, never in its data: versions and audit entries (which copy the data) hold neither the
 * token nor its digest. Revoked keys stay, marked `revoked_at`, so the trail keeps naming them.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { PipesError } from '../errors.js';
import { cursorSchema, isId } from '../ids.js';
import { nameSchema, type Page } from '../schemas.js';
import type { EntityRecord } from '../store.js';
import { parseOrThrow } from '../validation.js';
import { credentialDigest, insertCredential, revokeCredential } from './credentials.js';
import type { ActorContext, ListOptions, RegistryDeps } from './registry.js';

const isoTime = z.iso.datetime({ offset: true });

/**
 * `read`: GET only; `write`: everything but personal-data operations; `privacy`: everything, including
 * profile search, get and export and erasure (docs/security.md, "The privacy scope").
 */
export const apiKeyScopes = ['read', 'write', 'privacy'] as const;
/** `read` may call GET routes; `write` may call every route. */
export type ApiKeyScope = (typeof apiKeyScopes)[number];

export const apiKeyInputSchema = z.strictObject({
  /** Unique among keys that are not revoked; recorded as the actor of every change made with the key. */
  name: nameSchema,
  scope: z.enum(apiKeyScopes),
  description: z.string().max(2000).optional(),
});
export type ApiKeyInput = z.input<typeof apiKeyInputSchema>;

/** An API key as OpenPipes returns it: never the token, never its digest. */
export const apiKeySchema = z.object({
  id: z.string(),
  name: z.string(),
  scope: z.enum(apiKeyScopes),
  description: z.string().optional(),
  /** The token's first characters (`opk_AbCd…`), to tell keys apart. */
  token_hint: z.string(),
  /** When the key was revoked; null while it works. */
  revoked_at: isoTime.nullable(),
  version: z.number().int().positive(),
  created_at: isoTime,
  updated_at: isoTime,
});
export type ApiKey = z.infer<typeof apiKeySchema>;

/** What `create` returns: the key, and its token, which is never shown again. */
export type CreatedApiKey = ApiKey & { token: string };

/** What `verify` resolves a valid token to. */
export interface VerifiedApiKey {
  id: string;
  name: string;
  scope: ApiKeyScope;
}

/**
 * API keys.
 *
 * @example
 * ```ts
 * const { token, ...key } = await pipes.apiKeys.create({ name: 'ci', scope: 'write' }, { actor: 'admin' });
 * // give `token` to CI now: it is not stored and cannot be shown again
 * const who = await pipes.apiKeys.verify(token); // { id, name: 'ci', scope: 'write' }
 * await pipes.apiKeys.revoke(key.id, { actor: 'admin' });
 * ```
 */
export interface ApiKeysApi {
  /** Creates a key; the result carries the token, once. Throws `CONFLICT` when an active key has this name. */
  create(input: ApiKeyInput, context?: ActorContext): Promise<CreatedApiKey>;
  /** Throws `NOT_FOUND`. */
  get(id: string): Promise<ApiKey>;
  /** Every key, revoked ones included, oldest first. */
  list(options?: ListOptions): Promise<Page<ApiKey>>;
  /** Revokes a key: `verify` refuses it from now on, in every process. Idempotent. */
  revoke(id: string, context?: ActorContext): Promise<ApiKey>;
  /** The key a bearer token belongs to; null when unknown, revoked or malformed. */
  verify(token: string): Promise<VerifiedApiKey | null>;
}

const tokenPrefix = 'opk_';

/**
 * SHA-256, not a password hash (bcrypt, scrypt): the token is 32 random bytes, so there is nothing
 * to guess and a slow hash would protect nothing while costing every request. A deterministic
 * digest also makes the lookup one indexed read.
 */
const digestOf = credentialDigest;

function presentApiKey(record: EntityRecord): ApiKey {
  return apiKeySchema.parse({
    ...record.data,
    id: record.id,
    version: record.version,
    created_at: record.created_at,
    updated_at: record.updated_at,
  });
}

export function createApiKeysApi(deps: RegistryDeps): ApiKeysApi {
  const { store } = deps;

  const listOptionsSchema = z.object({ cursor: cursorSchema('api_key').optional() });
  const load = async (id: string) => {
    const record = isId('api_key', id) ? await store.getEntity({ kind: 'api_key', id }) : null;
    if (!record) throw new PipesError({ code: 'NOT_FOUND', message: `API key ${id} does not exist` });
    return record;
  };

  const listAll = async (): Promise<EntityRecord[]> => {
    const out: EntityRecord[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await store.listEntities({ kind: 'api_key', after, limit: 500 });
      out.push(...page);
      if (page.length < 500) return out;
      after = page[page.length - 1]?.id;
    }
  };

  return {
    async create(input, context) {
      const parsed = parseOrThrow(apiKeyInputSchema, input, 'API key');
      // Names are the actors in the audit trail, so two working keys may not share one. (Checked
      // here, not by the store: two processes creating the same name at once can both succeed.)
      const clash = (await listAll()).find((r) => r.data.name === parsed.name && r.data.revoked_at === null);
      if (clash) {
        throw new PipesError({
          code: 'CONFLICT',
          message: `an API key named ${parsed.name} exists (${clash.id}); revoke it first or pick another name`,
        });
      }
      const token = `${tokenPrefix}${randomBytes(32).toString('base64url')}`;
      const data: Record<string, unknown> = {
        name: parsed.name,
        scope: parsed.scope,
        token_hint: `${token.slice(0, tokenPrefix.length + 4)}…`,
        revoked_at: null,
      };
      if (parsed.description !== undefined) data.description = parsed.description;
      const record = await insertCredential(deps, 'api_key', token, data, context);
      return { ...presentApiKey(record), token };
    },

    async get(id) {
      return presentApiKey(await load(id));
    },

    async list(options = {}) {
      parseOrThrow(listOptionsSchema, { cursor: options.cursor }, 'API key list options');
      const limit = Math.min(Math.max(options.limit ?? 100, 1), 1000);
      const records = await store.listEntities({ kind: 'api_key', after: options.cursor, limit: limit + 1 });
      const page = records.slice(0, limit);
      return {
        data: page.map(presentApiKey),
        next_cursor: records.length > limit ? (page[page.length - 1]?.id ?? null) : null,
      };
    },

    async revoke(id, context) {
      return presentApiKey(await revokeCredential(deps, await load(id), context));
    },

    async verify(token) {
      if (typeof token !== 'string' || !token.startsWith(tokenPrefix) || token.length > 256) return null;
      const digest = digestOf(token);
      // The lookup is by digest: its timing can only tell an attacker about digests, which they
      // cannot turn back into tokens. The comparison below is constant-time all the same.
      const record = await store.findEntity({ kind: 'api_key', uniqueKey: digest });
      if (!record?.unique_key) return null;
      const stored = Buffer.from(record.unique_key);
      const given = Buffer.from(digest);
      if (stored.length !== given.length || !timingSafeEqual(stored, given)) return null;
      if (record.data.revoked_at) return null;
      return { id: record.id, name: String(record.data.name), scope: record.data.scope as ApiKeyScope };
    },
  };
}
