// What finding deliveries by the sender's event id costs the write path, on both stores: events
// with random sender ids (UUIDs) go through the store's own API (appendEvents in batches of 100,
// two pipes; claimDeliveries in claims of 500; completeDeliveries), once on the schema as SQLite's
// migration 17 / PostgreSQL's migration 16 leave it ("after": events_sender_event_id on PostgreSQL,
// deliveries_erased on both) and once with the index they dropped made again instead ("before":
// deliveries_event_id). Rounds alternate the two. Reports per event: the bytes of every index of
// events and deliveries (PostgreSQL: pg_relation_size, no VACUUM, so each version a status change
// left is counted; SQLite: dbstat), and on PostgreSQL the WAL written (the server's insert position:
// other writers on the server fall into it). Bytes, not time: the machine may be shared.
// docs/deployment.md ("Which index serves which query") has the numbers.
//   npm run bench -- event-id-index   (BENCH_ROUNDS=2, BENCH_EVENTS=10000; OPENPIPES_TEST_POSTGRES_URL)
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { newId } from '@openpipes/core';
import { postgresStore } from '@openpipes/store-postgres';
import { sqliteStore } from '@openpipes/store-sqlite';
import Database from 'better-sqlite3';
import pg from 'pg';
import { deliveredOutcome, report, tempDir } from './lib.mjs';

const url = process.env.OPENPIPES_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const events = Number(process.env.BENCH_EVENTS ?? 10_000);
const pipeCount = 2;
const dir = tempDir('openpipes-event-id-index-');

const admin = new pg.Client({ connectionString: url });
await admin.connect();
const q = async (text, params) => (await admin.query(text, params)).rows;
const walAt = async () => (await q('SELECT pg_current_wal_insert_lsn() AS l'))[0].l;
const walSince = async (from) =>
  Number((await q('SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1) AS d', [from]))[0].d);

/** Ingests `events` events with random sender ids, then sends every delivery (delivered). */
async function traffic(store) {
  const sourceId = newId('source');
  const pipes = Array.from({ length: pipeCount }, () => ({
    pipe_id: newId('pipe'),
    destination_id: newId('destination'),
  }));
  for (let i = 0; i < events; i += 100) {
    const now = new Date().toISOString();
    const ms = Date.parse(now);
    const batch = Array.from({ length: 100 }, () => ({
      id: newId('event', ms),
      event_id: randomUUID(),
      sender_event_id: true,
      event_type: 'purchase',
      event_time: now,
      event_payload: { value: 1 },
    }));
    const deliveryIds = Array.from({ length: 100 * pipeCount }, () => newId('delivery', ms));
    await store.appendEvents({ sourceId, events: batch, pipes, deliveryIds, dedupSince: null, now });
  }
  for (const p of pipes) {
    for (;;) {
      const now = new Date().toISOString();
      const claimed = await store.claimDeliveries({
        destinationId: p.destination_id,
        pipeIds: [p.pipe_id],
        owner: 'bench',
        limit: 500,
        leaseMs: 60_000,
        now,
      });
      if (claimed.length === 0) break;
      const request = { url: 'https://graph.example/v1/events', method: 'POST', headers: {}, payload: {} };
      const response = { status: 200, body: { ok: true } };
      await store.completeDeliveries({
        owner: 'bench',
        outcomes: claimed.map((d) => deliveredOutcome({ id: d.id, now, output: [{}], request, response })),
        now,
      });
    }
  }
}

async function postgresRound(mode, r) {
  const schema = `bench_event_id_index_${mode}_${r}`;
  await q(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  const store = postgresStore({ connectionString: url, schema, poolSize: 4 });
  await store.migrate();
  if (mode === 'before') {
    await q(`DROP INDEX ${schema}.events_sender_event_id; DROP INDEX ${schema}.deliveries_erased;
      CREATE INDEX deliveries_event_id ON ${schema}.deliveries (event_id)`);
  }
  const w0 = await walAt();
  await traffic(store);
  const wal = await walSince(w0);
  const sizes = await q(
    `SELECT indexrelname AS name, pg_relation_size(indexrelid) AS b FROM pg_stat_user_indexes
     WHERE schemaname = $1 AND relname IN ('deliveries', 'events') ORDER BY 2 DESC`,
    [schema],
  );
  await store.close();
  await q(`DROP SCHEMA ${schema} CASCADE`);
  return { sizes, wal: wal / events };
}

async function sqliteRound(mode, r) {
  const filename = join(dir, `${mode}-${r}.db`);
  const store = sqliteStore({ filename });
  await store.migrate();
  if (mode === 'before') {
    await store.close();
    const db = new Database(filename);
    db.exec('DROP INDEX deliveries_erased; CREATE INDEX deliveries_event_id ON deliveries (event_id)');
    db.close();
  }
  const running = mode === 'before' ? sqliteStore({ filename }) : store;
  await traffic(running);
  await running.close();
  const db = new Database(filename, { readonly: true });
  const sizes = db
    .prepare(
      `SELECT s.name, sum(s.pgsize) AS b FROM dbstat s JOIN sqlite_master m ON m.name = s.name
       WHERE m.type = 'index' AND m.tbl_name IN ('deliveries', 'events') GROUP BY s.name ORDER BY 2 DESC`,
    )
    .all();
  db.close();
  return { sizes, wal: null };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [storeName, round] of [
  ['sqlite', sqliteRound],
  ['postgres', postgresRound],
]) {
  const results = { before: [], after: [] };
  for (let r = 0; r < rounds; r++) {
    for (const mode of r % 2 ? ['after', 'before'] : ['before', 'after'])
      results[mode].push(await round(mode, r));
  }
  for (const mode of ['before', 'after']) {
    const list = results[mode];
    const extra = { events, pipes: pipeCount, rounds: list.length };
    const total = list.map((x) => x.sizes.reduce((s, y) => s + Number(y.b), 0) / events);
    report('event-id-index', `${storeName}_${mode}_index_bytes_per_event`, median(total), 'bytes', {
      ...extra,
      spread: total.map(Math.round),
      by_index: Object.fromEntries(
        list[list.length - 1].sizes.map((y) => [y.name, Math.round(Number(y.b) / events)]),
      ),
    });
    if (storeName === 'postgres') {
      const wal = list.map((x) => x.wal);
      report('event-id-index', `${storeName}_${mode}_wal_bytes_per_event`, median(wal), 'bytes', {
        ...extra,
        spread: wal.map(Math.round),
      });
    }
  }
}
await admin.end();
