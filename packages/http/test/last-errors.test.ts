/**
 * `GET /api/last-errors` on a real engine on SQLite, a Meta stand-in on loopback: each pipe's
 * newest failed, dead or retrying delivery with its error and time, the pipe's and destination's
 * names beside their ids, one request for every pipe (what the console's overview polls). Answers
 * are checked against the OpenAPI document.
 */
import { metaLikeAnswer, purchaseEvent, setupMetaExample, waitFor } from '@openpipes/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from './client.js';
import { type Fixture, readKey, startFixture } from './servers.js';

describe('GET /api/last-errors', () => {
  let f: Fixture;

  beforeAll(async () => {
    f = await startFixture('node');
  });
  afterAll(async () => {
    await f?.close();
  });

  /** Waits until the pipe's delivery of `orderId` has `status`; answers its id. */
  const deliveryOf = (pipeId: string, orderId: string, status: string) =>
    waitFor(
      async () => {
        const page = await f.pipes.deliveries.list(pipeId, { event_id: orderId });
        return page.data[0]?.status === status ? page.data[0].id : null;
      },
      15_000,
      `${orderId} ${status}`,
    );

  it("answers each pipe's newest failed, dead or retrying delivery, with its error and time, for a read key", async () => {
    const flow = await setupMetaExample(f.pipes, f.meta, {
      max_batch_size: 1,
      // A retry waits ten minutes: a retrying delivery stays retrying for the whole test.
      retry: { max_attempts: 5, initial_delay_ms: 600_000, multiplier: 1 },
    });
    const pipeId = flow.pipe.id;
    const lastErrors = async () => {
      const answer = await call(f, 'GET', '/api/last-errors', { key: readKey.token });
      expect(answer.status).toBe(200);
      return answer.json.data as Array<Record<string, unknown>>;
    };
    // No delivery yet: no row, though the pipe exists.
    expect(await lastErrors()).toEqual([]);

    // Delivered: still none.
    f.meta.handle(metaLikeAnswer);
    await f.pipes.ingest('web', [purchaseEvent('ord_fine')]);
    await deliveryOf(pipeId, 'ord_fine', 'delivered');
    expect(await lastErrors()).toEqual([]);

    // Meta refuses one (400): failed, and it is the pipe's last error.
    f.meta.handle(() => ({ status: 400, body: { error: { message: 'Invalid parameter', code: 100 } } }));
    await f.pipes.ingest('web', [purchaseEvent('ord_refused')]);
    const refused = await deliveryOf(pipeId, 'ord_refused', 'failed');
    const [first, ...others] = await lastErrors();
    expect(others).toEqual([]);
    expect(first).toMatchObject({
      pipe_id: pipeId,
      pipe: 'purchase-to-meta',
      destination_id: flow.destination.id,
      destination: 'meta-capi-prod',
      delivery_id: refused,
      status: 'failed',
      error: { retryable: false },
    });
    const record = await f.pipes.deliveries.get(refused);
    expect(first!.error).toEqual(record.error);
    expect(first!.updated_at).toBe(record.updated_at);
    expect(first!.created_at).toBe(record.created_at);

    // Then Meta is down (500): the newer delivery waits to be retried, and is the last error now.
    f.meta.handle(() => ({ status: 500, body: { error: { message: 'down' } } }));
    await f.pipes.ingest('web', [purchaseEvent('ord_later')]);
    const retrying = await deliveryOf(pipeId, 'ord_later', 'retrying');
    const [latest, ...rest] = await lastErrors();
    expect(rest).toEqual([]);
    expect(latest).toMatchObject({ pipe_id: pipeId, delivery_id: retrying, status: 'retrying' });
    expect((latest!.error as { retryable: boolean }).retryable).toBe(true);
  });

  it('refuses a request without a key', async () => {
    const answer = await call(f, 'GET', '/api/last-errors', { key: null });
    expect(answer.status).toBe(401);
  });
});
