// The delivery reads that must not count the history, on a SQLite file with a long one:
// deliveryStats() (GET /api/stats, the console), a replay's selection (requeueDeliveries of a
// pipe's failed and dead deliveries, 100 at a time) and getDelivery() of a delivered record whose
// detail refers to its attempt. The file is filled quickly: the store opens it (so the real
// migrations make the schema), then plain INSERTs in one transaction write BENCH_DELIVERIES
// deliveries over a week of ids (3 pipes; one pipe changed destination halfway, the case where a
// group's oldest row is furthest from the start of its index range), mostly delivered, some
// filtered, failed and dead, a small live backlog. Each figure is the median of BENCH_ROUNDS
// rounds (ms, wall clock; min and max given; the process's CPU ms), with the load average. Stats,
// the replay's selection and the record decoding are also timed as they were before (the full
// GROUP BY, one walk of the pipe's ids, each attempt unpacked twice), rounds alternating with the
// store's; every faster answer is checked equal to the old one, so one that differs fails the
// bench. A pipe's listings (listDeliveries, a page of 50) are timed as the store sends them. (What
// the running totals' triggers cost the write path was measured here until migration 14 dropped
// them: docs/deployment.md, "The record path's CPU".)
//   npm run bench -- delivery-reads   (BENCH_DELIVERIES=300000, BENCH_ROUNDS=15, BENCH_SWITCH=1)

import { join } from 'node:path';
import { newId } from '@openpipes/core';
import { attemptFromJson, attemptRefOf, recordOf, toDeliveryRow } from '@openpipes/core/store-kit';
import { sqliteStore } from '@openpipes/store-sqlite';
import Database from 'better-sqlite3';
import { deliveredOutcome, loadAverage, report, tempDir } from './lib.mjs';

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
 * replay then finds its failures at the end of its history, the far end of the pipe's ids).
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
  // Rows written by hand are not counted (migration 14): the running totals, as the CHANGELOG says.
  db.exec(`DELETE FROM delivery_totals; INSERT INTO delivery_totals SELECT destination_id, pipe_id, status, count(*)
    FROM deliveries WHERE status IN ('delivered', 'filtered', 'failed', 'dead') GROUP BY 1, 2, 3;`);
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
    deliveredOutcome({
      id: claimed.id,
      now,
      output: [{ event_name: 'Purchase' }],
      request,
      response,
      exchanges: [{ request, response, duration_ms: 12 }],
    }),
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

// The queries these reads were before (a full GROUP BY; one walk of the pipe's ids for both
// statuses), on a second connection to the same file: rounds alternate them with the store's.
const raw = new Database(filename, { readonly: true });
const scanStats = raw.prepare(
  `SELECT destination_id, pipe_id, status, count(*) AS count, min(created_at) AS oldest_created_at
   FROM deliveries GROUP BY destination_id, pipe_id, status ORDER BY destination_id, pipe_id, status`,
);
const truth = JSON.stringify(scanStats.all());
const extra = {
  deliveries: events * pipes.length + 1,
  switched: process.env.BENCH_SWITCH !== '0',
  rounds,
  ...loadAverage(),
};
const both = async (label, before, after) => {
  const b = [];
  const a = [];
  for (let r = 0; r < rounds; r++) {
    for (const [fn, into] of r % 2
      ? [
          [after, a],
          [before, b],
        ]
      : [
          [before, b],
          [after, a],
        ]) {
      const c = process.cpuUsage();
      const t = performance.now();
      await fn();
      into.push({ ms: performance.now() - t, cpu: process.cpuUsage(c) });
    }
  }
  for (const [when, xs] of [
    ['before', b],
    ['after', a],
  ]) {
    const ms = xs.map((x) => x.ms).sort((p, q) => p - q);
    const cpu = xs.map((x) => (x.cpu.user + x.cpu.system) / 1000).sort((p, q) => p - q);
    const mid = Math.floor(ms.length / 2);
    report(bench, `${label} (${when})`, ms[mid], 'ms', {
      min: ms[0],
      max: ms[ms.length - 1],
      cpu_ms: cpu[mid],
      ...extra,
    });
  }
};

if (JSON.stringify(await reopened.deliveryStats()) !== truth) {
  throw new Error(
    `deliveryStats differs from the full count:\n${JSON.stringify(await reopened.deliveryStats())}\n${truth}`,
  );
}
await both(
  'deliveryStats',
  () => scanStats.all(),
  () => reopened.deliveryStats(),
);

