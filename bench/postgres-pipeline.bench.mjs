// End to end on PostgreSQL, the same shape as pipeline.bench.mjs's SQLite yardstick: 50,000 events
// (10% of them page views the transform filters out) posted in batches of 100 on 4 connections to
//   engine        `openpipes serve --postgres` (one process, its defaults: console, identity, metrics
//                 and tracing on), the brief's Meta example transform and send() to a loopback sink;
//   bare_v8       the same pipeline written the obvious way in one process: node:http collect → one
//                 multi-row INSERT per request into one table (primary key and a partial index on
//                 pending rows) → claims of 500 with `FOR UPDATE SKIP LOCKED` → the same transform in
//                 plain V8 → POST to the same sink → one UPDATE marking the batch delivered (or
//                 filtered) with the response.
// Both: PostgreSQL's defaults (synchronous_commit on), every collect answered after its commit, two
// batches in flight to the sink, a pool of connections to the database. Each round runs in a fresh
// database (created before, dropped after); rounds alternate the candidates; each figure is the
// median of its rounds with the spread. The clock runs from the first collect request until every
// event has its final record.
// CPU is counted apart for the server process (all its threads, from /proc) and for PostgreSQL: the
// backends connected to the round's database (client backends and autovacuum workers, found in
// pg_stat_activity every 100 ms and read from /proc), so other work on the shared server is not
// counted; the WAL writer and checkpointer, shared by every database, are left out. bytes_per_event
// is pg_total_relation_size (heap, TOAST and indexes) of every table in the round's database once the
// work is done (no VACUUM), per event posted; compacted_bytes_per_event the same after VACUUM FULL
// (the live rows only).
// With BENCH_BEFORE=<another checkout, built>, an engine_before candidate runs that checkout's
// `openpipes serve` in the same rounds, for before/after figures from one run.
//   npm run bench -- postgres-pipeline   (BENCH_ROUNDS=3, BENCH_EVENTS=50000, BENCH_BEFORE unset;
//                                          BENCH_KINDS=engine,bare_v8 runs only those;
//                                          BENCH_AUTO_EXPLAIN=<ms> logs slower plans;
//                                          BENCH_LOG_STATEMENTS=1 logs every statement's steps;
//                                          BENCH_WARMUP=10000 events delivered before measuring;
//                                          OPENPIPES_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test)
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startSink } from './lib.mjs';
import {
  claim,
  cpuTicks,
  idle,
  kindsFromEnv,
  load,
  median,
  metaTransform,
  openPool,
  posted,
  postToSink,
  procStats,
  round2,
  rounds,
  rssSampler,
  serveBare,
  startBare,
  startEngine,
  total,
  warmUp,
  warmup,
} from './pipeline-kit.mjs';

const self = fileURLToPath(import.meta.url);
process.setMaxListeners(100); // each round's child process cleans up on exit
const url = process.env.OPENPIPES_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The connection string of another database on the same server. */
const databaseUrl = (name) => {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
};

// --- the bare pipeline (a child process) -----------------------------------------------------------

async function bare(connectionString, sinkUrl) {
  const db = new pg.Pool({ connectionString, max: 4 });
  await db.query(`CREATE TABLE events (id bigserial PRIMARY KEY, payload jsonb NOT NULL,
      status smallint NOT NULL DEFAULT 0, response jsonb);
    CREATE INDEX events_pending ON events (id) WHERE status = 0;`);
  const ingest = async (events) => {
    const values = events.map((_, i) => `($${i + 1})`).join(',');
    await db.query(
      `INSERT INTO events (payload) VALUES ${values}`,
      events.map((e) => JSON.stringify(e)),
    );
  };
  const claimBatch = async () =>
    (
      await db.query(
        `UPDATE events SET status = 1 WHERE id IN
           (SELECT id FROM events WHERE status = 0 ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING id, payload`,
        [claim],
      )
    ).rows;
  const markAll = (ids, statuses, response) =>
    db.query(
      `UPDATE events SET status = m.status, response = CASE WHEN m.status = 2 THEN $3::jsonb END
       FROM unnest($1::bigint[], $2::smallint[]) AS m(id, status) WHERE events.id = m.id`,
      [ids, statuses, response],
    );

  const code = await metaTransform();
  const transform = new Function(`${code}; return transform;`)();
  let wake = null;
  const loop = async () => {
    for (;;) {
      const rows = await claimBatch();
      if (rows.length === 0) {
        await idle((resolve) => {
          wake = resolve;
        });
        continue;
      }
      const data = [];
      const statuses = rows.map((r) => {
        const list = transform({ events: [r.payload], profiles: {}, secrets: {} });
        for (const o of list) data.push(o.event_payload);
        return list.length > 0 ? 2 : 3;
      });
      let response = null;
      if (data.length > 0) {
        response = await postToSink(sinkUrl, data);
      }
      await markAll(
        rows.map((r) => r.id),
        statuses,
        response,
      );
    }
  };
  serveBare({
    ingest,
    ingested: () => wake?.(),
    pending: async () =>
      (await db.query('SELECT count(*)::int AS n FROM events WHERE status IN (0, 1)')).rows[0].n,
    stop: () => db.end(),
  });
  void loop();
  void loop();
}

