/**
 * Match quality end to end, on SQLite and PostgreSQL: the real Meta template and identity
 * stitching, a Meta stand-in on loopback that checks the request like Meta does. A browser page
 * view (fbclid, `_fbp`, IP, user agent) and a login (email) link anonymous id A to user U; a backend
 * purchase carrying only U leaves with the hashed email and fbp — so email and fbp are 0% raw and
 * 100% stitched in `GET /api/pipes/{id}/match-quality` and in the metrics. A custom `send()` that
 * declares no identifiers says `measured: false`.
 */
import { createServer, type Server } from 'node:http';
import {
  type RecordedTestRequest,
  startTestServer,
  type TestResponse,
  type TestServer,
  waitFor,
} from '@openpipes/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createHandler } from '../src/index.js';
import { createNodeListener } from '../src/node.js';
import { checkedFetch } from './client.js';
import { parsePrometheusText } from './prometheus-text.js';
import { readKey, writeKey } from './servers.js';
import { closeServer, listen } from './sqlite-engine.js';
import { backends, ingestStory, metaPixel, setupMetaPurchases, startEngine } from './stitching.js';

const TOKEN = 'meta-token-match';
const sha256Hex = /^[0-9a-f]{64}$/;

/** Meta's Conversions API as far as these requests go: path, token, hashed and unhashed fields. */
function metaStandIn(violations: string[]) {
  return (request: RecordedTestRequest): TestResponse => {
    const refuse = (why: string): TestResponse => {
      violations.push(why);
      return { status: 400, body: { error: { message: why, type: 'OAuthException', code: 100 } } };
    };
    if (request.method !== 'POST' || request.url !== `/v26.0/${metaPixel}/events`) {
      return refuse(`unexpected ${request.method} ${request.url}`);
    }
    const body = request.json as { access_token?: string; data?: Array<Record<string, unknown>> };
    if (body.access_token !== TOKEN) return refuse('bad access token');
    if (!Array.isArray(body.data) || body.data.length === 0) return refuse('data must be a non-empty array');
    for (const event of body.data) {
      const user = event.user_data as Record<string, unknown> | undefined;
      if (!user || Object.keys(user).length === 0) return refuse('user_data is required');
      for (const key of ['em', 'ph', 'external_id']) {
        const values = user[key] === undefined ? [] : [user[key]].flat();
        if (values.some((v) => typeof v !== 'string' || !sha256Hex.test(v)))
          return refuse(`${key} must be SHA-256`);
      }
      for (const key of ['fbp', 'fbc', 'client_ip_address', 'client_user_agent']) {
        if (typeof user[key] === 'string' && sha256Hex.test(user[key] as string)) {
          return refuse(`${key} must not be hashed`);
        }
      }
      if (event.action_source === 'website' && typeof user.client_user_agent !== 'string') {
        return refuse('client_user_agent is required for website events');
      }
    }
    return { status: 200, body: { events_received: body.data.length, messages: [], fbtrace_id: 'T1' } };
  };
}

