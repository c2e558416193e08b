/**
 * `GET /api/delivery-counts` on a real engine (SQLite, the real sandbox, a stand-in for Meta on
 * 127.0.0.1): delivered events show in the current minute's and hour's buckets; bad windows are
 * refused with a coded error; a read key may read it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPipes, type Pipes } from '@openpipes/core';
import {
  metaLikeAnswer,
  purchaseEvent,
  settled,
  setupMetaExample,
  startTestServer,
  type TestServer,
  testSecretKey,
} from '@openpipes/core/testing';
import { sqliteStore } from '@openpipes/store-sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../src/index.js';

describe('GET /api/delivery-counts', () => {
  let dir: string;
  let meta: TestServer;
  let pipes: Pipes;
  let flow: Awaited<ReturnType<typeof setupMetaExample>>;
  const key = { name: 'viewer', token: 'delivery-counts-read-0123', scope: 'read' as const };
  const get = (path: string) =>
    createHandler(pipes, { apiKeys: [key] })(
      new Request(`http://localhost${path}`, { headers: { authorization: `Bearer ${key.token}` } }),
    );

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'openpipes-counts-'));
    meta = await startTestServer(metaLikeAnswer);
    pipes = createPipes({
      store: sqliteStore({ filename: join(dir, 'db.sqlite') }),
      secretKey: testSecretKey,
      sandbox: { workers: 1 },
      egressAllow: [meta.host],
      dispatcher: { pollIntervalMs: 20 },
    });
    await pipes.start();
    flow = await setupMetaExample(pipes, meta);
    await pipes.ingest('web', [purchaseEvent('ord_1'), purchaseEvent('ord_2'), purchaseEvent('ord_3')]);
    await settled(pipes, flow.pipe.id, 3);
  });
  afterAll(async () => {
    await pipes.stop({ graceMs: 500 });
    await pipes.store.close();
    await meta.close();
    rmSync(dir, { recursive: true, force: true });
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
});
