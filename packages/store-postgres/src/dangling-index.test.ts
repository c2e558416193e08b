/**
 * A row of event_identifiers naming an event no longer stored (an older version's backfill could
 * write one when an erasure deleted the event between the step's read and its write) is never
 * listed: export and erasure find a person's events joined to events. Erasure deletes such a row of
 * the person's identifiers by its key. And the index write skips an event no longer stored, even
 * one an erasure still in progress has deleted: it waits for the identity advisory lock the
 * erasure holds, then finds the event gone.
 */
import { firstEventHelpers } from '@openpipes/core/conformance';
import { afterEach, describe, expect, it } from 'vitest';
import { ownConnection } from './gated-pool.js';
import { postgresAvailable, query, testStores } from './testing.js';

const available = await postgresAvailable();
const stores = testStores('dangling', 2);
afterEach(stores.close);

const open = () => stores.open();

const { EMAIL, E1, E2, E3, ingest, eventsOf, erase } = firstEventHelpers;
const KEY = 'k'.repeat(64);

const rowsOf = (schema: string) =>
  query<{ key: string; event_ref: string }>(
    `SELECT key, event_ref FROM "${schema}".event_identifiers ORDER BY event_ref`,
  );

describe.skipIf(!available)('event_identifiers rows of events no longer stored', () => {
  it('are never listed, and erasure deletes those of the person’s identifiers', async () => {
    const { store, schema } = await open();
    await ingest(store, E1, 0, [{ kind: 'email', key: EMAIL }]);
    await ingest(store, E2, 1000, [{ kind: 'email', key: EMAIL }]);
    await query(`INSERT INTO "${schema}".event_identifiers (kind, key, event_ref) VALUES ('email', $1, $2)`, [
      EMAIL,
      E3,
    ]);
    expect(await rowsOf(schema)).toEqual([
      { key: EMAIL, event_ref: E2 },
      { key: EMAIL, event_ref: E3 },
    ]);

    expect(await eventsOf(store, EMAIL)).toEqual([E1, E2]);
    expect((await erase(store, 'email', EMAIL, 2000)).events).toBe(2);
    expect(await rowsOf(schema)).toEqual([]);
  });

  it('are not written: the index write skips an event no longer stored', async () => {
    const { store, schema } = await open();
    await ingest(store, E1, 0, [{ kind: 'email', key: EMAIL }]);
    await store.indexEventIdentifiers({
      entries: [
        { kind: 'email', key: KEY, event_ref: E1 },
        { kind: 'email', key: KEY, event_ref: E3 },
      ],
    });
    expect(await rowsOf(schema)).toEqual([{ key: KEY, event_ref: E1 }]);
  });

  it('are not written for an event an erasure not yet committed has deleted', async () => {
    const { store, schema } = await open();
    await ingest(store, E1, 0, [{ kind: 'email', key: EMAIL }]);
    // As an erasure does: the identity lock, then its deletes, not committed yet.
    const { client: erasure, pid } = await ownConnection(stores);
    await erasure.query('BEGIN');
    await erasure.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`openpipes:identity:${schema}`]);
    await erasure.query(`DELETE FROM "${schema}".event_identifiers WHERE event_ref = $1`, [E1]);
    await erasure.query(`DELETE FROM "${schema}".events WHERE id = $1`, [E1]);

    let settled = false;
    const write = store
      .indexEventIdentifiers({ entries: [{ kind: 'email', key: KEY, event_ref: E1 }] })
      .finally(() => {
        settled = true;
      });
    // Until the write has settled, or waits on the erasure (PostgreSQL's own signal).
    for (;;) {
      if (settled) break;
      const [waiting] = await query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))',
        [pid],
      );
      if (waiting!.n > 0) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    await erasure.query('COMMIT');
    await write;
    expect(await rowsOf(schema)).toEqual([]);
  });
});
