// Neighbour latency under attack: how long a clean pipe's event takes from ingest to arriving at
// its platform (a loopback sink) when the engine runs it alone, beside 1 hostile pipe, and beside 9,
// each hostile pipe's send() an infinite loop (stopped by the sandbox's default limits, retried by
// its destination, so it keeps attacking for the whole measurement). SQLite store, default sandbox
// (one worker per core). Prints p50/p99 per scenario as JSON lines.
//   npm run bench -- neighbour            (BENCH_NEIGHBOUR_SAMPLES=20 by default)
import { createServer } from 'node:http';
import { join } from 'node:path';
import { createPipes, silentLogger } from '@openpipes/core';
import { sqliteStore } from '@openpipes/store-sqlite';
import { report, tempDir } from './lib.mjs';

const dir = tempDir('openpipes-bench-neighbour-');
const samples = Number(process.env.BENCH_NEIGHBOUR_SAMPLES ?? 20);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const SAMPLE_CAP_MS = 60_000;

/** A sink that resolves the waiter of each event_id when it arrives. */
async function startSink() {
  const waiters = new Map();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      for (const e of body.data ?? []) waiters.get(e.event_id)?.(at);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    arrival: (id) => new Promise((resolve) => waiters.set(id, resolve)),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}

const cleanSend = (url) => `async function send({ events }) {
  const res = await fetch(${JSON.stringify(url)}, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: events }),
  });
  return res.json();
}`;

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

async function scenario(hostileCount) {
  const sink = await startSink();
  const pipes = createPipes({
    store: sqliteStore({ filename: join(dir, `hostile_${hostileCount}.db`) }),
    secretKey: 'bench-secret-key-0123456789abcdef',
    logger: silentLogger,
    egressAllow: [sink.host],
    dispatcher: { pollIntervalMs: 50 },
  });
  await pipes.eventTypes.create({ name: 'purchase', schema: { type: 'object' } });
  const clean = await pipes.sources.create({ name: 'Clean', slug: 'clean' });
  const attack = await pipes.sources.create({ name: 'Attack', slug: 'attack' });
  const dest = await pipes.destinations.create({ name: 'clean', send: cleanSend(sink.url) });
  await pipes.destinations.toggle(dest.id);
  const pipe = await pipes.pipes.create({
    name: 'clean',
    source_id: clean.id,
    destination_id: dest.id,
    transform: null,
  });
  await pipes.pipes.toggle(pipe.id);
  for (let i = 0; i < hostileCount; i++) {
    const bad = await pipes.destinations.create({
      name: `hostile-${i}`,
      send: 'function send() { for (;;) {} }',
      retry: { initial_delay_ms: 10, multiplier: 1, max_attempts: 100, max_age_seconds: 3600 },
    });
    await pipes.destinations.toggle(bad.id);
    const p = await pipes.pipes.create({
      name: `hostile-${i}`,
      source_id: attack.id,
      destination_id: bad.id,
      transform: null,
    });
    await pipes.pipes.toggle(p.id);
  }
  await pipes.start();
  const event = (id) => ({
    event_type: 'purchase',
    event_id: id,
    event_time: new Date().toISOString(),
    event_payload: { id },
  });
  if (hostileCount > 0) {
    await pipes.ingest(
      'attack',
      Array.from({ length: 5 }, (_, i) => event(`attack_${i}`)),
    );
    await sleep(1_000); // the hostile sends are running before the first clean event
  }
  const latencies = [];
  for (let i = 0; i < samples; i++) {
    const id = `clean_${i}`;
    const arrived = sink.arrival(id);
    const start = performance.now();
    await pipes.ingest('clean', [event(id)]);
    // A sample that never arrives counts as the cap (and is reported), so the run always ends.
    const at = await Promise.race([arrived, sleep(SAMPLE_CAP_MS).then(() => start + SAMPLE_CAP_MS)]);
    latencies.push(at - start);
    await sleep(100);
  }
  latencies.sort((a, b) => a - b);
  const stats = await pipes.sandbox.stats?.();
  report('neighbour', `clean_latency_p50_with_${hostileCount}_hostile`, quantile(latencies, 0.5), 'ms', {
    samples,
  });
  report('neighbour', `clean_latency_p99_with_${hostileCount}_hostile`, quantile(latencies, 0.99), 'ms', {
    samples,
    max_ms: Math.round(latencies[latencies.length - 1]),
    worker_restarts: stats?.workerRestarts,
  });
  await pipes.stop({ graceMs: 1_000 });
  await sink.close();
}

for (const hostile of [0, 1, 9]) await scenario(hostile);
process.exit(0);
