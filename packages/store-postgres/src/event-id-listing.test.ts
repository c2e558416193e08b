/**
 * Migration 16 on PostgreSQL: deliveries listed by the sender's event id are found through their
 * events (events_sender_event_id, then deliveries_event_ref) and tombstones through the partial
 * index deliveries_erased, with no index of deliveries by event id and no sequential scan of
 * deliveries or events; a schema migrated from migration 15 lists what it listed before.
 */
import type { DeliveryStatus, ListDeliveriesQuery } from '@openpipes/core';
import { expectedListing, fillEventIdHistory } from '@openpipes/core/conformance';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { postgresStore } from './index.js';
import { dropSchemas, postgresAvailable, postgresUrl, query, testSchema } from './testing.js';

type Listed = {
  id: string;
  pipe_id: string;
  destination_id: string;
  event_id: string;
  status: DeliveryStatus;
};

describe.runIf(await postgresAvailable())('deliveries by event id (migration 16) on PostgreSQL', () => {
  const schemas: string[] = [];
  const pools: pg.Pool[] = [];
  const stores: Array<ReturnType<typeof postgresStore>> = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await Promise.all(pools.splice(0).map((p) => p.end()));
  });
  afterAll(() => dropSchemas(schemas));

  // A store on a pool of our own whose connections note each listing by event id they run.
  const open = async (schema: string) => {
    const pool = new pg.Pool({ connectionString: postgresUrl, max: 2 });
    pools.push(pool);
    const listings: Array<{ text: string; values: unknown[] }> = [];
    pool.on('connect', (client) => {
      const run = client.query.bind(client) as (...args: unknown[]) => unknown;
      client.query = ((...args: unknown[]) => {
        const [text, values] = args;
        if (
          typeof text === 'string' &&
          text.includes("x.event_id LIKE 'erased:%'") &&
          !text.startsWith('EXPLAIN')
        )
          listings.push({ text, values: (values as unknown[]) ?? [] });
        return run(...args);
      }) as typeof client.query;
    });
    const store = postgresStore({ pool, schema });
    stores.push(store);
    await store.migrate();
    return { store, pool, listings };
  };
  const indexNames = async (schema: string) =>
    (
      await query<{ indexname: string }>('SELECT indexname FROM pg_indexes WHERE schemaname = $1', [schema])
    ).map((r) => r.indexname);
  // Every row, newest first, with created_at as the store lists it (ISO text).
  const history = async (schema: string) =>
    (
      await query<Listed & { created_at: Date }>(
        `SELECT id, pipe_id, destination_id, event_id, status, created_at FROM "${schema}".deliveries ORDER BY id DESC`,
      )
    ).map((r) => ({ ...r, created_at: r.created_at.toISOString() }));
  const listsAsHistory = async (
    store: ReturnType<typeof postgresStore>,
    rows: Awaited<ReturnType<typeof history>>,
    queries: ListDeliveriesQuery[],
  ) => {
    for (const q of queries) {
      const listed = (await store.listDeliveries(q)).map((d) => d.id);
      expect({ q, listed }).toEqual({ q, listed: expectedListing(rows, q) });
    }
  };

  it('lists what a filter over the whole table lists, through indexes only', async () => {
    const schema = testSchema('evid');
    schemas.push(schema);
    const { store, pool, listings } = await open(schema);
    const queries = await fillEventIdHistory(store, 3000);
    await pool.query(`ANALYZE "${schema}".deliveries, "${schema}".events`);
    const rows = await history(schema);
    expect(rows.length).toBe(6000);
    expect(await indexNames(schema)).not.toContain('deliveries_event_id');
    await listsAsHistory(store, rows, queries);
    expect(listings).toHaveLength(queries.length);
    for (const { text, values } of listings) {
      const plan = (await pool.query(`EXPLAIN ${text}`, values)).rows.map((r) => r['QUERY PLAN'] as string);
      expect({ text, plan: plan.filter((l) => /Seq Scan/.test(l)) }).toEqual({ text, plan: [] });
      for (const index of ['events_sender_event_id', 'deliveries_event_ref', 'deliveries_erased'])
        expect({ index, plan: plan.some((l) => l.includes(index)) }).toEqual({ index, plan: true });
    }
  });

  it('migrates a schema from migration 15: the index goes, the new ones come, the listings stay', async () => {
    const schema = testSchema('evid_old');
    schemas.push(schema);
    const first = await open(schema);
    const queries = await fillEventIdHistory(first.store);
    await query(`SET search_path TO "${schema}";
      DROP INDEX events_sender_event_id;
      DROP INDEX deliveries_erased;
      CREATE INDEX deliveries_event_id ON deliveries (event_id);
      DELETE FROM openpipes_migrations WHERE version >= 16;`);
    const rows = await history(schema);
    const { store } = await open(schema);
    const names = await indexNames(schema);
    expect(names).not.toContain('deliveries_event_id');
    expect(names).toEqual(expect.arrayContaining(['events_sender_event_id', 'deliveries_erased']));
    await listsAsHistory(store, rows, queries);
  });
});
