/**
 * Erasure and export on PostgreSQL (docs/erasure.md). The person's events are found through the
 * event identifier index `linkProfiles` writes; everything is erased in one transaction holding the
 * identity advisory lock (no link re-creates or merges the person's profiles meanwhile), then the
 * touched tables are vacuumed — outside the transaction, as VACUUM cannot run in one — so the dead
 * rows' space is reclaimed. (What VACUUM does not promise: overwriting the freed bytes at once, or
 * WAL segments not yet recycled; docs/erasure.md says what an operator does about them.)
 */
import type { ErasureCounts, IdentifierRef } from '@openpipes/core';
import { type IdentifierKind, identifierValueOf } from '@openpipes/core/identity';
import {
  type ErasureMethods,
  erasureNeedles,
  type PostgresTables,
  packedErasedAttempt,
  packedErasedDetail,
  quotesAny,
  rejectionQuotesAny,
  scrubStates,
} from '@openpipes/core/store-kit';
import { sql, type Transaction } from 'kysely';
import type { PgContext, TableName } from './connection.js';
import { moveTotals } from './delivery-totals.js';
import { lockIdentityExclusive, lockIdentityShared } from './identity-lock.js';

type Trx = Transaction<PostgresTables>;

/** Every table an erasure writes to, vacuumed after it. */
const touched: TableName[] = [
  'events',
  'event_identifiers',
  'event_dedup',
  'deliveries',
  'delivery_attempts',
  'profiles',
  'profile_identifiers',
  'profile_merges',
  'event_rejections',
  'state',
];

type EraseInput = Parameters<ErasureMethods['eraseProfiles']>[0];

/**
 * The events that carried any of `refs`, in id order: their rows of event_identifiers, and the event
 * that brought each when it was new (profile_identifiers.event_ref, migration 14); either only while
 * the event is stored (pruned, or a row an older version's backfill left racing an erasure, lists
 * nothing).
 */
async function eventsOf(
  { T, db }: PgContext,
  trx: Trx | undefined,
  refs: IdentifierRef[],
): Promise<string[]> {
  if (refs.length === 0) return [];
  const { rows } = await sql<{ event_ref: string }>`
    WITH r AS MATERIALIZED (
      SELECT * FROM unnest(${refs.map((r) => r.kind)}::text[], ${refs.map((r) => r.key)}::text[]) AS r(kind, key)
    )
    SELECT x.event_ref FROM ${T('event_identifiers')} x JOIN r ON x.kind = r.kind AND x.key = r.key
      JOIN ${T('events')} e ON e.id = x.event_ref
    UNION
    SELECT i.event_ref FROM ${T('profile_identifiers')} i JOIN r ON i.kind = r.kind AND i.key = r.key
      JOIN ${T('events')} e ON e.id = i.event_ref
    ORDER BY 1
  `.execute(trx ?? db);
  return rows.map((r) => r.event_ref);
}

/** The live profiles holding any of `identifiers`, with those merged into them and their identifiers. */
async function personProfiles({ q }: PgContext, trx: Trx, identifiers: IdentifierRef[]) {
  const live =
    identifiers.length === 0
      ? []
      : (
          await q(trx)
            .selectFrom('profile_identifiers')
            .select('profile_id')
            .distinct()
            .where((eb) =>
              eb(
                eb.refTuple('kind', 'key'),
                'in',
                identifiers.map((r) => eb.tuple(r.kind, r.key)),
              ),
            )
            .execute()
        ).map((r) => r.profile_id);
  if (live.length === 0) return { live, profileIds: [] as string[], storedRefs: [] };
  const profileIds = (
    await q(trx)
      .selectFrom('profiles')
      .select('id')
      .where((eb) => eb.or([eb('id', 'in', live), eb('merged_into', 'in', live)]))
      .orderBy('id')
      .execute()
  ).map((r) => r.id);
  const stored = await q(trx)
    .selectFrom('profile_identifiers')
    .select((eb) => ['kind', 'key', eb.cast<string | null>('value', 'text').as('value')])
    .where('profile_id', 'in', live)
    .execute();
  // Kinds as linkProfiles wrote them: every one is an identifier kind of the table.
  const storedRefs = stored.map((s) => ({
    kind: s.kind as IdentifierKind,
    key: s.key,
    value: identifierValueOf(s.kind, s.key, s.value),
  }));
  return { live, profileIds, storedRefs };
}

