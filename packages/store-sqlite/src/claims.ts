/**
 * Delivery claims on SQLite: dispatchers claim due deliveries (one `BEGIN IMMEDIATE` transaction
 * plus a lease in `due_at`), record outcomes fenced by the lease owner, extend or release leases,
 * and bring retries forward.
 */
import { type DeliveryOutcome, matchIncrements } from '@openpipes/core';
import {
  type ClaimMethods,
  leaseUntil,
  type OutcomePacker,
  toClaimedDelivery,
} from '@openpipes/core/store-kit';
import type { SqliteContext } from './connection.js';
import { columnsOf } from './prepared.js';
import { referredAttempts } from './referred-attempts.js';
import { tally } from './tallies.js';

const D = columnsOf('deliveries');
const A = columnsOf('delivery_attempts');
// Outcomes' statements: raw and positional for speed (see prepared.ts), columns checked; fenced by
// the lease owner.
const recordOutcomeSql = `UPDATE deliveries SET ${D('status')} = ?, ${D('attempt_count')} = ${D('attempt_count')} + ?,
    ${D('pipe_version')} = ?, ${D('destination_version')} = ?, ${D('test_mode')} = ?, ${D('filter_reason')} = ?, ${D('due_at')} = ?,
    ${D('lease_owner')} = NULL, ${D('updated_at')} = ?, ${D('delivered_at')} = ?, ${D('detail')} = ?
  WHERE ${D('id')} = ? AND ${D('status')} = 'sending' AND ${D('lease_owner')} = ?`;
// The pipe and destination of a batch's deliveries, for its counts: one statement per batch
// (RETURNING on each row's UPDATE measured ~5 µs more per row, a SELECT per row ~1-2 µs).
const pipesOfSql = `SELECT ${D('id', 'pipe_id', 'destination_id')} FROM deliveries WHERE ${D('id')} IN (SELECT value FROM json_each(?))`;
// The match-quality rollup (migration 10), added to in the outcome's transaction.
const addMatchSql = `INSERT INTO match_rollup (pipe_id, minute, identifier, raw, stitched) VALUES (?, ?, ?, ?, ?)
  ON CONFLICT (pipe_id, minute, identifier) DO UPDATE SET raw = raw + excluded.raw, stitched = stitched + excluded.stitched`;
const recordAttemptSql = `INSERT INTO delivery_attempts (${A('delivery_id', 'number', 'data')}) VALUES (?, ?, ?)
  ON CONFLICT (${A('delivery_id', 'number')}) DO UPDATE SET ${A('data')} = excluded.data`;

// A claim's lease on the rows it selected: one prepared statement whatever the batch size (the ids
// go in as one JSON array), instead of an IN list kysely compiles again for every claim.
const leaseSql = `UPDATE deliveries SET ${D('status')} = 'sending', ${D('lease_owner')} = ?, ${D('due_at')} = ?, ${D('updated_at')} = ?
  WHERE ${D('id')} IN (SELECT value FROM json_each(?))`;

type ClaimInput = Parameters<ClaimMethods['claimDeliveries']>[0];
type CompleteInput = Parameters<ClaimMethods['completeDeliveries']>[0];
type Packs = Awaited<ReturnType<OutcomePacker['pack']>>;

/** Claims up to `limit` due deliveries of the destination's pipes for `owner`, oldest due first. */
async function claimDue(
  ctx: SqliteContext,
  { destinationId, pipeIds, owner, limit, leaseMs, now }: ClaimInput,
): ReturnType<ClaimMethods['claimDeliveries']> {
  const { qb, all, prepare, tx } = ctx;
  if (pipeIds.length === 0 || limit <= 0) return [];
  const until = leaseUntil(now, leaseMs);
  return tx(() => {
    const rows = all(
      qb
        .selectFrom('deliveries as d')
        .innerJoin('events as e', 'e.id', 'd.event_ref')
        .selectAll('d')
        .select(['e.event_time', 'e.payload'])
        .where('d.destination_id', '=', destinationId)
        .where('d.due_at', 'is not', null)
        .where('d.due_at', '<=', now)
        .where('d.pipe_id', 'in', pipeIds)
        .orderBy('d.due_at')
        .orderBy('d.id')
        .limit(limit),
    );
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    prepare(leaseSql).run(owner, until, now, JSON.stringify(ids));
    // Rows entering `sending` (one whose lease ran out is in it already), counted per pipe. A
    // due row is never in a final status unless written by hand; if one is, it leaves that
    // status's total, as the trigger took it back (left() ignores the other statuses).
    const counts = tally(ctx, now);
    for (const r of rows) {
      if (r.status === 'sending') continue;
      counts.entered(r.pipe_id, r.destination_id, 'sending');
      counts.left(r.pipe_id, r.destination_id, r.status);
    }
    counts.write();
    const referred = referredAttempts(ctx, rows);
    // Each row as the lease left it: set on the row read (it is ours), not on a copy of it.
    return rows.map((row) => {
      row.status = 'sending';
      row.lease_owner = owner;
      row.due_at = until;
      row.updated_at = now;
      return toClaimedDelivery(row, row, referred);
    });
  });
}

