/**
 * An ingest counts its new deliveries into `delivery_rollup` last (migration 15): while it waits for
 * the identity lock it holds no counter row, so another ingest on a backend with the same slot does
 * not wait behind it. Before, the insert trigger took the row first and held it through that wait.
 */

import { newId, type Store } from '@openpipes/core';
import { DEFAULT_CAPS } from '@openpipes/core/identity';
import { waitFor } from '@openpipes/core/testing';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresStore } from './index.js';
import { dropSchemas, postgresAvailable, postgresUrl, query, testSchema } from './testing.js';

const available = await postgresAvailable();
const schema = testSchema('rollup_lock');
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
  afterAll(async () => {
    await dropSchemas([schema]);
  });

  it('holds no counter row while the ingest waits for the identity lock', async () => {
    // One connection: both ingests run on the same backend, so they count into the same row.
    const store = postgresStore({ connectionString: postgresUrl, schema, poolSize: 1 });
    const holder = new pg.Client({ connectionString: postgresUrl });
    const prober = new pg.Client({ connectionString: postgresUrl });
    await Promise.all([store.migrate(), holder.connect(), prober.connect()]);
    try {
      await ingest(store, false);
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`openpipes:identity:${schema}`]);
      const waiting = ingest(store, true);
      // The ingest's backend waits for the advisory lock the holder has.
      await waitFor(async () => {
        const { rows } = await prober.query(
          `SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid <> $1`,
          [(await holder.query('SELECT pg_backend_pid() AS pid')).rows[0].pid],
        );
        return rows.length > 0;
      });
      // Every counter row can be locked at once: the waiting ingest holds none of them.
      await prober.query('BEGIN');
      const locked = await prober.query(`SELECT count FROM "${schema}".delivery_rollup FOR UPDATE NOWAIT`);
      await prober.query('ROLLBACK');
      expect(locked.rows).toEqual([{ count: '1' }]);
      await holder.query('COMMIT');
      await waiting;
      // Both deliveries are counted, in the one row of their pipe, minute, status and slot.
      const rows = await query<{ status: string; count: string }>(
        `SELECT status, count FROM "${schema}".delivery_rollup`,
      );
      expect(rows).toEqual([{ status: 'pending', count: '2' }]);
    } finally {
      await holder.query('ROLLBACK').catch(() => {});
      await Promise.all([store.close(), holder.end(), prober.end()]);
    }
  });
});
