/**
 * Write keys (issue 18): per source, the keys Segment-spec clients send (HTTP Basic username, or
 * `writeKey` in the body) to name the source they write to. A source may have several at once, and
 * each can be revoked. Like API keys, a key is shown once, at creation; only its SHA-256 digest is
 * stored, as the entity's unique key (never in its data, which versions and audit entries copy), and
 * a short prefix to tell keys apart. A write key sits in public browser snippets, so it names a source
 * rather than proves who sends: the source's allowed origins and auth still apply.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { PipesError } from '../errors.js';
import { isId } from '../ids.js';
import type { EntityRecord } from '../store.js';
import { credentialDigest, insertCredential, revokeCredential } from './credentials.js';
import type { ActorContext, RegistryDeps } from './registry.js';

const isoTime = z.iso.datetime({ offset: true });

/** A write key as OpenPipes lists it: never the key, never its digest. */
export const writeKeySchema = z.object({
  id: z.string(),
  source_id: z.string(),
  /** The key's first characters (`opw_AbCd1234`): what lists show, and what revoking may name. */
  prefix: z.string(),
  /** When the key was revoked; null while it works. */
  revoked_at: isoTime.nullable(),
  created_at: isoTime,
});
export type WriteKey = z.infer<typeof writeKeySchema>;

/** What `create` returns: the key's record, and the key itself, which is never shown again. */
export type CreatedWriteKey = WriteKey & { write_key: string };

/** What `verify` resolves a valid write key to. */
export interface VerifiedWriteKey {
  id: string;
  source_id: string;
}

/**
 * Write keys of sources.
 *
 * @example
 * ```ts
 * const { write_key } = await pipes.writeKeys.create(source.id, { actor: 'admin' });
 * // put write_key in the site's analytics.js snippet now: it is not stored and cannot be shown again
 * await pipes.writeKeys.verify(write_key); // { id: 'wrk_…', source_id: source.id }
 * await pipes.writeKeys.revoke(source.id, 'opw_AbCd1234', { actor: 'admin' });
 * ```
 */
export interface WriteKeysApi {
  /** Creates one more key for the source (its others keep working). Throws `NOT_FOUND` for an unknown source. */
  create(sourceId: string, context?: ActorContext): Promise<CreatedWriteKey>;
  /** The source's keys, revoked ones included, oldest first. Throws `NOT_FOUND` for an unknown source. */
  list(sourceId: string): Promise<WriteKey[]>;
  /**
   * Revokes one of the source's keys, named by its id or its prefix (or the whole key). Idempotent.
   * Throws `NOT_FOUND` when none of the source's keys matches, `CONFLICT` when several do.
   */
  revoke(sourceId: string, idOrPrefix: string, context?: ActorContext): Promise<WriteKey>;
  /** The key a write key belongs to; null when unknown, revoked or malformed. */
  verify(writeKey: string): Promise<VerifiedWriteKey | null>;
}

export const writeKeyPrefix = 'opw_';
/** Characters of the key shown in lists: the `opw_` and 8 of its 43 random ones (48 of 256 bits). */
const shownLength = writeKeyPrefix.length + 8;

/** SHA-256, as for API keys: the key is 32 random bytes, so a slow hash would protect nothing. */
const digestOf = credentialDigest;

function present(record: EntityRecord): WriteKey {
  return writeKeySchema.parse({
    id: record.id,
    source_id: record.data.source_id,
    prefix: record.data.prefix,
    revoked_at: record.data.revoked_at ?? null,
    created_at: record.created_at,
  });
}

export function createWriteKeysApi(deps: RegistryDeps): WriteKeysApi {
  const { store } = deps;

  const sourceOf = async (sourceId: string) => {
    const source = isId('source', sourceId) ? await store.getEntity({ kind: 'source', id: sourceId }) : null;
    if (!source) throw new PipesError({ code: 'NOT_FOUND', message: `source ${sourceId} does not exist` });
    return source;
  };

  const keysOf = async (sourceId: string): Promise<EntityRecord[]> => {
    const out: EntityRecord[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await store.listEntities({ kind: 'write_key', after, limit: 500 });
      out.push(...page.filter((r) => r.data.source_id === sourceId));
      if (page.length < 500) return out;
      after = page[page.length - 1]?.id;
    }
  };

  return {
    async create(sourceId, context) {
      const source = await sourceOf(sourceId);
      const key = `${writeKeyPrefix}${randomBytes(32).toString('base64url')}`;
      const data: Record<string, unknown> = {
        source_id: source.id,
        prefix: key.slice(0, shownLength),
        revoked_at: null,
      };
      const record = await insertCredential(deps, 'write_key', key, data, context);
      return { ...present(record), write_key: key };
    },

    async list(sourceId) {
      await sourceOf(sourceId);
      return (await keysOf(sourceId)).map(present);
    },

    async revoke(sourceId, idOrPrefix, context) {
      await sourceOf(sourceId);
      const wanted = String(idOrPrefix);
      const keys = await keysOf(sourceId);
      const digest = digestOf(wanted);
      const matches = keys.filter(
        (r) => r.id === wanted || r.data.prefix === wanted || r.unique_key === digest,
      );
      if (matches.length === 0) {
        throw new PipesError({
          code: 'NOT_FOUND',
          message: `source ${sourceId} has no write key ${wanted.slice(0, shownLength)}; name one by its id or its prefix (${shownLength} characters)`,
        });
      }
      if (matches.length > 1) {
        // Two keys sharing 8 random characters: unlikely, but then the prefix cannot say which.
        throw new PipesError({
          code: 'CONFLICT',
          message: `${matches.length} write keys of source ${sourceId} start with ${wanted}; revoke by id instead`,
        });
      }
      const record = matches[0]!;
      return present(await revokeCredential(deps, record, context));
    },

    async verify(writeKey) {
      if (typeof writeKey !== 'string' || !writeKey.startsWith(writeKeyPrefix) || writeKey.length > 256) {
        return null;
      }
      const digest = digestOf(writeKey);
      const record = await store.findEntity({ kind: 'write_key', uniqueKey: digest });
      if (!record?.unique_key) return null;
      const stored = Buffer.from(record.unique_key);
      const given = Buffer.from(digest);
      if (stored.length !== given.length || !timingSafeEqual(stored, given)) return null;
      if (record.data.revoked_at) return null;
      return { id: record.id, source_id: String(record.data.source_id) };
    },
  };
}
