// @ts-check
// OpenPipes as a Fastify plugin: registered under /openpipes in its own encapsulated context (it
// reads raw bodies there; the app's own routes keep Fastify's parsers). `node server.mjs` serves on
// PORT (default 3000); `--smoke` serves on a free loopback port, checks the routes and exits.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPipes } from '@openpipes/core';
import { createHandler } from '@openpipes/http';
import { createFastifyPlugin } from '@openpipes/http/fastify';
import { hardenServer } from '@openpipes/http/node';
import { sqliteStore } from '@openpipes/store-sqlite';
import Fastify from 'fastify';

const smoke = process.argv.includes('--smoke');
const dir = smoke ? mkdtempSync(join(tmpdir(), 'openpipes-fastify-')) : '.';
const apiKey = process.env.OPENPIPES_API_KEY ?? 'example-admin-key-change-me';

const pipes = createPipes({
  store: sqliteStore({ filename: join(dir, 'app-openpipes.db') }),
  secretKey: process.env.OPENPIPES_SECRET_KEY ?? 'example-secret-key-change-me-0123',
  sandbox: { workers: 1 },
});
await pipes.start();
if (!(await pipes.sources.findBySlug('app'))) await pipes.sources.create({ name: 'App', slug: 'app' });

// Timeouts and connection caps (docs/security.md); Fastify keeps answering malformed requests itself.
const app = Fastify({
  serverFactory: (handle) => hardenServer(createServer(handle), { answerClientErrors: false }),
});
app.get('/health', async () => ({ ok: true }));
// The app's own JSON route, parsed by Fastify as usual.
app.post('/echo', async (request) => ({ received: request.body }));
await app.register(
  createFastifyPlugin(
    createHandler(pipes, { apiKeys: [{ name: 'app-admin', token: apiKey, scope: 'write' }] }),
  ),
  {
    prefix: '/openpipes',
  },
);
const base = await app.listen({ host: '127.0.0.1', port: smoke ? 0 : Number(process.env.PORT ?? 3000) });

if (!smoke) {
  console.log(
    `App on ${base}; OpenPipes under ${base}/openpipes (collect: POST ${base}/openpipes/collect/app)`,
  );
} else {
  try {
    const json = { 'content-type': 'application/json' };
    // An event type over the admin API, then an event through the collect endpoint.
    const created = await fetch(`${base}/openpipes/api/event-types`, {
      method: 'POST',
      headers: { ...json, authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({ name: 'signup', schema: { type: 'object', required: ['user_id'] } }),
    });
    if (created.status !== 201) throw new Error(`creating the event type answered ${created.status}`);
    const collected = await fetch(`${base}/openpipes/collect/app`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify([
        { event_type: 'signup', event_time: Date.now(), event_payload: { user_id: 'u1' } },
        { event_type: 'signup', event_time: Date.now(), event_payload: {} },
      ]),
    });
    const answer = /** @type {{ accepted: number, rejected: number }} */ (await collected.json());
    if (collected.status !== 202 || answer.accepted !== 1 || answer.rejected !== 1) {
      throw new Error(`collect answered ${collected.status} ${JSON.stringify(answer)}`);
    }
    const echoed = await fetch(`${base}/echo`, { method: 'POST', headers: json, body: '{"a":1}' });
    if (/** @type {{ received?: { a?: number } }} */ (await echoed.json()).received?.a !== 1)
      throw new Error("the app's own body parsing changed");
    console.log(
      'fastify example: event type created, collect 202 (1 accepted, 1 rejected), app routes untouched',
    );
  } finally {
    await app.close();
    await pipes.stop({ graceMs: 1000 });
    await pipes.store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
