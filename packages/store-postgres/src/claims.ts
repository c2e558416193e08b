/**
 * Delivery claims on PostgreSQL: dispatchers claim due deliveries (`FOR UPDATE SKIP LOCKED` plus a
 * lease in `due_at`), record outcomes fenced by the lease owner, extend or release leases, and
 * bring retries forward.
 */

import { matchIncrements } from '@openpipes/core';
import {
  type ClaimMethods,
  compareIds,
  isoTimeOrNull,
  leaseUntil,
  type OutcomePacker,
  toClaimedDelivery,
} from '@openpipes/core/store-kit';
import { sql } from 'kysely';
import type { PgContext, TableName } from './connection.js';
import { moveTotals } from './delivery-totals.js';
import { referredAttempts } from './referred-attempts.js';
import { anyOf, deliveryColumnsBut } from './rows.js';

type ClaimInput = Parameters<ClaimMethods['claimDeliveries']>[0];
type CompleteInput = Parameters<ClaimMethods['completeDeliveries']>[0];

/** Claims up to `limit` due deliveries of the destination's pipes for `owner`, oldest due first. */
async function claimDue(
  ctx: PgContext,
  { destinationId, pipeIds, owner, limit, leaseMs, now }: ClaimInput,
): ReturnType<ClaimMethods['claimDeliveries']> {
  const { q, txWith } = ctx;
  if (pipeIds.length === 0 || limit <= 0) return [];
  const until = leaseUntil(now, leaseMs);
  // SKIP LOCKED: rows another claimer is taking right now are passed over, not waited for;
  // the lock is held until commit, when they are `sending` and no longer due.
  // Bitmap scans off for this statement: the due rows must be read by a plain scan of
  // deliveries_due in its order, stopping at the limit. The planner (a young table's
  // statistics, few rows estimated) preferred bitmap scans: of deliveries_due and ANDed with
  // deliveries_pipe_status over every delivery of the pipe, then a sort. Every status change
  // leaves a dead entry in both indexes until VACUUM, and a bitmap scan never marks one dead
  // as a plain scan does, so each claim walked them all (picking 300 rows after 20,000
  // deliveries: 37 ms in EXPLAIN ANALYZE, 2 ms this way; the claim's share of PostgreSQL's
  // CPU in a 50,000-event bench halved). The setting goes with BEGIN, in one round trip.
  const rows = await txWith('SET LOCAL enable_bitmapscan = off', async (trx) => {
    return q(trx)
      .with('picked', (w) =>
        w
          .selectFrom('deliveries as d')
          .innerJoin('events as e', 'e.id', 'd.event_ref')
          .select((eb) => [
            'd.id',
            'd.due_at as was_due',
            'e.event_time as e_event_time',
            eb.cast<string>('e.payload', 'text').as('e_payload'),
          ])
          .where('d.destination_id', '=', destinationId)
          .where('d.due_at', 'is not', null)
          .where('d.due_at', '<=', now)
          .where('d.pipe_id', '=', anyOf(pipeIds))
          .orderBy('d.due_at')
          .orderBy('d.id')
          .limit(limit)
          .forUpdate('d')
          .skipLocked(),
      )
      .updateTable('deliveries as d')
      .set({ status: 'sending', lease_owner: owner, due_at: until, updated_at: now })
      .from('picked')
      .whereRef('d.id', '=', 'picked.id')
      .returning([
        ...deliveryColumnsBut('detail').map((c) => `d.${c}` as const),
        'd.detail',
        'picked.was_due',
        'picked.e_event_time',
        'picked.e_payload',
      ])
      .execute();
  });
  // Only a retried delivery's detail refers to an attempt; ours while the lease holds.
  const referred = await referredAttempts(ctx, rows);
  return rows
    .map((row) => ({ row, due: isoTimeOrNull(row.was_due) ?? '' }))
    .sort((a, b) => compareIds(a.due, b.due) || compareIds(a.row.id, b.row.id))
    .map(({ row }) =>
      toClaimedDelivery(row, { event_time: row.e_event_time, payload: row.e_payload }, referred),
    );
}