// A replay's selection alone (no update, so every round finds the same rows). "Before" walked the
// pipe's ids in deliveries_pipe; since SQLite migration 16 dropped that index, the same statement
// reads deliveries_pipe_status's failed and dead ranges and sorts them.
const selectBefore = raw.prepare(
  `SELECT id FROM deliveries WHERE pipe_id = ? AND status IN ('failed', 'dead')
   AND event_ref IN (SELECT id FROM events) ORDER BY id LIMIT 100`,
);
const selectAfter = raw.prepare(
  `SELECT d.id FROM deliveries d INDEXED BY deliveries_pipe_status
   WHERE d.pipe_id = ? AND d.status = ? AND EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_ref)
   ORDER BY d.id LIMIT 100`,
);
for (const [k, label] of [
  [0, 'replay selection (100, failures spread)'],
  [1, 'replay selection (100, failures recent)'],
]) {
  const id = pipes[k].pipe_id;
  const merged = () =>
    [...selectAfter.all(id, 'failed'), ...selectAfter.all(id, 'dead')]
      .map((r) => r.id)
      .sort()
      .slice(0, 100);
  if (JSON.stringify(merged()) !== JSON.stringify(selectBefore.all(id).map((r) => r.id))) {
    throw new Error(`${label}: the per-status selection differs from the single one`);
  }
  await both(label, () => selectBefore.all(id), merged);
}

// A pipe's listings as the console and the API page them (newest first, 50): of any status, deep in
// the history (a cursor halfway), some statuses, one status, a day's window with and without
// statuses, a filter reason, a sender's event id. Pipe 0 has every status spread over its
// history; pipe 2 is the one whose destination changed. Each figure: the median of `rounds`.
const dayMs = 24 * 3600 * 1000;
const halfway = newId('delivery', start + weekMs / 2);
const dayAgo = new Date(start + weekMs - 2 * dayMs).toISOString();
const dayEnd = new Date(start + weekMs - dayMs).toISOString();
for (const [k, label, query] of [
  [0, 'any status', {}],
  [0, 'any status, cursor halfway', { cursor: halfway }],
  [2, 'any status (switched pipe)', {}],
  [0, 'failed and dead', { status: ['failed', 'dead'] }],
  [0, 'failed', { status: 'failed' }],
  [0, 'a day, any status', { since: dayAgo, until: dayEnd }],
  [0, 'a day, failed and dead', { since: dayAgo, until: dayEnd, status: ['failed', 'dead'] }],
  [0, 'filter reason', { filterReason: 'consent' }],
  [0, 'sender event id', { eventId: `ord_${Math.floor(events / 3)}` }],
]) {
  const ask = { pipeId: pipes[k].pipe_id, limit: 50, ...query };
  const got = await reopened.listDeliveries(ask);
  const listed = await time(async () => {
    for (let i = 0; i < 10; i++) await reopened.listDeliveries(ask);
  });
  report(bench, `listDeliveries x10 (${label})`, listed.median, 'ms', {
    min: listed.min,
    max: listed.max,
    cpu_ms: listed.cpu_ms,
    rows: got.length,
    ...extra,
  });
}

// getDelivery end to end, and its record decoding alone: each attempt unpacked twice (before:
// the detail's attempt once for the detail, once for the list) or once (recordOf now).
const get = await time(async () => {
  for (let i = 0; i < 1000; i++) await reopened.getDelivery({ id: claimed.id });
});
report(bench, 'getDelivery (x1000)', get.median, 'ms', {
  min: get.min,
  max: get.max,
  cpu_ms: get.cpu_ms,
  ...extra,
});
const row = raw.prepare('SELECT * FROM deliveries WHERE id = ?').get(claimed.id);
const attemptRows = raw
  .prepare('SELECT number, data FROM delivery_attempts WHERE delivery_id = ? ORDER BY number')
  .all(claimed.id);
const twice = () => {
  const named = attemptRows.find((a) => attemptRefOf(row.detail) === a.number);
  return {
    row: toDeliveryRow(row, new Map(named ? [[row.id, named.data]] : [])),
    attempts: attemptRows.map((a) => attemptFromJson(a.data)),
  };
};
if (JSON.stringify(twice()) !== JSON.stringify(recordOf(row, attemptRows))) {
  throw new Error('the record decoded once differs from the one decoded twice');
}
await both(
  'record decoding (x1000)',
  () => {
    for (let i = 0; i < 1000; i++) twice();
  },
  () => {
    for (let i = 0; i < 1000; i++) recordOf(row, attemptRows);
  },
);
raw.close();

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