/**
 * Writes the outcomes whose lease `owner` still holds (the fence), with their attempts, match
 * counts and tallies, inside the caller's transaction; sorts the ids into `applied` and `lost`.
 */
function recordOutcomes(
  ctx: SqliteContext,
  { owner, outcomes, now }: CompleteInput,
  packs: Packs,
  { applied, lost }: { applied: string[]; lost: string[] },
): void {
  const { prepare } = ctx;
  const update = prepare(recordOutcomeSql);
  const insertAttempt = prepare(recordAttemptSql);
  const addMatch = prepare(addMatchSql);
  const minute = now.slice(0, 16);
  // Every applied outcome leaves `sending` for its status (migration 14: counted per batch).
  // A delivery's pipe and destination never change, so they are read before the updates.
  const counts = tally(ctx, now);
  const pipes = new Map<string, { pipe_id: string; destination_id: string }>();
  const rows = prepare(pipesOfSql).all(JSON.stringify(outcomes.map((o) => o.id))) as Array<{
    id: string;
    pipe_id: string;
    destination_id: string;
  }>;
  for (const row of rows) pipes.set(row.id, row);
  for (let i = 0; i < outcomes.length; i++) {
    const outcome = outcomes[i] as DeliveryOutcome;
    const packed = packs[i] as (typeof packs)[number];
    const changed = update.run(
      outcome.status,
      outcome.attempt ? 1 : 0,
      outcome.pipe_version,
      outcome.destination_version,
      outcome.test_mode ? 1 : 0,
      outcome.status === 'filtered' ? (outcome.filter_reason ?? null) : null,
      outcome.status === 'retrying' ? outcome.next_attempt_at : null,
      now,
      outcome.delivered_at,
      packed.detail,
      outcome.id,
      owner,
    ).changes;
    const ref = pipes.get(outcome.id);
    if (changed === 0 || !ref) {
      lost.push(outcome.id);
      continue;
    }
    applied.push(outcome.id);
    counts.entered(ref.pipe_id, ref.destination_id, outcome.status);
    if (outcome.attempt && packed.attempt) {
      insertAttempt.run(outcome.id, outcome.attempt.number, packed.attempt);
    }
    if (outcome.status === 'delivered' && outcome.match) {
      for (const row of matchIncrements(outcome.match)) {
        addMatch.run(ref.pipe_id, minute, row.identifier, row.raw, row.stitched);
      }
    }
  }
  counts.write();
}

/** The store's claim methods; `packer` packs outcomes off the event loop's thread (the store's own). */
export function claimMethods(ctx: SqliteContext, packer: OutcomePacker): ClaimMethods {
  const { qb, all, first, run, tx } = ctx;
  /** An update of the deliveries of `ids` whose lease `owner` still holds (the fence). */
  const held = (owner: string, ids: readonly string[]) =>
    qb
      .updateTable('deliveries')
      .where('id', 'in', ids)
      .where('status', '=', 'sending')
      .where('lease_owner', '=', owner);

  return {
    async claimDeliveries(input) {
      return claimDue(ctx, input);
    },

    async completeDeliveries({ owner, outcomes, now }) {
      const applied: string[] = [];
      const lost: string[] = [];
      // Packed before the transaction, off this thread: the write lock is held for the writes only.
      const packs = await packer.pack(outcomes);
      tx(() => recordOutcomes(ctx, { owner, outcomes, now }, packs, { applied, lost }));
      return { applied, lost };
    },

    async extendLeases({ owner, ids, until }) {
      if (ids.length === 0) return 0;
      return run(held(owner, ids).set({ due_at: until }));
    },

    async releaseDeliveries({ owner, ids, now }) {
      if (ids.length === 0) return;
      tx(() => {
        const released = all(
          held(owner, ids)
            .set({ status: 'pending', lease_owner: null, due_at: now, updated_at: now })
            .returning(['pipe_id', 'destination_id']),
        );
        const counts = tally(ctx, now);
        for (const r of released) counts.entered(r.pipe_id, r.destination_id, 'pending');
        counts.write();
      });
    },

    async expediteRetries({ destinationId, now }) {
      return run(
        qb
          .updateTable('deliveries')
          .set({ due_at: now })
          .where('destination_id', '=', destinationId)
          .where('status', '=', 'retrying')
          .where('due_at', '>', now),
      );
    },

    async nextRetryAt({ destinationId }) {
      const row = first(
        qb
          .selectFrom('deliveries')
          .select((eb) => eb.fn.min('due_at').as('due'))
          .where('destination_id', '=', destinationId)
          .where('due_at', 'is not', null)
          .where('status', '=', 'retrying'),
      );
      return (row?.due as string | null | undefined) ?? null;
    },
  };
}
