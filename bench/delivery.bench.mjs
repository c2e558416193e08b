// End-to-end delivery on SQLite, ingest → transform (the Meta example transform) → send (the Meta example's
// Meta send) → a loopback sink that answers at once; and how fast the backlog drains after the
// destination was down for a while under steady ingest.
//   npm run bench -- delivery            (BENCH_OUTAGE_SECONDS=60 by default)
import { join } from 'node:path';
import { createPipes, silentLogger } from '@openpipes/core';
import { sqliteStore } from '@openpipes/store-sqlite';
import { purchase, report, setupMetaExample, startSink, tempDir } from './lib.mjs';

const dir = tempDir('openpipes-bench-delivery-');
const outageSeconds = Number(process.env.BENCH_OUTAGE_SECONDS ?? 60);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function engineWith(sink, name) {
  const pipes = createPipes({
    store: sqliteStore({ filename: join(dir, `${name}.db`) }),
    secretKey: 'bench-secret-key-0123456789abcdef',
    logger: silentLogger,
    egressAllow: [sink.host],
    dispatcher: { pollIntervalMs: 200 },
  });
  await setupMetaExample(pipes, sink.url);
  return pipes;
}

async function backlog(pipes) {
  const rows = await pipes.deliveries.stats();
  return rows
    .filter((r) => r.status === 'pending' || r.status === 'retrying' || r.status === 'sending')
    .reduce((n, r) => n + r.count, 0);
}

// A. Throughput: ingest 20,000 events in batches of 100 while the dispatcher delivers.
{
  const sink = await startSink();
  const pipes = await engineWith(sink, 'throughput');
  await pipes.start();
  const total = 20_000;
  const started = performance.now();
  for (let i = 0; i < total; i += 100) {
    await pipes.ingest(
      'web',
      Array.from({ length: 100 }, (_, j) => purchase(i + j)),
    );
  }
  const ingested = performance.now();
  while (sink.received() < total || (await backlog(pipes)) > 0) await sleep(20);
  const seconds = (performance.now() - started) / 1000;
  report('delivery', 'sqlite_end_to_end', total / seconds, 'events/s', {
    events: total,
    ingest_seconds: Math.round((ingested - started) / 10) / 100,
    total_seconds: Math.round(seconds * 100) / 100,
  });
  globalThis.normalRate = total / seconds;
  await pipes.stop();
  await pipes.store.close();
  await sink.close();
}

// B. Outage: steady ingest of 200 events/s; the destination answers 503 for `outageSeconds`.
{
  let down = true;
  const sink = await startSink(() => (down ? 503 : 200));
  const pipes = await engineWith(sink, 'outage');
  await pipes.start();
  let n = 0;
  let ingesting = true;
  const ingestLoop = (async () => {
    while (ingesting) {
      await pipes.ingest(
        'web',
        Array.from({ length: 20 }, () => purchase(n++)),
      );
      await sleep(100);
    }
  })();
  await sleep(outageSeconds * 1000);
  const backlogAtRecovery = await backlog(pipes);
  const receivedBefore = sink.received();
  down = false;
  const recovered = performance.now();
  // The breaker's next probe finds the destination healthy; then the backlog drains.
  while (sink.received() === receivedBefore) await sleep(10);
  const resumed = performance.now();
  // Drained: the backlog is back to what steady ingest alone keeps in flight.
  while ((await backlog(pipes)) > 200) await sleep(50);
  const drained = performance.now();
  ingesting = false;
  await ingestLoop;
  const detectSeconds = (resumed - recovered) / 1000;
  const drainSeconds = (drained - resumed) / 1000;
  report('delivery', 'outage_backlog_at_recovery', backlogAtRecovery, 'deliveries', {
    outage_seconds: outageSeconds,
  });
  report('delivery', 'outage_time_to_first_delivery', detectSeconds, 's', {
    note: 'until the circuit breaker probe finds the destination healthy (pause doubles from 5 s to at most 30 s)',
  });
  report('delivery', 'outage_drain_time', drainSeconds, 's', {
    after: 'first delivery',
    total_seconds: detectSeconds + drainSeconds,
  });
  const drainRate = backlogAtRecovery / drainSeconds;
  report('delivery', 'outage_drain_rate', drainRate, 'events/s', {
    normal_rate: Math.round(globalThis.normalRate),
    ratio_to_normal: Math.round((drainRate / globalThis.normalRate) * 100) / 100,
  });
  await pipes.stop();
  await pipes.store.close();
  await sink.close();
}
