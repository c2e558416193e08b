// PostgreSQL store benchmarks. Prints JSON lines.
//
// A. End to end with 1, 2 and 4 dispatcher PROCESSES on one PostgreSQL: events are ingested FIRST
//    (into a disabled destination, so deliveries wait as pending), the dispatchers start and warm
//    up, the destination is enabled, and the clock runs from the sink's first request until every
//    delivery is recorded as delivered. Each event goes through the Meta example transform and the
//    Meta example send() to a loopback sink that answers at once, in batches of 500. During the
//    drain the CPU time of the dispatcher processes, of PostgreSQL's processes and of this process
//    (the sink) is sampled from /proc, to say where throughput flattens on this machine.
// B. Delivery-history queries on 1,000,000 delivery records (bulk-loaded with generate_series):
//    by pipe newest first (page of 50), deeper pages by cursor, by event id, by status, by time
//    window, one record, the buffer stats, a claim; then pruning throughput.
//
//   npm run bench -- postgres
//   OPENPIPES_BENCH_PG_EVENTS=30000 OPENPIPES_BENCH_PG_DISPATCHERS=1,2,4 OPENPIPES_BENCH_PG_HISTORY=1000000 OPENPIPES_TEST_POSTGRES_URL=...
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createPipes, silentLogger } from '@openpipes/core';
import { postgresStore } from '@openpipes/store-postgres';
import pg from 'pg';
import { purchase, report, setupMetaExample, startSink } from './lib.mjs';

