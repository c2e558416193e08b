/**
 * `POST /api/event-destinations/{id}/send-test` on a real engine (SQLite, the real sandbox):
 * a dry run records every request `send()` makes, answers each with a synthetic 200 `{}` and opens
 * no connection (a loopback stand-in the destination points at, reachable through the egress
 * allow-list, counts every connection); secrets echoed by user code are redacted; a test send goes
 * out only through a template's test mode.
 */
import { createServer, type Server } from 'node:http';
import type { Pipes } from '@openpipes/core';
import {
  exampleAccessToken,
  metaLikeAnswer,
  purchaseEvent,
  setupMetaExample,
  startTestServer,
  type TestServer,
} from '@openpipes/core/testing';
import { metaCapiTemplate } from '@openpipes/destinations';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../src/index.js';
import { closeServer, listen, type SqliteEngine, startSqliteEngine } from './sqlite-engine.js';

/** Two requests, as Google Ads' token exchange makes: a token, then the events with it. */
const twoRequestSend = (base: string) => `async function send({ events, secrets }) {
  const token = await fetch('${base}/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'refresh_token=' + encodeURIComponent(secrets.META_ACCESS_TOKEN),
  });
  const answer = await token.json();
  console.log('token answer', JSON.stringify(answer), 'using', secrets.META_ACCESS_TOKEN);
  console.log('encoded', btoa('user:' + secrets.META_ACCESS_TOKEN));
  const res = await fetch('${base}/events', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-echo': secrets.META_ACCESS_TOKEN },
    body: JSON.stringify({ data: events, note: secrets.META_ACCESS_TOKEN }),
  });
  return { status: res.status, echoed: secrets.META_ACCESS_TOKEN };
}`;