// --- the candidates, as the load generator sees them -----------------------------------------------

function engine(database, sink, checkout) {
  const token = `opa_${randomBytes(24).toString('base64url')}`;
  return startEngine({
    checkout,
    store: ['--postgres', databaseUrl(database)],
    env: {
      ...process.env,
      OPENPIPES_SECRET_KEY: randomBytes(32).toString('base64url'),
      OPENPIPES_ADMIN_TOKEN: token,
    },
    token: () => token,
    sink,
  });
}

/**
 * PostgreSQL's CPU on behalf of one database: the backends connected to it, found every 100 ms.
 * A backend's ticks are counted from the first time it is seen after `start()` (from its own start
 * when it connects later), up to the last time it is read.
 */
function postgresCpu(admin, database) {
  const first = new Map();
  const last = new Map();
  let timer = null;
  let started = false;
  const sample = async () => {
    const { rows } = await admin.query('SELECT pid FROM pg_stat_activity WHERE datname = $1', [database]);
    for (const { pid } of rows) {
      const ticks = cpuTicks(pid);
      if (ticks === null) continue;
      if (!first.has(pid)) first.set(pid, started ? 0 : ticks);
      last.set(pid, ticks);
    }
  };
  return {
    async start() {
      await sample();
      started = true;
      timer = setInterval(() => void sample().catch(() => {}), 100);
    },
    async stop() {
      clearInterval(timer);
      await sample();
      let ticks = 0;
      for (const [pid, t] of last) ticks += t - (first.get(pid) ?? 0);
      return ticks * 10;
    },
  };
}

// --- one round --------------------------------------------------------------------------------------

let roundNumber = 0;
async function round(admin, kind) {
  const database = `bench_pgpipe_${process.pid}_${roundNumber++}`;
  await admin.query(`CREATE DATABASE ${database}`);
  if (process.env.BENCH_AUTO_EXPLAIN) {
    // Plans of the round's statements slower than this many ms, nested ones (triggers) too, in the
    // server's log; set on this database alone, so other work on the server is not logged.
    const ms = Number(process.env.BENCH_AUTO_EXPLAIN);
    await admin.query(`ALTER DATABASE ${database} SET session_preload_libraries = 'auto_explain'`);
    await admin.query(`ALTER DATABASE ${database} SET auto_explain.log_min_duration = ${ms}`);
    await admin.query(`ALTER DATABASE ${database} SET auto_explain.log_nested_statements = on`);
  }
  if (process.env.BENCH_LOG_STATEMENTS) {
    // Every statement of the round's database with its duration per protocol step (parse: parse
    // analysis and rewrite; bind: planning of an unnamed statement; execute) in the server's log,
    // without parameters; bench/pg-statement-log.mjs sums them per statement.
    await admin.query(`ALTER DATABASE ${database} SET log_min_duration_statement = 0`);
    await admin.query(`ALTER DATABASE ${database} SET log_parameter_max_length = 0`);
  }
  try {
    const sink = await startSink();
    const server =
      kind === 'engine'
        ? await engine(database, sink)
        : kind === 'engine_before'
          ? await engine(database, sink, process.env.BENCH_BEFORE)
          : await startBare(self, [databaseUrl(database), sink.url]);
    const pool = await openPool(server);
    await warmUp(server, sink, pool);
    const rss = rssSampler(server.pid);
    const postgres = postgresCpu(admin, database);
    await postgres.start();
    const before = procStats(server.pid);
    const started = performance.now();
    const { collectSeconds, seconds, expected } = await load(server, sink, started, pool);
    const peakRss = rss.peak();
    const after = procStats(server.pid);
    const postgresCpuMs = await postgres.stop();
    await pool.close();
    await server.stop();
    sink.close();
    if (sink.received() !== expected)
      throw new Error(`${kind}: the sink got ${sink.received()} of ${expected}`);
    // What the database holds once every event has its record, per table (heap, TOAST, indexes).
    const client = new pg.Client({ connectionString: databaseUrl(database) });
    await client.connect();
    const { rows: sizes } = await client.query(
      `SELECT c.relname AS name, pg_total_relation_size(c.oid)::bigint AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')`,
    );
    // The same bytes by relation: each table's heap, its TOAST (with its index) and each index.
    const { rows: relations } = await client.query(
      `SELECT c.relname AS name, pg_relation_size(c.oid)::bigint AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'i') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
       UNION ALL
       SELECT c.relname || ' (toast)', pg_total_relation_size(c.reltoastrelid)::bigint
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind = 'r' AND c.reltoastrelid <> 0 AND n.nspname NOT IN ('pg_catalog', 'information_schema')`,
    );
    // The same tables compacted (VACUUM FULL): the live rows alone, without the dead versions of
    // updated deliveries and the free space autovacuum would leave for reuse. The two bracket what
    // a long-running database holds per event.
    await client.query('VACUUM FULL');
    const { rows: compacted } = await client.query(
      `SELECT c.relname AS name, pg_total_relation_size(c.oid)::bigint AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')`,
    );
    await client.end();
    const bytes = sizes.reduce((n, r) => n + Number(r.bytes), 0);
    const perRelation = Object.fromEntries(
      relations
        .filter((r) => Number(r.bytes) / posted >= 10)
        .sort((a, b) => Number(b.bytes) - Number(a.bytes))
        .map((r) => [r.name, Math.round(Number(r.bytes) / posted)]),
    );
    const perEvent = (rows) =>
      Object.fromEntries(
        rows
          .filter((r) => Number(r.bytes) / posted >= 10)
          .map((r) => [r.name, Math.round(Number(r.bytes) / posted)]),
      );
    const perTable = perEvent(sizes);
    return {
      eventsPerSecond: total / seconds,
      collectSeconds,
      serverCpuMsPer1000: ((after.cpuMs - before.cpuMs) / total) * 1000,
      postgresCpuMsPer1000: (postgresCpuMs / total) * 1000,
      peakRssMb: Math.max(peakRss, after.rss) / 2 ** 20,
      rssAfterMb: after.rss / 2 ** 20,
      bytesPerEvent: bytes / posted,
      compactedBytesPerEvent: compacted.reduce((n, r) => n + Number(r.bytes), 0) / posted,
      perTable,
      compactedPerTable: perEvent(compacted),
      perRelation,
    };
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  }
}

