// Shared helpers for the benchmarks: JSON-line output, temp dirs, a loopback sink, test events,
// and the operator flow set up on an engine.

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { metaExampleSend, metaExampleTransform } from '@openpipes/core/testing';

/** Prints one JSON line: {"bench": ..., "metric": ..., "value": ..., "unit": ..., ...extra}. */
export function report(bench, metric, value, unit, extra = {}) {
  console.log(JSON.stringify({ bench, metric, value: Math.round(value * 100) / 100, unit, ...extra }));
}

/** A temporary directory removed on exit. */
export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A loopback HTTP sink that answers like Meta (`events_received`) at once, or with `status()` when
 * given. Counts events received.
 */
export async function startSink(status = () => 200) {
  let events = 0;
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const code = status();
      if (code === 200) {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        events += body.data?.length ?? 0;
      }
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(
        code === 200 ? '{"events_received":1,"fbtrace_id":"bench"}' : '{"error":{"message":"down","code":2}}',
      );
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    received: () => events,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}

/** A purchase as a website sends it (~216 bytes of payload). */
export function purchase(i) {
  return {
    event_type: 'purchase',
    event_time: new Date().toISOString(),
    event_id: `ord_${i}`,
    event_payload: {
      order_id: `ord_${i}`,
      revenue: 129.9,
      currency: 'EUR',
      hashed_email: 'a3f1c2'.padEnd(64, '0'),
      hashed_phone: 'b7e9d4'.padEnd(64, '1'),
      fbp: 'fb.1.1714816462.1234567890',
      fbc: 'fb.1.1714816462.IwAR0abc',
      ip: '203.0.113.7',
      ua: 'Mozilla/5.0 (X11; Linux x86_64)',
    },
  };
}

/**
 * The example flow on an engine: a `web` source, a purchase event type, the Meta secrets, the
 * Meta example `send()` aimed at `sinkUrl` (batches of 500), and the Meta example transform on an
 * enabled pipe. The destination is left disabled unless `enable` is set (the PostgreSQL bench turns
 * it on once its dispatchers run).
 */
export async function setupMetaExample(pipes, sinkUrl, { enable = true } = {}) {
  const source = await pipes.sources.create({ name: 'Web', slug: 'web' });
  await pipes.eventTypes.create({ name: 'purchase', schema: { type: 'object', required: ['order_id'] } });
  const token = await pipes.secrets.create({
    key: 'META_ACCESS_TOKEN',
    value: 'EAAB-bench-token-0123456789',
  });
  const pixel = await pipes.secrets.create({ key: 'META_PIXEL_ID', value: '123456789012' });
  const destination = await pipes.destinations.create({
    name: 'meta-capi-prod',
    send: metaExampleSend(sinkUrl),
    max_batch_size: 500,
    concurrency: 2,
  });
  await pipes.destinations.bindSecrets(destination.id, [token.id, pixel.id]);
  const pipe = await pipes.pipes.create({
    name: 'purchase-to-meta',
    source_id: source.id,
    destination_id: destination.id,
    transform: metaExampleTransform,
  });
  await pipes.pipes.enable(pipe.id);
  if (enable) await pipes.destinations.enable(destination.id);
  return { source, destination, pipe };
}
