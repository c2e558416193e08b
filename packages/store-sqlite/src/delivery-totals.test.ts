import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClaimedDelivery, type DeliveryOutcome, newId } from '@openpipes/core';
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
  return {
    id: d.id,
    status,
    pipe_version: 1,
    destination_version: 1,
    test_mode: false,
    filter_reason: status === 'filtered' ? 'consent' : null,
    next_attempt_at: status === 'retrying' ? at(3_600_000) : null,
    delivered_at: status === 'delivered' ? now : null,
    detail: { output: null, request: null, response: null, error: null },
    attempt: null,
  };
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

describe('delivery statistics from running totals (SQLite)', () => {
  it('answers what a full count answers through completion, replay, erasure-like updates and pruning', async () => {
    const filename = newFile();
    const store = sqliteStore({ filename });
    await store.migrate();
    const pipes = [0, 1].map(() => ({
      pipe_id: newId('pipe', t0),
      destination_id: newId('destination', t0),
    }));
    await history(store, 0, pipes);
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
    const filename = newFile();
    const store = sqliteStore({ filename });
    await store.migrate();
    // The file as migration 11 left it: no totals, no triggers keeping them.
    const db = new Database(filename);
    db.exec(`DROP TRIGGER delivery_totals_created; DROP TRIGGER delivery_totals_left; DROP TRIGGER delivery_totals_entered;
      DROP TABLE delivery_totals;
      DELETE FROM openpipes_migrations WHERE version = 12;`);
    db.close();
    const pipes = [0, 1].map(() => ({
      pipe_id: newId('pipe', t0),
      destination_id: newId('destination', t0),
    }));
    await history(store, 0, pipes);
    await store.close();
    const reopened = sqliteStore({ filename });
    await reopened.migrate();
    expect(await reopened.deliveryStats()).toEqual(counted(filename));
    await reopened.close();
  });
});