/**
 * The person's deliveries become tombstones: those not left yet are cancelled (never claimed
 * again; a batch in flight loses its lease), every detail and attempt body is replaced, and the
 * sender's event id (possibly personal, an order number) keeps only a keyed digest.
 */
async function tombstoneDeliveries(
  { q, T }: PgContext,
  trx: Trx,
  deliveryIds: string[],
  { now, eventIdDigest }: Pick<EraseInput, 'now' | 'eventIdDigest'>,
): Promise<{ cancelled: number; attempts: number }> {
  const { rows: cancelledRows } = await sql<{ n: string }>`
    WITH cancelled AS (
      UPDATE ${T('deliveries')} SET status = 'filtered', filter_reason = 'erased', due_at = NULL,
        lease_owner = NULL, updated_at = ${now}::timestamptz
      WHERE id = ANY(${deliveryIds}::text[]) AND status IN ('pending', 'retrying', 'sending')
      RETURNING destination_id, pipe_id, status
    ), totals AS (
      ${moveTotals(T, 'cancelled', 'status', 1)}
    )
    SELECT count(*) AS n FROM cancelled
  `.execute(trx);
  await sql`UPDATE ${T('deliveries')} SET detail = ${packedErasedDetail(now)}::bytea
    WHERE id = ANY(${deliveryIds}::text[])`.execute(trx);
  const senderIds = await q(trx)
    .selectFrom('deliveries')
    .select(['id', 'event_id'])
    .where('id', '=', sql<string>`ANY(${deliveryIds}::text[])`)
    .execute();
  if (senderIds.length > 0)
    await sql`UPDATE ${T('deliveries')} d SET event_id = v.digest
      FROM unnest(${senderIds.map((r) => r.id)}::text[], ${senderIds.map((r) => eventIdDigest(r.event_id))}::text[])
        AS v(id, digest)
      WHERE d.id = v.id`.execute(trx);
  const attemptRows = await q(trx)
    .selectFrom('delivery_attempts')
    .select(['delivery_id', 'number', 'data'])
    .where('delivery_id', '=', sql<string>`ANY(${deliveryIds}::text[])`)
    .execute();
  for (const a of attemptRows)
    await sql`UPDATE ${T('delivery_attempts')} SET data = ${packedErasedAttempt(a.data)}::bytea
      WHERE delivery_id = ${a.delivery_id} AND number = ${a.number}`.execute(trx);
  return { cancelled: Number(cancelledRows[0]?.n ?? 0), attempts: attemptRows.length };
}

/**
 * Deletes the events with their index entries and dedup keys; the number of events deleted. The
 * index rows of the person's identifiers (`refs`) go too, by key: one naming an event no longer
 * stored (an older version's backfill could write one after an erasure) is found by no event.
 */
async function deleteEvents(
  { T }: PgContext,
  trx: Trx,
  eventRefs: string[],
  refs: IdentifierRef[],
): Promise<number> {
  const { rows } = await sql<{ n: string }>`
    WITH ev AS (
      SELECT id, source_id, event_id FROM ${T('events')} WHERE id = ANY(${eventRefs}::text[])
    ), di AS (
      DELETE FROM ${T('event_identifiers')} x WHERE x.event_ref = ANY(${eventRefs}::text[])
    ), dk AS (
      DELETE FROM ${T('event_identifiers')} x
      USING unnest(${refs.map((r) => r.kind)}::text[], ${refs.map((r) => r.key)}::text[]) AS r(kind, key)
      WHERE x.kind = r.kind AND x.key = r.key
    ), fi AS (
      -- Another profile's identifier that came with an erased event keeps no pointer to it (one
      -- scan of profile_identifiers: an index on event_ref would cost every ingest).
      UPDATE ${T('profile_identifiers')} i SET event_ref = NULL WHERE i.event_ref = ANY(${eventRefs}::text[])
    ), dd AS (
      DELETE FROM ${T('event_dedup')} x USING ev
      WHERE x.source_id = ev.source_id AND x.event_id = ev.event_id AND x.event_ref = ev.id
    ), de AS (
      DELETE FROM ${T('events')} e USING ev WHERE e.id = ev.id RETURNING e.id
    )
    SELECT count(*) AS n FROM de
  `.execute(trx);
  return Number(rows[0]?.n ?? 0);
}

