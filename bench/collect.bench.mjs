// Collect throughput over HTTP: POST /collect/web through the node:http adapter into the engine on
// a SQLite file (one enabled pipe, so every event also gets a pending delivery; the dispatcher is
// not started), in batches of 100 events and one event per request. In the same run, the bare
// baseline: node:http + JSON.parse + better-sqlite3 inserting the same rows (events + deliveries,
// same schema, one transaction per request). Each server runs in its own child process; the load
// generator (undici Pool, keep-alive, a few connections) runs in this one, on the same machine,
// over loopback only. Three rounds alternate engine and baseline; each figure is the median of its
// rounds. Besides events/s, each line has the server process's CPU time per event, which stays
// meaningful when other work shares the two cores; the ratio line gives both. Prints JSON lines.
// With BENCH_BEFORE=<another checkout, built>, an engine_before server runs that checkout's packages
// in the same rounds, for before/after figures from one run. Rounds reverse their order every time.
//   npm run bench -- collect   (BENCH_ROUNDS=3, BENCH_BATCHES=100,1, BENCH_SECONDS=3, BENCH_CONNECTIONS=4,
//                               BENCH_BEFORE unset)
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  engineModules,
  ingestPipes,
  measureLoad,
  report,
  serveInChild,
  setupDeliveredFlow,
  startChildServer,
} from './lib.mjs';

const self = fileURLToPath(import.meta.url);
const root = join(self, '..', '..');
const warmupMs = 1000;
const measureMs = Number(process.env.BENCH_SECONDS ?? 3) * 1000;
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const batches = (process.env.BENCH_BATCHES ?? '100,1').split(',').map(Number);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 4);

const out = (metric, value, unit, extra) => report('collect', metric, value, unit, extra);

// --- the event senders post ----------------------------------------------------------------------

const payload = JSON.stringify({
  revenue: 129.9,
  currency: 'EUR',
  hashed_email: 'a'.repeat(64),
  hashed_phone: 'b'.repeat(64),
  fbp: 'fb.1.1714816462.1234567890',
  fbc: 'fb.1.1714816462.IwAR0abc',
  ip: '203.0.113.7',
  ua: 'Mozilla/5.0 (X11; Linux x86_64)',
  page_url: 'https://shop.example/checkout/thank-you',
}).slice(1, -1);
let sequence = 0;
const eventJson = () => {
  const id = `ord_${process.pid}_${sequence++}`;
  return `{"event_type":"purchase","event_time":"2026-05-04T10:14:22.481Z","event_id":"${id}","event_payload":{"order_id":"${id}",${payload}}}`;
};
const batchBody = (size) => {
  let body = '[';
  for (let i = 0; i < size; i++) body += (i ? ',' : '') + eventJson();
  return `${body}]`;
};

// --- servers (child processes) -----------------------------------------------------------------

async function serveEngine(filename, checkout = root) {
  const modules = await engineModules(checkout);
  const { createHandler, createNodeListener } = modules;
  const pipes = await ingestPipes(filename, {}, modules);
  await setupDeliveredFlow(pipes, 'revenue');
  await pipes.start(); // roles: ['ingest']: no dispatcher
  const server = createServer({ keepAliveTimeout: 60_000 }, createNodeListener(createHandler(pipes)));
  return { server, close: () => pipes.stop({ graceMs: 1000 }).then(() => pipes.store.close()) };
}

async function serveBaseline(filename) {
  const { sqliteStore } = await import('../packages/store-sqlite/dist/index.js');
  const { default: Database } = await import('better-sqlite3');
  // The same schema as the engine's store.
  const store = sqliteStore({ filename });
  await store.migrate();
  await store.close();
  const db = new Database(filename);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const insertEvent = db.prepare(
    'INSERT INTO events (id, source_id, event_id, sender_event_id, event_type, event_time, payload, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const insertDelivery = db.prepare(
    `INSERT INTO deliveries (id, event_ref, source_id, pipe_id, destination_id, event_id, event_type, status, attempt_count, test_mode, due_at, created_at, updated_at, detail)
     VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, 0, ?, ?, ?, ?)`,
  );
  const detail = '{"output":null,"request":null,"response":null,"error":null}';
  let n = 0;
  const id = (prefix) => `${prefix}_${String(n++).padStart(26, '0')}`;
  const insertAll = db.transaction((events) => {
    const now = new Date().toISOString();
    for (const e of events) {
      const ref = id('evt');
      insertEvent.run(
        ref,
        'src_1',
        e.event_id,
        1,
        e.event_type,
        e.event_time,
        JSON.stringify(e.event_payload),
        now,
      );
      insertDelivery.run(
        id('evd'),
        ref,
        'src_1',
        'pip_1',
        'dst_1',
        e.event_id,
        e.event_type,
        now,
        now,
        now,
        detail,
      );
    }
  });
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const events = Array.isArray(body) ? body : [body];
      insertAll(events);
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ accepted: events.length }));
    });
  });
  return { server, close: async () => db.close() };
}

