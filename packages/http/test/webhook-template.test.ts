/**
 * The signed `webhook` template over the admin API: `{"template": "webhook"}` creates it, a real
 * receiver on 127.0.0.1 verifies its Standard Webhooks signatures, and config export/import carries
 * it to another instance without any secret value.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { type Pipes, silentLogger } from '@openpipes/core';
import {
  purchaseEvent,
  type RecordedTestRequest,
  settled,
  startTestServer,
  type TestServer,
} from '@openpipes/core/testing';
import { templates } from '@openpipes/destinations';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../src/index.js';
import { createNodeListener } from '../src/node.js';
import { checkedFetch } from './client.js';
import { closeServer, listen, type SqliteEngine, startSqliteEngine } from './sqlite-engine.js';

const adminKey = { name: 'admin', token: 'webhook-admin-token-0123456789', scope: 'write' as const };
// biome-ignore lint/suspicious/noExplicitAny: JSON answers, read field by field
type Json = any;

const webhookSecret = `whsec_${randomBytes(32).toString('base64')}`;
const apiKey = 'receiver-api-key-5d2c9b81';

/** A receiver's check of one request (Standard Webhooks v1): true when a v1 signature verifies. */
function verified(request: RecordedTestRequest): boolean {
  const id = String(request.headers['webhook-id']);
  const timestamp = String(request.headers['webhook-timestamp']);
  const key = Buffer.from(webhookSecret.slice('whsec_'.length), 'base64');
  const expected = Buffer.from(
    createHmac('sha256', key).update(`${id}.${timestamp}.${request.text}`).digest('base64'),
  );
  return String(request.headers['webhook-signature'] ?? '')
    .split(' ')
    .some((entry) => {
      const given = Buffer.from(entry.slice(3));
      return entry.startsWith('v1,') && given.length === expected.length && timingSafeEqual(given, expected);
    });
}

describe('the webhook template over the admin API', () => {
  const engines: SqliteEngine[] = [];
  let pipes: Pipes;
  let copy: Pipes;
  let receiver: TestServer;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    receiver = await startTestServer((request) =>
      verified(request) && request.headers['x-api-key'] === apiKey ? { status: 204 } : { status: 401 },
    );
    // The origin delivers; the copy only receives an import.
    const engine = async (name: string, start: boolean) => {
      const created = await startSqliteEngine(
        `http-webhook-${name}`,
        { egressAllow: [receiver.host], dispatcher: { pollIntervalMs: 50 } },
        { start },
      );
      engines.push(created);
      return created.pipes;
    };
    pipes = await engine('origin', true);
    copy = await engine('copy', false);
    const handler = createHandler(pipes, { apiKeys: [adminKey], templates, logger: silentLogger });
    server = createServer(createNodeListener(handler));
    base = `http://127.0.0.1:${await listen(server)}`;
  });
  afterAll(async () => {
    await closeServer(server);
    await Promise.all(engines.map((engine) => engine.stop()));
    await receiver.close();
  });

  const call = (method: string, path: string, body?: unknown) =>
    checkedFetch({ base }, path, {
      method,
      headers: { authorization: `Bearer ${adminKey.token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it('creates it from {"template": "webhook"}, delivers signed requests, and exports and imports it without secrets', async () => {
    const settings = { url: `${receiver.url}/hooks`, headers: { 'X-Api-Key': '{{secret:HOOK_API_KEY}}' } };
    const created = await call('POST', '/api/event-destinations', {
      template: 'webhook',
      name: 'hooks',
      settings,
    });
    expect(created.status).toBe(201);
    const destination = created.json as Json;
    expect(destination).toMatchObject({
      name: 'hooks',
      template: { name: 'webhook', settings: { ...settings, method: 'POST', max_batch_size: 100 } },
    });
    expect(destination.required_secrets.map((s: { key: string }) => s.key)).toEqual([
      'WEBHOOK_SECRET',
      'HOOK_API_KEY',
    ]);
    const refused = await call('POST', '/api/event-destinations', {
      template: 'webhook',
      settings: { url: 'https://hooks.example/x', test_event_code: 'TEST1' },
    });
    expect(refused.status).toBe(400);
    expect(refused.json.error.message).toMatch(/no test mode/);

    const secretIds: string[] = [];
    for (const [key, value] of Object.entries({ WEBHOOK_SECRET: webhookSecret, HOOK_API_KEY: apiKey })) {
      const answer = await call('POST', '/api/secrets', { key, value });
      expect(answer.status).toBe(201);
      secretIds.push(answer.json.id);
    }
    expect(
      (await call('PUT', `/api/event-destinations/${destination.id}/secrets`, { secret_ids: secretIds }))
        .status,
    ).toBe(200);
    expect(
      (await call('PUT', `/api/event-destinations/${destination.id}/toggle`, { enabled: true })).status,
    ).toBe(200);
    const source = await pipes.sources.create({ name: 'Web', slug: 'web' });
    await pipes.eventTypes.create({ name: 'purchase', schema: { type: 'object' } });
    const pipe = await pipes.pipes.create({
      name: 'web-to-hooks',
      source_id: source.id,
      destination_id: destination.id,
      transform: destination.default_transform,
      enabled: true,
    });
    await pipes.ingest('web', [purchaseEvent('ord_hook_1'), purchaseEvent('ord_hook_2')]);
    const records = await settled(pipes, pipe.id, 2);
    expect(records.map((r) => r.status)).toEqual(['delivered', 'delivered']);
    expect(receiver.requests.length).toBeGreaterThanOrEqual(1);
    expect(receiver.requests.every(verified)).toBe(true);

    const exported = await call('GET', '/api/config/export');
    expect(exported.status).toBe(200);
    const doc = exported.json as Json;
    const text = JSON.stringify(doc);
    expect(text).not.toContain(apiKey);
    expect(text).not.toContain(webhookSecret.slice('whsec_'.length));
    const copyHandler = createHandler(copy, { apiKeys: [adminKey], templates, logger: silentLogger });
    const imported = await copyHandler(
      new Request('http://localhost/api/config/import', {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(doc),
      }),
    );
    expect(imported.status).toBe(200);
    const result = (await imported.json()) as Json;
    expect(result.missing_secrets.map((m: { key: string }) => m.key).sort()).toEqual([
      'HOOK_API_KEY',
      'WEBHOOK_SECRET',
    ]);
    const [copied] = (await copy.destinations.list()).data;
    expect(copied).toMatchObject({
      name: 'hooks',
      send: destination.send,
      template: { name: 'webhook', settings: destination.template.settings },
    });
  });
});
