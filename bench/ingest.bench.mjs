// Ingest throughput on SQLite: `pipes.ingest()` in batches of 100 (validation, dedup, one
// transaction for events + one delivery per enabled pipe), against the bare baseline of inserting
// the same rows with better-sqlite3 prepared statements in one transaction per batch.
import { join } from 'node:path';
import { createPipes, newId, silentLogger } from '@openpipes/core';
import { sqliteStore } from '@openpipes/store-sqlite';
import Database from 'better-sqlite3';
import { purchase, report, tempDir } from './lib.mjs';

const batches = 300;
const batchSize = 100;
const total = batches * batchSize;
const dir = tempDir('openpipes-bench-ingest-');
const makeBatches = (offset) =>
  Array.from({ length: batches }, (_, b) =>
    Array.from({ length: batchSize }, (_, i) => purchase(offset + b * batchSize + i)),
  );

async function engineRun() {
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
  await pipes.pipes.toggle(pipe.id, true);
  // Warm up, then measure.
  for (const batch of makeBatches(10_000_000).slice(0, 20)) await pipes.ingest('web', batch);
  const data = makeBatches(0);
  const started = process.hrtime.bigint();
  for (const batch of data) {
    const result = await pipes.ingest('web', batch);
    if (result.accepted !== batchSize) throw new Error(`accepted ${result.accepted}`);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await pipes.stop();
  return total / seconds;
}

function baselineRun() {
  const db = new Database(join(dir, 'baseline.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE events (id TEXT PRIMARY KEY, source_id TEXT, event_id TEXT, sender_event_id INTEGER,
             event_type TEXT, event_time TEXT, payload TEXT, received_at TEXT);
           CREATE TABLE deliveries (id TEXT PRIMARY KEY, event_ref TEXT, source_id TEXT, pipe_id TEXT,
             destination_id TEXT, event_id TEXT, event_type TEXT, status TEXT, due_at TEXT, created_at TEXT,
             updated_at TEXT, detail TEXT);`);
  const insertEvent = db.prepare('INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const insertDelivery = db.prepare('INSERT INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
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
        'pending',
        now,
        now,
        now,
        '{}',
      );
    }
  });
  for (const batch of makeBatches(10_000_000).slice(0, 20)) write(batch, new Date().toISOString());
  const data = makeBatches(0);
  const started = process.hrtime.bigint();
  for (const batch of data) write(batch, new Date().toISOString());
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  db.close();
  return total / seconds;
}

const baseline = baselineRun();
const engine = await engineRun();
report('ingest', 'sqlite_ingest_batch100', engine, 'events/s', { events: total });
report('ingest', 'sqlite_bare_insert_baseline_batch100', baseline, 'events/s', { events: total });
report('ingest', 'ingest_vs_baseline', engine / baseline, 'ratio', { target: 0.5 });
