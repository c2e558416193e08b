// The delivery reads of bench/delivery-reads.bench.mjs on PostgreSQL: a schema of its own filled
// by INSERT ... SELECT generate_series into the migrated tables (BENCH_EVENTS events, 3 pipes, the
// third switched destination halfway; pipe b delivered everything but its recent failures), the
// running totals counted once, ANALYZE. Then, rounds alternating: a replay's selection as it was
// (one walk for both statuses) and as it is (one walk of (pipe_id, status, id) per status,
// merged), each locking its 100 rows in a transaction rolled back; and deliveryStats() through
// the store. Medians of BENCH_ROUNDS (ms), min and max, the load average.
//   npm run bench -- postgres-delivery-reads   (BENCH_EVENTS=100000, BENCH_ROUNDS=11;
//                                              OPENPIPES_TEST_POSTGRES_URL as for the tests)
import { postgresStore } from '@openpipes/store-postgres';
import pg from 'pg';
import { loadAverage, report } from './lib.mjs';

const bench = 'postgres-delivery-reads';
const url = process.env.OPENPIPES_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const n = Number(process.env.BENCH_EVENTS ?? 100_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 11);
const schema = 'bench_delivery_reads';

const c = new pg.Client({ connectionString: url });
await c.connect();
await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
const store = postgresStore({ connectionString: url, schema, poolSize: 2 });
await store.migrate();
await c.query(`SET search_path = ${schema}`);
await c.query(`INSERT INTO events (id, source_id, event_id, sender_event_id, event_type, event_time, payload, received_at)
  SELECT 'evt_' || lpad(i::text, 10, '0'), 'src_1', 'ord_' || i, true, 'purchase', now(), '{"v":1}',
    now() - interval '7 days' + i * interval '6 seconds'
  FROM generate_series(1, ${n}) i`);
for (const [k, pipe, destination] of [
  [0, 'pip_a', 'dst_a'],
  [1, 'pip_b', 'dst_b'],
  [2, 'pip_c', 'dst_c'],
]) {
  await c.query(`INSERT INTO deliveries (id, event_ref, source_id, pipe_id, destination_id, event_id,
      event_type, status, attempt_count, due_at, created_at, updated_at, detail)
    SELECT 'dlv_' || lpad(i::text, 10, '0') || '${k}', 'evt_' || lpad(i::text, 10, '0'), 'src_1', '${pipe}',
      CASE WHEN ${k} = 2 AND i > ${n / 2} THEN 'dst_c2' ELSE '${destination}' END, 'ord_' || i, 'purchase',
      st, 1, CASE WHEN st IN ('pending', 'retrying') THEN now() ELSE NULL END,
      now() - interval '7 days' + i * interval '6 seconds', now(), convert_to('{}', 'UTF8')
    FROM (SELECT i, CASE WHEN i > ${n - 500} THEN 'pending'
      WHEN ${k} = 1 THEN CASE WHEN i > ${n - 3500} THEN 'failed' ELSE 'delivered' END
      WHEN (i * 7919 + ${k} * 104729) % 1000 < 2 THEN 'retrying'
      WHEN (i * 7919 + ${k} * 104729) % 1000 < 40 THEN 'failed'
      WHEN (i * 7919 + ${k} * 104729) % 1000 < 60 THEN 'dead'
      WHEN (i * 7919 + ${k} * 104729) % 1000 < 110 THEN 'filtered' ELSE 'delivered' END AS st
      FROM generate_series(1, ${n}) i) g`);
}
await c.query(`INSERT INTO delivery_totals (destination_id, pipe_id, status, slot, count)
  SELECT destination_id, pipe_id, status, 0, count(*) FROM deliveries
  WHERE status IN ('delivered', 'filtered', 'failed', 'dead') GROUP BY 1, 2, 3`);
await c.query('ANALYZE');

const exists = 'EXISTS (SELECT 1 FROM events e WHERE e.id = event_ref)';
const before = (p) => `SELECT id, status AS was FROM deliveries
  WHERE pipe_id = '${p}' AND status = ANY('{failed,dead}'::text[]) AND ${exists}
  ORDER BY id LIMIT 100 FOR UPDATE`;
const after = (p) => `SELECT id, status AS was FROM deliveries WHERE id IN (SELECT id FROM (
    (SELECT id FROM deliveries WHERE pipe_id = '${p}' AND status = 'failed' AND ${exists} ORDER BY id LIMIT 100)
    UNION ALL
    (SELECT id FROM deliveries WHERE pipe_id = '${p}' AND status = 'dead' AND ${exists} ORDER BY id LIMIT 100)
  ) c ORDER BY id LIMIT 100) AND pipe_id = '${p}' AND status = ANY('{failed,dead}'::text[])
  ORDER BY id FOR UPDATE`;
const times = {};
const timed = async (key, fn) => {
  const t = performance.now();
  await fn();
  times[key] = [...(times[key] ?? []), performance.now() - t];
};
for (let r = 0; r < rounds; r++) {
  for (const [when, q] of r % 2
    ? [
        ['after', after],
        ['before', before],
      ]
    : [
        ['before', before],
        ['after', after],
      ]) {
    for (const [p, label] of [
      ['pip_a', 'failures spread'],
      ['pip_b', 'failures recent'],
    ]) {
      await c.query('BEGIN');
      let rows = [];
      await timed(`replay selection (100, ${label}) (${when})`, async () => {
        rows = (await c.query(q(p))).rows;
      });
      await c.query('ROLLBACK');
      if (rows.length !== 100) throw new Error(`${when} ${p}: ${rows.length} rows, not 100`);
    }
  }
  await timed('deliveryStats', () => store.deliveryStats());
}
const extra = { deliveries: n * 3, rounds, ...loadAverage() };
for (const [metric, xs] of Object.entries(times)) {
  xs.sort((a, b) => a - b);
  report(bench, metric, xs[Math.floor(xs.length / 2)], 'ms', {
    min: xs[0],
    max: xs[xs.length - 1],
    ...extra,
  });
}
await store.close();
await c.query(`DROP SCHEMA ${schema} CASCADE`);
await c.end();
