import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClaimedDelivery, type DeliveryOutcome, newId } from '@openpipes/core';
import { bareOutcome } from '@openpipes/core/testing';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteStore } from './index.js';

// deliveryStats() reads running totals (migration 12) instead of grouping the history: after every
// kind of change, and on a file whose history predates the totals, it must answer exactly what a
// full GROUP BY over `deliveries` answers.

const t0 = Date.parse('2026-05-04T10:00:00.000Z');
const at = (ms: number) => new Date(t0 + ms).toISOString();

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function newFile() {
  dir = mkdtempSync(join(tmpdir(), 'openpipes-totals-'));
  return join(dir, 'test.db');
}

/** The statistics as a full scan says they are. */
function counted(filename: string) {
  const db = new Database(filename, { readonly: true });
  try {
    return db
      .prepare(
        `SELECT destination_id, pipe_id, status, count(*) AS count, min(created_at) AS oldest_created_at
         FROM deliveries GROUP BY destination_id, pipe_id, status ORDER BY destination_id, pipe_id, status`,
      )
      .all();
  } finally {
    db.close();
  }
}

function outcome(d: ClaimedDelivery, status: DeliveryOutcome['status'], now: string): DeliveryOutcome {
  return bareOutcome(d.id, status, now, at(3_600_000));
}

/** Two pipes, events one second apart from `from`, each delivery claimed and completed in turn. */
async function history(store: ReturnType<typeof sqliteStore>, from: number, pipes: PipeRef[]) {
  const sourceId = newId('source', t0);
  for (let i = 0; i < 8; i++) {
    const ms = from + i * 1000;
    await store.appendEvents({
      sourceId,
      events: [
        {
          id: newId('event', t0 + ms),
          event_id: `e_${from}_${i}`,
          sender_event_id: true,
          event_type: 'purchase',
          event_time: at(ms),
          event_payload: { value: i },
        },
      ],
      pipes,
      deliveryIds: pipes.map(() => newId('delivery', t0 + ms)),
      dedupSince: null,
      now: at(ms),
    });
  }
  const statuses = ['delivered', 'failed', 'dead', 'filtered', 'retrying', 'delivered'] as const;
  for (const p of pipes) {
    const now = at(from + 10_000);
    const claimed = await store.claimDeliveries({
      destinationId: p.destination_id,
      pipeIds: [p.pipe_id],
      owner: 'w',
      limit: 6,
      leaseMs: 60_000,
      now,
    });
    await store.completeDeliveries({
      owner: 'w',
      outcomes: claimed.map((d, i) => outcome(d, statuses[i]!, now)),
      now,
    });
  }
}

type PipeRef = { pipe_id: string; destination_id: string };

/** A migrated store on a new file, with the history of two pipes to two destinations. */
async function storeWithHistory() {
  const filename = newFile();
  const store = sqliteStore({ filename });
  await store.migrate();
  const pipes = [0, 1].map(() => ({
    pipe_id: newId('pipe', t0),
    destination_id: newId('destination', t0),
  }));
  await history(store, 0, pipes);
  return { filename, store, pipes };
}

