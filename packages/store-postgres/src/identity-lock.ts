/**
 * Identity's locks on PostgreSQL (docs/identifiers.md, "Concurrent linking on PostgreSQL").
 *
 * - The schema's identity lock, `pg_advisory_xact_lock(hashtext('openpipes:identity:<schema>'))`:
 *   linking and the event index backfill take it SHARED, so they run side by side; erasure and
 *   `pruneProfiles` take it EXCLUSIVE, so each still runs with no link in flight, as before.
 * - One exclusive transaction-level lock per identifier a link names (the two-key form, whose key
 *   space the single-key one does not share): two links naming one identifier run one after the other,
 *   so the second sees the first's owner of it. They are all taken in one statement, in ascending key
 *   order, before any owner is read: two links cannot each hold one the other waits for.
 * - A row lock (`FOR UPDATE`) on every live profile holding one of those identifiers, taken in id
 *   order after reading the owners. A merge moves identifiers no link named (the merged profile's
 *   others), and a cap counts identifiers no link named: every write to a profile or to one of its
 *   identifiers is made by a link holding that profile's row lock, so once a link holds the row locks
 *   of its owners, what it reads of them stays true until it commits. An owner merged or changed
 *   while the link waited for its row no longer matches (`merged_into` is set: the row is skipped),
 *   and the link rolls back to a savepoint taken after the advisory locks, which drops the row locks
 *   it took, reads the owners again and locks those instead.
 */
import type { PostgresTables } from '@openpipes/core/store-kit';
import { type Kysely, sql, type Transaction } from 'kysely';
import type { PgContext } from './connection.js';
import { pgErrorCodes } from './driver.js';
import { prepared } from './named-statements.js';

type Trx = Transaction<PostgresTables> | Kysely<PostgresTables>;

/** The savepoint a link rolls back to when an owner changed before its row lock was granted. */
const ownersSavepoint = 'openpipes_identity_owners';

/** Rounds of "read owners, lock them" before the transaction gives up and is retried whole. */
const maxOwnerRounds = 20;

/** A SQL string literal (the schema name is an identifier the store checked; quotes doubled anyway). */
const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

/** The schema's identity lock key, as `hashtext` reads it. */
const identityKey = (schema: string) => `openpipes:identity:${schema}`;

/**
 * The second key of an identifier's lock: 32-bit FNV-1a over kind, NUL, key. Two identifiers that
 * collide share a lock, which only makes them wait for each other.
 *
 * @example
 * await client.query('SELECT pg_advisory_xact_lock(hashtext($1), $2)', [`openpipes:identifier:${schema}`, identifierLockKey('email', digest)]);
 */
export function identifierLockKey(kind: string, key: string): number {
  let h = 0x811c9dc5;
  const text = `${kind}\u0000${key}`;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

/** Takes the schema's identity lock exclusively: no link runs until the transaction ends. */
export async function lockIdentityExclusive(trx: Trx, schema: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtext(${identityKey(schema)}))`.execute(trx);
}

/** Takes the schema's identity lock shared: no erasure runs until the transaction ends. */
export async function lockIdentityShared(trx: Trx, schema: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock_shared(hashtext(${identityKey(schema)}))`.execute(trx);
}

/**
 * The advisory locks a link takes, with the savepoint after them: one simple-protocol query (the
 * keys are integers and the schema a quoted literal), one round trip.
 */
async function lockForLinking(trx: Trx, schema: string, refs: Array<{ kind: string; key: string }>) {
  const keys = [...new Set(refs.map((r) => identifierLockKey(r.kind, r.key)))].sort((a, b) => a - b);
  await sql
    .raw(
      `SELECT pg_advisory_xact_lock_shared(hashtext(${literal(identityKey(schema))}));
      SELECT count(pg_advisory_xact_lock(hashtext(${literal(`openpipes:identifier:${schema}`)}), k))
        FROM unnest('{${keys.join(',')}}'::int[]) AS k;
      SAVEPOINT ${ownersSavepoint}`,
    )
    .execute(trx);
}

