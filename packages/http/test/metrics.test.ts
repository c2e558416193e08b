/**
 * `/metrics`, `/livez` and `/readyz` on a real engine and a real server: after a scripted run
 * (events accepted and refused, delivered, a 500 retried, a dead delivery, a paused destination)
 * the exposition parses strictly and every counter moved by exactly what happened. The backlog
 * gauge is also read on PostgreSQL, by two engines on one schema (what `max by` relies on).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPipes, type Pipes, type Store } from '@openpipes/core';
import {
  metaLikeAnswer,
  settled,
  setupMetaExample,
  startTestServer,
  type TestServer,
  testSecretKey,
  waitFor,
} from '@openpipes/core/testing';
import { postgresStore } from '@openpipes/store-postgres';
import { postgresAvailable, postgresUrl, query, testSchema } from '@openpipes/store-postgres/testing';
import { sqliteStore } from '@openpipes/store-sqlite';
import { Counter, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler, type HandlerOptions } from '../src/index.js';
import { createNodeListener } from '../src/node.js';
import { checkedFetch } from './client.js';
import { type Exposition, parsePrometheusText } from './prometheus-text.js';
import { readKey, writeKey } from './servers.js';
import { closeServer, listen, type SqliteEngine, startSqliteEngine } from './sqlite-engine.js';

interface Served {
  url: string;
  pipes: Pipes;
  close(): Promise<void>;
}

async function serve(pipes: Pipes, options: HandlerOptions): Promise<Served> {
  const handler = createHandler(pipes, { apiKeys: [writeKey, readKey], ...options });
  const server: Server = createServer(createNodeListener(handler));
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    pipes,
    close: () => closeServer(server),
  };
}

/** `GET <path>`, the answer checked against the server's OpenAPI document. */
const get = (s: Served, path: string, token: string | null = null) =>
  checkedFetch({ base: s.url }, path, { headers: token ? { authorization: `Bearer ${token}` } : {} });

