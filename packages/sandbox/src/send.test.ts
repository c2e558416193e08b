import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonValue, seededRandom } from './json-values.testing.js';
import { createSandbox } from './pool.js';
import type { CodeRef, SandboxEvent } from './types.js';

// NETWORK RULE: every request here goes to 127.0.0.1. Refusals of private and metadata addresses
// happen at the guard's connect hook before any socket is opened (see egress.test.ts).
interface Hit {
  method: string;
  url: string;
  body: string;
  headers: IncomingMessage['headers'];
}
async function listen(
  handler: (req: IncomingMessage, body: string, res: import('node:http').ServerResponse) => void,
) {
  const hits: Hit[] = [];
  const server: Server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    hits.push({ method: req.method!, url: req.url!, body, headers: req.headers });
    handler(req, body, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, hits, port: (server.address() as AddressInfo).port };
}

let graph: Awaited<ReturnType<typeof listen>>;
let forbidden: Awaited<ReturnType<typeof listen>>;
let sandbox: ReturnType<typeof createSandbox>;

beforeAll(async () => {
  graph = await listen((req, body, res) => {
    if (req.url === '/redirect-metadata') {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    } else if (req.url === '/redirect-loopback') {
      res.writeHead(307, { location: `http://127.0.0.1:${forbidden.port}/internal` }).end();
    } else if (req.url === '/redirect-same') {
      res.writeHead(302, { location: '/v19.0/1/events' }).end();
    } else if (req.url === '/big') {
      res.end('z'.repeat(300_000));
    } else if (req.url === '/slow') {
      setTimeout(() => res.end('late'), 3_000).unref();
    } else {
      const parsed = body ? JSON.parse(body) : {};
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ events_received: parsed.data?.length ?? 0, fbtrace_id: 'trace-1' }));
    }
  });
  forbidden = await listen((_req, _body, res) => res.end('internal secret'));
  sandbox = createSandbox({
    workers: 1,
    egress: { allow: [`127.0.0.1:${graph.port}`] },
    limits: { sendWallMs: 2_000, fetchTimeoutMs: 500, responseBytes: 100_000 },
  });
});
afterAll(async () => {
  await sandbox.close();
  graph.server.closeAllConnections();
  forbidden.server.closeAllConnections();
  await new Promise((r) => graph.server.close(r));
  await new Promise((r) => forbidden.server.close(r));
});

let version = 0;
const ref = (source: string): CodeRef => ({
  kind: 'send',
  owner: `dst_${++version}`,
  version: 1,
  code: source,
});
const payload = (id: string): SandboxEvent => ({
  event_type: 'purchase',
  event_time: '2026-05-04T10:14:22.481Z',
  event_payload: { event_name: 'Purchase', event_id: id },
});
const fetchOnce = (url: string) =>
  `async function send() { const r = await fetch(${JSON.stringify(url)}); return { status: r.status, body: await r.text() }; }`;

// The example send(), verbatim except for the base URL (a local stand-in for graph.facebook.com).
const exampleSend = (base: string) => `async function send({ events, secrets }) {
const res = await fetch(
\`${base}/v19.0/\${secrets.META_PIXEL_ID}/events\`,
{
method: 'POST',
headers: { 'Content-Type': 'application/json' },
body: JSON.stringify({
data: events.map(e => e.event_payload),
access_token: secrets.META_ACCESS_TOKEN,
}),
}
);
return res.json();
}`;