/**
 * The ids of the profiles holding any of `refs`, as a `text[]` expression: each identifier looked up
 * in `profile_identifiers_pkey` on its own. Joined to the unnested refs instead, the planner hashed
 * the whole table while it had fewer than ~100,000 rows (a sequential scan cost it less than 400
 * index probes): every ingest of 100 events read every identifier, a cost growing with the table.
 * `LIMIT 1` (the key is unique) keeps the lateral lookup from being flattened into that join.
 *
 * @example
 * sql`SELECT ${holdersOf(T, [{ kind: 'email', key: digest }])} AS ids`
 */
export function holdersOf(T: PgContext['T'], refs: ReadonlyArray<{ kind: string; key: string }>) {
  return sql<string[]>`ARRAY(
    SELECT DISTINCT o.profile_id
    FROM unnest(${refs.map((r) => r.kind)}::text[], ${refs.map((r) => r.key)}::text[]) AS r(kind, key)
    CROSS JOIN LATERAL (
      SELECT profile_id FROM ${T('profile_identifiers')} i WHERE i.kind = r.kind AND i.key = r.key LIMIT 1
    ) o
  )`;
}

/**
 * One statement: the owners of `refs` ({@link holdersOf}) and a row lock on each of them still live,
 * taken in id order. `(merged_into || '') IS NULL` says `merged_into IS NULL` in words the planner
 * cannot match to `profiles_last_seen`'s predicate: with a young table's statistics it ANDed that
 * partial index, every live profile, with the primary key's few rows (50,000 entries read per
 * ingest at 50,000 profiles, 1.2 ms), where the primary key alone finds them.
 *
 * @example
 * const { rows } = await ownersLocked(T, refs).execute(trx); // [{ owners, locked }]
 */
export function ownersLocked(T: PgContext['T'], refs: ReadonlyArray<{ kind: string; key: string }>) {
  return sql<{ owners: string[]; locked: string[] }>`${prepared}
      WITH owners AS MATERIALIZED (
        SELECT ${holdersOf(T, refs)} AS ids
      ), locked AS MATERIALIZED (
        SELECT id FROM ${T('profiles')}
        WHERE id = ANY((SELECT ids FROM owners)::text[]) AND (merged_into || '') IS NULL
        ORDER BY id FOR UPDATE
      )
      SELECT (SELECT ids FROM owners) AS owners, ARRAY(SELECT id FROM locked) AS locked
    `;
}

/**
 * Locks for linking `refs`: the identity lock shared, each identifier's lock, then the row of every
 * live profile holding one of them. Returns the ids of those profiles, whose rows and identifiers
 * no other transaction can change until this one ends. Throws a serialization failure (the
 * transaction is retried whole) if the owners keep changing under it.
 */
export async function lockOwners(
  { T, schema }: PgContext,
  trx: Trx,
  refs: Array<{ kind: string; key: string }>,
): Promise<string[]> {
  await lockForLinking(trx, schema, refs);
  for (let round = 1; round <= maxOwnerRounds; round++) {
    // The owners are read in a statement of their own after the identifier locks are granted, so
    // its snapshot holds every commit of a link that held one of them before. The row locks are
    // taken in id order; a row whose merged_into a commit set while this waited for it is skipped.
    const { rows } = await ownersLocked(T, refs).execute(trx);
    const owners = rows[0]?.owners ?? [];
    const locked = new Set(rows[0]?.locked ?? []);
    if (owners.length === locked.size && owners.every((id) => locked.has(id))) return owners;
    // An owner was merged (or its identifier moved) by a link that committed while this waited:
    // drop every row lock taken (some may be on rows now dead, which a later merge must repoint)
    // and read the owners again.
    await sql.raw(`ROLLBACK TO SAVEPOINT ${ownersSavepoint}`).execute(trx);
  }
  throw Object.assign(new Error('identity: the owners of the identifiers kept changing; retrying'), {
    code: pgErrorCodes.serializationFailure,
  });
}
