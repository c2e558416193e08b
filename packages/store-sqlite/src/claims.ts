/**
 * Delivery claims on SQLite: dispatchers claim due deliveries (one `BEGIN IMMEDIATE` transaction
 * plus a lease in `due_at`), record outcomes fenced by the lease owner, extend or release leases,
 * and bring retries forward.
 */
import { type ClaimedDelivery, type DeliveryOutcome, matchIncrements } from '@openpipes/core';
import {
  type ClaimMethods,
  leaseUntil,
  type OutcomePacker,
  toClaimedDelivery,
} from '@openpipes/core/store-kit';
import { readDue } from './claim-rows.js';
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

// A claim's lease on the rows it selected: one prepared statement whatever the batch size (the
// rows go in as one JSON array), instead of an IN list kysely compiles again for every claim. By
// rowid, read in the same transaction: the table's own key, not a probe of the ids' index first
// (~0.5 µs less per row).
const leaseSql = `UPDATE deliveries SET ${D('status')} = 'sending', ${D('lease_owner')} = ?, ${D('due_at')} = ?, ${D('updated_at')} = ?
  WHERE rowid IN (SELECT value FROM json_each(?))`;

// The claimed rows' events, read after the claim's transaction (see claimDue).
const eventsOfSql = 'SELECT id, event_time, payload FROM events WHERE id IN (SELECT value FROM json_each(?))';

type EventValues = [id: string, event_time: string, payload: string];
type ClaimInput = Parameters<ClaimMethods['claimDeliveries']>[0];
type CompleteInput = Parameters<ClaimMethods['completeDeliveries']>[0];
type Packs = Awaited<ReturnType<OutcomePacker['pack']>>;
/** A leased delivery's pipe and destination, which never change, for its outcome's counts. */
type PipeOf = { pipe_id: string; destination_id: string };
/**
 * The pipe and destination of each delivery this store leased and has not recorded or released
 * yet, noted by the claim so that the outcome's transaction need not read them again. Bounded: a
 * batch whose recording failed leaves its entries, dropped when the map is cleared; an outcome
 * whose delivery is not here reads it (as every outcome did before).
 */
type LeasedPipes = Map<string, PipeOf>;
const maxLeasedPipes = 100_000;

/**
 * Claims up to `limit` due deliveries of the destination's pipes for `owner`, oldest due first.
 * The write transaction selects and leases the rows and counts them; what needs no write lock is
 * done outside it: the events' payloads are read and parsed after (a row's event is immutable,
 * and the lease keeps the row ours). An event gone meanwhile (erased, which takes the lease too,
 * or deleted by hand) leaves its delivery out, released.
 */
async function claimDue(
  ctx: SqliteContext,
  { destinationId, pipeIds, owner, limit, leaseMs, now }: ClaimInput,
  leased: LeasedPipes,
): ReturnType<ClaimMethods['claimDeliveries']> {
  const { prepare, tx } = ctx;
  if (pipeIds.length === 0 || limit <= 0) return [];
  const until = leaseUntil(now, leaseMs);
  const claimed = tx(() => {
    const due = readDue(ctx, { destinationId, pipeIds, now, limit });
    if (due.length === 0) return null;
    // Joined, not JSON.stringify: a host's database may read integers as BigInt (safe integers).
    prepare(leaseSql).run(owner, until, now, `[${due.map((d) => d.rowid).join(',')}]`);
    const rows = due.map((d) => d.row);
    // Rows entering `sending` (one whose lease ran out is in it already), counted per pipe. A
    // due row is never in a final status unless written by hand; if one is, it leaves that
    // status's total, as the trigger took it back (left() ignores the other statuses). Entries are
    // counted per run of one pipe's rows (all are of one destination): a key per run, not per row.
    const counts = tally(ctx, now);
    let run = 0;
    let pipe = '';
    for (const r of rows) {
      if (r.status === 'sending') continue;
      if (r.pipe_id !== pipe) {
        counts.entered(pipe, destinationId, 'sending', run);
        pipe = r.pipe_id;
        run = 0;
      }
      run++;
      counts.left(r.pipe_id, destinationId, r.status);
    }
    counts.entered(pipe, destinationId, 'sending', run);
    counts.write();
    return { rows, referred: referredAttempts(ctx, rows) };
  });
  if (!claimed) return [];
  const { rows, referred } = claimed;
  if (leased.size >= maxLeasedPipes) leased.clear();
  // One noted pipe for each run of a pipe's rows, not an object per row.
  let ref: PipeOf | undefined;
  for (const r of rows) {
    if (ref?.pipe_id !== r.pipe_id) ref = { pipe_id: r.pipe_id, destination_id: destinationId };
    leased.set(r.id, ref);
  }
  const events = readEvents(prepare, rows);
  const out: ClaimedDelivery[] = [];
  const gone: string[] = [];
  for (const row of rows) {
    const event = events.get(row.event_ref);
    if (!event) {
      gone.push(row.id);
      continue;
    }
    // Each row as the lease left it: set on the row read (it is ours), not on a copy of it.
    row.status = 'sending';
    row.lease_owner = owner;
    row.due_at = until;
    row.updated_at = now;
    out.push(toClaimedDelivery(row, { event_time: event[1], payload: event[2] }, referred));
  }
  if (gone.length > 0) release(ctx, { owner, ids: gone, now }, leased);
  return out;
}

