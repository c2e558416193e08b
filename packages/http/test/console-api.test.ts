/**
 * The REST additions the console uses, on a real engine (SQLite, the real sandbox, a stand-in for
 * Meta on 127.0.0.1): `GET /api/delivery-counts` (delivered events show in the current minute's
 * and hour's buckets; bad windows are refused with a coded error) and
 * `POST /api/pipes/{id}/transform-test` (runs code in the sandbox, delivers nothing, redacts).
 */
import type { Pipes } from '@openpipes/core';
import {
  exampleAccessToken,
  metaLikeAnswer,
  purchaseEvent,
  settled,
  setupMetaExample,
  startTestServer,
  type TestServer,
} from '@openpipes/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../src/index.js';
import { type SqliteEngine, startSqliteEngine } from './sqlite-engine.js';

describe('the console API', () => {
  let meta: TestServer;
  let engine: SqliteEngine;
  let pipes: Pipes;
  let flow: Awaited<ReturnType<typeof setupMetaExample>>;
  const key = { name: 'viewer', token: 'delivery-counts-read-0123', scope: 'read' as const };
  const writer = { name: 'ops', token: 'delivery-counts-write-0123', scope: 'write' as const };
  const get = (path: string) =>
    createHandler(pipes, { apiKeys: [key] })(
      new Request(`http://localhost${path}`, { headers: { authorization: `Bearer ${key.token}` } }),
    );
  const post = (path: string, body: unknown, token = writer.token) =>
    createHandler(pipes, { apiKeys: [key, writer] })(
      new Request(`http://localhost${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    );

  beforeAll(async () => {
    meta = await startTestServer(metaLikeAnswer);
    engine = await startSqliteEngine('counts', {
      egressAllow: [meta.host],
      dispatcher: { pollIntervalMs: 20 },
    });
    pipes = engine.pipes;
    flow = await setupMetaExample(pipes, meta);
    await pipes.ingest('web', [purchaseEvent('ord_1'), purchaseEvent('ord_2'), purchaseEvent('ord_3')]);
    await settled(pipes, flow.pipe.id, 3);
  });
  afterAll(async () => {
    await engine.stop();
    await meta.close();
  });

  const total = (data: Array<{ status: string; count: number }>, status: string) =>
    data.filter((r) => r.status === status).reduce((sum, r) => sum + r.count, 0);

  it('counts the deliveries of the last hour by minute, and of the last day by hour', async () => {
    const minutes = await get(`/api/delivery-counts?pipe_id=${flow.pipe.id}`);
    expect(minutes.status).toBe(200);
    const byMinute = (await minutes.json()) as {
      bucket: string;
      data: Array<{ status: string; count: number; time: string; destination_id: string }>;
    };
    expect(byMinute.bucket).toBe('minute');
    expect(total(byMinute.data, 'delivered')).toBe(3);
    expect(total(byMinute.data, 'pending')).toBe(3);
    expect(
      byMinute.data.every((r) => r.destination_id === flow.destination.id && /:00\.000Z$/.test(r.time)),
    ).toBe(true);

    const hours = await get(`/api/delivery-counts?destination_id=${flow.destination.id}&bucket=hour`);
    const byHour = (await hours.json()) as { data: Array<{ status: string; count: number; time: string }> };
    expect(total(byHour.data, 'delivered')).toBe(3);
    expect(byHour.data.every((r) => /T\d\d:00:00\.000Z$/.test(r.time))).toBe(true);

    const elsewhere = await get('/api/delivery-counts?since=2020-01-01T00:00:00Z&until=2020-01-01T01:00:00Z');
    expect(((await elsewhere.json()) as { data: unknown[] }).data).toEqual([]);
  });

  it('refuses a reversed, too long or malformed window with a coded error', async () => {
    for (const query of [
      'since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z',
      'since=2026-01-01T00:00:00Z&until=2026-01-05T00:00:00Z',
      'since=2026-01-01T00:00:00Z&until=2026-03-01T00:00:00Z&bucket=hour',
      'since=yesterday',
      'bucket=week',
      'pipeid=x',
    ]) {
      const response = await get(`/api/delivery-counts?${query}`);
      expect(response.status, query).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');
    }
  });

  it('runs a transform test on given events and on recent ones, redacted, delivering nothing', async () => {
    const before = (await pipes.deliveries.list(flow.pipe.id)).data.length;
    const sent = meta.requests.length;
    const echo = `function transform({ events, secrets }) {
      console.log('token', secrets.META_ACCESS_TOKEN);
      return events.map((e) => ({ ...e, event_payload: { token: secrets.META_ACCESS_TOKEN, order: e.event_payload.order_id } }));
    }`;
    const given = await post(`/api/pipes/${flow.pipe.id}/transform-test`, {
      transform: echo,
      events: [purchaseEvent('ord_t1')],
    });
    expect(given.status).toBe(200);
    const text = await given.text();
    expect(text).not.toContain(exampleAccessToken);
    const result = JSON.parse(text) as {
      results: Array<{ event_id: string; output: Array<{ event_payload: unknown }> }>;
      logs: Array<{ message: string }>;
    };
    expect(result.results[0]!.event_id).toBe('ord_t1');
    expect(result.results[0]!.output[0]!.event_payload).toEqual({
      token: '[secret:META_ACCESS_TOKEN]',
      order: 'ord_t1',
    });
    expect(result.logs[0]!.message).toBe('token [secret:META_ACCESS_TOKEN]');

    // The pipe's own transform on the events of its newest deliveries.
    const recent = await post(`/api/pipes/${flow.pipe.id}/transform-test`, { recent: 2 });
    const ran = (await recent.json()) as { results: Array<{ output: unknown[] | null; error: unknown }> };
    expect(ran.results).toHaveLength(2);
    expect(ran.results.every((r) => r.output?.length === 1 && r.error === null)).toBe(true);

    // A throw reports its line and column.
    const broken = await post(`/api/pipes/${flow.pipe.id}/transform-test`, {
      transform: 'function transform({ events }) {\n  return events.map((e) => e.nope.deeper);\n}',
      events: [purchaseEvent('ord_t2')],
    });
    const failed = (await broken.json()) as {
      results: Array<{ output: null; error: { code: string; line: number } }>;
    };
    expect(failed.results[0]).toMatchObject({ output: null, error: { code: 'USER_CODE_ERROR', line: 2 } });

    // A filtered event says why: the transform's own reason, or "transform" when it gave none.
    const filtering = await post(`/api/pipes/${flow.pipe.id}/transform-test`, {
      transform: `function transform({ events }) {
        return events.flatMap((e) => (e.event_id === 'ord_t3' ? { filter_reason: 'no_click_id' } : []));
      }`,
      events: [purchaseEvent('ord_t3'), purchaseEvent('ord_t4')],
    });
    expect(filtering.status).toBe(200);
    const reasons = (await filtering.json()) as {
      results: Array<{ output: unknown[]; filter_reason?: string }>;
    };
    expect(reasons.results.map((r) => [r.output, r.filter_reason])).toEqual([
      [[], 'no_click_id'],
      [[], 'transform'],
    ]);

    expect((await pipes.deliveries.list(flow.pipe.id)).data.length).toBe(before);
    expect(meta.requests).toHaveLength(sent);
  });

  it('refuses a read key, both or neither of events and recent, and an unknown pipe', async () => {
    expect((await post(`/api/pipes/${flow.pipe.id}/transform-test`, { recent: 1 }, key.token)).status).toBe(
      403,
    );
    for (const body of [{}, { recent: 1, events: [purchaseEvent('x')] }, { recent: 0 }, { events: [] }]) {
      const response = await post(`/api/pipes/${flow.pipe.id}/transform-test`, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
    }
    expect(
      (await post('/api/pipes/pip_01HZZZZZZZZZZZZZZZZZZZZZZZ/transform-test', { recent: 1 })).status,
    ).toBe(404);
  });

  it('reconciles purchases: collected, and per destination and pipe delivered, filtered, failed, pending', async () => {
    const response = await get('/api/reconciliation?event_type=purchase');
    expect(response.status).toBe(200);
    const result = (await response.json()) as {
      collected: number;
      collected_by_source: Array<{ source_id: string; count: number }>;
      destinations: Array<{
        destination_id: string;
        name: string;
        expected: number;
        missing: number;
        deliveries: number;
        delivered: number;
        filtered: number;
        failed: number;
        pending: number;
        pipes: Array<{ pipe_id: string; delivered: number }>;
      }>;
    };
    expect(result.collected).toBe(3);
    expect(result.collected_by_source).toEqual([{ source_id: flow.source.id, count: 3 }]);
    expect(result.destinations).toEqual([
      expect.objectContaining({
        destination_id: flow.destination.id,
        name: 'meta-capi-prod',
        expected: 3,
        missing: 0,
        deliveries: 3,
        delivered: 3,
        filtered: 0,
        failed: 0,
        pending: 0,
        pipes: [expect.objectContaining({ pipe_id: flow.pipe.id, delivered: 3 })],
      }),
    ]);

    // Another type, or a period before these events: nothing collected, the pipe still listed.
    for (const query of [
      'event_type=refund',
      'event_type=purchase&from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z',
    ]) {
      const empty = (await (await get(`/api/reconciliation?${query}`)).json()) as typeof result;
      expect(empty.collected, query).toBe(0);
      expect(empty.destinations.map((d) => [d.expected, d.deliveries])).toEqual([[0, 0]]);
    }
    for (const query of [
      '',
      'event_type=purchase&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z',
      'event_type=purchase&from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z',
      'event_type=purchase&since=2026-01-01T00:00:00Z',
    ]) {
      expect((await get(`/api/reconciliation?${query}`)).status, query).toBe(400);
    }
  });
});
