/**
 * Events on PostgreSQL: ingest (`appendEvents`: dedup through `event_dedup`, the events and one
 * pending delivery per pipe, in one transaction, with identity's links of the stored events when
 * the engine gives them) and reading one event back.
 */
import {
  checkDeliveryIds,
  type EventMethods,
  emptyDetailPacked,
  type PostgresTables,
  toStoredEvent,
} from '@openpipes/core/store-kit';
import { type ExpressionBuilder, sql } from 'kysely';
import type { PgContext, TableName } from './connection.js';
import { prepared } from './named-statements.js';
import { linkWriter } from './profiles.js';

/** What a stored event is read with (the payload as text, as both stores hand it to toStoredEvent). */
const storedEventColumns = (eb: ExpressionBuilder<PostgresTables, 'events'>) => [
  'id' as const,
  'source_id' as const,
  'event_id' as const,
  'event_type' as const,
  'event_time' as const,
  eb.cast<string>('payload', 'text').as('payload'),
  'received_at' as const,
];

type AppendInput = Parameters<EventMethods['appendEvents']>[0];

/**
 * Within one call: the first of several events with one sender id wins (when deduplicating), and
 * the row each sender id leaves in event_dedup (the last stored one of this call).
 */
function duplicatesInCall(events: AppendInput['events'], deduplicating: boolean) {
  const duplicateOf = new Map<number, string>();
  const firstByEventId = new Map<string, string>();
  const dedupRows = new Map<string, string>();
  events.forEach((event, i) => {
    if (!event.sender_event_id) return;
    if (deduplicating) {
      const first = firstByEventId.get(event.event_id);
      if (first) {
        duplicateOf.set(i, first);
        return;
      }
      firstByEventId.set(event.event_id, event.id);
    }
    dedupRows.set(event.event_id, event.id);
  });
  return { duplicateOf, dedupRows };
}

/** The event rows and one pending delivery row per pipe for the events that are not duplicates. */
function newRows(
  events: AppendInput['events'],
  pipes: AppendInput['pipes'],
  deliveryIds: AppendInput['deliveryIds'],
  duplicateOf: Map<number, string>,
) {
  const newEvents: unknown[] = [];
  const newDeliveries: unknown[] = [];
  events.forEach((event, i) => {
    if (duplicateOf.has(i)) return;
    newEvents.push({
      id: event.id,
      event_id: event.event_id,
      sender_event_id: event.sender_event_id,
      event_type: event.event_type,
      event_time: event.event_time,
      // Text, cast to json in SQL: json_to_recordset would unescape a nested value
      // and refuse a \u0000 in it, while a json cast keeps the escape as written.
      payload: JSON.stringify(event.event_payload),
      trace_parent: event.trace_parent ?? null,
    });
    pipes.forEach((pipe, p) => {
      newDeliveries.push({
        id: deliveryIds[i * pipes.length + p],
        event_ref: event.id,
        pipe_id: pipe.pipe_id,
        destination_id: pipe.destination_id,
        event_id: event.event_id,
        event_type: event.event_type,
        trace_parent: event.trace_parent ?? null,
      });
    });
  });
  return { newEvents, newDeliveries };
}

/**
 * The `delivery_rollup` slot an ingest counts its new deliveries in (migration 15): the first of
 * the 8 no other transaction holds, held (a transaction-level advisory lock, beside the row lock)
 * until the commit. An ingest keeps its counter row locked while it waits for identity's locks;
 * with the slot the backend pid % 8, as the trigger had it, a second ingest on a backend with the
 * same remainder waited behind it. Only when all 8 are held does it fall back to that slot (and may
 * wait, as before).
 */
const rollupSlot = (schema: string) => sql`
  SELECT coalesce(
    (SELECT s FROM generate_series(0, 7) AS s
     WHERE pg_try_advisory_xact_lock(hashtext(${`openpipes:rollup:${schema}`}), s) LIMIT 1),
    pg_backend_pid() % 8) AS s`;

/** The ingest's new deliveries (all pending, the CTE `created`) counted per pipe and destination. */
const countCreated = (T: PgContext['T'], now: string) => sql`
  INSERT INTO ${T('delivery_rollup' as TableName)} AS r (pipe_id, minute, destination_id, status, slot, count)
  SELECT c.pipe_id, date_trunc('minute', ${now}::timestamptz), c.destination_id, 'pending', (SELECT s FROM slot), count(*)
  FROM created c
  GROUP BY 1, 2, 3
  ORDER BY 1, 2, 3
  ON CONFLICT (pipe_id, minute, destination_id, status, slot) DO UPDATE SET count = r.count + excluded.count`;