/**
 * The events of claimed `rows` that still exist, by id, as [id, event_time, payload] (raw mode:
 * better-sqlite3 builds no object per row; a database without it gives objects, read in order).
 */
function readEvents(prepare: SqliteContext['prepare'], rows: ReadonlyArray<{ event_ref: string }>) {
  const statement = prepare(eventsOfSql);
  statement.raw?.(true);
  const refs = new Set<string>();
  for (const r of rows) refs.add(r.event_ref);
  const events = new Map<string, EventValues>();
  for (const found of statement.all(JSON.stringify([...refs]))) {
    const e = (statement.raw ? found : Object.values(found as object)) as EventValues;
    events.set(e[0], e);
  }
  return events;
}

/** Gives back the deliveries of `ids` whose lease `owner` still holds: pending again, due now. */
function release(
  ctx: SqliteContext,
  { owner, ids, now }: { owner: string; ids: readonly string[]; now: string },
  leased: LeasedPipes,
): void {
  for (const id of ids) leased.delete(id);
  ctx.tx(() => {
    const released = ctx.all(
      ctx.qb
        .updateTable('deliveries')
        .where('id', 'in', ids)
        .where('status', '=', 'sending')
        .where('lease_owner', '=', owner)
        .set({ status: 'pending', lease_owner: null, due_at: now, updated_at: now })
        .returning(['pipe_id', 'destination_id']),
    );
    const counts = tally(ctx, now);
    for (const r of released) counts.entered(r.pipe_id, r.destination_id, 'pending');
    counts.write();
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
  leased: LeasedPipes,
  { applied, lost }: { applied: string[]; lost: string[] },
): void {
  const { prepare } = ctx;
  const update = prepare(recordOutcomeSql);
  const insertAttempt = prepare(recordAttemptSql);
  const minute = now.slice(0, 16);
  // Every applied outcome leaves `sending` for its status (migration 14: counted per batch).
  // A delivery's pipe and destination never change, so they are read before the updates.
  const counts = tally(ctx, now);
  const matches = matchSums();
  const pipes = new Map<string, PipeOf>();
  const unknown: string[] = [];
  for (const o of outcomes) {
    const ref = leased.get(o.id);
    if (ref) pipes.set(o.id, ref);
    else unknown.push(o.id);
  }
  if (unknown.length > 0) {
    const rows = prepare(pipesOfSql).all(JSON.stringify(unknown)) as Array<PipeOf & { id: string }>;
    for (const row of rows) pipes.set(row.id, row);
  }
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
    if (outcome.status === 'delivered' && outcome.match) matches.add(ref.pipe_id, outcome.match);
  }
  counts.write();
  matches.write(prepare, minute);
}

/**
 * A batch's match-quality increments added up per pipe and identifier, written as one upsert each:
 * a batch's outcomes share their minute, so the rollup's rows come out as one statement per
 * outcome and identifier made them (the sums are the same), in a few statements instead of
 * hundreds.
 */
function matchSums() {
  const byPipe = new Map<string, Map<string, { raw: number; stitched: number }>>();
  return {
    add(pipe: string, match: NonNullable<DeliveryOutcome['match']>) {
      let sums = byPipe.get(pipe);
      if (!sums) {
        sums = new Map();
        byPipe.set(pipe, sums);
      }
      for (const row of matchIncrements(match)) {
        const sum = sums.get(row.identifier);
        if (sum) {
          sum.raw += row.raw;
          sum.stitched += row.stitched;
        } else sums.set(row.identifier, { raw: row.raw, stitched: row.stitched });
      }
    },
    write(prepare: SqliteContext['prepare'], minute: string) {
      if (byPipe.size === 0) return;
      const addMatch = prepare(addMatchSql);
      for (const [pipe, sums] of byPipe) {
        for (const [identifier, s] of sums) addMatch.run(pipe, minute, identifier, s.raw, s.stitched);
      }
    },
  };
}

/** The store's claim methods; `packer` packs outcomes off the event loop's thread (the store's own). */
export function claimMethods(ctx: SqliteContext, packer: OutcomePacker): ClaimMethods {
  const { qb, first, run, tx } = ctx;
  const leased: LeasedPipes = new Map();
  /** An update of the deliveries of `ids` whose lease `owner` still holds (the fence). */
  const held = (owner: string, ids: readonly string[]) =>
    qb
      .updateTable('deliveries')
      .where('id', 'in', ids)
      .where('status', '=', 'sending')
      .where('lease_owner', '=', owner);

  return {
    async claimDeliveries(input) {
      return claimDue(ctx, input, leased);
    },

    async completeDeliveries({ owner, outcomes, now }) {
      const applied: string[] = [];
      const lost: string[] = [];
      // Packed before the transaction, off this thread: the write lock is held for the writes only.
      const packs = await packer.pack(outcomes);
      try {
        tx(() => recordOutcomes(ctx, { owner, outcomes, now }, packs, leased, { applied, lost }));
      } finally {
        for (const o of outcomes) leased.delete(o.id);
      }
      return { applied, lost };
    },

    async extendLeases({ owner, ids, until }) {
      if (ids.length === 0) return 0;
      return run(held(owner, ids).set({ due_at: until }));
    },

    async releaseDeliveries({ owner, ids, now }) {
      if (ids.length === 0) return;
      release(ctx, { owner, ids, now }, leased);
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