describe('delivery statistics from running totals (SQLite)', () => {
  it('answers what a full count answers through completion, replay, erasure-like updates and pruning', async () => {
    const { filename, store, pipes } = await storeWithHistory();
    expect(await store.deliveryStats()).toEqual(counted(filename));
    // The same pipe to another destination from now on.
    await history(store, 20_000, [{ pipe_id: pipes[0]!.pipe_id, destination_id: newId('destination', t0) }]);
    expect(await store.deliveryStats()).toEqual(counted(filename));
    await store.requeueDeliveries({ pipeId: pipes[0]!.pipe_id, now: at(40_000), limit: 100 });
    await store.requeueDeliveries({
      pipeId: pipes[1]!.pipe_id,
      statuses: ['delivered', 'filtered'],
      now: at(40_000),
      limit: 1,
    });
    expect(await store.deliveryStats()).toEqual(counted(filename));
    await store.prune({ before: at(5000), limit: 1000 });
    expect(await store.deliveryStats()).toEqual(counted(filename));
    await store.prune({ before: at(1_000_000), limit: 1000 });
    expect(await store.deliveryStats()).toEqual([]);
    await store.close();
  });

  it('counts the history a file had before the totals existed (the migration fills them)', async () => {
    const { filename, store } = await storeWithHistory();
    await store.close();
    // The file as if that history had been written before migration 12: no totals. Migration 12
    // counts it, then 14 drops the triggers 12 creates again.
    const db = new Database(filename);
    db.exec('DROP TABLE delivery_totals; DELETE FROM openpipes_migrations WHERE version IN (12, 14);');
    db.close();
    const reopened = sqliteStore({ filename });
    await reopened.migrate();
    expect(await reopened.deliveryStats()).toEqual(counted(filename));
    await reopened.close();
  });

  it('keeps the per-minute rollup and the totals as the triggers did: each row created or moved, once (migration 14)', async () => {
    const filename = newFile();
    const store = sqliteStore({ filename });
    await store.migrate();
    const pipe = { pipe_id: newId('pipe', t0), destination_id: newId('destination', t0) };
    const minute = (m: number) => at(m * 60_000);
    const sourceId = newId('source', t0);
    await store.appendEvents({
      sourceId,
      events: [0, 1, 2].map((i) => ({
        id: newId('event', t0 + i),
        event_id: `e_${i}`,
        sender_event_id: true,
        event_type: 'purchase',
        event_time: at(0),
        event_payload: { value: i },
      })),
      pipes: [pipe],
      deliveryIds: [0, 1, 2].map((i) => newId('delivery', t0 + i)),
      dedupSince: null,
      now: minute(0),
    });
    const claim = (now: string) =>
      store.claimDeliveries({
        destinationId: pipe.destination_id,
        pipeIds: [pipe.pipe_id],
        owner: 'w',
        limit: 10,
        leaseMs: 1000,
        now,
      });
    const first = await claim(minute(1));
    expect(first).toHaveLength(3);
    await store.releaseDeliveries({ owner: 'w', ids: [first[0]!.id], now: minute(2) });
    // The released one again, and the two whose leases ran out: those were `sending` already.
    const second = await claim(minute(3));
    expect(second).toHaveLength(3);
    const statuses = ['delivered', 'failed', 'retrying'] as const;
    const { applied } = await store.completeDeliveries({
      owner: 'w',
      outcomes: second.map((d, i) => outcome(d, statuses[i]!, minute(4))),
      now: minute(4),
    });
    expect(applied).toHaveLength(3);
    expect(await store.requeueDeliveries({ pipeId: pipe.pipe_id, now: minute(5), limit: 10 })).toHaveLength(
      1,
    );
    await store.close();

    const db = new Database(filename, { readonly: true });
    const rollup = db
      .prepare('SELECT minute, status, count FROM delivery_rollup WHERE pipe_id = ? ORDER BY minute, status')
      .all(pipe.pipe_id);
    const totals = db
      .prepare('SELECT status, count FROM delivery_totals WHERE pipe_id = ? ORDER BY status')
      .all(pipe.pipe_id);
    db.close();
    const m = (n: number) => minute(n).slice(0, 16);
    expect(rollup).toEqual([
      { minute: m(0), status: 'pending', count: 3 },
      { minute: m(1), status: 'sending', count: 3 },
      { minute: m(2), status: 'pending', count: 1 },
      { minute: m(3), status: 'sending', count: 1 },
      { minute: m(4), status: 'delivered', count: 1 },
      { minute: m(4), status: 'failed', count: 1 },
      { minute: m(4), status: 'retrying', count: 1 },
      { minute: m(5), status: 'pending', count: 1 },
    ]);
    expect(totals).toEqual([
      { status: 'delivered', count: 1 },
      { status: 'failed', count: 0 },
    ]);
  });
});
