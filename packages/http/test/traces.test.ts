/**
 * Traces with the OpenTelemetry SDK's in-memory exporter, on a real engine behind a real server:
 * one collect request carrying a `traceparent` produces, under that trace id, the collect server
 * span and the ingest span; the batch that delivers its events is a trace of its own linked to
 * it, with claim, transform, send (and a client span per HTTP exchange send() made) and record
 * under it; the delivery record names the trace id; the platform gets no `traceparent`. On SQLite
 * and, when it is reachable, PostgreSQL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPipes, type Pipes, type Store } from '@openpipes/core';
import {
  exampleAccessToken,
  metaLikeAnswer,
  settled,
  setupMetaExample,
  startTestServer,
  type TestServer,
  testSecretKey,
} from '@openpipes/core/testing';
import { postgresStore } from '@openpipes/store-postgres';
import { postgresAvailable, postgresUrl, query, testSchema } from '@openpipes/store-postgres/testing';
import { sqliteStore } from '@openpipes/store-sqlite';
import { context, propagation, SpanKind } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../src/index.js';
import { createNodeListener } from '../src/node.js';
import { writeKey } from './servers.js';
import { closeServer, listen } from './sqlite-engine.js';

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const callerSpanId = '00f067aa0ba902b7';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  // What a host's SDK setup registers: a context manager and the W3C propagator.
  context.setGlobalContextManager(contextManager.enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
});
afterAll(() => {
  contextManager.disable();
  context.disable();
  propagation.disable();
});

async function serve(pipes: Pipes) {
  const server: Server = createServer(createNodeListener(createHandler(pipes, { apiKeys: [writeKey] })));
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => closeServer(server),
  };
}

const purchase = (orderId: string) => ({
  event_id: orderId,
  event_type: 'purchase',
  event_time: new Date().toISOString(),
  event_payload: { order_id: orderId, revenue: 10, currency: 'EUR' },
});

function spanTreeCases(name: string, openStore: () => Promise<Store>, cleanup: () => Promise<void>) {
  describe(`traces on ${name}`, () => {
    let meta: TestServer;
    afterAll(async () => {
      await meta?.close();
      await cleanup();
    });

    it('puts one collect request with a traceparent and the batch that delivers it on linked span trees', async () => {
      exporter.reset();
      meta = await startTestServer(metaLikeAnswer);
      const pipes = createPipes({
        store: await openStore(),
        secretKey: testSecretKey,
        egressAllow: [meta.host],
        sandbox: { workers: 1 },
        dispatcher: { pollIntervalMs: 50 },
        tracing: { tracerProvider: provider },
      });
      const { pipe } = await setupMetaExample(pipes, meta);
      await pipes.start();
      const server = await serve(pipes);
      try {
        const answer = await fetch(`${server.url}/collect/web`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${callerSpanId}-01` },
          body: JSON.stringify([purchase('ord_t1'), purchase('ord_t2')]),
        });
        expect(answer.status).toBe(202);
        const deliveries = await settled(pipes, pipe.id, 2);
        await pipes.idle();
        expect(deliveries.map((d) => [d.status, d.trace_id])).toEqual([
          ['delivered', traceId],
          ['delivered', traceId],
        ]);
        // The REST record names it too.
        const record = await fetch(`${server.url}/api/event-deliveries/${deliveries[0]!.id}`, {
          headers: { authorization: `Bearer ${writeKey.token}` },
        });
        expect(((await record.json()) as { trace_id: string }).trace_id).toBe(traceId);
      } finally {
        await server.close();
        await pipes.stop();
        await pipes.store.close();
      }

      const spans = exporter.getFinishedSpans();
      const named = (n: string) => spans.filter((s) => s.name === n);
      const one = (n: string) => {
        const found = named(n);
        expect(found, n).toHaveLength(1);
        return found[0]!;
      };
      const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

      // The request's trace: collect (server, child of the caller) > ingest.
      const collect = one('POST /collect/{slug}');
      expect(collect.kind).toBe(SpanKind.SERVER);
      expect(collect.spanContext().traceId).toBe(traceId);
      expect(parentOf(collect)).toBe(callerSpanId);
      expect(collect.attributes).toMatchObject({
        'http.response.status_code': 202,
        'openpipes.source': 'web',
      });
      const ingest = one('openpipes.ingest');
      expect(ingest.spanContext().traceId).toBe(traceId);
      expect(parentOf(ingest)).toBe(collect.spanContext().spanId);
      expect(ingest.attributes).toMatchObject({ 'openpipes.events.accepted': 2 });

      // The batch: a trace of its own, linked once to the ingest span both events came from.
      const batch = one('openpipes.batch');
      expect(batch.spanContext().traceId).not.toBe(traceId);
      expect(batch.parentSpanContext).toBeUndefined();
      expect(batch.links.map((l) => [l.context.traceId, l.context.spanId])).toEqual([
        [traceId, ingest.spanContext().spanId],
      ]);
      expect(batch.attributes).toMatchObject({
        'openpipes.destination': 'meta-capi-prod',
        'openpipes.batch.size': 2,
      });
      for (const stage of ['openpipes.claim', 'openpipes.transform', 'openpipes.send', 'openpipes.record']) {
        expect(parentOf(one(stage)), stage).toBe(batch.spanContext().spanId);
        expect(one(stage).spanContext().traceId).toBe(batch.spanContext().traceId);
      }
      expect(one('openpipes.transform').attributes).toMatchObject({ 'openpipes.pipe': 'purchase-to-meta' });

      // send()'s request, seen from the main thread: a client span under the send span, timed
      // inside it, with no token in any attribute.
      const client = spans.filter((s) => s.kind === SpanKind.CLIENT);
      expect(client).toHaveLength(1);
      const send = one('openpipes.send');
      expect(parentOf(client[0]!)).toBe(send.spanContext().spanId);
      expect(client[0]!.attributes).toMatchObject({
        'http.request.method': 'POST',
        'http.response.status_code': 200,
        'server.address': '127.0.0.1',
      });
      expect(String(client[0]!.attributes['url.full'])).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
      expect(JSON.stringify(spans.map((s) => s.attributes))).not.toContain(exampleAccessToken);

      // No trace context leaves for the platform.
      expect(meta.requests.length).toBeGreaterThan(0);
      for (const request of meta.requests) {
        expect(request.headers.traceparent).toBeUndefined();
        expect(request.headers.tracestate).toBeUndefined();
      }
    });

    it('stores no trace context and makes no span with tracing off', async () => {
      exporter.reset();
      const pipes = createPipes({ store: await openStore(), secretKey: testSecretKey, tracing: false });
      await pipes.sources.create({ name: 'Web', slug: 'web' });
      await pipes.eventTypes.create({ name: 'purchase', schema: { type: 'object' } });
      const server = await serve(pipes);
      try {
        const answer = await fetch(`${server.url}/collect/web`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-${callerSpanId}-01` },
          body: JSON.stringify(purchase('ord_off')),
        });
        expect(answer.status).toBe(202);
      } finally {
        await server.close();
        await pipes.stop();
        await pipes.store.close();
      }
      expect(exporter.getFinishedSpans()).toEqual([]);
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'openpipes-traces-'));
let files = 0;
spanTreeCases(
  'SQLite',
  async () => sqliteStore({ filename: join(dir, `traces-${files++}.db`) }),
  async () => rmSync(dir, { recursive: true, force: true }),
);

if (await postgresAvailable()) {
  const schemas: string[] = [];
  spanTreeCases(
    'PostgreSQL',
    async () => {
      const schema = testSchema('traces');
      schemas.push(schema);
      return postgresStore({ connectionString: postgresUrl, schema, poolSize: 4 });
    },
    async () => {
      for (const schema of schemas) await query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
  );
}
