/** Retention on PostgreSQL: deleting the oldest events with their deliveries, attempts and dedup rows, and old rejections. */
import { idAtTime } from '@openpipes/core';
import type { PruneMethods } from '@openpipes/core/store-kit';
import { sql } from 'kysely';
import type { PgContext, TableName } from './connection.js';
import { moveTotals } from './delivery-totals.js';

/**
 * One statement: pick the oldest events (SKIP LOCKED, so two pruners share the work, and an event a
 * link is indexing is left for the next pass), then delete their attempts, deliveries, dedup rows
 * and the events themselves, take the deleted deliveries off the running totals, and prune old
 * rejections and match-quality minutes. Answers the deleted events' ids.
 */
const pruneChunk = (T: PgContext['T'], before: string, limit: number) => sql`
  WITH ev AS (
    SELECT id, source_id, event_id FROM ${T('events')}
    WHERE received_at < ${before}::timestamptz
    ORDER BY received_at, id
    LIMIT ${limit}
    FOR UPDATE SKIP LOCKED
  ), dl AS (
    DELETE FROM ${T('deliveries')} d USING ev WHERE d.event_ref = ev.id
    RETURNING d.id, d.destination_id, d.pipe_id, d.status
  ), totals AS (
    ${moveTotals(T, 'dl', 'status', -1)}
  ), da AS (
    DELETE FROM ${T('delivery_attempts')} a USING dl WHERE a.delivery_id = dl.id
  ), dd AS (
    DELETE FROM ${T('event_dedup')} x USING ev
    WHERE x.source_id = ev.source_id AND x.event_id = ev.event_id AND x.event_ref = ev.id
  ), de AS (
    DELETE FROM ${T('events')} e USING ev WHERE e.id = ev.id RETURNING e.id
  ), rj AS (
    SELECT id FROM ${T('event_rejections')}
    WHERE id < ${idAtTime('rejection', Date.parse(before))}
    ORDER BY id
    LIMIT ${limit}
    FOR UPDATE SKIP LOCKED
  ), dr AS (
    DELETE FROM ${T('event_rejections')} r USING rj WHERE r.id = rj.id RETURNING r.id
  ), mr AS (
    -- The match-quality rollup's minutes before the retention's cut (migration 10).
    DELETE FROM ${T('match_rollup' as TableName)} WHERE minute < date_trunc('minute', ${before}::timestamptz)
  )
  SELECT (SELECT array_agg(id) FROM de) AS ids, (SELECT count(*) FROM dl) AS deliveries,
    (SELECT count(*) FROM dr) AS rejections`;

/** The store's `prune`. */
export function pruneMethods({ db, T, guard, tx }: PgContext): PruneMethods {
  return {
    prune: ({ before, limit }) =>
      guard(async () => {
        if (limit <= 0) return { events: 0, deliveries: 0, rejections: 0 };
        return tx(async (trx) => {
          const { rows } = await sql<{ ids: string[] | null; deliveries: string; rejections: string }>`
            ${pruneChunk(T, before, limit)}
          `.execute(trx);
          const ids = rows[0]?.ids ?? [];
          // The events' index rows in a statement of their own, after the events: its snapshot
          // sees the rows a link or the backfill committed while the first one ran. Those writers
          // lock an event FOR KEY SHARE before indexing it (see withStoredEvents in profiles.ts):
          // one that locked it before this prune reached it either held the lock (the event was
          // skipped) or committed before this statement; one that came after waits for this
          // commit and finds the event gone. The identity lock would do it too, but would hold
          // ingest's links up behind every chunk, and ingest's locks (dedup rows it upserted)
          // taken before it waits for that lock could close a cycle with this prune. One cycle
          // remains, rare and harmless: a late link of an event this prune locked waits for it,
          // the prune for a re-sent event's dedup row an ingest upserted, that ingest for the
          // link's identifier lock. PostgreSQL rolls one back (40P01) and `tx` runs it again
          // (prune-link-deadlock.test.ts).
          if (ids.length > 0) {
            await sql`DELETE FROM ${T('event_identifiers')} WHERE event_ref = ANY(${ids}::text[])`.execute(
              trx,
            );
          }
          return {
            events: ids.length,
            deliveries: Number(rows[0]?.deliveries ?? 0),
            rejections: Number(rows[0]?.rejections ?? 0),
          };
        });
      }),

    pruneDeliveryCounts: ({ before, limit }) =>
      guard(async () => {
        if (limit <= 0) return 0;
        // The oldest cells first, by the minute index; SKIP LOCKED so two pruners share the work
        // (and a cell a status change is adding to is never waited for: it is a current minute).
        const { rows } = await sql<{ n: string }>`
          WITH old AS (
            SELECT ctid FROM ${T('delivery_rollup' as TableName)}
            WHERE minute < date_trunc('minute', ${before}::timestamptz)
            ORDER BY minute
            LIMIT ${limit}
            FOR UPDATE SKIP LOCKED
          ), gone AS (
            DELETE FROM ${T('delivery_rollup' as TableName)} r USING old WHERE r.ctid = old.ctid RETURNING 1
          )
          SELECT count(*) AS n FROM gone
        `.execute(db);
        return Number(rows[0]?.n ?? 0);
      }),
  };
}
