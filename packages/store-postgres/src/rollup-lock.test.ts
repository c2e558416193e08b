/**
 * An ingest counts its new deliveries into `delivery_rollup` in a slot no other transaction holds
 * (migration 15). It keeps its counter row locked while it waits for the identity lock; with the
 * slot its backend's pid % 8, as the insert trigger had it, another ingest on a backend with the
 * same remainder waited behind it, however unrelated.
 */
import { newId, type Store } from '@openpipes/core';
import { DEFAULT_CAPS } from '@openpipes/core/identity';
import { waitFor } from '@openpipes/core/testing';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { ownConnection } from './gated-pool.js';
import { postgresStore } from './index.js';
import { postgresAvailable, postgresUrl, query, testStores } from './testing.js';

const available = await postgresAvailable();
const stores = testStores('rollup_lock', 1);
afterEach(stores.close);
const t0 = Date.parse('2026-05-04T10:00:00.000Z');
const now = new Date(t0).toISOString();
const pipe = { pipe_id: newId('pipe', t0), destination_id: newId('destination', t0) };

/** One event to `pipe`, with an anonymous id to link when `identity` is set. */
const ingest = (store: Store, identity: boolean) => {
  const id = newId('event', t0);
  return store.appendEvents({
    sourceId: 'src_rollup',
    events: [
      {
        id,
        event_id: id,
        sender_event_id: false,
        event_type: 'purchase',
        event_time: now,
        event_payload: {},
      },
    ],
    pipes: [pipe],
    deliveryIds: [newId('delivery', t0)],
    dedupSince: null,
    now,
    ...(identity
      ? {
          identity: {
            links: [
              {
                event_ref: id,
                identifiers: [{ kind: 'anonymous_id', key: 'anon-1', value: '"anon-1"', first_seen_at: now }],
                seen_at: now,
              },
            ],
            index: [],
            caps: DEFAULT_CAPS,
            newId: () => newId('profile', t0),
            now,
          },
        }
      : {}),
  });
};

describe.skipIf(!available)('delivery_rollup during an ingest', () => {
  it('does not make another ingest wait while one waits for the identity lock', async () => {
    const { schema } = await stores.open();
    // Two one-connection pools whose backends share pid % 8 (of nine, two do).
    const pools: Array<{ pool: pg.Pool; pid: number }> = [];
    let pair: [{ pool: pg.Pool; pid: number }, { pool: pg.Pool; pid: number }] | undefined;
    while (!pair) {
      const pool = new pg.Pool({ connectionString: postgresUrl, max: 1 });
      stores.closing(() => pool.end());
      const pid = Number((await pool.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
      const twin = pools.find((p) => p.pid % 8 === pid % 8);
      pools.push({ pool, pid });
      if (twin) pair = [twin, { pool, pid }];
    }
    const [a, b] = pair;
    const storeA = postgresStore({ pool: a.pool, schema });
    const storeB = postgresStore({ pool: b.pool, schema });
    stores.closing(() => storeA.close());
    stores.closing(() => storeB.close());
    const { client: holder } = await ownConnection(stores);
    const waitsForLock = async (pid: number) =>
      (await query(`SELECT 1 FROM pg_locks WHERE pid = ${pid} AND NOT granted`)).length > 0;
    await holder.query('BEGIN');
    await holder.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`openpipes:identity:${schema}`]);
    const first = ingest(storeA, true);
    await waitFor(() => waitsForLock(a.pid));
    // The second ingest links nothing: it either commits, or waits on a lock the first holds.
    let done = false;
    const second = ingest(storeB, false).then(() => {
      done = true;
    });
    const outcome = await waitFor(async () =>
      done ? 'committed' : (await waitsForLock(b.pid)) && 'waiting',
    );
    expect(outcome).toBe('committed');
    await holder.query('COMMIT');
    await Promise.all([first, second]);
    // Both deliveries are counted, each ingest in its own slot of the same minute.
    const rows = await query<{ status: string; count: string }>(
      `SELECT status, count FROM "${schema}".delivery_rollup ORDER BY slot`,
    );
    expect(rows).toEqual([
      { status: 'pending', count: '1' },
      { status: 'pending', count: '1' },
    ]);
  });
});
