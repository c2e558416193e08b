// The SQLite store's part of the record path, through its API: ingest (`appendEvents` in groups of
// 100, one pipe), then claims of 500 completed as delivered records shaped like the engine's (the
// detail its attempt's, one exchange). Each candidate runs in a child process of its own, which
// reads its main thread's CPU from /proc (tid = pid), without the outcome packer's worker thread:
// µs per delivery for ingest and for claim + completion. BENCH_BEFORE=<another built checkout> adds
// that checkout's store, rounds alternating with this one's; medians over BENCH_ROUNDS.
// BENCH_MATCH=1 gives each outcome a match-quality observation (4 identifiers before stitching, 5
// after), as a destination that declares its identifiers records it.
//   npm run bench -- record-path   (BENCH_EVENTS=20000, BENCH_ROUNDS=5)

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { deliveredOutcome, loadAverage, report, tempDir } from './lib.mjs';

const bench = 'record-path';
const here = fileURLToPath(import.meta.url);
const total = Number(process.env.BENCH_EVENTS ?? 20_000);

if (process.argv[2] === '--child') {
  const root = process.argv[3];
  const load = (path) => import(pathToFileURL(join(root, path)).href);
  const { sqliteStore } = await load('packages/store-sqlite/dist/index.js');
  const { newId } = await load('packages/core/dist/index.js');
  const store = sqliteStore({ filename: join(tempDir('openpipes-record-path-'), 'bench.db') });
  await store.migrate();
  // The main thread's CPU (ms): its own /proc task, not the process's other threads.
  const cpu = () => {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  };
  const pipe = { pipe_id: newId('pipe'), destination_id: newId('destination') };
  const sourceId = newId('source');
  let started = cpu();
  for (let g = 0; g < total / 100; g++) {
    const now = new Date().toISOString();
    const events = Array.from({ length: 100 }, (_, i) => ({
      id: newId('event'),
      event_id: `ord_${g}_${i}`,
      sender_event_id: true,
      event_type: 'purchase',
      event_time: now,
      event_payload: {
        order_id: `ord_${g}_${i}`,
        value: 129.9,
        currency: 'EUR',
        items: [{ sku: 'a', qty: 1 }],
      },
    }));
    const deliveryIds = events.map(() => newId('delivery'));
    await store.appendEvents({ sourceId, events, pipes: [pipe], deliveryIds, dedupSince: null, now });
  }
  const ingestMs = cpu() - started;
  started = cpu();
  const headers = { 'content-type': 'application/json' };
  const withMatch = Boolean(process.env.BENCH_MATCH);
  const observed = {
    raw: ['em', 'ph', 'client_ip_address', 'client_user_agent'],
    stitched: ['em', 'ph', 'fbp', 'client_ip_address', 'client_user_agent'],
  };
  let done = 0;
  for (;;) {
    const now = new Date().toISOString();
    const claimed = await store.claimDeliveries({
      destinationId: pipe.destination_id,
      pipeIds: [pipe.pipe_id],
      owner: 'bench',
      limit: 500,
      leaseMs: 60_000,
      now,
    });
    if (claimed.length === 0) break;
    const response = { status: 200, headers, body: { events_received: claimed.length, fbtrace_id: 'bench' } };
    const outcomes = claimed.map((d) => {
      const output = [
        {
          event_name: 'Purchase',
          event_id: d.event_id,
          user_data: { em: 'a3f1c2'.padEnd(64, '0') },
          custom_data: d.event.event_payload,
        },
      ];
      const url = 'https://graph.example/v19.0/1/events?access_token=[secret:META_ACCESS_TOKEN]';
      const request = { url, method: 'POST', headers, payload: { data: output } };
      const exchange = { request, response, error: null, started_at: now, duration_ms: 3 };
      return {
        ...deliveredOutcome({
          id: d.id,
          now,
          output,
          request,
          response,
          durationMs: 3,
          exchanges: [exchange],
        }),
        match: withMatch ? observed : null,
      };
    });
    done += (await store.completeDeliveries({ owner: 'bench', outcomes, now })).applied.length;
  }
  await store.close();
  if (done !== total) throw new Error(`delivered ${done} of ${total}`);
  console.log(
    JSON.stringify({ ingest: (1000 * ingestMs) / total, deliver: (1000 * (cpu() - started)) / total }),
  );
  process.exit(0);
}

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const root = join(here, '..', '..');
const candidates = { now: root, ...(process.env.BENCH_BEFORE ? { before: process.env.BENCH_BEFORE } : {}) };
const results = Object.fromEntries(Object.keys(candidates).map((k) => [k, { ingest: [], deliver: [] }]));
for (let r = 0; r < rounds; r++) {
  const order = Object.keys(candidates);
  if (r % 2) order.reverse();
  for (const name of order) {
    const run = spawnSync(process.execPath, [here, '--child', candidates[name]], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`${name}: ${run.stderr}`);
    const line = JSON.parse(run.stdout.trim().split('\n').pop());
    results[name].ingest.push(line.ingest);
    results[name].deliver.push(line.deliver);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [name, r] of Object.entries(results)) {
  for (const step of ['ingest', 'deliver']) {
    report(bench, `${step}_${name}`, median(r[step]), 'main-thread µs per delivery', {
      rounds: r[step].map((x) => Math.round(x * 10) / 10),
      events: total,
      ...loadAverage(),
    });
  }
}
