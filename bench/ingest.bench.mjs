// Ingest throughput on SQLite: `pipes.ingest()` in batches of 100 (validation, dedup, one
// transaction for events + one delivery per enabled pipe), against the bare baseline of inserting
// the same rows into the same tables with better-sqlite3 prepared statements, one transaction per
// batch (and, for reference, into tables without secondary indexes).
// Engine and baseline run in alternating rounds and the medians are compared, so a machine busy
// with something else slows both alike; CPU time per event is reported too (steadier under load).
import { join } from 'node:path';
import { createPipes, newId, silentLogger } from '@openpipes/core';
import { sqliteStore } from '@openpipes/store-sqlite';
import Database from 'better-sqlite3';
import { purchase, report, tempDir } from './lib.mjs';

const rounds = 7;
const batchesPerRound = 50;
const batchSize = 100;
const dir = tempDir('openpipes-bench-ingest-');
let counter = 0;
const nextBatches = () =>
  Array.from({ length: batchesPerRound }, () => Array.from({ length: batchSize }, () => purchase(counter++)));

async function engine() {
  const pipes = createPipes({
    store: sqliteStore({ filename: join(dir, 'engine.db') }),
    secretKey: 'bench-secret-key-0123456789abcdef',
    logger: silentLogger,
    sandbox: { workers: 1 },
  });
  const source = await pipes.sources.create({ name: 'Web', slug: 'web' });
  await pipes.eventTypes.create({
    name: 'purchase',
    schema: { type: 'object', required: ['order_id', 'revenue', 'currency'] },
  });
  const destination = await pipes.destinations.create({
    name: 'sink',
    send: 'async function send({ events }) { return { outcome: "delivered" }; }',
  });
  const pipe = await pipes.pipes.create({ name: 'p', source_id: source.id, destination_id: destination.id });
  await pipes.pipes.enable(pipe.id);
  return {
    async round(batches) {
      for (const batch of batches) {
        const result = await pipes.ingest('web', batch);
        if (result.accepted !== batchSize) throw new Error(`accepted ${result.accepted}`);
      }
    },
    stop: () => pipes.stop().then(() => pipes.store.close()),
  };
}

/**
 * The bare baseline: the same rows into the same tables (the store's own schema and indexes, made
 * by its migrations), with better-sqlite3 prepared statements in one transaction per batch.
 * `minimal: true` uses tables with primary keys only, to show what the indexes cost.
 */
async function baseline({ minimal }) {
  const filename = join(dir, minimal ? 'baseline-minimal.db' : 'baseline.db');
  if (minimal) {
    const db = new Database(filename);
    db.exec(`CREATE TABLE events (id TEXT PRIMARY KEY, source_id TEXT, event_id TEXT, sender_event_id INTEGER,
               event_type TEXT, event_time TEXT, payload TEXT, received_at TEXT);
             CREATE TABLE deliveries (id TEXT PRIMARY KEY, event_ref TEXT, source_id TEXT, pipe_id TEXT,
               destination_id TEXT, event_id TEXT, event_type TEXT, status TEXT, attempt_count INTEGER,
               test_mode INTEGER, due_at TEXT, created_at TEXT, updated_at TEXT, detail TEXT);`);
    db.close();
  } else {
    const store = sqliteStore({ filename });
    await store.migrate();
    await store.close();
  }
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
  const write = db.transaction((batch, now) => {
    for (const event of batch) {
      const id = newId('event');
      insertEvent.run(
        id,
        'src_1',
        event.event_id,
        1,
        event.event_type,
        event.event_time,
        JSON.stringify(event.event_payload),
        now,
      );
      insertDelivery.run(
        newId('delivery'),
        id,
        'src_1',
        'pip_1',
        'dst_1',
        event.event_id,
        event.event_type,
        now,
        now,
        now,
        '{}',
      );
    }
  });
  return {
    async round(batches) {
      for (const batch of batches) write(batch, new Date().toISOString());
    },
    stop: async () => db.close(),
  };
}

async function measure(runner) {
  const batches = nextBatches();
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await runner.round(batches);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  const events = batchesPerRound * batchSize;
  return { rate: events / seconds, cpuMicrosPerEvent: (used.user + used.system) / events };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const engineRunner = await engine();
const baselineRunner = await baseline({ minimal: false });
const minimalRunner = await baseline({ minimal: true });
await measure(engineRunner); // warm-up
await measure(baselineRunner);
await measure(minimalRunner);
const results = { engine: [], baseline: [], minimal: [] };
for (let r = 0; r < rounds; r++) {
  results.engine.push(await measure(engineRunner));
  results.baseline.push(await measure(baselineRunner));
  results.minimal.push(await measure(minimalRunner));
}
await engineRunner.stop();
await baselineRunner.stop();
await minimalRunner.stop();

const engineRate = median(results.engine.map((r) => r.rate));
const baselineRate = median(results.baseline.map((r) => r.rate));
const engineCpu = median(results.engine.map((r) => r.cpuMicrosPerEvent));
const baselineCpu = median(results.baseline.map((r) => r.cpuMicrosPerEvent));
const events = rounds * batchesPerRound * batchSize;
report('ingest', 'sqlite_ingest_batch100', engineRate, 'events/s', {
  events,
  cpu_us_per_event: Math.round(engineCpu * 10) / 10,
});
report('ingest', 'sqlite_bare_insert_baseline_batch100', baselineRate, 'events/s', {
  events,
  cpu_us_per_event: Math.round(baselineCpu * 10) / 10,
});
report(
  'ingest',
  'sqlite_bare_insert_primary_keys_only_batch100',
  median(results.minimal.map((r) => r.rate)),
  'events/s',
  {
    events,
    cpu_us_per_event: Math.round(median(results.minimal.map((r) => r.cpuMicrosPerEvent)) * 10) / 10,
  },
);
report('ingest', 'ingest_vs_baseline', engineRate / baselineRate, 'ratio', {
  target: 0.5,
  cpu_ratio: Math.round((baselineCpu / engineCpu) * 100) / 100,
});
