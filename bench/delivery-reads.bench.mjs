// The delivery reads that must not count the history, on a SQLite file with a long one:
// deliveryStats() (GET /api/stats, the console), a replay's selection (requeueDeliveries of a
// pipe's failed and dead deliveries, 100 at a time) and getDelivery() of a delivered record whose
// detail refers to its attempt. The file is filled quickly: the store opens it (so the real
// migrations make the schema), then plain INSERTs in one transaction write BENCH_DELIVERIES
// deliveries over a week of ids (3 pipes; one pipe changed destination halfway, the case where a
// group's oldest row is furthest from the start of its index range), mostly delivered, some
// filtered, failed and dead, a small live backlog. Each figure is the median of BENCH_ROUNDS
// rounds (ms, wall clock; min and max given), with the load average. The stats answer is checked
// against a full GROUP BY over the table, so a faster answer that differs fails the bench.
//   npm run bench -- delivery-reads   (BENCH_DELIVERIES=300000, BENCH_ROUNDS=15, BENCH_SWITCH=1)

import { join } from 'node:path';
import { newId } from '@openpipes/core';
import { sqliteStore } from '@openpipes/store-sqlite';
import Database from 'better-sqlite3';
import { loadAverage, report, tempDir } from './lib.mjs';

const bench = 'delivery-reads';
const total = Number(process.env.BENCH_DELIVERIES ?? 300_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 15);
const filename = join(tempDir('openpipes-delivery-reads-'), 'bench.db');

const store = sqliteStore({ filename });
await store.migrate();
await store.close();

const sourceId = newId('source');
const pipes = [
  { pipe_id: newId('pipe'), destinations: [newId('destination')] },
  { pipe_id: newId('pipe'), destinations: [newId('destination')] },
  // Switched destination halfway through the history (BENCH_SWITCH=0: not).
  {
    pipe_id: newId('pipe'),
    destinations: [newId('destination'), ...(process.env.BENCH_SWITCH === '0' ? [] : [newId('destination')])],
  },
];
const events = Math.ceil(total / pipes.length);
const weekMs = 7 * 24 * 3600 * 1000;
const start = Date.now() - weekMs;
const detail = JSON.stringify({
  output: [{ event_name: 'Purchase', event_id: 'ord', user_data: { em: 'a3f1c2'.padEnd(64, '0') } }],
  request: { url: 'https://graph.example/v1/events', method: 'POST' },
  response: { status: 200, body: { events_received: 1, fbtrace_id: 'bench' } },
  error: null,
});

/**
 * A final or live status for the i-th event's delivery to pipe k: the newest 500 events still
 * pending; pipe 1 delivered everything until its 3,000 events before those, which all failed (a
 * replay then finds its failures at the end of its history, the far end of `deliveries_pipe`).
 */
function statusOf(i, k) {
  if (i >= events - 500) return 'pending';
  if (k === 1) return i >= events - 3500 ? 'failed' : 'delivered';
  const r = (i * 7919 + k * 104_729) % 1000;
  if (r < 2) return 'retrying';
  if (r < 40) return 'failed';
  if (r < 60) return 'dead';
  if (r < 110) return 'filtered';
  return 'delivered';
}

const fillStarted = performance.now();
{
  const db = new Database(filename);
  const insertEvent = db.prepare(
    `INSERT INTO events (id, source_id, event_id, sender_event_id, event_type, event_time, payload, received_at)
     VALUES (?, ?, ?, 1, 'purchase', ?, ?, ?)`,
  );
  const insertDelivery = db.prepare(
    `INSERT INTO deliveries (id, event_ref, source_id, pipe_id, destination_id, event_id, event_type,
       status, attempt_count, due_at, created_at, updated_at, delivered_at, detail)
     VALUES (?, ?, ?, ?, ?, ?, 'purchase', ?, ?, ?, ?, ?, ?, ?)`,
  );
  db.transaction(() => {
    for (let i = 0; i < events; i++) {
      const ms = start + Math.floor((i * weekMs) / events);
      const at = new Date(ms).toISOString();
      const eventRef = newId('event', ms);
      insertEvent.run(eventRef, sourceId, `ord_${i}`, at, '{"order_id":"x","value":129.9}', at);
      pipes.forEach((p, k) => {
        const status = statusOf(i, k);
        const destination = p.destinations[i < events / 2 ? 0 : p.destinations.length - 1];
        const live = status === 'pending' || status === 'retrying';
        insertDelivery.run(
          newId('delivery', ms),
          eventRef,
          sourceId,
          p.pipe_id,
          destination,
          `ord_${i}`,
          status,
          status === 'pending' ? 0 : 1,
          live ? at : null,
          at,
          at,
          status === 'delivered' ? at : null,
          status === 'pending' ? '{}' : detail,
        );
      });
    }
  })();
  db.close();
}
report(bench, 'fill', performance.now() - fillStarted, 'ms', { deliveries: events * pipes.length });

const reopened = sqliteStore({ filename });
await reopened.migrate();