describe('send() dry run and test send', () => {
  let meta: TestServer;
  let standIn: Server;
  let standInBase: string;
  let connections = 0;
  let engine: SqliteEngine;
  let pipes: Pipes;
  let flow: Awaited<ReturnType<typeof setupMetaExample>>;
  const writer = { name: 'ops', token: 'send-test-write-0123', scope: 'write' as const };
  const reader = { name: 'viewer', token: 'send-test-read-0123', scope: 'read' as const };
  const post = (path: string, body: unknown, token = writer.token, method = 'POST') =>
    createHandler(pipes, { apiKeys: [writer, reader], templates: [metaCapiTemplate] })(
      new Request(`http://localhost${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    );

  beforeAll(async () => {
    meta = await startTestServer(metaLikeAnswer);
    // Answers like a platform would, so a request that did go out would look like success.
    standIn = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}'),
    );
    standIn.on('connection', () => connections++);
    standInBase = `http://127.0.0.1:${await listen(standIn)}`;
    engine = await startSqliteEngine('send-test', { egressAllow: [meta.host, '127.0.0.1'] });
    pipes = engine.pipes;
    flow = await setupMetaExample(pipes, meta);
  });
  afterAll(async () => {
    await engine.stop();
    await meta.close();
    await closeServer(standIn);
  });

  it('records both requests of a two-request send, answers each with a synthetic 200 and connects nowhere', async () => {
    const destination = await pipes.destinations.update(flow.destination.id, {
      send: twoRequestSend(standInBase),
    });
    const response = await post(`/api/event-destinations/${destination.id}/send-test`, {
      mode: 'dry',
      outputs: [{ event_type: 'Purchase', event_time: '2026-01-01T00:00:00Z', event_payload: { value: 1 } }],
    });
    const text = await response.text();
    expect(response.status, text).toBe(200);
    // The answer came back, so send() finished: any request it made would have connected by now.
    expect(connections).toBe(0);
    const result = JSON.parse(text) as {
      synthetic: boolean;
      note: string;
      requests: Array<{
        request: { url: string; method: string; headers: Record<string, string>; payload: unknown };
        response: { status: number; body: unknown };
      }>;
      value: unknown;
      outcome: string[];
      logs: Array<{ message: string }>;
    };
    expect(result.synthetic).toBe(true);
    expect(result.note).toMatch(/synthetic 200/);
    expect(result.requests.map((r) => [r.request.method, r.request.url])).toEqual([
      ['POST', `${standInBase}/token`],
      ['POST', `${standInBase}/events`],
    ]);
    expect(result.requests.map((r) => [r.response.status, r.response.body])).toEqual([
      [200, {}],
      [200, {}],
    ]);
    expect(result.requests[1]!.request.payload).toMatchObject({ note: '[secret:META_ACCESS_TOKEN]' });
    expect(result.requests[1]!.request.headers['x-echo']).toBe('[secret:META_ACCESS_TOKEN]');
    expect(result.value).toEqual({ status: 200, echoed: '[secret:META_ACCESS_TOKEN]' });
    expect(result.outcome).toEqual(['delivered']);
    expect(result.logs.map((l) => l.message)).toEqual([
      'token answer {} using [secret:META_ACCESS_TOKEN]',
      expect.stringMatching(/^encoded .*\[secret:META_ACCESS_TOKEN\]/),
    ]);
    // Echoed plainly, form-encoded in a body, base64-encoded in a console line: never in the answer.
    expect(text).not.toContain(exampleAccessToken);
    expect(text).not.toContain(Buffer.from(`user:${exampleAccessToken}`).toString('base64'));
    expect(text).not.toContain(encodeURIComponent(exampleAccessToken));
  });

  it("runs events through the pipe's transform first, and still connects nowhere", async () => {
    const response = await post(`/api/event-destinations/${flow.destination.id}/send-test`, {
      mode: 'dry',
      pipe_id: flow.pipe.id,
      events: [purchaseEvent('ord_dry_1')],
    });
    const text = await response.text();
    expect(response.status, text).toBe(200);
    expect(connections).toBe(0);
    const result = JSON.parse(text) as { outputs: Array<{ event_id?: string }>; requests: unknown[] };
    expect(result.requests).toHaveLength(2);
    expect(JSON.stringify(result.outputs)).toContain('ord_dry_1');
    expect(text).not.toContain(exampleAccessToken);
  });

  it('refuses a read-scope key (403): it runs code; nothing runs, connects or is audited', async () => {
    const audit = (await pipes.audit.list({ limit: 1000 })).data.length;
    const dry = await post(
      `/api/event-destinations/${flow.destination.id}/send-test`,
      { mode: 'dry', outputs: [{ event_type: 'Purchase' }] },
      reader.token,
    );
    expect(dry.status).toBe(403);
    const settings = await post(
      `/api/event-destinations/${flow.destination.id}/settings`,
      { settings: {} },
      reader.token,
      'PUT',
    );
    expect(settings.status).toBe(403);
    expect(connections).toBe(0);
    expect((await pipes.audit.list({ limit: 1000 })).data.length).toBe(audit);
  });

  it('refuses a test send for a destination without a template test mode (409), and bad input (400)', async () => {
    const custom = await post(`/api/event-destinations/${flow.destination.id}/send-test`, {
      mode: 'test',
      outputs: [{ event_type: 'Purchase' }],
    });
    expect(custom.status).toBe(409);
    const refusal = (await custom.json()) as { error: { code: string; message: string } };
    expect(refusal.error.code).toBe('CONFLICT');
    expect(refusal.error.message).toMatch(/has no test mode/);

    for (const body of [
      { mode: 'dry' },
      { mode: 'dry', events: [purchaseEvent('x')] },
      { mode: 'live', outputs: [{}] },
    ]) {
      const response = await post(`/api/event-destinations/${flow.destination.id}/send-test`, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
    }
    expect(connections).toBe(0);
  });

  it("test-sends a template destination through the platform's test mode, for real", async () => {
    const created = await post('/api/event-destinations', {
      template: 'meta-capi',
      settings: { name: 'meta-template', pixel_id: '123456789012', base_url: meta.url },
    });
    expect(created.status).toBe(201);
    const destination = (await created.json()) as { id: string };
    await pipes.destinations.bindSecrets(destination.id, [flow.secrets.token.id]);
    // A row as the template's transform makes it (Meta's shape).
    const output = {
      event_type: 'purchase',
      event_time: new Date().toISOString(),
      event_payload: {
        event_name: 'Purchase',
        event_time: Math.floor(Date.now() / 1000),
        event_id: 'ord_test_send',
        action_source: 'website',
        user_data: { em: ['a'.repeat(64)], client_user_agent: 'Mozilla/5.0' },
        custom_data: { value: 10, currency: 'EUR' },
      },
    };

    // Meta's test mode needs the code from Events Manager.
    const missing = await post(`/api/event-destinations/${destination.id}/send-test`, {
      mode: 'test',
      outputs: [output],
    });
    expect(missing.status).toBe(400);

    const before = meta.requests.length;
    const response = await post(`/api/event-destinations/${destination.id}/send-test`, {
      mode: 'test',
      test_event_code: 'TEST12345',
      outputs: [output],
    });
    const text = await response.text();
    expect(response.status, text).toBe(200);
    const result = JSON.parse(text) as { synthetic: boolean; test_mode: boolean; requests: unknown[] };
    expect(result.synthetic).toBe(false);
    expect(result.test_mode).toBe(true);
    expect(meta.requests.length, text).toBe(before + 1);
    expect((meta.requests.at(-1)!.json as { test_event_code?: string }).test_event_code).toBe('TEST12345');
    expect(text).not.toContain(exampleAccessToken);
  });

  it("lists the templates' settings schema and test mode, and remakes send() from new settings", async () => {
    const handler = createHandler(pipes, { apiKeys: [writer], templates: [metaCapiTemplate] });
    const auth = { authorization: `Bearer ${writer.token}`, 'content-type': 'application/json' };
    const listed = (await (
      await handler(new Request('http://localhost/api/event-destination-templates', { headers: auth }))
    ).json()) as {
      data: Array<{
        name: string;
        settings_schema: { properties: Record<string, unknown> };
        test_mode: unknown;
      }>;
    };
    expect(listed.data[0]!.name).toBe('meta-capi');
    expect(listed.data[0]!.settings_schema.properties.pixel_id).toMatchObject({ type: 'string' });
    expect(listed.data[0]!.test_mode).toEqual({
      setting: 'test_event_code',
      needs_value: true,
      description: expect.any(String),
    });

    const destination = await pipes.destinations.findByName('meta-template');
    const put = (id: string, settings: unknown) =>
      handler(
        new Request(`http://localhost/api/event-destinations/${id}/settings`, {
          method: 'PUT',
          headers: auth,
          body: JSON.stringify({ settings }),
        }),
      );
    const changed = await put(destination!.id, { pixel_id: '555555555555', base_url: meta.url });
    expect(changed.status).toBe(200);
    const after = (await changed.json()) as {
      name: string;
      version: number;
      send: string;
      template: unknown;
      identifiers: unknown;
    };
    expect(after.name).toBe('meta-template');
    // The template's identifier declaration comes with it (match quality).
    expect(after.identifiers).toMatchObject({ email: ['user_data.em'], fbp: ['user_data.fbp'] });
    expect(after.version).toBe(destination!.version + 1);
    expect(after.send).toContain('555555555555');
    expect(after.template).toMatchObject({ name: 'meta-capi', settings: { pixel_id: '555555555555' } });
    expect((await put(destination!.id, { pixel_id: 'not-a-number' })).status).toBe(400);
    // A destination with its own send() has no template settings.
    expect((await put(flow.destination.id, { pixel_id: '555555555555' })).status).toBe(409);
  });
});
