// End to end on SQLite, the yardstick of docs/deployment.md ("Throughput"): 50,000 events (10% of them
// page views the transform filters out) posted in batches of 100 on 4 connections to
//   engine        `openpipes serve` on a SQLite file with its defaults (console, identity, metrics and
//                 tracing on), the brief's Meta example transform and send() to a loopback sink;
//   bare_v8       the same pipeline written the obvious way in one process: node:http collect →
//                 better-sqlite3 (one table, primary key and a partial index on pending rows) → claim
//                 500 → the same transform in plain V8 → POST to the same sink → mark each event
//                 delivered (or filtered) with the response, in one transaction per batch;
//   bare_sandbox  bare_v8 with the transform run by @openpipes/sandbox instead of plain V8, so the
//                 engine's own overhead and the sandbox's cost show apart.
// All three: WAL with synchronous=NORMAL, every collect answered after its commit, two batches in
// flight to the sink. Each round starts on a fresh file; rounds alternate the three; each figure is
// the median of its rounds with the spread. The clock runs from the first collect request until
// every event has its final record. CPU is the server process's (all its threads, from /proc), RSS is
// its resident memory: peak under load and once the work is done; db_bytes_per_event is the database
// file and its WAL at the end, per event posted.
// With BENCH_BEFORE=<another checkout, built>, an engine_before candidate runs that checkout's
// `openpipes serve` in the same rounds, for before/after figures from one run.
//   npm run bench -- pipeline        (BENCH_ROUNDS=3, BENCH_EVENTS=50000, BENCH_BEFORE unset;
//                                     BENCH_KINDS=engine,bare_v8 runs only those;
//                                     BENCH_ENGINE_ARGS='--no-identity' adds serve options;
//                                     BENCH_CONCURRENCY=4 the destination's concurrency, default 2;
//                                     BENCH_WARMUP=10000 events delivered before measuring, default 0)
// stages_rounds: the engine's transform and send() seconds per round, summed from GET /metrics.
import { copyFileSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { startSink, tempDir } from './lib.mjs';
import {
  claim,
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
  threadCpuMs,
  total,
  warmUp,
  warmup,
} from './pipeline-kit.mjs';

const self = fileURLToPath(import.meta.url);
process.setMaxListeners(100); // each round's temp dir and child process clean up on exit

// --- the bare pipeline (a child process) -----------------------------------------------------------

async function bare(filename, sinkUrl, mode) {
  const db = new Database(filename);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE events (id INTEGER PRIMARY KEY, payload TEXT NOT NULL, status INTEGER NOT NULL DEFAULT 0, response TEXT);
    CREATE INDEX events_pending ON events (id) WHERE status = 0;`);
  const insert = db.prepare('INSERT INTO events (payload) VALUES (?)');
  const ingest = db.transaction((events) => {
    for (const e of events) insert.run(JSON.stringify(e));
  });
  const pick = db.prepare('SELECT id, payload FROM events WHERE status = 0 ORDER BY id LIMIT ?');
  const take = db.prepare('UPDATE events SET status = 1 WHERE id = ?');
  const claimBatch = db.transaction(() => {
    const rows = pick.all(claim);
    for (const r of rows) take.run(r.id);
    return rows;
  });
  const mark = db.prepare('UPDATE events SET status = ?, response = ? WHERE id = ?');
  const markAll = db.transaction((rows, delivered, response) => {
    for (const r of rows) mark.run(delivered.has(r.id) ? 2 : 3, delivered.has(r.id) ? response : null, r.id);
  });
  const pending = db.prepare('SELECT count(*) AS n FROM events WHERE status IN (0, 1)');

  const code = await metaTransform();
  let run;
  let sandbox;
  if (mode === 'v8') {
    const transform = new Function(`${code}; return transform;`)();
    run = async (events) => events.map((e) => transform({ events: [e], profiles: {}, secrets: {} }));
  } else {
    const { createSandbox } = await import('@openpipes/sandbox');
    sandbox = createSandbox();
    const ref = { kind: 'transform', owner: 'bare', version: 1, code };
    run = async (events) => {
      const out = await sandbox.transform({ code: ref, events, profiles: undefined, secrets: {} });
      return out.results.map((r) => (r.ok ? r.outputs : []));
    };
  }

  let wake = null;
  const loop = async () => {
    for (;;) {
      const rows = claimBatch();
      if (rows.length === 0) {
        await idle((resolve) => {
          wake = resolve;
        });
        continue;
      }
      const events = rows.map((r) => JSON.parse(r.payload));
      const outputs = await run(events);
      const delivered = new Set();
      const data = [];
      outputs.forEach((list, i) => {
        if (list.length > 0) delivered.add(rows[i].id);
        for (const o of list) data.push(o.event_payload);
      });
      let response = null;
      if (data.length > 0) {
        response = await postToSink(sinkUrl, data);
      }
      markAll(rows, delivered, response);
    }
  };
  serveBare({
    ingest,
    ingested: () => wake?.(),
    pending: () => pending.get().n,
  });
  void loop();
  void loop();
}

// --- one round --------------------------------------------------------------------------------------

async function round(kind) {
  const dir = tempDir(`openpipes-bench-pipeline-${kind}-`);
  const sink = await startSink();
  const engine = (checkout) => {
    const db = join(dir, 'engine.db');
    return startEngine({
      checkout,
      store: ['--db', db],
      token: () => readFileSync(`${db}.admin-token`, 'utf8').trim(),
      sink,
    });
  };
  const server =
    kind === 'engine'
      ? await engine()
      : kind === 'engine_before'
        ? await engine(process.env.BENCH_BEFORE)
        : await startBare(self, [join(dir, `bare-${kind.slice(5)}.db`), sink.url, kind.slice(5)]);
  const pool = await openPool(server);
  await warmUp(server, sink, pool);
  const rss = rssSampler(server.pid);
  const before = procStats(server.pid);
  const threadsBefore = threadCpuMs(server.pid);
  const started = performance.now();
  const { collectSeconds, seconds, expected } = await load(server, sink, started, pool);
  const peakRss = rss.peak();
  const after = procStats(server.pid);
  const threadsAfter = threadCpuMs(server.pid);
  const stages = server.stages ? await server.stages() : undefined;
  // What the database holds once every event has its record: the file and its WAL (checkpoints
  // move pages between them), per event.
  const bytes = readdirSync(dir)
    .filter((f) => /\.db(-wal)?$/.test(f))
    .reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  await pool.close();
  await server.stop();
  sink.close();
  if (sink.received() !== expected)
    throw new Error(`${kind}: the sink got ${sink.received()} of ${expected}`);
  const perTable = kind.startsWith('engine') ? tableBytes(join(dir, 'engine.db')) : undefined;
  if (process.env.BENCH_KEEP_DB && kind.startsWith('engine'))
    copyFileSync(join(dir, 'engine.db'), `${process.env.BENCH_KEEP_DB}-${kind}.db`);
  return {
    eventsPerSecond: total / seconds,
    collectSeconds,
    cpuMsPer1000: ((after.cpuMs - before.cpuMs) / total) * 1000,
    // The main thread's, then the others' busiest first (the dispatch thread's is the first of them).
    threadsMsPer1000: [...threadsAfter]
      .map(([tid, ms]) => ({ main: tid === String(server.pid), ms: ms - (threadsBefore.get(tid) ?? 0) }))
      .sort((a, b) => Number(b.main) - Number(a.main) || b.ms - a.ms)
      .slice(0, 5)
      .map((t) => Math.round((t.ms / total) * 1000)),
    writtenPerEvent: (after.wchar - before.wchar) / total,
    peakRssMb: Math.max(peakRss, after.rss) / 2 ** 20,
    rssAfterMb: after.rss / 2 ** 20,
    bytesPerEvent: bytes / posted,
    perTable,
    stages,
  };
}

/** Bytes per event of each table with its indexes (dbstat pages, once the server has stopped). */
function tableBytes(file) {
  const db = new Database(file, { readonly: true });
  try {
    const rows = db
      .prepare(
        `SELECT coalesce(m.tbl_name, s.name) AS name, sum(s.pgsize) AS bytes
         FROM dbstat s LEFT JOIN sqlite_master m ON m.name = s.name GROUP BY 1`,
      )
      .all();
    return Object.fromEntries(
      rows.filter((r) => r.bytes / posted >= 10).map((r) => [r.name, Math.round(r.bytes / posted)]),
    );
  } finally {
    db.close();
  }
}

async function main() {
  const kinds = kindsFromEnv([
    'engine',
    ...(process.env.BENCH_BEFORE ? ['engine_before'] : []),
    'bare_v8',
    'bare_sandbox',
  ]);
  const results = Object.fromEntries(kinds.map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) for (const kind of kinds) results[kind].push(await round(kind));

  for (const kind of kinds) {
    const list = results[kind];
    const rates = list.map((x) => Math.round(x.eventsPerSecond));
    console.log(
      JSON.stringify({
        bench: 'pipeline',
        metric: `sqlite_end_to_end_${kind}`,
        value: Math.round(median(list, 'eventsPerSecond')),
        unit: 'events/s',
        spread: [Math.min(...rates), Math.max(...rates)],
        rounds: rates,
        collect_s: round2(median(list, 'collectSeconds')),
        cpu_ms_per_1000_events: round2(median(list, 'cpuMsPer1000')),
        cpu_ms_per_1000_events_rounds: list.map((x) => Math.round(x.cpuMsPer1000)),
        thread_cpu_ms_per_1000_events_rounds: list.map((x) => x.threadsMsPer1000),
        written_bytes_per_event: Math.round(median(list, 'writtenPerEvent')),
        written_bytes_per_event_rounds: list.map((x) => Math.round(x.writtenPerEvent)),
        peak_rss_mb: Math.round(median(list, 'peakRssMb')),
        rss_after_mb: Math.round(median(list, 'rssAfterMb')),
        db_bytes_per_event: Math.round(median(list, 'bytesPerEvent')),
        ...(list[0].perTable ? { db_bytes_per_event_by_table: list[list.length - 1].perTable } : {}),
        // The dispatch chain's stages per round (GET /metrics sums): transform and send() seconds.
        ...(list[0].stages ? { stages_rounds: list.map((x) => x.stages) } : {}),
        events: total,
        filtered: total / 10,
        warmup_events: warmup,
      }),
    );
  }
  if (!kinds.includes('bare_v8') || !kinds.includes('bare_sandbox')) return;
  const ratio = (a, b) =>
    round2(median(results[a], 'eventsPerSecond') / median(results[b], 'eventsPerSecond'));
  console.log(
    JSON.stringify({
      bench: 'pipeline',
      metric: 'sqlite_engine_to_bare_v8',
      value: ratio('engine', 'bare_v8'),
      unit: 'x',
      target: 0.5,
      engine_to_bare_sandbox: ratio('engine', 'bare_sandbox'),
      bare_sandbox_to_bare_v8: ratio('bare_sandbox', 'bare_v8'),
      ...(process.env.BENCH_BEFORE ? { engine_before_to_bare_v8: ratio('engine_before', 'bare_v8') } : {}),
      load_average: round2(loadavg()[0]),
    }),
  );
}

if (process.argv[2] === '--bare') {
  await bare(process.argv[3], process.argv[4], process.argv[5]);
} else {
  await main();
}