/** The store's event methods. */
export function eventMethods(context: PgContext): EventMethods {
  const { q, T, guard, tx, wake, schema } = context;
  const { linkIn } = linkWriter(context);
  return {
    appendEvents: ({ sourceId, events, pipes, deliveryIds, dedupSince, now, identity }) =>
      guard(async () => {
        checkDeliveryIds({ events, pipes, deliveryIds });
        if (events.length === 0) return [];
        const results = await tx(async (trx) => {
          const { duplicateOf, dedupRows } = duplicatesInCall(events, dedupSince !== null);

          if (dedupRows.size > 0) {
            // Sorted, so two calls sharing ids lock the rows in one order (no deadlock). A row
            // inside the window is a duplicate: the upsert leaves it (locked) and returns nothing.
            const keys = [...dedupRows.entries()]
              .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
              .map(([event_id, event_ref]) => ({ event_id, event_ref }));
            const { rows: stored } = await sql<{ event_id: string }>`${prepared}
              INSERT INTO ${T('event_dedup')} AS x (source_id, event_id, event_ref, received_at)
              SELECT ${sourceId}, k.event_id, k.event_ref, ${now}::timestamptz
              FROM json_to_recordset(${JSON.stringify(keys)}::json) AS k(event_id text, event_ref text)
              ON CONFLICT (source_id, event_id) DO UPDATE
                SET event_ref = excluded.event_ref, received_at = excluded.received_at
                WHERE ${dedupSince === null ? sql`TRUE` : sql`x.received_at < ${dedupSince}::timestamptz`}
              RETURNING x.event_id
            `.execute(trx);
            if (stored.length < keys.length) {
              const fresh = new Set(stored.map((r) => r.event_id));
              const seen = keys.filter((k) => !fresh.has(k.event_id)).map((k) => k.event_id);
              const { rows: originals } = await sql<{ event_id: string; event_ref: string }>`
                SELECT event_id, event_ref FROM ${T('event_dedup')}
                WHERE source_id = ${sourceId} AND event_id = ANY(${seen}::text[])
              `.execute(trx);
              const originalOf = new Map(originals.map((r) => [r.event_id, r.event_ref]));
              events.forEach((event, i) => {
                const original = event.sender_event_id ? originalOf.get(event.event_id) : undefined;
                if (original && !duplicateOf.has(i)) duplicateOf.set(i, original);
              });
            }
          }

          const { newEvents, newDeliveries } = newRows(events, pipes, deliveryIds, duplicateOf);
          if (newEvents.length > 0) {
            await sql`${prepared}
              WITH inserted AS (
                INSERT INTO ${T('events')} (id, source_id, event_id, sender_event_id, event_type, event_time, payload, received_at, trace_parent)
                SELECT e.id, ${sourceId}, e.event_id, e.sender_event_id, e.event_type, e.event_time, e.payload::json, ${now}::timestamptz, e.trace_parent
                FROM json_to_recordset(${JSON.stringify(newEvents)}::json)
                  AS e(id text, event_id text, sender_event_id boolean, event_type text, event_time timestamptz, payload text, trace_parent text)
                RETURNING 1
              ), created AS (
                INSERT INTO ${T('deliveries')} (id, event_ref, source_id, pipe_id, destination_id, event_id, event_type,
                  status, attempt_count, test_mode, due_at, created_at, updated_at, detail, trace_parent)
                SELECT d.id, d.event_ref, ${sourceId}, d.pipe_id, d.destination_id, d.event_id, d.event_type,
                  'pending', 0, false, ${now}::timestamptz, ${now}::timestamptz, ${now}::timestamptz, ${emptyDetailPacked}::bytea, d.trace_parent
                FROM json_to_recordset(${JSON.stringify(newDeliveries)}::json)
                  AS d(id text, event_ref text, pipe_id text, destination_id text, event_id text, event_type text, trace_parent text)
                RETURNING pipe_id, destination_id
              ), slot AS MATERIALIZED (
                ${rollupSlot(schema)}
              )
              ${countCreated(T, now)}
            `.execute(trx);
          }
          if (identity) {
            // Identity's writes for the stored events, last: identity's locks (linkIn takes them:
            // the identity lock shared, the identifiers', their profiles' rows) are held from here
            // to the commit, as a linkProfiles transaction holds them.
            const stored = new Set(events.filter((_, i) => !duplicateOf.has(i)).map((e) => e.id));
            const links = identity.links.filter((l) => l.event_ref !== undefined && stored.has(l.event_ref));
            const index = identity.index.filter((e) => stored.has(e.event_ref));
            await linkIn(
              trx,
              { links, caps: identity.caps, newId: identity.newId, now: identity.now },
              index,
              'own',
            );
          }
          return events.map((event, i) => {
            const original = duplicateOf.get(i);
            return original ? { duplicate: true, id: original } : { duplicate: false, id: event.id };
          });
        });
        if (pipes.length > 0 && results.some((r) => !r.duplicate)) {
          wake(pipes.map((p) => p.destination_id));
        }
        return results;
      }),

    getEvent: ({ id }) =>
      guard(async () => {
        const row = await q()
          .selectFrom('events')
          .select(storedEventColumns)
          .where('id', '=', id)
          .executeTakeFirst();
        return row ? toStoredEvent(row) : null;
      }),

    listEvents: ({ sourceId, cursor, limit }) =>
      guard(async () => {
        let query = q()
          .selectFrom('events')
          .select(storedEventColumns)
          .where('source_id', '=', sourceId)
          .orderBy('id', 'desc')
          .limit(limit);
        if (cursor !== undefined) query = query.where('id', '<', cursor);
        return (await query.execute()).map(toStoredEvent);
      }),

    scanEvents: ({ after, limit }) =>
      guard(async () => {
        let query = q().selectFrom('events').select(storedEventColumns).orderBy('id').limit(limit);
        if (after !== undefined) query = query.where('id', '>', after);
        return (await query.execute()).map(toStoredEvent);
      }),
  };
}