if (process.argv[2] === '--serve') {
  const { server, close } = await (process.argv[3] === 'baseline' ? serveBaseline : serveEngine)(
    process.argv[4],
    process.argv[5],
  );
  serveInChild(server, close);
} else {
  await main();
}

// --- load generator ---------------------------------------------------------------------------

async function startServer(kind, filename, checkout) {
  return startChildServer(
    self,
    ['--serve', kind, filename, ...(checkout ? [checkout] : [])],
    `${kind} server`,
  );
}

async function load(server, batchSize) {
  return measureLoad(server, {
    connections,
    warmupMs,
    measureMs,
    request: () => ({
      path: '/collect/web',
      headers: { 'content-type': 'application/json' },
      body: batchBody(batchSize),
      expected: 202,
      label: 'collect',
      size: batchSize,
    }),
  });
}

async function main() {
  // Rounds alternate the servers (in reversed order every other round) so that a load spike from
  // anything else on the machine hits them alike; each figure is the median of its rounds with the
  // spread, and the ratio is of the medians.
  const dir = mkdtempSync(join(tmpdir(), 'openpipes-collect-bench-'));
  const kinds = ['engine', ...(process.env.BENCH_BEFORE ? ['engine_before'] : []), 'baseline'];
  const servers = {};
  const runs = {};
  for (const kind of kinds) for (const batch of batches) runs[`${kind}-${batch}`] = [];
  try {
    servers.engine = await startServer('engine', join(dir, 'engine.db'));
    if (process.env.BENCH_BEFORE)
      servers.engine_before = await startServer('engine', join(dir, 'before.db'), process.env.BENCH_BEFORE);
    servers.baseline = await startServer('baseline', join(dir, 'baseline.db'));
    for (let round = 0; round < rounds; round++) {
      for (const batch of batches) {
        const order = round % 2 === 0 ? kinds : [...kinds].reverse();
        for (const kind of order) runs[`${kind}-${batch}`].push(await load(servers[kind], batch));
      }
    }
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
  const median = (list, key) => [...list].sort((a, b) => a[key] - b[key])[Math.floor(list.length / 2)][key];
  const round2 = (x) => Math.round(x * 100) / 100;
  const summary = {};
  for (const [name, list] of Object.entries(runs)) {
    const [kind, batch] = name.split('-');
    summary[name] = median(list, 'eventsPerSecond');
    const cpus = list.map((r) => r.cpuMicrosPerEvent);
    const metric = kind === 'baseline' ? 'bare_baseline' : `http_${kind}`;
    out(`${metric}_batch_${batch}`, summary[name], 'events/s', {
      requests_per_s: Math.round(median(list, 'requestsPerSecond')),
      p50_ms: round2(median(list, 'p50')),
      p99_ms: round2(median(list, 'p99')),
      server_cpu_us_per_event: round2(median(list, 'cpuMicrosPerEvent')),
      server_cpu_us_spread: [round2(Math.min(...cpus)), round2(Math.max(...cpus))],
      cpu_rounds: cpus.map(round2),
      rounds: list.map((r) => Math.round(r.eventsPerSecond)),
      connections,
      seconds_per_round: measureMs / 1000,
    });
  }
  for (const batch of batches) {
    const cpu = (kind) => median(runs[`${kind}-${batch}`], 'cpuMicrosPerEvent');
    for (const kind of kinds.filter((k) => k !== 'baseline')) {
      // Each round's own ratio (the two ran minutes apart at most, under the same load), then
      // their median and spread: steadier than the ratio of medians when the load drifts.
      const paired = runs[`${kind}-${batch}`]
        .map((r, i) => runs[`baseline-${batch}`][i].cpuMicrosPerEvent / r.cpuMicrosPerEvent)
        .sort((a, b) => a - b);
      out(
        `ratio_${kind === 'engine' ? 'engine' : kind}_to_baseline_batch_${batch}`,
        (summary[`${kind}-${batch}`] / summary[`baseline-${batch}`]) * 100,
        '%',
        {
          target: 70,
          // The same ratio from server CPU per event: steadier when the machine is shared.
          cpu_ratio: Math.round((cpu('baseline') / cpu(kind)) * 10000) / 100,
          cpu_ratio_per_round_median: Math.round(paired[Math.floor(paired.length / 2)] * 10000) / 100,
          cpu_ratio_per_round_spread: [paired[0], paired[paired.length - 1]].map(
            (x) => Math.round(x * 10000) / 100,
          ),
          load_average: round2(loadavg()[0]),
        },
      );
    }
  }
}