/** Deletes the profiles with their identifiers and merge history; the number of identifiers deleted. */
async function deleteProfiles({ q }: PgContext, trx: Trx, live: string[], profileIds: string[]) {
  const identifiers =
    live.length === 0
      ? 0
      : Number(
          (await q(trx).deleteFrom('profile_identifiers').where('profile_id', 'in', live).executeTakeFirst())
            .numDeletedRows,
        );
  if (profileIds.length > 0) {
    await q(trx)
      .deleteFrom('profile_merges')
      .where((eb) => eb.or([eb('merged_id', 'in', profileIds), eb('survivor_id', 'in', profileIds)]))
      .execute();
    await q(trx).deleteFrom('profiles').where('id', 'in', profileIds).execute();
  }
  return identifiers;
}

/**
 * Free text that may quote the person: rejections quoting a needle as a whole value are deleted
 * ("1000" must not take those that quote "10000" or "a1000b"), a transform's own filter reason
 * that quotes one ('staff:' + user_id) becomes 'erased', and the shared state documents are
 * scrubbed.
 */
async function scrubFreeText(
  { q, T }: PgContext,
  trx: Trx,
  needles: string[],
  deliveryIds: string[],
): Promise<{ rejections: number; state: number }> {
  if (needles.length === 0) return { rejections: 0, state: 0 };
  let rejections = 0;
  let state = 0;
  // Found by substring first (cheap, in SQL), kept only when the text quotes a needle whole.
  const { rows: candidates } = await sql<{ id: string; event: string; error: string }>`
    SELECT r.id, r.event, r.error::text AS error FROM ${T('event_rejections')} r
    WHERE EXISTS (SELECT 1 FROM unnest(${needles}::text[]) n
      WHERE strpos(r.event, n) > 0 OR strpos(r.error::text, n) > 0)
  `.execute(trx);
  const doomed = candidates.filter((r) => rejectionQuotesAny(r, needles)).map((r) => r.id);
  if (doomed.length > 0) {
    const { rows } = await sql<{ n: string }>`
      WITH gone AS (
        DELETE FROM ${T('event_rejections')} WHERE id = ANY(${doomed}::text[]) RETURNING 1
      ) SELECT count(*) AS n FROM gone
    `.execute(trx);
    rejections = Number(rows[0]?.n ?? 0);
  }
  const { rows: reasons } = await sql<{ id: string; filter_reason: string }>`
    SELECT d.id, d.filter_reason FROM ${T('deliveries')} d
    WHERE d.id = ANY(${deliveryIds}::text[])
      AND EXISTS (SELECT 1 FROM unnest(${needles}::text[]) n WHERE strpos(d.filter_reason, n) > 0)
  `.execute(trx);
  const quoting = reasons.filter((r) => quotesAny(r.filter_reason, needles)).map((r) => r.id);
  if (quoting.length > 0)
    await sql`UPDATE ${T('deliveries')} SET filter_reason = 'erased'
      WHERE id = ANY(${quoting}::text[])`.execute(trx);
  const states = await q(trx)
    .selectFrom('state')
    .select((eb) => ['key', eb.cast<string>('value', 'text').as('value')])
    .execute();
  for (const row of scrubStates(states, needles)) {
    await sql`UPDATE ${T('state')} SET value = ${row.value}::jsonb WHERE key = ${row.key}`.execute(trx);
    state++;
  }
  return { rejections, state };
}

/** One erasure, in one transaction holding the identity advisory lock, in the order its steps must run. */
async function erase(ctx: PgContext, trx: Trx, input: EraseInput): Promise<ErasureCounts> {
  const { q, schema, insertAudit } = ctx;
  const { identifiers, given, audit } = input;
  // Exclusive: every link holds the lock shared for its whole transaction, so none is in flight.
  await lockIdentityExclusive(trx, schema);
  const { live, profileIds, storedRefs } = await personProfiles(ctx, trx, identifiers);
  const refs: IdentifierRef[] = [...identifiers, ...storedRefs.map(({ kind, key }) => ({ kind, key }))];
  const eventRefs = await eventsOf(ctx, trx, refs);
  const deliveryIds = (
    await q(trx)
      .selectFrom('deliveries')
      .select('id')
      .where('event_ref', '=', sql<string>`ANY(${eventRefs}::text[])`)
      .execute()
  ).map((r) => r.id);
  const { cancelled, attempts } = await tombstoneDeliveries(ctx, trx, deliveryIds, input);
  const events = await deleteEvents(ctx, trx, eventRefs, refs);
  const identifierCount = await deleteProfiles(ctx, trx, live, profileIds);
  const needles = erasureNeedles({ identifiers: [...identifiers, ...storedRefs], given });
  const { rejections, state } = await scrubFreeText(ctx, trx, needles, deliveryIds);
  const counts: ErasureCounts = {
    profiles: profileIds.length,
    profile_ids: profileIds,
    identifiers: identifierCount,
    events,
    deliveries: deliveryIds.length,
    cancelled,
    attempts,
    rejections,
    state,
  };
  await insertAudit(trx, audit(counts));
  return counts;
}

