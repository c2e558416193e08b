/**
 * Delivery claims on PostgreSQL: dispatchers claim due deliveries (`FOR UPDATE SKIP LOCKED` plus a
 * lease in `due_at`), record outcomes fenced by the lease owner, extend or release leases, and
 * bring retries forward.
 */
import type { Store } from '@openpipes/core';
import {
  compareIds,
  type DeliveryRowText,
  isoTime,
  isoTimeOrNull,
  leaseUntil,
  toClaimedDelivery,
} from '@openpipes/core/store-kit';
import { sql } from 'kysely';
import type { PgContext } from './connection.js';
import { moveTotals } from './delivery-totals.js';
import { deliveryColumns } from './rows.js';

type ClaimMethods = Pick<
  Store,
  | 'claimDeliveries'
  | 'completeDeliveries'
  | 'extendLeases'
  | 'releaseDeliveries'
  | 'expediteRetries'
  | 'nextRetryAt'
>;

/** The store's claim methods. */
export function claimMethods({ db, T, guard, wake }: PgContext): ClaimMethods {
  return {
    claimDeliveries: ({ destinationId, pipeIds, owner, limit, leaseMs, now }) =>
      guard(async () => {
        if (pipeIds.length === 0 || limit <= 0) return [];
        const until = leaseUntil(now, leaseMs);
        // SKIP LOCKED: rows another claimer is taking right now are passed over, not waited for;
        // the lock is held until commit, when they are `sending` and no longer due.
        const { rows } = await sql<
          DeliveryRowText & { was_due: Date | string; e_event_time: Date | string; e_payload: string }
        >`
          WITH picked AS (
            SELECT d.id, d.due_at AS was_due, e.event_time AS e_event_time, e.payload::text AS e_payload
            FROM ${T('deliveries')} d
            JOIN ${T('events')} e ON e.id = d.event_ref
            WHERE d.destination_id = ${destinationId}
              AND d.due_at IS NOT NULL AND d.due_at <= ${now}::timestamptz
              AND d.pipe_id = ANY(${pipeIds}::text[])
            ORDER BY d.due_at, d.id
            LIMIT ${limit}
            FOR UPDATE OF d SKIP LOCKED
          )
          UPDATE ${T('deliveries')} d
          SET status = 'sending', lease_owner = ${owner}, due_at = ${until}::timestamptz, updated_at = ${now}::timestamptz
          FROM picked
          WHERE d.id = picked.id
          RETURNING ${deliveryColumns('d')}, picked.was_due, picked.e_event_time, picked.e_payload
        `.execute(db);
        return rows
          .map((row) => ({ row, due: isoTime(row.was_due) }))
          .sort((a, b) => compareIds(a.due, b.due) || compareIds(a.row.id, b.row.id))
          .map(({ row }) => toClaimedDelivery(row, { event_time: row.e_event_time, payload: row.e_payload }));
      }),

    completeDeliveries: ({ owner, outcomes, now }) =>
      guard(async () => {
        if (outcomes.length === 0) return { applied: [], lost: [] };
        // No join for the planner to get wrong: with a young table's statistics (or few rows
        // estimated in `sending`) it nests a loop and rescans a recordset once per row, which at 500
        // rows cost 100-250 ms. Instead the small fields travel as one jsonb object keyed by id,
        // read with `o -> d.id`, and the large JSON texts as text arrays indexed by that entry's `i`:
        // an array literal is far cheaper for PostgreSQL to read than JSON into jsonb, and each
        // detail/attempt is parsed once, by its ::json cast (json, unlike jsonb, keeps \u0000).
        const byId: Record<string, unknown> = {};
        const details: string[] = [];
        const attempts: Array<string | null> = [];
        outcomes.forEach((o, i) => {
          byId[o.id] = {
            i: i + 1,
            status: o.status,
            attempted: o.attempt ? 1 : 0,
            attempt_number: o.attempt?.number ?? null,
            pipe_version: o.pipe_version,
            destination_version: o.destination_version,
            test_mode: o.test_mode,
            due_at: o.status === 'retrying' ? o.next_attempt_at : null,
            delivered_at: o.delivered_at,
          };
          details.push(JSON.stringify(o.detail));
          attempts.push(o.attempt ? JSON.stringify(o.attempt) : null);
        });
        const ids = outcomes.map((o) => o.id).sort(compareIds);
        // Each `(SELECT … FROM input)` is an InitPlan: evaluated once, then read per row.
        const o = sql`(SELECT o FROM input)`;
        // One statement: the update fenced by lease owner, the running totals, and the attempts of
        // the rows it really updated.
        const { rows } = await sql<{ id: string }>`
          WITH input AS (
            SELECT ${JSON.stringify(byId)}::jsonb AS o, ${details}::text[] AS details, ${attempts}::text[] AS attempts
          ), updated AS (
            UPDATE ${T('deliveries')} d
            SET status = ${o} -> d.id ->> 'status',
              attempt_count = d.attempt_count + (${o} -> d.id ->> 'attempted')::integer,
              pipe_version = (${o} -> d.id ->> 'pipe_version')::integer,
              destination_version = (${o} -> d.id ->> 'destination_version')::integer,
              test_mode = (${o} -> d.id ->> 'test_mode')::boolean,
              due_at = (${o} -> d.id ->> 'due_at')::timestamptz,
              lease_owner = NULL,
              updated_at = ${now}::timestamptz,
              delivered_at = (${o} -> d.id ->> 'delivered_at')::timestamptz,
              detail = ((SELECT details FROM input))[(${o} -> d.id ->> 'i')::integer]::json
            WHERE d.id = ANY(${ids}::text[]) AND d.status = 'sending' AND d.lease_owner = ${owner}
            RETURNING d.id, d.destination_id, d.pipe_id, d.status
          ), totals AS (
            ${moveTotals(T, 'updated', 'status', 1)}
          ), recorded AS (
            INSERT INTO ${T('delivery_attempts')} (delivery_id, number, data)
            SELECT u.id, (${o} -> u.id ->> 'attempt_number')::integer,
              ((SELECT attempts FROM input))[(${o} -> u.id ->> 'i')::integer]::json
            FROM updated u
            WHERE ${o} -> u.id ->> 'attempt_number' IS NOT NULL
            ON CONFLICT (delivery_id, number) DO UPDATE SET data = excluded.data
          )
          SELECT id FROM updated
        `.execute(db);
        const appliedSet = new Set(rows.map((r) => r.id));
        return {
          applied: outcomes.filter((o) => appliedSet.has(o.id)).map((o) => o.id),
          lost: outcomes.filter((o) => !appliedSet.has(o.id)).map((o) => o.id),
        };
      }),

    extendLeases: ({ owner, ids, until }) =>
      guard(async () => {
        if (ids.length === 0) return 0;
        const result = await sql`
          UPDATE ${T('deliveries')} SET due_at = ${until}::timestamptz
          WHERE id = ANY(${ids}::text[]) AND status = 'sending' AND lease_owner = ${owner}
        `.execute(db);
        return Number(result.numAffectedRows ?? 0);
      }),

    releaseDeliveries: ({ owner, ids, now }) =>
      guard(async () => {
        if (ids.length === 0) return;
        const { rows } = await sql<{ destination_id: string }>`
          UPDATE ${T('deliveries')}
          SET status = 'pending', lease_owner = NULL, due_at = ${now}::timestamptz, updated_at = ${now}::timestamptz
          WHERE id = ANY(${ids}::text[]) AND status = 'sending' AND lease_owner = ${owner}
          RETURNING destination_id
        `.execute(db);
        wake(new Set(rows.map((r) => r.destination_id)));
      }),

    expediteRetries: ({ destinationId, now }) =>
      guard(async () => {
        const result = await sql`
          UPDATE ${T('deliveries')} SET due_at = ${now}::timestamptz
          WHERE destination_id = ${destinationId} AND status = 'retrying'
            AND due_at IS NOT NULL AND due_at > ${now}::timestamptz
        `.execute(db);
        const moved = Number(result.numAffectedRows ?? 0);
        if (moved > 0) wake([destinationId]);
        return moved;
      }),

    nextRetryAt: ({ destinationId }) =>
      guard(async () => {
        const { rows } = await sql<{ due: Date | string | null }>`
          SELECT min(due_at) AS due FROM ${T('deliveries')}
          WHERE destination_id = ${destinationId} AND due_at IS NOT NULL AND status = 'retrying'
        `.execute(db);
        return isoTimeOrNull(rows[0]?.due ?? null);
      }),
  };
}
