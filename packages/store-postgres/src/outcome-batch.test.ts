/**
 * An outcome batch's packed details and attempts travel as one bytea, each cut out by its place
 * (claims.ts, concatenated): a batch mixing outcomes with and without an attempt, details that are
 * their attempt's (stored as a reference) and details of their own, empty, multi-byte and large
 * texts reads each one back as written.
 */
import { type DeliveryOutcome, newId } from '@openpipes/core';
import { afterEach, describe, expect, it } from 'vitest';
import { postgresAvailable, testStores } from './testing.js';

const available = await postgresAvailable();
const stores = testStores('outcome_batch', 2);
afterEach(stores.close);
const at = (ms: number) => new Date(Date.parse('2026-05-04T10:00:00.000Z') + ms).toISOString();

describe.skipIf(!available)('an outcome batch on PostgreSQL', () => {
  it('reads each detail and attempt of a mixed batch back as written', async () => {
    const { store } = await stores.open();
    const pipe = { pipe_id: newId('pipe'), destination_id: newId('destination') };
    const n = 12;
    const events = Array.from({ length: n }, (_, i) => ({
      id: newId('event'),
      event_id: `e${i}`,
      sender_event_id: true,
      event_type: 'purchase',
      event_time: at(0),
      event_payload: { i },
    }));
    await store.appendEvents({
      sourceId: newId('source'),
      events,
      pipes: [pipe],
      deliveryIds: events.map(() => newId('delivery')),
      dedupSince: null,
      now: at(0),
    });
    const claimed = await store.claimDeliveries({
      destinationId: pipe.destination_id,
      pipeIds: [pipe.pipe_id],
      owner: 'w',
      limit: n,
      leaseMs: 60000,
      now: at(1),
    });
    expect(claimed).toHaveLength(n);
    const texts = ['', 'é', '😀中文', 'x'.repeat(70000), 'nul \u0000 ☃', 'a'];
    const outcomes: DeliveryOutcome[] = claimed.map((c, i) => {
      const text = texts[i % texts.length]!;
      const request = { url: 'https://x.test/', method: 'POST', headers: {}, payload: { text, i } };
      const response = { status: 200, headers: {}, body: { text } };
      const withAttempt = i % 3 !== 1;
      const detail =
        i % 2 === 0
          ? { output: [{ text }], request, response, error: null }
          : { output: null, request: null, response: null, error: i % 4 === 1 ? null : { message: text } };
      return {
        id: c.id,
        status: withAttempt ? 'delivered' : 'filtered',
        pipe_version: 1,
        destination_version: 1,
        test_mode: false,
        filter_reason: withAttempt ? null : 'skipped',
        next_attempt_at: null,
        delivered_at: withAttempt ? at(2) : null,
        detail,
        ...(withAttempt
          ? {
              attempt: {
                number: 1,
                status: 'delivered',
                started_at: at(1),
                duration_ms: i,
                pipe_version: 1,
                destination_version: 1,
                request,
                response,
                error: null,
                exchanges: [],
                logs: [],
              },
            }
          : {}),
      } as unknown as DeliveryOutcome;
    });
    expect(await store.completeDeliveries({ owner: 'w', outcomes, now: at(2) })).toEqual({
      applied: outcomes.map((o) => o.id),
      lost: [],
    });
    for (const o of outcomes) {
      const record = await store.getDelivery({ id: o.id });
      expect(JSON.stringify(record?.row.detail)).toBe(JSON.stringify(o.detail));
      expect(JSON.stringify(record?.attempts)).toBe(JSON.stringify(o.attempt ? [o.attempt] : []));
    }
  });
});
