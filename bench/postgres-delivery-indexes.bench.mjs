// What the indexes of `deliveries` cost the write path on PostgreSQL: deliveries go pending →
// sending → delivered through the store's own API (appendEvents, claimDeliveries in claims of 500,
// completeDeliveries), once on the schema as migration 12 leaves it ("after") and once with the
// two indexes it dropped made again ("before": deliveries_pipe, deliveries_pipe_created).
// Rounds alternate the two. Reports per delivery: index bytes (no VACUUM, so every version a
// status change left is counted), WAL bytes at ingest and at claim+outcome (the server's insert
// position: other writers on the server fall into it), and index blocks touched at claim+outcome.
// docs/deployment.md ("Which index serves which query") has the numbers and the EXPLAIN audit.
//   npm run bench -- postgres-delivery-indexes   (BENCH_ROUNDS=2, BENCH_EVENTS=10000, 2 pipes;
//                                                 OPENPIPES_TEST_POSTGRES_URL as for the tests)
import { newId } from '@openpipes/core';
import { postgresStore } from '@openpipes/store-postgres';
import pg from 'pg';
import { deliveredOutcome, report } from './lib.mjs';

const url = process.env.OPENPIPES_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const events = Number(process.env.BENCH_EVENTS ?? 10_000);
const pipeCount = 2;

const admin = new pg.Client({ connectionString: url });
await admin.connect();
const q = async (text, params) => (await admin.query(text, params)).rows;
const walAt = async () => (await q('SELECT pg_current_wal_insert_lsn() AS l'))[0].l;
const walSince = async (from) =>
  Number((await q('SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1) AS d', [from]))[0].d);

/** A delivered outcome as a dispatcher records it. */
function delivered(d, now) {
  return deliveredOutcome({
    id: d.id,
    now,
    number: d.attempt_count + 1,
    output: [{ event_type: 'purchase' }],
    request: {
      url: 'https://graph.example/v1/events',
      method: 'POST',
      headers: {},
      payload: { data: [{ a: 1 }] },
    },
    response: { status: 200, body: { ok: true } },
    detail: {
      output: [{ event_type: 'purchase' }],
      request: { url: 'u' },
      response: { status: 200 },
      error: null,
    },
  });
}

async function round(mode, r) {
  const schema = `bench_delivery_indexes_${mode}_${r}`;
  await q(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  const store = postgresStore({ connectionString: url, schema, poolSize: 4 });
  await store.migrate();
  if (mode === 'before') {
    await q(`CREATE INDEX deliveries_pipe ON ${schema}.deliveries (pipe_id, id)`);
    await q(
      `CREATE INDEX deliveries_pipe_created ON ${schema}.deliveries (pipe_id, created_at) INCLUDE (id)`,
    );
  }
  const blocks = async () =>
    Number(
      (
        await q(
          `SELECT coalesce(sum(idx_blks_hit + idx_blks_read), 0) AS b FROM pg_statio_user_indexes
           WHERE schemaname = $1 AND relname = 'deliveries'`,
          [schema],
        )
      )[0].b,
    );
  const sourceId = newId('source');
  const pipes = Array.from({ length: pipeCount }, () => ({
    pipe_id: newId('pipe'),
    destination_id: newId('destination'),
  }));
  const w0 = await walAt();
  for (let i = 0; i < events; i += 100) {
    const now = new Date().toISOString();
    const ms = Date.parse(now);
    const batch = Array.from({ length: 100 }, (_, k) => ({
      id: newId('event', ms),
      event_id: `o_${r}_${i + k}`,
      sender_event_id: true,
      event_type: 'purchase',
      event_time: now,
      event_payload: { value: 1 },
    }));
    const deliveryIds = Array.from({ length: 100 * pipeCount }, () => newId('delivery', ms));
    await store.appendEvents({ sourceId, events: batch, pipes, deliveryIds, dedupSince: null, now });
  }
  const walIngest = await walSince(w0);
  const w1 = await walAt();
  const b1 = await blocks();
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
      await store.completeDeliveries({
        owner: 'bench',
        outcomes: claimed.map((d) => delivered(d, now)),
        now,
      });
    }
  }
  const walSend = await walSince(w1);
  const blocksSend = (await blocks()) - b1;
  const n = events * pipeCount;
  const sizes = await q(
    `SELECT indexrelname AS name, pg_relation_size(indexrelid) AS b FROM pg_stat_user_indexes
     WHERE schemaname = $1 AND relname = 'deliveries' ORDER BY 2 DESC`,
    [schema],
  );
  await store.close();
  await q(`DROP SCHEMA ${schema} CASCADE`);
  return {
    indexBytes: sizes.reduce((s, x) => s + Number(x.b), 0) / n,
    byIndex: Object.fromEntries(sizes.map((x) => [x.name, Math.round(Number(x.b) / n)])),
    walIngest: walIngest / n,
    walSend: walSend / n,
    blocksSend: blocksSend / n,
  };
}

const results = { before: [], after: [] };
for (let r = 0; r < rounds; r++) {
  for (const mode of r % 2 ? ['after', 'before'] : ['before', 'after'])
    results[mode].push(await round(mode, r));
}
await admin.end();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const mode of ['before', 'after']) {
  const list = results[mode];
  const field = (k) => list.map((x) => Math.round(x[k] * 100) / 100);
  const extra = { deliveries: events * pipeCount, rounds: list.length };
  report(
    'postgres-delivery-indexes',
    `${mode}_index_bytes_per_delivery`,
    median(field('indexBytes')),
    'bytes',
    {
      ...extra,
      by_index: list[list.length - 1].byIndex,
    },
  );
  report(
    'postgres-delivery-indexes',
    `${mode}_wal_bytes_per_delivery_ingest`,
    median(field('walIngest')),
    'bytes',
    {
      ...extra,
      spread: field('walIngest'),
    },
  );
  report(
    'postgres-delivery-indexes',
    `${mode}_wal_bytes_per_delivery_send`,
    median(field('walSend')),
    'bytes',
    {
      ...extra,
      spread: field('walSend'),
    },
  );
  report(
    'postgres-delivery-indexes',
    `${mode}_index_blocks_per_delivery_send`,
    median(field('blocksSend')),
    'blocks',
    {
      ...extra,
      spread: field('blocksSend'),
    },
  );
}
