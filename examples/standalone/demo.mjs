// The smallest complete OpenPipes: embed the engine in a script, send one purchase through the
// Meta example transform and send() to a local stand-in for Meta, and print the delivery record.
// Runs offline: the "Meta" here is an HTTP server on 127.0.0.1 that this script starts.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPipes } from '@openpipes/core';
import { metaExampleSend, metaExampleTransform, purchaseEvent, waitFor } from '@openpipes/core/testing';
import { sqliteStore } from '@openpipes/store-sqlite';

const quiet = process.argv.includes('--quiet');

// 1. A demo sink that answers like Meta's Conversions API.
const sink = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => {
    body += chunk;
  });
  req.on('end', () => {
    const { data = [] } = JSON.parse(body || '{}');
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ events_received: data.length, messages: [], fbtrace_id: 'demo-trace' }));
  });
});
await new Promise((resolve) => sink.listen(0, '127.0.0.1', resolve));
const sinkUrl = `http://127.0.0.1:${sink.address().port}`;

// 2. The engine on an embedded SQLite file. The demo sink is on loopback, which the egress guard
//    refuses unless the operator allows it.
const dir = mkdtempSync(join(tmpdir(), 'openpipes-demo-'));
const pipes = createPipes({
  store: sqliteStore({ filename: join(dir, 'openpipes.db') }),
  secretKey: 'demo-secret-key-change-me-0123456789',
  egressAllow: [new URL(sinkUrl).host],
  sandbox: { workers: 1 },
});

try {
  // 3. The operator flow.
  const source = await pipes.sources.create({ name: 'Web', slug: 'web' });
  await pipes.eventTypes.create({ name: 'purchase', schema: { type: 'object', required: ['order_id'] } });
  const token = await pipes.secrets.create({ key: 'META_ACCESS_TOKEN', value: 'EAAB-demo-token' });
  const pixel = await pipes.secrets.create({ key: 'META_PIXEL_ID', value: '123456789' });
  const destination = await pipes.destinations.create({
    name: 'meta-capi-prod',
    send: metaExampleSend(sinkUrl),
    max_batch_size: 1000,
  });
  await pipes.destinations.bindSecrets(destination.id, [token.id, pixel.id]);
  const pipe = await pipes.pipes.create({
    name: 'purchase-to-meta',
    source_id: source.id,
    destination_id: destination.id,
    transform: metaExampleTransform,
  });
  await pipes.pipes.enable(pipe.id);
  await pipes.destinations.enable(destination.id);
  await pipes.start();

  // 4. One purchase in...
  const result = await pipes.ingest('web', purchaseEvent('ord_70213'));
  if (result.accepted !== 1) throw new Error(`event not accepted: ${JSON.stringify(result.results)}`);

  // 5. ...one delivery record out.
  const delivery = await waitFor(async () => {
    const page = await pipes.deliveries.list(pipe.id);
    return page.data.find((d) => d.status !== 'pending' && d.status !== 'sending');
  });
  const record = await pipes.deliveries.get(delivery.id);
  if (!quiet) {
    console.log(`Delivered through pipe ${pipe.name} to ${destination.name}. The delivery record:\n`);
    const { attempts, ...shown } = record;
    console.log(JSON.stringify(shown, null, 2));
    console.log(`\n(${attempts?.length ?? 0} attempt(s) kept on the record; secrets appear as [secret:KEY])`);
  }
  if (record.status !== 'delivered') {
    throw new Error(`expected delivered, got ${record.status}: ${record.error?.message}`);
  }
} finally {
  await pipes.stop();
  await pipes.store.close();
  sink.close();
  rmSync(dir, { recursive: true, force: true });
}
