/**
 * What the PostgreSQL store promises beyond the shared conformance suite: several pools (standing
 * in for several processes) on one schema, LISTEN/NOTIFY wake-ups and their reconnection, exact
 * JSON and time round trips, and pool ownership.
 */
import { createPipes, newId, type Pipes, type Store, silentLogger } from '@openpipes/core';
import { deliverOneRecord } from '@openpipes/core/conformance';
import {
  metaLikeAnswer,
  purchaseEvent,
  settled,
  setupMetaExample,
  startTestServer,
  type TestServer,
  testSecretKey,
  waitFor,
} from '@openpipes/core/testing';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { type PostgresStore, postgresStore } from './index.js';
import { migrations } from './migrations.js';
import { dropSchemas, postgresAvailable, postgresUrl, query, testSchema } from './testing.js';

const available = await postgresAvailable();
const t0 = Date.parse('2026-05-04T10:00:00.000Z');
const at = (ms: number) => new Date(t0 + ms).toISOString();

describe.skipIf(!available)('postgres store across processes', () => {
  const schemas: string[] = [];
  const stores: Store[] = [];
  const pools: pg.Pool[] = [];

  /** Another "process": a store with a pool of its own on the same schema. */
  const open = (schema: string, extra: Partial<Parameters<typeof postgresStore>[0]> = {}) => {
    const store = postgresStore({ connectionString: postgresUrl, schema, poolSize: 3, ...extra });
    stores.push(store);
    return store;
  };
  const fresh = async () => {
    const schema = testSchema('pg');
    schemas.push(schema);
    const store = open(schema);
    await store.migrate();
    return { schema, store };
  };

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await Promise.all(pools.splice(0).map((p) => p.end()));
    await dropSchemas(schemas.splice(0));
  });

  async function seed(store: Store, count: number) {
    const pipe = { pipe_id: newId('pipe', t0), destination_id: newId('destination', t0) };
    const sourceId = newId('source', t0);
    for (let i = 0; i < count; i += 500) {
      const n = Math.min(500, count - i);
      await store.appendEvents({
        sourceId,
        events: Array.from({ length: n }, () => {
          const id = newId('event', t0);
          return {
            id,
            event_id: id,
            sender_event_id: false,
            event_type: 'purchase',
            event_time: at(0),
            event_payload: { n: 1 },
          };
        }),
        pipes: [pipe],
        deliveryIds: Array.from({ length: n }, () => newId('delivery', t0)),
        dedupSince: null,
        now: at(0),
      });
    }
    return { pipe, sourceId };
  }

  it('hands disjoint batches to claimers in four pools racing on one destination', async () => {
    const { schema, store } = await fresh();
    const { pipe } = await seed(store, 1200);
    const workers = [store, open(schema), open(schema), open(schema)];
    const claimedBy = await Promise.all(
      workers.map(async (worker, w) => {
        const mine: string[] = [];
        for (;;) {
          const batch = await worker.claimDeliveries({
            destinationId: pipe.destination_id,
            pipeIds: [pipe.pipe_id],
            owner: `w${w}`,
            limit: 25,
            leaseMs: 60_000,
            now: at(1),
          });
          if (batch.length === 0) return mine;
          mine.push(...batch.map((d) => d.id));
        }
      }),
    );
    const all = claimedBy.flat();
    expect(all).toHaveLength(1200);
    expect(new Set(all).size).toBe(1200);
    // Every worker got some: SKIP LOCKED let them run side by side instead of queueing.
    expect(claimedBy.filter((ids) => ids.length > 0).length).toBeGreaterThan(1);
  });

  it('lets two replays of one pipe at once each re-queue up to their limit, every row once', async () => {
    const { schema, store } = await fresh();
    const { pipe } = await seed(store, 10);
    // Ten failed records (their status set directly: only the replay's choice is under test).
    await query(`UPDATE "${schema}".deliveries SET status = 'failed', due_at = NULL`);
    const ids = (await query<{ id: string }>(`SELECT id FROM "${schema}".deliveries ORDER BY id`)).map(
      (r) => r.id,
    );
    // Another replay holds the three oldest, re-queued but not yet committed.
    const other = new pg.Client({ connectionString: postgresUrl, application_name: 'replay-a' });
    await other.connect();
    try {
      await other.query('BEGIN');
      await other.query(`UPDATE "${schema}".deliveries SET status = 'pending' WHERE id = ANY($1)`, [
        ids.slice(0, 3),
      ]);
      const replay = store.requeueDeliveries({ pipeId: pipe.pipe_id, now: at(5), limit: 3 });
      // It waits for those rows' lock (seen in pg_stat_activity, no timing), then the other commits.
      await waitFor(
        async () =>
          (
            await query(
              `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%walk0%'`,
            )
          ).length > 0,
        15_000,
        'the replay to wait for the rows the other replay holds',
      );
      await other.query('COMMIT');
      // The three the other took are pending now: skipped, and the next three oldest taken instead.
      expect(await replay).toEqual(ids.slice(3, 6));
    } finally {
      await other.end();
    }
  });

  it('stores an event once when two processes receive the same sender event id at the same moment', async () => {
    const { schema, store } = await fresh();
    const other = open(schema);
    const sourceId = newId('source', t0);
    const pipe = { pipe_id: newId('pipe', t0), destination_id: newId('destination', t0) };
    const append = (s: Store, ids: string[]) =>
      s.appendEvents({
        sourceId,
        events: ids.map((eventId) => ({
          id: newId('event', t0),
          event_id: eventId,
          sender_event_id: true,
          event_type: 'purchase',
          event_time: at(0),
          event_payload: { order_id: eventId },
        })),
        pipes: [pipe],
        deliveryIds: ids.map(() => newId('delivery', t0)),
        dedupSince: at(-60_000),
        now: at(0),
      });
    const ids = Array.from({ length: 200 }, (_, i) => `ord_${i}`);
    // The same ids in opposite orders, in batches of 20, from both "processes" at once.
    const batches = (list: string[]) => Array.from({ length: 10 }, (_, b) => list.slice(b * 20, b * 20 + 20));
    const results = await Promise.all([
      ...batches(ids).map((b) => append(store, b)),
      ...batches([...ids].reverse()).map((b) => append(other, b)),
    ]);
    const stored = results.flat().filter((r) => !r.duplicate);
    expect(stored).toHaveLength(200);
    const rows = await query<{ n: string }>(`SELECT count(*) AS n FROM "${schema}".events`);
    expect(Number(rows[0]!.n)).toBe(200);
    // Every duplicate points at the one stored event with its id.
    const storedIds = new Set(stored.map((r) => r.id));
    expect(
      results
        .flat()
        .filter((r) => r.duplicate)
        .every((r) => storedIds.has(r.id)),
    ).toBe(true);
    expect(await store.listDeliveries({ pipeId: pipe.pipe_id, limit: 1000 })).toHaveLength(200);
  });

  it('wakes a subscriber in another process when events are appended or deliveries re-queued', async () => {
    const { schema, store } = await fresh();
    const listener = open(schema, { applicationName: `unsub-${process.pid}` }) as PostgresStore;
    const woken: string[][] = [];
    const unsubscribe = await listener.subscribe((ids) => woken.push(ids));
    const { pipe } = await seed(store, 3);
    await waitUntil(() => woken.some((ids) => ids.includes(pipe.destination_id)));

    const claimed = await store.claimDeliveries({
      destinationId: pipe.destination_id,
      pipeIds: [pipe.pipe_id],
      owner: 'w',
      limit: 10,
      leaseMs: 60_000,
      now: at(1),
    });
    await store.completeDeliveries({
      owner: 'w',
      outcomes: claimed.map((d) => ({
        id: d.id,
        status: 'failed',
        filter_reason: null,
        pipe_version: 1,
        destination_version: 1,
        test_mode: false,
        next_attempt_at: null,
        delivered_at: null,
        detail: d.detail,
        attempt: null,
      })),
      now: at(2),
    });
    woken.length = 0;
    expect(await store.requeueDeliveries({ pipeId: pipe.pipe_id, now: at(3), limit: 10 })).toHaveLength(3);
    await waitUntil(() => woken.some((ids) => ids.includes(pipe.destination_id)));

    // Unsubscribed: its LISTEN connection is closed, and a wake-up that another subscriber hears
    // never reaches it (signals, not a sleep, say when to look).
    await unsubscribe();
    woken.length = 0;
    await waitUntil(
      async () =>
        (
          await query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [
            `unsub-${process.pid}-listen`,
          ])
        ).length === 0,
    );
    const control = open(schema) as PostgresStore;
    const heard: string[][] = [];
    await control.subscribe((ids) => heard.push(ids));
    const later = await seed(store, 1);
    await waitUntil(() => heard.some((ids) => ids.includes(later.pipe.destination_id)));
    expect(woken).toEqual([]);
  });

  it('wakes an idle dispatcher in another process through NOTIFY long before its poll tick', async () => {
    const schema = testSchema('idle');
    schemas.push(schema);
    const meta: TestServer = await startTestServer(metaLikeAnswer);
    const engines: Pipes[] = [];
    try {
      let claims = 0;
      const engine = (roles: Array<'ingest' | 'dispatch'>, pollIntervalMs: number) => {
        const store = postgresStore({ connectionString: postgresUrl, schema, poolSize: 2 });
        // Counts the dispatcher's claims, so the test knows when its lane has looked and gone to sleep.
        const counted = new Proxy(store, {
          get(target, key, receiver) {
            if (key === 'claimDeliveries') {
              return (...args: Parameters<typeof store.claimDeliveries>) => {
                claims++;
                return target.claimDeliveries(...args);
              };
            }
            return Reflect.get(target, key, receiver);
          },
        });
        const pipes = createPipes({
          store: counted,
          secretKey: testSecretKey,
          logger: silentLogger,
          roles,
          sandbox: { workers: 1 },
          egressAllow: [meta.host],
          dispatcher: { pollIntervalMs },
        });
        engines.push(pipes);
        return pipes;
      };
      const ingest = engine(['ingest'], 1000);
      const { pipe } = await setupMetaExample(ingest, meta);
      // A dispatcher that would poll once a minute: only a notification can wake it in time.
      const dispatch = engine(['dispatch'], 60_000);
      await dispatch.start();
      // Its lane is up, claimed, found nothing and sleeps (its claim is recorded when idle).
      await waitUntil(() => claims > 0);
      await dispatch.idle();
      await ingest.ingest('web', [purchaseEvent('ord_wake')]);
      // Without the notification it would sleep until its next poll, 60 s away: half of that is a
      // bound no busy machine reaches (a 3 s bound on the elapsed time was load-dependent).
      const [delivery] = await settled(dispatch, pipe.id, 1, 30_000);
      expect(delivery?.status).toBe('delivered');
    } finally {
      await Promise.all(engines.map((e) => e.stop({ graceMs: 1000 }).then(() => e.store.close())));
      await meta.close();
    }
  }, 45_000);

  it('listens again after its connection is killed, and wakes the destinations it knew', async () => {
    const { schema, store } = await fresh();
    const errors: Error[] = [];
    const listener = open(schema, {
      applicationName: `kill-${process.pid}`,
      onListenError: (e) => errors.push(e),
    }) as PostgresStore;
    const woken: string[][] = [];
    await listener.subscribe((ids) => woken.push(ids));
    const { pipe } = await seed(store, 1);
    await waitUntil(() => woken.length > 0);

    const killed = await query<{ ok: boolean }>(
      'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1',
      [`kill-${process.pid}-listen`],
    );
    expect(killed).toHaveLength(1);
    woken.length = 0;
    // After reconnecting it wakes what it knew (a notification may have been missed meanwhile).
    await waitUntil(() => woken.some((ids) => ids.includes(pipe.destination_id)), 10_000);
    expect(errors.length).toBeGreaterThan(0);
    await waitUntil(
      async () =>
        (
          await query('SELECT 1 FROM pg_stat_activity WHERE application_name = $1', [
            `kill-${process.pid}-listen`,
          ])
        ).length === 1,
    );
    woken.length = 0;
    const second = await seed(store, 1);
    await waitUntil(() => woken.some((ids) => ids.includes(second.pipe.destination_id)));
  });

  it('applies each migration once when many stores migrate an empty schema at once', async () => {
    const schema = testSchema('mig');
    schemas.push(schema);
    const racers = Array.from({ length: 6 }, () => open(schema));
    await Promise.all(racers.map((s) => s.migrate()));
    const rows = await query<{ version: number; applied_by: string }>(
      `SELECT version, applied_by FROM "${schema}".openpipes_migrations ORDER BY version`,
    );
    expect(rows.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
    await racers[0]!.migrate();
    expect(await racers[3]!.configRevision()).toBe(0);
  });

  it('keeps event payloads and delivery details byte for byte: key order, \\u0000, big and small numbers', async () => {
    const { store } = await fresh();
    const payload = { z: 1, a: { y: [3, 2, 1], b: 'nul \u0000 here' }, m: 1e21, tiny: 5e-324, s: '☃' };
    const detail = {
      output: [payload],
      request: { url: 'u' },
      response: { body: 'bin\u0000ary' },
      error: null,
    };
    // deliverOneRecord checks the payload as claimed; here as stored and the record's detail.
    const id = await deliverOneRecord(store, { payload, detail });
    const record = await store.getDelivery({ id });
    const stored = await store.getEvent({ id: record!.row.event_ref });
    expect(JSON.stringify(stored?.event_payload)).toBe(JSON.stringify(payload));
    expect(JSON.stringify(record?.row.detail)).toBe(JSON.stringify(detail));
  });

  it('refuses a NUL character in a text field with VALIDATION_FAILED and stores nothing', async () => {
    const { schema, store } = await fresh();
    const id = newId('event', t0);
    await expect(
      store.appendEvents({
        sourceId: newId('source', t0),
        events: [
          {
            id,
            event_id: 'bad\u0000id',
            sender_event_id: false,
            event_type: 'purchase',
            event_time: at(0),
            event_payload: {},
          },
        ],
        pipes: [],
        deliveryIds: [],
        dedupSince: null,
        now: at(0),
      }),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await query(`SELECT 1 FROM "${schema}".events`)).toEqual([]);
  });

  it('returns times exactly as written, also from a pool that reads timestamptz as text', async () => {
    const schema = testSchema('time');
    schemas.push(schema);
    const pool = new pg.Pool({
      connectionString: postgresUrl,
      max: 2,
      // Another session time zone too: the text then carries a +05:30 offset.
      options: '-c TimeZone=Asia/Kolkata',
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === 1184 ? (v: string) => v : pg.types.getTypeParser(oid, format as 'text')) as never,
      },
    });
    pools.push(pool);
    const store = postgresStore({ pool, schema });
    stores.push(store);
    await store.migrate();
    expect((await pool.query(`SELECT '2026-05-04T10:00:00Z'::timestamptz AS t`)).rows[0].t).toBe(
      '2026-05-04 15:30:00+05:30',
    );
    const entity = {
      kind: 'source' as const,
      id: newId('source', t0),
      unique_key: 'web',
      version: 1,
      data: { slug: 'web' },
      created_at: '2026-05-04T10:00:00.001Z',
      updated_at: '2026-12-31T23:59:59.999Z',
    };
    await store.insertEntity({ entity, actor: null });
    expect(await store.getEntity({ kind: 'source', id: entity.id })).toEqual(entity);
  });

  it('never ends a pool it was given', async () => {
    const schema = testSchema('own');
    schemas.push(schema);
    const pool = new pg.Pool({ connectionString: postgresUrl, max: 2 });
    pools.push(pool);
    const store = postgresStore({ pool: () => pool, schema });
    await store.migrate();
    await store.close();
    await expect(store.configRevision()).rejects.toMatchObject({ code: 'ENGINE_STOPPED' });
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });
});

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