async function main() {
  const admin = new pg.Pool({ connectionString: url, max: 2 });
  admin.on('error', () => {});
  try {
    await admin.query('SELECT 1');
  } catch (err) {
    console.log(
      JSON.stringify({ bench: 'postgres-pipeline', skipped: `no PostgreSQL at ${url}: ${err.message}` }),
    );
    await admin.end().catch(() => {});
    return;
  }
  const { rows: version } = await admin.query('SHOW server_version');
  const kinds = kindsFromEnv(['engine', ...(process.env.BENCH_BEFORE ? ['engine_before'] : []), 'bare_v8']);
  const results = Object.fromEntries(kinds.map((k) => [k, []]));
  const loads = [];
  for (let r = 0; r < rounds; r++) {
    for (const kind of kinds) {
      const result = await round(admin, kind);
      results[kind].push(result);
      loads.push(loadavg()[0]);
      // Each round as it ends, on stderr: a long run interrupted still says what it measured.
      console.error(JSON.stringify({ round: r + 1, kind, ...result, load_average: loads.at(-1) }));
    }
  }
  await admin.end();
  const spread = (list, key, digits = 0) => {
    const v = list.map((x) => Math.round(x[key] * 10 ** digits) / 10 ** digits);
    return [Math.min(...v), Math.max(...v)];
  };
  for (const kind of kinds) {
    const list = results[kind];
    console.log(
      JSON.stringify({
        bench: 'postgres-pipeline',
        metric: `postgres_end_to_end_${kind}`,
        value: Math.round(median(list, 'eventsPerSecond')),
        unit: 'events/s',
        spread: spread(list, 'eventsPerSecond'),
        rounds: list.map((x) => Math.round(x.eventsPerSecond)),
        collect_s: round2(median(list, 'collectSeconds')),
        server_cpu_ms_per_1000_events: Math.round(median(list, 'serverCpuMsPer1000')),
        server_cpu_spread: spread(list, 'serverCpuMsPer1000'),
        postgres_cpu_ms_per_1000_events: Math.round(median(list, 'postgresCpuMsPer1000')),
        postgres_cpu_spread: spread(list, 'postgresCpuMsPer1000'),
        peak_rss_mb: Math.round(median(list, 'peakRssMb')),
        rss_after_mb: Math.round(median(list, 'rssAfterMb')),
        bytes_per_event: Math.round(median(list, 'bytesPerEvent')),
        compacted_bytes_per_event: Math.round(median(list, 'compactedBytesPerEvent')),
        bytes_per_event_by_table: list[list.length - 1].perTable,
        compacted_bytes_per_event_by_table: list[list.length - 1].compactedPerTable,
        bytes_per_event_by_relation: list[list.length - 1].perRelation,
        events: total,
        filtered: total / 10,
        warmup_events: warmup,
        postgres: version[0].server_version,
        cores: cpus().length,
      }),
    );
  }
  const ratio = (a, b) =>
    round2(median(results[a], 'eventsPerSecond') / median(results[b], 'eventsPerSecond'));
  if (kinds.includes('engine') && kinds.includes('bare_v8'))
    console.log(
      JSON.stringify({
        bench: 'postgres-pipeline',
        metric: 'postgres_engine_to_bare_v8',
        value: ratio('engine', 'bare_v8'),
        unit: 'x',
        target: 0.3,
        ...(process.env.BENCH_BEFORE ? { engine_before_to_bare_v8: ratio('engine_before', 'bare_v8') } : {}),
        load_average: [round2(Math.min(...loads)), round2(Math.max(...loads))],
      }),
    );
}

if (process.argv[2] === '--bare') {
  await bare(process.argv[3], process.argv[4]);
} else {
  await main();
}