// A delivered record as the engine writes it (detail referring to its attempt), for getDelivery.
const now = new Date().toISOString();
const fresh = newId('delivery');
const freshEvent = newId('event');
await reopened.appendEvents({
  sourceId,
  events: [
    {
      id: freshEvent,
      event_id: 'fresh',
      sender_event_id: true,
      event_type: 'purchase',
      event_time: now,
      event_payload: { value: 1 },
    },
  ],
  pipes: [{ pipe_id: pipes[0].pipe_id, destination_id: pipes[0].destinations[0] }],
  deliveryIds: [fresh],
  dedupSince: null,
  now,
});
const [claimed] = await reopened.claimDeliveries({
  destinationId: pipes[0].destinations[0],
  pipeIds: [pipes[0].pipe_id],
  owner: 'bench',
  limit: 1,
  leaseMs: 60_000,
  now: new Date(Date.now() + weekMs).toISOString(),
});
const request = {
  url: 'https://graph.example/v1/events',
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  payload: { data: Array.from({ length: 20 }, (_, i) => ({ event_name: 'Purchase', event_id: `o${i}` })) },
};
const response = { status: 200, body: { events_received: 20, fbtrace_id: 'bench' } };
await reopened.completeDeliveries({
  owner: 'bench',
  now,
  outcomes: [
    {
      id: claimed.id,
      status: 'delivered',
      pipe_version: 1,
      destination_version: 1,
      test_mode: false,
      filter_reason: null,
      next_attempt_at: null,
      delivered_at: now,
      detail: { output: [{ event_name: 'Purchase' }], request, response, error: null },
      attempt: {
        number: 1,
        status: 'delivered',
        started_at: now,
        duration_ms: 12,
        pipe_version: 1,
        destination_version: 1,
        request,
        response,
        error: null,
        exchanges: [{ request, response, duration_ms: 12 }],
        logs: [],
      },
    },
  ],
});
// The engine builds detail and attempt from the same objects; so does the outcome above.
const check = await reopened.getDelivery({ id: claimed.id });
if (check.row.detail.response.status !== 200) throw new Error('the delivered record did not read back');

/**
 * Median, min and max of `rounds` timings of `fn` (wall-clock ms), and the median CPU ms of this
 * process (which the other work on a shared machine does not inflate as much).
 */
async function time(fn) {
  const ms = [];
  const cpu = [];
  for (let r = 0; r < rounds; r++) {
    const c = process.cpuUsage();
    const t = performance.now();
    await fn(r);
    ms.push(performance.now() - t);
    const used = process.cpuUsage(c);
    cpu.push((used.user + used.system) / 1000);
  }
  ms.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const mid = Math.floor(ms.length / 2);
  return { median: ms[mid], min: ms[0], max: ms[ms.length - 1], cpu_ms: cpu[mid] };
}

// The stats as a full GROUP BY over the table says they are: the answer to match.
const truth = (() => {
  const db = new Database(filename, { readonly: true });
  const rows = db
    .prepare(
      `SELECT destination_id, pipe_id, status, count(*) AS count, min(created_at) AS oldest_created_at
       FROM deliveries GROUP BY destination_id, pipe_id, status ORDER BY destination_id, pipe_id, status`,
    )
    .all();
  db.close();
  return JSON.stringify(rows);
})();
const extra = {
  deliveries: events * pipes.length + 1,
  switched: process.env.BENCH_SWITCH !== '0',
  rounds,
  ...loadAverage(),
};

const stats = await time(() => reopened.deliveryStats());
if (JSON.stringify(await reopened.deliveryStats()) !== truth) {
  throw new Error(
    `deliveryStats differs from the full count:\n${JSON.stringify(await reopened.deliveryStats())}\n${truth}`,
  );
}
report(bench, 'deliveryStats', stats.median, 'ms', {
  min: stats.min,
  max: stats.max,
  cpu_ms: stats.cpu_ms,
  ...extra,
});

const get = await time(async () => {
  for (let i = 0; i < 1000; i++) await reopened.getDelivery({ id: claimed.id });
});
report(bench, 'getDelivery (x1000)', get.median, 'ms', {
  min: get.min,
  max: get.max,
  cpu_ms: get.cpu_ms,
  ...extra,
});

// Replays of 100 failed or dead deliveries: pipe 0's are spread over its history, pipe 1's at its end.
for (const [k, label] of [
  [0, 'requeueDeliveries (100, failures spread)'],
  [1, 'requeueDeliveries (100, failures recent)'],
]) {
  let requeued = 0;
  const replay = await time(async () => {
    const ids = await reopened.requeueDeliveries({
      pipeId: pipes[k].pipe_id,
      now: new Date().toISOString(),
      limit: 100,
    });
    requeued += ids.length;
  });
  if (requeued !== rounds * 100) throw new Error(`replays re-queued ${requeued}, not ${rounds * 100}`);
  report(bench, label, replay.median, 'ms', {
    min: replay.min,
    max: replay.max,
    cpu_ms: replay.cpu_ms,
    ...extra,
  });
}

await reopened.close();