async function scrape(s: Served, token: string | null = readKey.token): Promise<Exposition> {
  const answer = await get(s, '/metrics', token);
  expect(answer.status).toBe(200);
  expect(answer.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(answer.text);
}

const collect = (s: Served, slug: string, events: unknown) =>
  fetch(`${s.url}/collect/${slug}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(events),
  });

const purchase = (orderId: string) => ({
  event_id: orderId,
  event_type: 'purchase',
  event_time: new Date().toISOString(),
  event_payload: { order_id: orderId, revenue: 10, currency: 'EUR' },
});

describe('GET /metrics after a scripted run (SQLite)', () => {
  let engine: SqliteEngine | undefined;
  let meta: TestServer;
  let down: TestServer;
  let s: Served;
  let m: Exposition;
  const pipeName = 'purchase-to-meta';
  const metaName = 'meta-capi-prod';

  beforeAll(async () => {
    // Meta answers 500 to "ord_dead" always and to "ord_retry" the first time.
    const failedOnce = new Set<string>();
    meta = await startTestServer((request) => {
      const id = (request.json as { data?: Array<{ event_id?: string }> }).data?.[0]?.event_id ?? '';
      if (id === 'ord_dead' || (id === 'ord_retry' && !failedOnce.has(id))) {
        failedOnce.add(id);
        return { status: 500, body: { error: { message: 'try again' } } };
      }
      return metaLikeAnswer(request);
    });
    down = await startTestServer(() => ({ status: 503, body: 'down' }));
    engine = await startSqliteEngine('metrics', {
      egressAllow: [meta.host, down.host],
      // One failed batch opens a breaker; pauses are short so that Meta's resumes within the test.
      dispatcher: {
        pollIntervalMs: 20,
        breakerThreshold: 1,
        breakerInitialPauseMs: 20,
        breakerMaxPauseMs: 50,
      },
    });
    const { pipes } = engine;
    s = await serve(pipes, { metrics: {}, probes: true });

    const flow = await setupMetaExample(pipes, meta, {
      max_batch_size: 1,
      retry: { max_attempts: 2, initial_delay_ms: 1, multiplier: 1 },
    });
    // A second source and destination that is down: its breaker opens and stays open (its one
    // delivery waits an hour for its next attempt, so no probe runs during the test).
    const app = await pipes.sources.create({ name: 'App', slug: 'app' });
    const sink = await pipes.destinations.create({
      name: 'down-sink',
      send: `async function send({ events }) {
        const res = await fetch('${down.url}/', { method: 'POST', body: JSON.stringify(events) });
        if (!res.ok) return { outcome: 'retry', message: 'HTTP ' + res.status };
        return { outcome: 'delivered' };
      }`,
      retry: { max_attempts: 5, initial_delay_ms: 3_600_000 },
    });
    const downPipe = await pipes.pipes.create({
      name: 'app-to-sink',
      source_id: app.id,
      destination_id: sink.id,
      transform: null,
    });
    await pipes.pipes.enable(downPipe.id);
    await pipes.destinations.enable(sink.id);

    // 1. One request: an accepted purchase, an invalid one, an unknown event type.
    const first = await collect(s, 'web', [
      purchase('ord_ok'),
      { event_type: 'purchase', event_time: new Date().toISOString(), event_payload: { order_id: 'x' } },
      { event_type: 'page_view', event_time: new Date().toISOString(), event_payload: {} },
    ]);
    expect(first.status).toBe(202);
    await settled(pipes, flow.pipe.id, 1);
    // 2. Dead after two 500s. 3. A 500, then delivered. One phase at a time, so that every claim
    // holds one delivery and the transform and send counts are exact.
    expect((await collect(s, 'web', purchase('ord_dead'))).status).toBe(202);
    await settled(pipes, flow.pipe.id, 2);
    expect((await collect(s, 'web', purchase('ord_retry'))).status).toBe(202);
    await settled(pipes, flow.pipe.id, 3);
    // 4. An event the transform filters out; a duplicate of ord_ok (refused by the dedup window).
    expect(
      (
        await collect(s, 'web', {
          event_type: 'add_to_cart',
          event_time: new Date().toISOString(),
          event_payload: {},
        })
      ).status,
    ).toBe(202);
    await settled(pipes, flow.pipe.id, 4);
    expect((await collect(s, 'web', purchase('ord_ok'))).status).toBe(200);
    // 5. A request refused as a whole, and the down destination's one event.
    expect((await collect(s, 'nope', purchase('ord_x'))).status).toBe(404);
    expect((await collect(s, 'app', purchase('ord_app'))).status).toBe(202);
    // Open, or half-open with nothing due to probe with: paused either way.
    await waitFor(
      () => (pipes.status().breakers[sink.id]?.state ?? 'closed') !== 'closed',
      15_000,
      'the sink paused',
    );
    await waitFor(
      () => pipes.status().breakers[flow.destination.id]?.state === 'closed',
      15_000,
      'Meta resumed',
    );
    m = await scrape(s);
  }, 60_000);

  afterAll(async () => {
    await s?.close();
    await engine?.stop();
    await meta?.close();
    await down?.close();
  });

  it('counts events accepted, duplicate and refused, per source and reason', () => {
    expect(m.value('openpipes_events_ingested_total', { source: 'web' })).toBe(4);
    expect(m.value('openpipes_events_ingested_total', { source: 'app' })).toBe(1);
    expect(m.value('openpipes_events_duplicate_total', { source: 'web' })).toBe(1);
    expect(m.value('openpipes_events_rejected_total', { source: 'web', reason: 'validation_failed' })).toBe(
      1,
    );
    expect(m.value('openpipes_events_rejected_total', { source: 'web', reason: 'unknown_event_type' })).toBe(
      1,
    );
    expect(m.value('openpipes_events_rejected_total')).toBe(2);
    // The unknown slug is not a label (a sender chose it): only the error code is.
    expect(m.value('openpipes_collect_refused_total', { code: 'unknown_source' })).toBe(1);
    expect(m.find('openpipes_collect_refused_total').every((x) => !JSON.stringify(x).includes('nope'))).toBe(
      true,
    );
    expect(m.value('openpipes_collect_request_duration_seconds_count', { status: '2xx' })).toBe(6);
    expect(m.value('openpipes_collect_request_duration_seconds_count', { status: '4xx' })).toBe(1);
  });

  it('counts final deliveries and every attempt, by pipe and destination name', () => {
    const d = { pipe: pipeName, destination: metaName };
    expect(m.value('openpipes_deliveries_total', { ...d, status: 'delivered' })).toBe(2);
    expect(m.value('openpipes_deliveries_total', { ...d, status: 'dead' })).toBe(1);
    expect(m.value('openpipes_deliveries_total', { ...d, status: 'filtered' })).toBe(1);
    expect(m.value('openpipes_deliveries_total')).toBe(4);
    const a = { destination: metaName };
    expect(m.value('openpipes_delivery_attempts_total', { ...a, outcome: 'delivered' })).toBe(2);
    expect(m.value('openpipes_delivery_attempts_total', { ...a, outcome: 'retrying' })).toBe(2);
    expect(m.value('openpipes_delivery_attempts_total', { ...a, outcome: 'dead' })).toBe(1);
    expect(
      m.value('openpipes_delivery_attempts_total', { destination: 'down-sink', outcome: 'retrying' }),
    ).toBe(1);
    expect(m.value('openpipes_delivery_attempts_total')).toBe(6);
  });

  it('times every send and transform call', () => {
    expect(m.value('openpipes_send_duration_seconds_count', { destination: metaName })).toBe(5);
    expect(m.value('openpipes_send_duration_seconds_count', { destination: 'down-sink' })).toBe(1);
    // Five attempts and the filtered event ran the transform; the sink's pipe has none.
    expect(m.value('openpipes_transform_duration_seconds_count', { pipe: pipeName })).toBe(6);
    expect(m.find('openpipes_transform_duration_seconds_count', { pipe: 'app-to-sink' })).toEqual([]);
    expect(m.value('openpipes_send_duration_seconds_sum', { destination: metaName })).toBeGreaterThan(0);
    const buckets = m.find('openpipes_send_duration_seconds_bucket', { destination: metaName, le: '+Inf' });
    expect(buckets.map((b) => b.value)).toEqual([5]);
  });

  it('reports the backlog from the store and the paused destination', () => {
    expect(m.value('openpipes_backlog', { destination: metaName })).toBe(0);
    expect(m.value('openpipes_backlog', { destination: 'down-sink' })).toBe(1);
    expect(m.value('openpipes_destination_paused', { destination: 'down-sink' })).toBe(1);
    expect(m.value('openpipes_destination_paused', { destination: metaName })).toBe(0);
    expect(m.types.get('openpipes_backlog')).toBe('gauge');
  });

  it('reports the sandbox pool', () => {
    expect(m.value('openpipes_sandbox_workers')).toBe(1);
    expect(m.value('openpipes_sandbox_contexts_created_total')).toBeGreaterThanOrEqual(1);
    expect(m.types.get('openpipes_sandbox_contexts_recycled_total')).toBe('counter');
  });

  it('keeps labels to names and small fixed sets', () => {
    const allowed: Record<string, RegExp> = {
      source: /^(web|app)$/,
      reason: /^(validation_failed|unknown_event_type)$/,
      code: /^[a-z_]+$/,
      status: /^(\dxx|delivered|filtered|failed|dead)$/,
      outcome: /^(delivered|retrying|failed|dead)$/,
      pipe: /^(purchase-to-meta|app-to-sink)$/,
      destination: /^(meta-capi-prod|down-sink)$/,
      le: /^([\d.e+-]+|\+Inf)$/,
    };
    for (const sample of m.samples.filter((x) => x.name.startsWith('openpipes_'))) {
      for (const [label, value] of Object.entries(sample.labels)) {
        expect(allowed[label], `label ${label} of ${sample.name}`).toBeDefined();
        expect(value).toMatch(allowed[label]!);
      }
    }
  });

  it('answers API keys of either scope, and refuses anyone else', async () => {
    await scrape(s, writeKey.token);
    expect((await get(s, '/metrics')).status).toBe(401);
    expect((await get(s, '/metrics', 'nope-nope-nope')).status).toBe(401);
  });

  it('lists /metrics, /livez and /readyz in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${s.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/metrics', '/livez', '/readyz', '/healthz']),
    );
  });
});

describe('probes and opt-in paths', () => {
  it('are absent unless asked for; /metrics may be public', async () => {
    const engine = await startSqliteEngine('probes', {}, { start: false });
    const { pipes } = engine;
    const plain = await serve(pipes, {});
    // The embedder's registry: its own metrics and ours on one endpoint.
    const registry = new Registry();
    new Counter({ name: 'app_orders_total', help: 'Orders of the host app.', registers: [registry] }).inc(2);
    const open = await serve(pipes, { metrics: { public: true, registry } });
    try {
      for (const path of ['/metrics', '/livez', '/readyz']) {
        expect((await fetch(`${plain.url}${path}`)).status, path).toBe(404);
      }
      const m = await scrape(open, null);
      expect(m.types.get('openpipes_events_ingested_total')).toBe('counter');
      expect(m.value('app_orders_total')).toBe(2);
      // A second handler on the same registry is refused by name, not silently doubled.
      expect(() => createHandler(pipes, { metrics: { registry } })).toThrow(
        /openpipes_events_ingested_total/,
      );
    } finally {
      await plain.close();
      await open.close();
      await engine.stop();
    }
  });

  it('/livez answers through a store outage, draining and stop; /readyz says why it is not ready', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'openpipes-probes-'));
    const inner = sqliteStore({ filename: join(dir, 'a.db') });
    let outage = false;
    const store: Store = {
      ...inner,
      async listEntities(input) {
        if (outage) throw Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
        return inner.listEntities(input);
      },
    };
    const pipes = createPipes({ store, secretKey: testSecretKey });
    let draining = false;
    const s = await serve(pipes, { probes: { draining: () => draining } });
    const probe = async (path: string) => {
      const answer = await get(s, path);
      return { status: answer.status, body: answer.json };
    };
    try {
      expect(await probe('/readyz')).toEqual({ status: 200, body: { status: 'ok' } });
      outage = true;
      expect(await probe('/livez')).toEqual({ status: 200, body: { status: 'ok' } });
      const readyz = await probe('/readyz');
      expect(readyz.status).toBe(503);
      expect(readyz.body).toMatchObject({ status: 'unavailable', reason: 'store' });
      outage = false;
      draining = true;
      expect((await probe('/readyz')).body).toMatchObject({ reason: 'draining' });
      draining = false;
      await pipes.stop();
      expect(await probe('/livez')).toEqual({ status: 200, body: { status: 'ok' } });
      expect((await probe('/readyz')).body).toMatchObject({ reason: 'stopped' });
    } finally {
      await s.close();
      await pipes.stop();
      await inner.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!(await postgresAvailable()))('the backlog gauge on PostgreSQL', () => {
  it('is read from the database: two processes report the same backlog, cached between scrapes', async () => {
    const schema = testSchema('metrics');
    const engines: Served[] = [];
    let backlogReads = 0;
    const open = () => {
      const inner = postgresStore({ connectionString: postgresUrl, schema, poolSize: 2 });
      const store: Store = {
        ...inner,
        backlog() {
          backlogReads++;
          return inner.backlog();
        },
      };
      // Ingest only: nothing is delivered, so the backlog is exactly what was accepted.
      return createPipes({ store, secretKey: testSecretKey, roles: ['ingest'] });
    };
    try {
      const first = open();
      const meta = await startTestServer();
      await setupMetaExample(first, meta);
      await meta.close();
      const idle = await first.destinations.create({ name: 'idle-sink', send: 'async function send() {}' });
      expect(idle.enabled).toBe(false);
      engines.push(await serve(first, { metrics: {} }));
      engines.push(await serve(open(), { metrics: {} }));
      await first.ingest('web', [purchase('ord_1'), purchase('ord_2'), purchase('ord_3')]);

      const started = Date.now();
      const [a, b] = [await scrape(engines[0]!), await scrape(engines[1]!)];
      for (const m of [a, b]) {
        expect(m.value('openpipes_backlog', { destination: 'meta-capi-prod' })).toBe(3);
        expect(m.value('openpipes_backlog', { destination: 'idle-sink' })).toBe(0);
      }
      // Only the first engine ingested: counters are per process, the backlog is not.
      expect(a.value('openpipes_events_ingested_total', { source: 'web' })).toBe(3);
      expect(b.value('openpipes_events_ingested_total', { source: 'web' })).toBe(0);

      await first.ingest('web', [purchase('ord_4')]);
      const again = await scrape(engines[0]!);
      // Cached for at least 10 s: a second scrape within that reads the same numbers, not the store.
      if (Date.now() - started < 10_000) {
        expect(again.value('openpipes_backlog', { destination: 'meta-capi-prod' })).toBe(3);
        expect(backlogReads).toBe(2);
      }
    } finally {
      for (const e of engines) {
        await e.close();
        await e.pipes.stop();
        await e.pipes.store.close();
      }
      await query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    }
  }, 30_000);
});