/**
 * The packed details and attempts one after the other, and where each is (1-based, as `substring`
 * counts): `da`/`dl` the detail's start and length, `aa`/`al` the attempt's (none when it has none;
 * its row is not written then: its outcome has no attempt number).
 */
export function concatenated(packed: ReadonlyArray<{ detail: Buffer; attempt: Buffer | null }>) {
  const parts: Buffer[] = [];
  let at = 1;
  const places = packed.map((p) => {
    parts.push(p.detail);
    const place: Record<string, number> = { da: at, dl: p.detail.length };
    at += p.detail.length;
    if (p.attempt) {
      parts.push(p.attempt);
      place.aa = at;
      place.al = p.attempt.length;
      at += p.attempt.length;
    }
    return place;
  });
  return { bytes: Buffer.concat(parts, at - 1), places };
}

/**
 * Records the outcomes of deliveries `owner` still holds (the lease is the fence) in one
 * statement; `applied` are those recorded, `lost` those whose lease was taken over.
 */
async function completeOutcomes(
  { db, T }: PgContext,
  packer: OutcomePacker,
  { owner, outcomes, now }: CompleteInput,
): ReturnType<ClaimMethods['completeDeliveries']> {
  if (outcomes.length === 0) return { applied: [], lost: [] };
  // No join for the planner to get wrong: with a young table's statistics (or few rows
  // estimated in `sending`) it nests a loop and rescans a recordset once per row, which at 500
  // rows cost 100-250 ms. Instead the small fields travel as one jsonb object keyed by id,
  // read with `o -> d.id`, and the details and attempts, packed (migration 11), one after the
  // other in one bytea parameter (sent in binary, copied as it is), each cut out by the `at` and
  // `len` of its entry. As bytea arrays they went as hex text that PostgreSQL's array_in and
  // byteain decoded (~14 ms of a 500-outcome statement's bind step) after the driver had encoded it.
  const byId: Record<string, unknown> = {};
  // Packed off this thread before the statement is built.
  const packed = await packer.pack(outcomes);
  const { bytes, places } = concatenated(packed);
  outcomes.forEach((o, i) => {
    byId[o.id] = {
      ...places[i],
      status: o.status,
      attempted: o.attempt ? 1 : 0,
      attempt_number: o.attempt?.number ?? null,
      pipe_version: o.pipe_version,
      destination_version: o.destination_version,
      test_mode: o.test_mode,
      filter_reason: o.status === 'filtered' ? (o.filter_reason ?? null) : null,
      due_at: o.status === 'retrying' ? o.next_attempt_at : null,
      delivered_at: o.delivered_at,
      // The match-quality increments of a delivered, measured outcome (migration 10).
      ...(o.status === 'delivered' && o.match ? { match: matchIncrements(o.match) } : {}),
    };
  });
  const ids = outcomes.map((o) => o.id).sort(compareIds);
  // Each `(SELECT … FROM input)` is an InitPlan: evaluated once, then read per row.
  const o = sql`(SELECT o FROM input)`;
  // One statement: the update fenced by lease owner, the running totals, and the attempts of
  // the rows it really updated.
  const { rows } = await sql<{ id: string }>`
      WITH input AS (
        SELECT ${JSON.stringify(byId)}::jsonb AS o, ${bytes}::bytea AS bytes
      ), updated AS (
        UPDATE ${T('deliveries')} d
        SET status = ${o} -> d.id ->> 'status',
          attempt_count = d.attempt_count + (${o} -> d.id ->> 'attempted')::integer,
          pipe_version = (${o} -> d.id ->> 'pipe_version')::integer,
          destination_version = (${o} -> d.id ->> 'destination_version')::integer,
          test_mode = (${o} -> d.id ->> 'test_mode')::boolean,
          filter_reason = ${o} -> d.id ->> 'filter_reason',
          due_at = (${o} -> d.id ->> 'due_at')::timestamptz,
          lease_owner = NULL,
          updated_at = ${now}::timestamptz,
          delivered_at = (${o} -> d.id ->> 'delivered_at')::timestamptz,
          detail = substring((SELECT bytes FROM input)
            FROM (${o} -> d.id ->> 'da')::integer FOR (${o} -> d.id ->> 'dl')::integer)
        WHERE d.id = ANY(${ids}::text[]) AND d.status = 'sending' AND d.lease_owner = ${owner}
        RETURNING d.id, d.destination_id, d.pipe_id, d.status
      ), totals AS (
        ${moveTotals(T, 'updated', 'status', 1)}
      ), recorded AS (
        INSERT INTO ${T('delivery_attempts')} (delivery_id, number, data)
        SELECT u.id, (${o} -> u.id ->> 'attempt_number')::integer,
          substring((SELECT bytes FROM input)
            FROM (${o} -> u.id ->> 'aa')::integer FOR (${o} -> u.id ->> 'al')::integer)
        FROM updated u
        WHERE ${o} -> u.id ->> 'attempt_number' IS NOT NULL
        ON CONFLICT (delivery_id, number) DO UPDATE SET data = excluded.data
      ), matched AS (
        INSERT INTO ${T('match_rollup' as TableName)} AS r (pipe_id, minute, identifier, slot, raw, stitched)
        SELECT u.pipe_id, date_trunc('minute', ${now}::timestamptz), m.identifier, pg_backend_pid() % 8,
          sum(m.raw), sum(m.stitched)
        FROM updated u
        CROSS JOIN LATERAL jsonb_to_recordset(${o} -> u.id -> 'match') AS m(identifier text, raw integer, stitched integer)
        WHERE u.status = 'delivered'
        GROUP BY 1, 2, 3, 4
        ORDER BY 1, 2, 3, 4
        ON CONFLICT (pipe_id, minute, identifier, slot)
        DO UPDATE SET raw = r.raw + excluded.raw, stitched = r.stitched + excluded.stitched
      )
      SELECT id FROM updated
    `.execute(db);
  const appliedSet = new Set(rows.map((r) => r.id));
  return {
    applied: outcomes.filter((o) => appliedSet.has(o.id)).map((o) => o.id),
    lost: outcomes.filter((o) => !appliedSet.has(o.id)).map((o) => o.id),
  };
}

