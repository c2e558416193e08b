// The cost of Prometheus metrics (docs/observability.md): the collect benchmark and the end-to-end
// delivery benchmark, each with metrics off and on, in alternated rounds (at least 5) so that load
// from anything else on the machine hits both alike. Each figure is the median of its rounds, with
// the spread (min..max) beside it: a gap inside the spread is noise. Server CPU time per event is
// reported too (steadier than events/s when other work shares the cores).
//   npm run bench -- metrics            (BENCH_ROUNDS=5 by default)
// With metrics on, the collect server is scraped once a second (the backlog is read from the store
// every 15 s, as in production), so the cost includes rendering, not only counting.
// With OPENPIPES_BENCH_FEATURE=tracing (what tracing.bench.mjs sets), the same rounds compare
// `tracing: false` with the default no-op tracing (@opentelemetry/api without an SDK), metrics off.
import { createServer } from 'node:http';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ingestPipes,
  purchase,
  report,
  serveInChild,
  setupMetaExample,
  startChildServer,
  startSink,
  tempDir,
} from './lib.mjs';

const self = fileURLToPath(import.meta.url);
const rounds = Math.max(5, Number(process.env.BENCH_ROUNDS ?? 5));
const warmupMs = 500;
const measureMs = 2000;
const connections = 4;
const endToEndEvents = 5000;
/** What the rounds compare: `metrics` (off/on, tracing off in both) or `tracing` (off/no-op, metrics off). */
const feature = process.env.OPENPIPES_BENCH_FEATURE === 'tracing' ? 'tracing' : 'metrics';
const engineOptions = (on) => ({ tracing: feature === 'tracing' && on ? undefined : false });
const metricsOn = (on) => feature === 'metrics' && on;

const loadEngine = async () => ({
  ...(await import('../packages/core/dist/index.js')),
  ...(await import('../packages/store-sqlite/dist/index.js')),
  ...(await import('../packages/http/dist/index.js')),
  ...(await import('../packages/http/dist/node.js')),
});

// --- collect: a server per variant, in a child process ------------------------------------------

async function serveCollect(filename, on) {
  const { createHandler, createNodeListener } = await loadEngine();
  const pipes = await ingestPipes(filename, engineOptions(on));
  await setupMetaExample(pipes, 'http://127.0.0.1:9/');
  await pipes.start(); // roles: ['ingest']: no dispatcher
  const handler = createHandler(pipes, metricsOn(on) ? { metrics: { public: true } } : {});
  const server = createServer({ keepAliveTimeout: 60_000 }, createNodeListener(handler));
  return {
    server,
    close: async () => {
      await pipes.stop({ graceMs: 1000 });
      await pipes.store.close();
    },
  };
}

async function startCollectServer(filename, metrics) {
  const server = await startChildServer(self, ['--serve', filename, metrics], 'collect server');
  return { ...server, metrics: metricsOn(metrics === 'on') };
}

let sequence = 0;
const batchBody = (size) =>
  JSON.stringify(Array.from({ length: size }, () => purchase(`${process.pid}_${sequence++}`)));

