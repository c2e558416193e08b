// The Segment-spec tracking API against our own collect, on the same events in the same run:
// POST /v1/batch (100 Segment `track` "Order Completed" messages per request, Basic-auth write key)
// and POST /collect/web (the same 100 purchases as our canonical events, one JSON array), each
// through the node:http adapter into the engine on its own SQLite file (one enabled pipe, so every
// event also gets a pending delivery; the dispatcher is not started). Each server is a child
// process; the load generator (undici Pool, keep-alive) runs in this one, over loopback only.
// Rounds alternate the two (reversed every other round); each figure is the median of its rounds,
// with the server's CPU time per event, which stays meaningful when other work shares the cores.
// The ratio line (target >= 80%) gives events/s and CPU both. Prints JSON lines.
//   npm run bench -- segment   (BENCH_ROUNDS=3, BENCH_BATCH=100, BENCH_SECONDS=3, BENCH_CONNECTIONS=4)
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
const warmupMs = 1000;
const measureMs = Number(process.env.BENCH_SECONDS ?? 3) * 1000;
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const batchSize = Number(process.env.BENCH_BATCH ?? 100);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 4);

const out = (metric, value, unit, extra) => report('segment', metric, value, unit, extra);

// --- the same purchase, as each client sends it ----------------------------------------------------

const ip = '203.0.113.7';
const userAgent = 'Mozilla/5.0 (X11; Linux x86_64)';
const pageUrl = 'https://shop.example/checkout/thank-you';
const time = '2026-05-04T10:14:22.481Z';
let sequence = 0;
const nextId = () => `ord_${process.pid}_${sequence++}`;

/** Our canonical event: what the Segment message below maps to (docs/segment.md). */
const collectEvent = (id) =>
  JSON.stringify({
    event_type: 'purchase',
    event_time: time,
    event_id: id,
    event_payload: {
      order_id: id,
      value: 129.9,
      currency: 'EUR',
      user_id: 'user-1',
      anonymous_id: 'anon-1',
      ip,
      user_agent: userAgent,
      page_url: pageUrl,
    },
  });
/** What @segment/analytics-node puts in a batch for `track('Order Completed', ...)`. */
const segmentMessage = (id) =>
  JSON.stringify({
    type: 'track',
    event: 'Order Completed',
    messageId: id,
    userId: 'user-1',
    anonymousId: 'anon-1',
    properties: { order_id: id, revenue: 129.9, currency: 'EUR' },
    context: {
      ip,
      userAgent,
      page: { url: pageUrl },
      library: { name: '@segment/analytics-node', version: '3.1.0' },
    },
    timestamp: time,
    _metadata: { jsRuntime: 'node' },
  });

const bodies = {
  collect: () => {
    const events = [];
    for (let i = 0; i < batchSize; i++) events.push(collectEvent(nextId()));
    return `[${events.join(',')}]`;
  },
  segment: () => {
    const messages = [];
    for (let i = 0; i < batchSize; i++) messages.push(segmentMessage(nextId()));
    return `{"batch":[${messages.join(',')}],"sentAt":"${new Date().toISOString()}"}`;
  },
};

// --- the server (a child process) ---------------------------------------------------------------

async function serve(filename) {
  const { createHandler, createNodeListener } = await engineModules();
  const pipes = await ingestPipes(filename);
  const { source } = await setupDeliveredFlow(pipes, 'value');
  const { write_key } = await pipes.writeKeys.create(source.id);
  await pipes.start(); // roles: ['ingest']: no dispatcher
  const handler = createHandler(pipes, { segment: true });
  const server = createServer({ keepAliveTimeout: 60_000 }, createNodeListener(handler));
  return {
    server,
    writeKey: write_key,
    close: () => pipes.stop({ graceMs: 1000 }).then(() => pipes.store.close()),
  };
}

if (process.argv[2] === '--serve') {
  const { server, writeKey, close } = await serve(process.argv[3]);
  serveInChild(server, close, { writeKey });
} else {
  await main();
}

// --- load generator ---------------------------------------------------------------------------

async function startServer(filename) {
  const server = await startChildServer(self, ['--serve', filename], 'server');
  return { ...server, writeKey: server.first.writeKey };
}

async function load(server, kind) {
  const request =
    kind === 'segment'
      ? {
          path: '/v1/batch',
          expected: 200,
          headers: {
            'content-type': 'application/json',
            authorization: `Basic ${Buffer.from(`${server.writeKey}:`).toString('base64')}`,
          },
        }
      : { path: '/collect/web', expected: 202, headers: { 'content-type': 'application/json' } };
  return measureLoad(server, {
    connections,
    warmupMs,
    measureMs,
    request: () => ({ ...request, body: bodies[kind](), label: request.path, size: batchSize }),
  });
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'openpipes-segment-bench-'));
  const kinds = ['collect', 'segment'];
  const servers = {};
  const runs = { collect: [], segment: [] };
  const loads = [];
  try {
    for (const kind of kinds) servers[kind] = await startServer(join(dir, `${kind}.db`));
    for (let round = 0; round < rounds; round++) {
      for (const kind of round % 2 === 0 ? kinds : [...kinds].reverse()) {
        runs[kind].push(await load(servers[kind], kind));
      }
      loads.push(loadavg()[0]);
    }
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
  const median = (list, key) => [...list].sort((a, b) => a[key] - b[key])[Math.floor(list.length / 2)][key];
  const round2 = (x) => Math.round(x * 100) / 100;
  for (const kind of kinds) {
    const list = runs[kind];
    out(
      kind === 'segment' ? `v1_batch_${batchSize}` : `collect_batch_${batchSize}`,
      median(list, 'eventsPerSecond'),
      'events/s',
      {
        rounds: list.map((r) => Math.round(r.eventsPerSecond)),
        p50_ms: round2(median(list, 'p50')),
        p99_ms: round2(median(list, 'p99')),
        server_cpu_us_per_event: round2(median(list, 'cpuMicrosPerEvent')),
        cpu_rounds: list.map((r) => round2(r.cpuMicrosPerEvent)),
        connections,
        seconds_per_round: measureMs / 1000,
      },
    );
  }
  // Each round's own ratio (the two ran seconds apart, under the same load), then median and spread.
  const paired = (key, invert) =>
    runs.segment
      .map((r, i) => (invert ? runs.collect[i][key] / r[key] : r[key] / runs.collect[i][key]))
      .sort((a, b) => a - b);
  const throughput = paired('eventsPerSecond', false);
  const cpu = paired('cpuMicrosPerEvent', true);
  const pct = (x) => Math.round(x * 10000) / 100;
  out(
    `ratio_v1_batch_to_collect_batch_${batchSize}`,
    (median(runs.segment, 'eventsPerSecond') / median(runs.collect, 'eventsPerSecond')) * 100,
    '%',
    {
      target: 80,
      per_round_median: pct(throughput[Math.floor(throughput.length / 2)]),
      per_round_spread: [pct(throughput[0]), pct(throughput[throughput.length - 1])],
      // The same ratio from server CPU per event (collect's / segment's): steadier on a shared machine.
      cpu_ratio_per_round_median: pct(cpu[Math.floor(cpu.length / 2)]),
      cpu_ratio_per_round_spread: [pct(cpu[0]), pct(cpu[cpu.length - 1])],
      load_average: loads.map(round2),
    },
  );
}