const url = process.env.OPENPIPES_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const events = Number(process.env.OPENPIPES_BENCH_PG_EVENTS ?? 30_000);
const dispatcherCounts = (process.env.OPENPIPES_BENCH_PG_DISPATCHERS ?? '1,2,4').split(',').map(Number);
const historyRows = Number(process.env.OPENPIPES_BENCH_PG_HISTORY ?? 1_000_000);
const secretKey = 'bench-secret-key-0123456789abcdef';
const child = fileURLToPath(new URL('../packages/store-postgres/test/child.mjs', import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const admin = new pg.Pool({ connectionString: url, max: 2 });
admin.on('error', () => {});
try {
  await admin.query('SELECT 1');
} catch (err) {
  console.log(JSON.stringify({ bench: 'postgres', skipped: `no PostgreSQL at ${url}: ${err.message}` }));
  await admin.end().catch(() => {});
  process.exit(0);
}
const { rows: versionRows } = await admin.query('SHOW server_version');
const machine = { cores: cpus().length, postgres: versionRows[0].server_version };
const schemas = [];
const children = new Set();
const cleanup = async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`).catch(() => {});
};
process.on('SIGINT', () => cleanup().then(() => process.exit(130)));

// ---- CPU accounting from /proc ----------------------------------------------------------------
const ticksPerSecond = 100; // USER_HZ on Linux
function cpuTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime
  } catch {
    return 0;
  }
}
function postgresPids() {
  const pids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'postgres') pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}
/** Busy and total ticks of the whole machine (all cores), from the first line of /proc/stat. */
function machineTicks() {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const n = fields.map(Number);
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - n[3] - n[4], total };
}
function cpuSnapshot(dispatcherPids) {
  const pgTicks = new Map(postgresPids().map((pid) => [pid, cpuTicks(pid)]));
  return {
    at: performance.now(),
    dispatchers: dispatcherPids.reduce((sum, pid) => sum + cpuTicks(pid), 0),
    postgres: pgTicks,
    self: process.cpuUsage(),
    machine: machineTicks(),
  };
}
function cpuPercent(before, after) {
  const seconds = (after.at - before.at) / 1000;
  let pgTicks = 0;
  for (const [pid, ticks] of after.postgres) pgTicks += ticks - (before.postgres.get(pid) ?? 0);
  const self = process.cpuUsage(before.self);
  const pct = (ticks) => Math.round((ticks / ticksPerSecond / seconds) * 100);
  const ours = {
    dispatchers_cpu_pct: pct(after.dispatchers - before.dispatchers),
    postgres_cpu_pct: pct(pgTicks),
    sink_cpu_pct: Math.round(((self.user + self.system) / 1e6 / seconds) * 100),
  };
  // Everything else the machine did meanwhile (other work on a shared machine skews the numbers).
  const busy = after.machine.busy - before.machine.busy;
  const machineBusyPct = Math.round(
    (busy / (after.machine.total - before.machine.total)) * cpus().length * 100,
  );
  const oursPct = ours.dispatchers_cpu_pct + ours.postgres_cpu_pct + ours.sink_cpu_pct;
  return { ...ours, machine_busy_pct: machineBusyPct, other_cpu_pct: Math.max(0, machineBusyPct - oursPct) };
}

// ---- A. end to end ------------------------------------------------------------------------------
function startDispatcher(schema, sink, n) {
  const proc = spawn(process.execPath, [child], {
    env: {
      ...process.env,
      OP_MODE: 'dispatch',
      OP_URL: url,
      OP_SCHEMA: schema,
      OP_NAME: `bench-dispatch-${n}`,
      OP_SECRET_KEY: secretKey,
      OP_SINK_HOST: sink.host,
      OP_POLL_MS: '1000',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(proc);
  proc.on('exit', () => children.delete(proc));
  const ready = new Promise((resolve, reject) => {
    let buffered = '';
    proc.stdout.on('data', (chunk) => {
      buffered += chunk;
      if (buffered.includes('"ready"')) resolve();
    });
    proc.on('exit', (code) => reject(new Error(`dispatcher exited with ${code}`)));
  });
  return { proc, ready };
}

async function endToEnd(dispatchers) {
  const schema = `bench_pg_e2e_${dispatchers}_${process.pid}`;
  schemas.push(schema);
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  let firstRequestAt = 0;
  const sink = await startSink(() => {
    firstRequestAt ||= performance.now();
    return 200;
  });
  const pipes = createPipes({
    store: postgresStore({ connectionString: url, schema, poolSize: 4 }),
    secretKey,
    logger: silentLogger,
    roles: ['ingest'],
    sandbox: { workers: 1 },
    egressAllow: [sink.host],
  });
  const { destination } = await setupMetaExample(pipes, sink.url, { enable: false });

  // Ingest first, two calls of 500 in flight.
  const ingestStart = performance.now();
  let next = 0;
  await Promise.all(
    [0, 1].map(async () => {
      while (next < events) {
        const from = next;
        next = Math.min(events, next + 500);
        const batch = [];
        for (let i = from; i < next; i++) batch.push(purchase(i));
        await pipes.ingest('web', batch);
      }
    }),
  );
  const ingestSeconds = (performance.now() - ingestStart) / 1000;
  if (dispatchers === dispatcherCounts[0]) {
    report('postgres', 'ingest', events / ingestSeconds, 'events/s', {
      events,
      batch: 500,
      calls_in_flight: 2,
      note: 'one process, pipes.ingest() → appendEvents (events + pending deliveries, one transaction)',
      ...machine,
    });
  }

  const procs = Array.from({ length: dispatchers }, (_, n) => startDispatcher(schema, sink, n));
  await Promise.all(procs.map((p) => p.ready));
  await sleep(500);
  const before = cpuSnapshot(procs.map((p) => p.proc.pid));
  await pipes.destinations.enable(destination.id);
  const deadline = Date.now() + 300_000;
  let delivered = 0;
  while (Date.now() < deadline) {
    // The store's running totals: a count(*) over the deliveries every 100 ms would itself be a
    // good share of PostgreSQL's CPU in this measurement.
    const { rows } = await admin.query(
      `SELECT coalesce(sum(count), 0)::int AS n FROM "${schema}".delivery_totals WHERE status = 'delivered'`,
    );
    delivered = rows[0].n;
    if (delivered >= events) break;
    await sleep(100);
  }
  const doneAt = performance.now();
  const after = cpuSnapshot(procs.map((p) => p.proc.pid));
  const seconds = (doneAt - (firstRequestAt || before.at)) / 1000;
  const cpu = cpuPercent(before, after);
  // CPU per event does not depend on what else the machine is doing: the ceiling of this machine,
  // idle, is its cores divided by the CPU one event costs all our processes together.
  const cpuMsPerEvent = (pct) => (pct / 100) * (seconds / delivered) * 1000;
  const totalMsPerEvent = cpuMsPerEvent(cpu.dispatchers_cpu_pct + cpu.postgres_cpu_pct + cpu.sink_cpu_pct);
  report(
    'postgres',
    `end_to_end_${dispatchers}_dispatcher${dispatchers > 1 ? 's' : ''}`,
    delivered / seconds,
    'events/s',
    {
      events,
      delivered,
      seconds: Math.round(seconds * 100) / 100,
      dispatchers,
      mode: 'ingested first, then drained',
      batch: 500,
      concurrency_per_process: 2,
      ...cpu,
      cpu_budget_pct: machine.cores * 100,
      dispatchers_cpu_ms_per_1000_events: Math.round(cpuMsPerEvent(cpu.dispatchers_cpu_pct) * 1000),
      postgres_cpu_ms_per_1000_events: Math.round(cpuMsPerEvent(cpu.postgres_cpu_pct) * 1000),
      idle_machine_ceiling_events_per_s: Math.round((machine.cores * 1000) / totalMsPerEvent),
    },
  );
  for (const p of procs) p.proc.kill('SIGTERM');
  await Promise.all(
    procs.map((p) => new Promise((r) => (p.proc.exitCode !== null ? r() : p.proc.on('exit', r)))),
  );
  await pipes.stop();
  await pipes.store.close();
  await sink.close();
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

// ---- B. delivery history at 1M ------------------------------------------------------------------
function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}
async function timeQuery(name, runs, fn, extra = {}) {
  await fn(0); // warm
  const ms = [];
  let rows = 0;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const result = await fn(i + 1);
    ms.push(performance.now() - start);
    rows = Array.isArray(result) ? result.length : (result?.rows ?? rows);
  }
  ms.sort((a, b) => a - b);
  report('postgres', `history_${name}`, percentile(ms, 0.5), 'ms', {
    p95_ms: Math.round(percentile(ms, 0.95) * 100) / 100,
    runs,
    rows_returned: rows,
    history_rows: historyRows,
    ...extra,
  });
}

async function history() {
  const schema = `bench_pg_history_${process.pid}`;
  schemas.push(schema);
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  const store = postgresStore({ connectionString: url, schema, poolSize: 4 });
  await store.migrate();
  const pipes = 20;
  const t0 = Date.parse('2026-04-01T00:00:00.000Z');
  const spanMs = 30 * 86_400_000;
  const stepMs = spanMs / historyRows;
  const pipeId = (n) => `pip_bench${String(n).padStart(21, '0')}`;
  const destinationId = (n) => `dst_bench${String(n).padStart(21, '0')}`;
  // Row i: pipe 0 (even i) gets half the rows; 2% failed, 2% dead, 2% filtered, the newest 1000
  // pending, on every pipe.
  const loadStart = performance.now();
  const chunk = 200_000;
  for (let from = 1; from <= historyRows; from += chunk) {
    const to = Math.min(historyRows, from + chunk - 1);
    const params = [from, to, t0, stepMs];
    const common = `
      FROM generate_series($1::bigint, $2::bigint) AS i,
      LATERAL (SELECT to_timestamp(($3::bigint + i * $4::float8) / 1000.0) AS ts,
                      CASE WHEN i % 2 = 0 THEN 0 ELSE 1 + (i % ${pipes - 1}) END AS p) AS x`;
    await admin.query(
      `INSERT INTO "${schema}".events (id, source_id, event_id, sender_event_id, event_type, event_time, payload, received_at)
       SELECT 'evt_' || lpad(i::text, 26, '0'), 'src_bench', 'ord_' || i, true, 'purchase', x.ts,
         json_build_object('order_id', 'ord_' || i, 'revenue', 129.9, 'currency', 'EUR',
           'hashed_email', repeat('a', 64), 'hashed_phone', repeat('b', 64), 'ip', '203.0.113.7',
           'ua', 'Mozilla/5.0 (X11; Linux x86_64)'), x.ts ${common}`,
      params,
    );
    await admin.query(
      `INSERT INTO "${schema}".deliveries (id, event_ref, source_id, pipe_id, destination_id, event_id, event_type,
         status, attempt_count, pipe_version, destination_version, test_mode, due_at, created_at, updated_at,
         delivered_at, detail)
       SELECT 'evd_' || lpad(i::text, 26, '0'), 'evt_' || lpad(i::text, 26, '0'), 'src_bench',
         'pip_bench' || lpad(x.p::text, 21, '0'), 'dst_bench' || lpad(x.p::text, 21, '0'), 'ord_' || i, 'purchase',
         s.status, CASE WHEN s.status = 'pending' OR s.status = 'filtered' THEN 0 ELSE 1 END, 2, 1, false,
         CASE WHEN s.status = 'pending' THEN x.ts END, x.ts, x.ts,
         CASE WHEN s.status = 'delivered' THEN x.ts END,
         json_build_object('output', json_build_array(json_build_object('event_name', 'Purchase', 'event_id', 'ord_' || i,
             'user_data', json_build_object('em', repeat('a', 64), 'ph', repeat('b', 64)),
             'custom_data', json_build_object('currency', 'EUR', 'value', 129.9))),
           'request', json_build_object('url', 'https://graph.facebook.com/v19.0/[secret:META_PIXEL_ID]/events',
             'method', 'POST'),
           'response', json_build_object('status', 200, 'body', json_build_object('events_received', 1,
             'fbtrace_id', 'AbC123xyz')),
           'error', NULL)
       ${common},
       LATERAL (SELECT CASE WHEN i > $5::bigint - 1000 THEN 'pending'
                            WHEN i % 100 IN (7, 54) THEN 'failed' WHEN i % 100 IN (31, 32) THEN 'dead'
                            WHEN i % 100 IN (11, 72) THEN 'filtered' ELSE 'delivered' END AS status) AS s`,
      [...params, historyRows],
    );
    await admin.query(
      `INSERT INTO "${schema}".delivery_attempts (delivery_id, number, data)
       SELECT 'evd_' || lpad(i::text, 26, '0'), 1, json_build_object('number', 1, 'status', 'delivered',
         'started_at', x.ts, 'duration_ms', 42, 'request', json_build_object('url', 'https://graph.facebook.com/v19.0/[secret:META_PIXEL_ID]/events',
           'method', 'POST', 'payload', json_build_object('data', json_build_array(json_build_object('event_id', 'ord_' || i)),
           'access_token', '[secret:META_ACCESS_TOKEN]')), 'response', json_build_object('status', 200))
       ${common}`,
      params,
    );
  }
  // Rows loaded behind the store's back: give it the running totals it keeps for final statuses.
  await admin.query(
    `INSERT INTO "${schema}".delivery_totals (destination_id, pipe_id, status, slot, count)
     SELECT destination_id, pipe_id, status, 0, count(*) FROM "${schema}".deliveries
     WHERE status IN ('delivered', 'filtered', 'failed', 'dead') GROUP BY 1, 2, 3`,
  );
  const loadSeconds = (performance.now() - loadStart) / 1000;
  const analyzeStart = performance.now();
  await admin.query(
    `VACUUM ANALYZE "${schema}".events, "${schema}".deliveries, "${schema}".delivery_attempts`,
  );
  const { rows: size } = await admin.query(
    `SELECT pg_total_relation_size($1)::bigint AS deliveries, pg_total_relation_size($2)::bigint AS attempts,
       pg_total_relation_size($3)::bigint AS events`,
    [`"${schema}".deliveries`, `"${schema}".delivery_attempts`, `"${schema}".events`],
  );
  report('postgres', 'history_load', historyRows / loadSeconds, 'deliveries/s', {
    history_rows: historyRows,
    seconds: Math.round(loadSeconds),
    vacuum_analyze_seconds: Math.round((performance.now() - analyzeStart) / 100) / 10,
    note: 'generate_series INSERT of events + deliveries + attempts with every index in place',
    deliveries_mb: Math.round(Number(size[0].deliveries) / 1048576),
    attempts_mb: Math.round(Number(size[0].attempts) / 1048576),
    events_mb: Math.round(Number(size[0].events) / 1048576),
    ...machine,
  });

  const hot = pipeId(0);
  const small = pipeId(7);
  const rand = (i) => 1 + ((i * 2654435761) % historyRows);
  const runs = 30;
  await timeQuery('by_pipe_newest_page50', runs, () => store.listDeliveries({ pipeId: hot, limit: 50 }), {
    pipe_rows: historyRows / 2,
  });
  await timeQuery(
    'by_small_pipe_newest_page50',
    runs,
    () => store.listDeliveries({ pipeId: small, limit: 50 }),
    {
      pipe_rows: Math.round(historyRows / 2 / (pipes - 1)),
    },
  );
  // A page deep in the history: the cursor is an id far back.
  await timeQuery('by_pipe_cursor_page50_deep', runs, (i) =>
    store.listDeliveries({
      pipeId: hot,
      limit: 50,
      cursor: `evd_${String(2 * Math.floor(rand(i) / 2)).padStart(26, '0')}`,
    }),
  );
  await timeQuery('by_event_id', runs, (i) => {
    const n = rand(i);
    return store.listDeliveries({
      pipeId: n % 2 === 0 ? hot : pipeId(1 + (n % (pipes - 1))),
      eventId: `ord_${n}`,
      limit: 50,
    });
  });
  await timeQuery('by_status_failed_page50', runs, () =>
    store.listDeliveries({ pipeId: hot, status: 'failed', limit: 50 }),
  );
  await timeQuery('by_status_delivered_page50', runs, () =>
    store.listDeliveries({ pipeId: hot, status: 'delivered', limit: 50 }),
  );
  await timeQuery('by_status_failed_or_dead_page50', runs, () =>
    store.listDeliveries({ pipeId: hot, status: ['failed', 'dead'], limit: 50 }),
  );
  await timeQuery('by_time_window_1h_page50', runs, (i) => {
    const since = t0 + (rand(i) % (spanMs - 3_600_000));
    return store.listDeliveries({
      pipeId: hot,
      since: new Date(since).toISOString(),
      until: new Date(since + 3_600_000).toISOString(),
      limit: 50,
    });
  });
  await timeQuery('by_time_window_7d_page50', 10, (i) => {
    const since = t0 + (rand(i) % (spanMs - 7 * 86_400_000));
    return store.listDeliveries({
      pipeId: hot,
      since: new Date(since).toISOString(),
      until: new Date(since + 7 * 86_400_000).toISOString(),
      limit: 50,
    });
  });
  await timeQuery('get_delivery_with_attempts', runs, (i) =>
    store.getDelivery({ id: `evd_${String(rand(i)).padStart(26, '0')}` }).then((d) => [d]),
  );
  await timeQuery('delivery_stats', 5, () => store.deliveryStats());
  await timeQuery('claim_100_of_backlog', 10, async (i) => {
    // The newest 1000 are pending, spread over the pipes; claim from one destination, give back.
    const claimed = await store.claimDeliveries({
      destinationId: destinationId(0),
      pipeIds: [hot],
      owner: `bench-${i}`,
      limit: 100,
      leaseMs: 60_000,
      now: new Date(t0 + spanMs + 1000).toISOString(),
    });
    await store.releaseDeliveries({
      owner: `bench-${i}`,
      ids: claimed.map((c) => c.id),
      now: new Date(t0).toISOString(),
    });
    return claimed;
  });

  // Pruning: the oldest 10% of events with their deliveries and attempts, in batches of 500
  // (the engine's retention default).
  const pruneBefore = new Date(t0 + spanMs / 10).toISOString();
  const pruneStart = performance.now();
  let pruned = { events: 0, deliveries: 0 };
  for (;;) {
    const r = await store.prune({ before: pruneBefore, limit: 500 });
    pruned = { events: pruned.events + r.events, deliveries: pruned.deliveries + r.deliveries };
    if (r.events < 500) break;
  }
  const pruneSeconds = (performance.now() - pruneStart) / 1000;
  const vacuumStart = performance.now();
  await admin.query(`VACUUM "${schema}".events, "${schema}".deliveries, "${schema}".delivery_attempts`);
  report('postgres', 'prune', pruned.deliveries / pruneSeconds, 'deliveries/s', {
    events: pruned.events,
    deliveries: pruned.deliveries,
    seconds: Math.round(pruneSeconds * 10) / 10,
    batch: 500,
    vacuum_after_seconds: Math.round((performance.now() - vacuumStart) / 100) / 10,
    note: 'each pruned delivery also removes its event, attempt and dedup row',
  });
  await timeQuery('by_pipe_newest_page50_after_prune', runs, () =>
    store.listDeliveries({ pipeId: hot, limit: 50 }),
  );
  await store.close();
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
}

try {
  if (!process.env.OPENPIPES_BENCH_PG_SKIP_E2E) for (const n of dispatcherCounts) await endToEnd(n);
  if (historyRows > 0) await history();
} finally {
  await cleanup();
  await admin.end();
}