async function loadCollect(server, batchSize) {
  const { Pool } = await import('undici');
  const pool = new Pool(server.url, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const run = async (ms) => {
    const until = Date.now() + ms;
    let events = 0;
    const worker = async () => {
      while (Date.now() < until) {
        const res = await pool.request({
          path: '/collect/web',
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: batchBody(batchSize),
        });
        const text = await res.body.text();
        if (res.statusCode !== 202)
          throw new Error(`collect answered ${res.statusCode}: ${text.slice(0, 300)}`);
        events += batchSize;
      }
    };
    // A Prometheus scrape every second while the metrics are on.
    const scraper = server.metrics
      ? (async () => {
          while (Date.now() < until) {
            const res = await fetch(`${server.url}/metrics`);
            if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
            await res.text();
            await new Promise((r) => setTimeout(r, 1000));
          }
        })()
      : Promise.resolve();
    const cpuBefore = await server.cpuMicros();
    const started = performance.now();
    await Promise.all([...Array.from({ length: connections }, worker), scraper]);
    const seconds = (performance.now() - started) / 1000;
    const cpu = (await server.cpuMicros()) - cpuBefore;
    return { eventsPerSecond: events / seconds, cpuMicrosPerEvent: cpu / events };
  };
  await run(warmupMs);
  const result = await run(measureMs);
  await pool.close();
  return result;
}

// --- end to end: ingest -> transform -> send -> a loopback sink, in this process ------------------

async function endToEnd(dir, round, on) {
  const { createPipes, silentLogger, sqliteStore, createMetrics } = await loadEngine();
  const sink = await startSink();
  const pipes = createPipes({
    store: sqliteStore({ filename: join(dir, `e2e-${round}-${on ? 'on' : 'off'}.db`) }),
    secretKey: 'bench-secret-key-0123456789abcdef',
    logger: silentLogger,
    egressAllow: [sink.host],
    dispatcher: { pollIntervalMs: 200 },
    ...engineOptions(on),
  });
  const metrics = metricsOn(on) ? createMetrics(pipes) : null;
  await setupMetaExample(pipes, sink.url);
  await pipes.start();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < endToEndEvents; i += 100) {
    await pipes.ingest(
      'web',
      Array.from({ length: 100 }, (_, j) => purchase(`${round}_${i + j}`)),
    );
  }
  while (sink.received() < endToEndEvents) await new Promise((r) => setTimeout(r, 10));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  if (metrics) {
    // The run was counted: a scrape at the end sees every event delivered.
    const text = (await metrics.render()).body;
    if (!text.includes(`openpipes_events_ingested_total{source="web"} ${endToEndEvents}`)) {
      throw new Error('the metrics did not count the run');
    }
  }
  await pipes.stop();
  await pipes.store.close();
  await sink.close();
  return {
    eventsPerSecond: endToEndEvents / seconds,
    cpuMicrosPerEvent: (cpu.user + cpu.system) / endToEndEvents,
  };
}

// --- summary ------------------------------------------------------------------------------------

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const round2 = (n) => Math.round(n * 100) / 100;

function summarize(name, runs) {
  const figures = {};
  for (const variant of ['off', 'on']) {
    const rates = runs[variant].map((r) => r.eventsPerSecond);
    const cpu = runs[variant].map((r) => r.cpuMicrosPerEvent);
    figures[variant] = { rate: median(rates), cpu: median(cpu) };
    report(feature, `${name}_${feature}_${variant}`, median(rates), 'events/s', {
      spread: [Math.round(Math.min(...rates)), Math.round(Math.max(...rates))],
      rounds: rates.map(Math.round),
      cpu_us_per_event: round2(median(cpu)),
      cpu_spread: [round2(Math.min(...cpu)), round2(Math.max(...cpu))],
    });
  }
  report(
    feature,
    `${name}_cost`,
    (1 - figures.on.rate / figures.off.rate) * 100,
    `% fewer events/s with ${feature === 'tracing' ? 'no-op tracing' : 'metrics'}`,
    {
      cpu_cost_percent: round2((figures.on.cpu / figures.off.cpu - 1) * 100),
      target: 3,
      rounds,
      load_average: round2(loadavg()[0]),
    },
  );
}

async function main() {
  const dir = tempDir(`openpipes-${feature}-bench-`);
  // Collect, batches of 100 and single events; each round runs both variants, alternating which
  // goes first.
  const servers = {
    off: await startCollectServer(join(dir, 'collect-off.db'), 'off'),
    on: await startCollectServer(join(dir, 'collect-on.db'), 'on'),
  };
  try {
    for (const batch of [100, 1]) {
      const runs = { off: [], on: [] };
      for (let round = 0; round < rounds; round++) {
        for (const variant of round % 2 === 0 ? ['off', 'on'] : ['on', 'off']) {
          runs[variant].push(await loadCollect(servers[variant], batch));
        }
      }
      summarize(`collect_batch_${batch}`, runs);
    }
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
  }
  const runs = { off: [], on: [] };
  for (let round = 0; round < rounds; round++) {
    for (const variant of round % 2 === 0 ? ['off', 'on'] : ['on', 'off']) {
      runs[variant].push(await endToEnd(dir, round, variant === 'on'));
    }
  }
  summarize('end_to_end', runs);
}

// Last: everything above is defined by now.
if (process.argv[2] === '--serve') {
  const { server, close } = await serveCollect(process.argv[3], process.argv[4] === 'on');
  serveInChild(server, close);
} else {
  await main();
}