describe('send()', () => {
  it('runs the Meta example send() against an allowed local server and captures the exchange', async () => {
    const run = await sandbox.send({
      code: ref(exampleSend(`http://127.0.0.1:${graph.port}`)),
      events: [payload('ord_1'), payload('ord_2')],
      secrets: { META_PIXEL_ID: '123456789', META_ACCESS_TOKEN: 'tok_secret' },
    });
    expect(run.error).toBeUndefined();
    expect(run.value).toEqual({ events_received: 2, fbtrace_id: 'trace-1' });
    expect(graph.hits.at(-1)).toMatchObject({ method: 'POST', url: '/v19.0/123456789/events' });
    expect(run.exchanges).toHaveLength(1);
    const ex = run.exchanges[0]!;
    expect(ex.request).toMatchObject({
      url: `http://127.0.0.1:${graph.port}/v19.0/123456789/events`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect(JSON.parse(ex.request.body!)).toEqual({
      data: [
        { event_name: 'Purchase', event_id: 'ord_1' },
        { event_name: 'Purchase', event_id: 'ord_2' },
      ],
      access_token: 'tok_secret',
    });
    expect(ex.response).toMatchObject({ status: 200, body: '{"events_received":2,"fbtrace_id":"trace-1"}' });
  });

  it('gives the guest a Response-like object', async () => {
    const run = await sandbox.send({
      code: ref(`async function send() {
        const r = await fetch('http://127.0.0.1:${graph.port}/v19.0/1/events', { method: 'POST', body: '{}' });
        return { ok: r.ok, status: r.status, statusText: r.statusText, type: r.headers.get('Content-Type'), url: r.url, json: await r.json() };
      }`),
      events: [],
      secrets: {},
    });
    expect(run.value).toEqual({
      ok: true,
      status: 200,
      statusText: 'OK',
      type: 'application/json',
      url: `http://127.0.0.1:${graph.port}/v19.0/1/events`,
      json: { events_received: 0, fbtrace_id: 'trace-1' },
    });
  });

  it('runs parallel fetches (bounded) inside one call', async () => {
    const run = await sandbox.send({
      code: ref(`async function send({ events }) {
        const rs = await Promise.all(events.map((e) => fetch('http://127.0.0.1:${graph.port}/v19.0/1/events', { method: 'POST', body: JSON.stringify({ data: [e] }) }).then((r) => r.json())));
        return rs.map((r) => r.events_received);
      }`),
      events: Array.from({ length: 10 }, (_, i) => payload(`p${i}`)),
      secrets: {},
    });
    expect(run.value).toEqual(Array(10).fill(1));
    expect(run.exchanges).toHaveLength(10);
  });

  it('refuses loopback that the operator did not allow (other port, localhost, ::1, decimal, hex)', async () => {
    for (const url of [
      `http://127.0.0.1:${forbidden.port}/`,
      `http://localhost:${forbidden.port}/`,
      `http://[::1]:${forbidden.port}/`,
      `http://2130706433:${forbidden.port}/`,
      `http://0x7f000001:${forbidden.port}/`,
      `http://[::ffff:127.0.0.1]:${forbidden.port}/`,
    ]) {
      const run = await sandbox.send({ code: ref(fetchOnce(url)), events: [], secrets: {} });
      expect(run.error?.message, url).toMatch(/fetch failed/);
      expect(run.exchanges[0]?.error?.code, url).toBe('EGRESS_DENIED');
    }
    expect(forbidden.hits).toHaveLength(0);
  });

  it('re-checks every redirect hop: to cloud metadata and to a forbidden loopback port', async () => {
    const toMetadata = await sandbox.send({
      code: ref(fetchOnce(`http://127.0.0.1:${graph.port}/redirect-metadata`)),
      events: [],
      secrets: {},
    });
    expect(toMetadata.exchanges.map((e) => e.response?.status ?? e.error?.code)).toEqual([
      302,
      'EGRESS_DENIED',
    ]);
    expect(toMetadata.exchanges[1]!.request.url).toBe('http://169.254.169.254/latest/meta-data/');

    const toLoopback = await sandbox.send({
      code: ref(fetchOnce(`http://127.0.0.1:${graph.port}/redirect-loopback`)),
      events: [],
      secrets: {},
    });
    expect(toLoopback.exchanges.map((e) => e.response?.status ?? e.error?.code)).toEqual([
      307,
      'EGRESS_DENIED',
    ]);
    expect(forbidden.hits).toHaveLength(0);

    const allowed = await sandbox.send({
      code: ref(fetchOnce(`http://127.0.0.1:${graph.port}/redirect-same`)),
      events: [],
      secrets: {},
    });
    expect(allowed.exchanges.map((e) => e.response?.status)).toEqual([302, 200]);
  });

  it("honours fetch(url, { redirect: 'manual' }): the 3xx comes back as it is, nothing is followed", async () => {
    const forbiddenBefore = forbidden.hits.length;
    const run = await sandbox.send({
      code: ref(`async function send() {
        const r = await fetch(${JSON.stringify(`http://127.0.0.1:${graph.port}/redirect-loopback`)}, { redirect: 'manual' });
        return { status: r.status, location: r.headers.get('location'), redirected: r.redirected, url: r.url };
      }`),
      events: [],
      secrets: {},
    });
    expect(run.error).toBeUndefined();
    expect(run.value).toEqual({
      status: 307,
      location: `http://127.0.0.1:${forbidden.port}/internal`,
      redirected: false,
      url: `http://127.0.0.1:${graph.port}/redirect-loopback`,
    });
    expect(run.exchanges.map((e) => e.response?.status)).toEqual([307]);
    expect(forbidden.hits).toHaveLength(forbiddenBefore);
  });

  it("honours fetch(url, { redirect: 'error' }): a redirect rejects the fetch, nothing is followed", async () => {
    const hitsBefore = graph.hits.length;
    const run = await sandbox.send({
      code: ref(`async function send() {
        try {
          await fetch(${JSON.stringify(`http://127.0.0.1:${graph.port}/redirect-same`)}, { redirect: 'error' });
          return { outcome: 'delivered' };
        } catch (e) {
          return { outcome: 'failed', message: e.name + ': ' + e.message };
        }
      }`),
      events: [],
      secrets: {},
    });
    expect(run.value).toMatchObject({
      outcome: 'failed',
      message: expect.stringMatching(/^TypeError: .*redirect/),
    });
    expect(run.exchanges.map((e) => e.response?.status)).toEqual([302]);
    expect(graph.hits.length - hitsBefore).toBe(1);
  });

  it("follows redirects by default and with redirect: 'follow', and refuses an unknown mode", async () => {
    const follow = (mode: string | undefined) =>
      sandbox.send({
        code: ref(`async function send() {
          const r = await fetch(${JSON.stringify(`http://127.0.0.1:${graph.port}/redirect-same`)}${mode ? `, { redirect: ${JSON.stringify(mode)} }` : ''});
          return { status: r.status, redirected: r.redirected };
        }`),
        events: [],
        secrets: {},
      });
    for (const mode of [undefined, 'follow']) {
      const run = await follow(mode);
      expect(run.value).toEqual({ status: 200, redirected: true });
      expect(run.exchanges.map((e) => e.response?.status)).toEqual([302, 200]);
    }
    const bad = await follow('sideways');
    expect(bad.error?.message).toMatch(/redirect must be 'follow', 'manual' or 'error'/);
    expect(bad.exchanges).toEqual([]);
  });

  it('refuses non-http schemes', async () => {
    const run = await sandbox.send({ code: ref(fetchOnce('file:///etc/passwd')), events: [], secrets: {} });
    expect(run.exchanges[0]?.error?.code).toBe('EGRESS_DENIED');
  });

  it('caps the response size and times out a slow fetch', async () => {
    const big = await sandbox.send({
      code: ref(fetchOnce(`http://127.0.0.1:${graph.port}/big`)),
      events: [],
      secrets: {},
    });
    expect(big.exchanges[0]).toMatchObject({
      error: { code: 'RESPONSE_TOO_LARGE' },
      response: { truncated: true },
    });
    const slow = await sandbox.send({
      code: ref(fetchOnce(`http://127.0.0.1:${graph.port}/slow`)),
      events: [],
      secrets: {},
    });
    expect(slow.exchanges[0]?.error?.code).toBe('TIMEOUT');
    expect(slow.error?.message).toMatch(/fetch failed/);
  });

  it('reports a send() that throws, with exchanges made so far', async () => {
    const run = await sandbox.send({
      code: ref(`async function send() {
  await fetch('http://127.0.0.1:${graph.port}/v19.0/1/events', { method: 'POST', body: '{}' });
  throw new Error('platform said no');
}`),
      events: [],
      secrets: {},
    });
    expect(run.error).toMatchObject({ code: 'USER_CODE_ERROR', message: 'Error: platform said no', line: 3 });
    expect(run.exchanges).toHaveLength(1);
  });

  it('calls a substituted fetch on the main thread (for msw)', async () => {
    const seen: string[] = [];
    const run = await sandbox.send({
      code: ref(exampleSend('https://graph.facebook.com')),
      events: [payload('m1')],
      secrets: { META_PIXEL_ID: '42', META_ACCESS_TOKEN: 't' },
      options: {
        fetch: async (url, init) => {
          seen.push(`${init.method} ${url}`);
          return new Response(JSON.stringify({ events_received: 1, fbtrace_id: 'mocked' }), {
            headers: { 'content-type': 'application/json' },
          });
        },
      },
    });
    expect(run.value).toEqual({ events_received: 1, fbtrace_id: 'mocked' });
    expect(seen).toEqual(['POST https://graph.facebook.com/v19.0/42/events']);
    expect(run.exchanges[0]?.response?.status).toBe(200);
  });

  it('gives send() the crypto helpers too', async () => {
    const run = await sandbox.send({
      code: ref(
        "async function send() { const c = require('crypto'); return [openpipes.sha256Hex('x'), c.createHash('sha256').update('x').digest('hex')]; }",
      ),
      events: [],
      secrets: {},
    });
    expect(run.value).toEqual([
      '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881',
      '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881',
    ]);
  });

  it('gives send() its events as JSON.parse(JSON.stringify(events)) would (generated values), getters read once', async () => {
    const random = seededRandom(7);
    const events = Array.from({ length: 300 }, (_, i) => ({
      ...payload(`ord_${i}`),
      event_payload: jsonValue(random),
    }));
    let reads = 0;
    Object.defineProperty(events[0], 'read_once', {
      enumerable: true,
      get: () => {
        reads++;
        return 'read';
      },
    });
    const run = await sandbox.send({
      code: ref(`async function send({ events }) {
  const negativeZero = JSON.stringify(events, (k, v) => (Object.is(v, -0) ? 'negative zero' : v)).includes('negative zero');
  return { events, negativeZero };
}`),
      events: events as SandboxEvent[],
      secrets: {},
    });
    expect(run.error).toBeUndefined();
    expect(run.value).toStrictEqual({ events: JSON.parse(JSON.stringify(events)), negativeZero: false });
    expect(reads).toBe(2); // once for the send, once for the expectation
  });
});