/** The store's erasure and export methods. */
export function erasureMethods(ctx: PgContext): ErasureMethods {
  const { db, q, T, guard, tx, schema } = ctx;
  return {
    indexEventIdentifiers: ({ entries }) =>
      guard(async () => {
        // An entry erasure finds already is not written again: its row of event_identifiers, or the
        // identifier's own row naming the event as the one that brought it (migration 14; a probe of
        // its primary key). Without the second test the backfill doubled what identity kept. Nor is
        // an entry whose event is gone (a probe of events' primary key): the backfill reads events
        // and writes here in two calls, and an erasure may delete one between them. The identity
        // advisory lock, which erasure holds for its whole transaction, makes the test and the
        // write land wholly before an erasure or wholly after it: without it, an insert seeing an
        // event that an erasure not yet committed has deleted would outlive the erasure's own
        // delete of the event's rows. Shared, as links take it: only an erasure must be kept out
        // (exclusive, the backfill's chunks held back every ingest of the store in turn). A link
        // in flight beside this is not seen, nor need it be: an ingest's identifier rows commit
        // with its events (this sees both or neither), and a late `linkProfiles` of a stored event
        // indexes it in event_identifiers only (profiles.ts), where the primary key keeps one row.
        // Chunks of 1000 keep each statement's arrays, and its time, bounded; each chunk is its
        // own transaction, so a long list holds the lock in short turns.
        for (let i = 0; i < entries.length; i += 1000) {
          const part = entries.slice(i, i + 1000);
          await tx(async (trx) => {
            // Shared, as links take it: an erasure in flight is all this must wait for.
            await lockIdentityShared(trx, schema);
            // The events locked FOR KEY SHARE, not only probed: retention takes no identity lock,
            // and an entry written for an event a prune not yet committed has deleted would outlive
            // the prune's delete of its index rows (see withStoredEvents in profiles.ts).
            const refs = [...new Set(part.map((e) => e.event_ref))];
            await sql`WITH stored AS MATERIALIZED (
                SELECT id FROM ${T('events')} WHERE id = ANY(${refs}::text[]) ORDER BY id FOR KEY SHARE
              )
              INSERT INTO ${T('event_identifiers')} (kind, key, event_ref)
              SELECT x.kind, x.key, x.event_ref
              FROM unnest(${part.map((e) => e.kind)}::text[], ${part.map((e) => e.key)}::text[],
                ${part.map((e) => e.event_ref)}::text[]) AS x(kind, key, event_ref)
              WHERE NOT EXISTS (SELECT 1 FROM ${T('profile_identifiers')} i
                  WHERE i.kind = x.kind AND i.key = x.key AND i.event_ref = x.event_ref)
                AND x.event_ref IN (SELECT id FROM stored)
              ON CONFLICT DO NOTHING`.execute(trx);
          });
        }
      }),

    listPersonEvents: ({ identifiers, limit }) =>
      guard(async () => {
        if (limit < 1 || identifiers.length === 0) return [];
        const refs = (await eventsOf(ctx, undefined, identifiers)).slice(0, limit);
        const deliveries = new Map<string, string[]>(refs.map((r) => [r, []]));
        if (refs.length > 0) {
          const rows = await q()
            .selectFrom('deliveries')
            .select(['id', 'event_ref'])
            .where('event_ref', '=', sql<string>`ANY(${refs}::text[])`)
            .orderBy('id')
            .execute();
          for (const d of rows) deliveries.get(d.event_ref)?.push(d.id);
        }
        return refs.map((event_ref) => ({ event_ref, delivery_ids: deliveries.get(event_ref) ?? [] }));
      }),

    eraseProfiles: (input) =>
      guard(async () => {
        const counts = await tx((trx) => erase(ctx, trx, input));
        let compacted = true;
        try {
          // Not in a transaction (VACUUM refuses one): each statement here runs on its own.
          await sql`VACUUM ${sql.join(touched.map((t) => T(t)))}`.execute(db);
        } catch {
          compacted = false;
        }
        return { ...counts, compacted };
      }),
  };
}
