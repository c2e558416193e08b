import { createServer } from 'node:http';
import { purchaseEvent } from '@openpipes/core/testing';
import express from 'express';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createExpressMiddleware } from '../src/express.js';
import { createHandler } from '../src/index.js';
import { checkedFetch } from './client.js';
import { startFixture, writeKey } from './servers.js';
import { closeServer, listen } from './sqlite-engine.js';

// The documented fallback: mounted after express.json(), the middleware re-serialises the parsed
// body (HMAC signatures then cannot match; everything else works).
let fixture: Awaited<ReturnType<typeof startFixture>>;
let base: string;
let close: () => Promise<void>;

beforeAll(async () => {
  fixture = await startFixture('node');
  const app = express();
  app.use(express.json());
  // A parser that leaves what JSON cannot say (json-bigint and the like): a BigInt.
  app.use('/pipes/collect/bigint', (req, _res, next) => {
    req.on('data', () => {});
    req.on('end', () => {
      req.body = { value: 10n };
      next();
    });
  });
  app.use('/pipes', createExpressMiddleware(createHandler(fixture.pipes, { apiKeys: [writeKey] })));
  const server = createServer(app);
  base = `http://127.0.0.1:${await listen(server)}/pipes`;
  close = () => closeServer(server);
});
afterAll(async () => {
  await close();
  await fixture.close();
});

it('works behind express.json() with the body it already parsed', async () => {
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${writeKey.token}` };
  const source = await checkedFetch({ base }, '/api/sources', {
    method: 'POST',
    headers,
    body: JSON.stringify({ name: 'Parsed', slug: 'parsed' }),
  });
  expect(source.status).toBe(201);
  await fixture.pipes.eventTypes.create({ name: 'purchase', schema: {} });
  const collected = await checkedFetch({ base }, '/collect/parsed', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([purchaseEvent('ord_parsed')]),
  });
  expect(collected.status).toBe(202);
  const answer = collected.json as { results: Array<{ event_id: string }> };
  expect(answer.results[0]?.event_id).toBe('ord_parsed');
  // text/plain beacons are not touched by express.json(): the raw stream is read.
  const beacon = await checkedFetch({ base }, '/collect/parsed', {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: JSON.stringify(purchaseEvent('ord_beacon')),
  });
  expect(beacon.status).toBe(202);
});

it('answers 400 when the body a parser left cannot be written back as JSON, and keeps serving', async () => {
  const answer = await fetch(`${base}/collect/bigint`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: '{"value": 10}',
  });
  expect(answer.status).toBe(400);
  const body = (await answer.json()) as { error: { code: string; message: string } };
  expect(body.error.code).toBe('VALIDATION_FAILED');
  expect(body.error.message).toContain('the request could not be read');
  expect((await fetch(`${base}/healthz`)).status).toBe(200);
});