describe.each(await backends('match'))('match quality end to end ($name)', (backend) => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  it('a purchase with only the user id: email and fbp 0% raw, 100% stitched; a custom send() is not measured', async () => {
    const violations: string[] = [];
    const meta: TestServer = await startTestServer(metaStandIn(violations));
    closers.push(() => meta.close());
    const sink: TestServer = await startTestServer(() => ({ body: { ok: true } }));
    closers.push(() => sink.close());
    const pipes = await startEngine(backend, closers, {
      identity: true,
      egressAllow: [meta.host, sink.host],
    });
    // The handler (and its metrics observer) before anything is delivered: counters count from here.
    const server: Server = createServer(
      createNodeListener(createHandler(pipes, { apiKeys: [writeKey, readKey], metrics: {} })),
    );
    const base = `http://127.0.0.1:${await listen(server)}`;
    closers.push(() => closeServer(server));
    const get = (path: string) =>
      checkedFetch({ base }, path, { headers: { authorization: `Bearer ${readKey.token}` } });

    // The browser's events only link identities (no pipe); the backend's purchase is delivered.
    const { backendSource, destination, pipe } = await setupMetaPurchases(pipes, {
      metaUrl: meta.url,
      token: TOKEN,
    });
    expect(destination.identifiers?.email).toEqual(['user_data.em']);
    // A custom send() that declares nothing: delivered, but not measured.
    const custom = await pipes.destinations.create({
      name: 'custom-sink',
      send: `async function send({ events }) {
        const res = await fetch(${JSON.stringify(`${sink.url}/in`)}, { method: 'POST', body: JSON.stringify(events) });
        return res.ok ? { outcome: 'delivered' } : { outcome: 'retry', message: 'HTTP ' + res.status };
      }`,
    });
    const customPipe = await pipes.pipes.create({
      name: 'purchases-to-custom',
      source_id: backendSource.id,
      destination_id: custom.id,
      transform: null,
    });
    await pipes.pipes.enable(customPipe.id);
    await pipes.destinations.enable(custom.id);

    await ingestStory(pipes, 'match');

    for (const id of [pipe.id, customPipe.id]) {
      await waitFor(
        async () => (await pipes.deliveries.list(id, { status: 'delivered' })).data.length === 1,
        20_000,
        `the purchase delivered by ${id}`,
      );
    }
    expect(violations).toEqual([]);
    // What left: the stitched email (hashed) and fbp.
    const sent = (meta.requests[0]!.json as { data: Array<{ user_data: Record<string, unknown> }> }).data[0]!;
    expect(sent.user_data.em).toBeDefined();
    expect(sent.user_data.fbp).toBe('fb.1.1700000000000.4242');

    const answer = await get(`/api/pipes/${pipe.id}/match-quality?window=1h`);
    expect(answer.status).toBe(200);
    expect(answer.json.measured).toBe(true);
    expect(answer.json.delivered).toBe(1);
    const row = (identifier: string) =>
      answer.json.identifiers.find((r: { identifier: string }) => r.identifier === identifier);
    for (const identifier of ['email', 'fbp']) {
      expect(row(identifier)).toEqual({ identifier, raw: 0, stitched: 1, raw_share: 0, stitched_share: 1 });
    }
    // Declared but carried by nothing: listed at zero (the marketer sees what is missing).
    expect(row('phone')).toMatchObject({ raw: 0, stitched: 0, stitched_share: 0 });

    for (const window of ['24h', '7d']) {
      const wider = await get(`/api/pipes/${pipe.id}/match-quality?window=${window}`);
      expect(wider.json.delivered).toBe(1);
    }
    const unmeasured = await get(`/api/pipes/${customPipe.id}/match-quality`);
    expect(unmeasured.status).toBe(200);
    expect(unmeasured.json).toMatchObject({ measured: false, window: '24h', delivered: 0, identifiers: [] });
    expect((await get(`/api/pipes/${pipe.id}/match-quality?window=2h`)).status).toBe(400);

    const metrics = parsePrometheusText((await get('/metrics')).text);
    const carried = (identifier: string, stage: string) =>
      metrics.value('openpipes_match_identifier_events_total', {
        pipe: 'purchases-to-meta',
        identifier,
        stage,
      }) ?? 0;
    expect(metrics.value('openpipes_match_measured_events_total', { pipe: 'purchases-to-meta' })).toBe(1);
    expect(carried('email', 'stitched')).toBe(1);
    expect(carried('email', 'raw')).toBe(0);
    expect(carried('fbp', 'stitched')).toBe(1);
    expect(carried('fbp', 'raw')).toBe(0);
    expect(metrics.value('openpipes_match_measured_events_total', { pipe: 'purchases-to-custom' }) ?? 0).toBe(
      0,
    );
  }, 60_000);
});