/** The store's claim methods; `packer` packs outcomes off the event loop's thread (the store's own). */
export function claimMethods(ctx: PgContext, packer: OutcomePacker): ClaimMethods {
  const { q, guard, wake } = ctx;
  /** An update of the deliveries of `ids` whose lease `owner` still holds (the fence). */
  const held = (owner: string, ids: readonly string[]) =>
    q()
      .updateTable('deliveries')
      .where('id', '=', anyOf(ids))
      .where('status', '=', 'sending')
      .where('lease_owner', '=', owner);

  return {
    claimDeliveries: (input) => guard(() => claimDue(ctx, input)),

    completeDeliveries: (input) => guard(() => completeOutcomes(ctx, packer, input)),

    extendLeases: ({ owner, ids, until }) =>
      guard(async () => {
        if (ids.length === 0) return 0;
        const result = await held(owner, ids).set({ due_at: until }).executeTakeFirst();
        return Number(result.numUpdatedRows);
      }),

    releaseDeliveries: ({ owner, ids, now }) =>
      guard(async () => {
        if (ids.length === 0) return;
        const rows = await held(owner, ids)
          .set({ status: 'pending', lease_owner: null, due_at: now, updated_at: now })
          .returning('destination_id')
          .execute();
        wake(new Set(rows.map((r) => r.destination_id)));
      }),

    expediteRetries: ({ destinationId, now }) =>
      guard(async () => {
        const result = await q()
          .updateTable('deliveries')
          .set({ due_at: now })
          .where('destination_id', '=', destinationId)
          .where('status', '=', 'retrying')
          .where('due_at', 'is not', null)
          .where('due_at', '>', now)
          .executeTakeFirst();
        const moved = Number(result.numUpdatedRows);
        if (moved > 0) wake([destinationId]);
        return moved;
      }),

    nextRetryAt: ({ destinationId }) =>
      guard(async () => {
        const row = await q()
          .selectFrom('deliveries')
          .select((eb) => eb.fn.min('due_at').as('due'))
          .where('destination_id', '=', destinationId)
          .where('due_at', 'is not', null)
          .where('status', '=', 'retrying')
          .executeTakeFirst();
        return isoTimeOrNull(row?.due ?? null);
      }),
  };
}
