import { afterAll, describe, expect, it } from 'vitest';
import { runSend } from './run-send.js';
import { closeTestSandbox, runTransform } from './run-transform.js';

afterAll(() => closeTestSandbox());

const transform = `function transform({ events, secrets }) {
  return events
    .filter((e) => e.event_type === 'purchase')
    .map((e) => ({
      event_type: 'purchase',
      event_time: e.event_time,
      event_payload: { event_id: e.event_payload.order_id, value: e.event_payload.revenue, pixel: secrets.PIXEL },
    }));
}`;

describe('runTransform', () => {
  it('resolves to the transformed events, in order (event_id may be omitted)', async () => {
    const out = await runTransform(transform, {
      events: [
        {
          event_type: 'purchase',
          event_time: '2026-05-04T10:00:00Z',
          event_payload: { order_id: 'o1', revenue: 10 },
        },
        { event_type: 'page_view', event_time: '2026-05-04T10:00:01Z', event_payload: {} },
        {
          event_type: 'purchase',
          event_time: '2026-05-04T10:00:02Z',
          event_payload: { order_id: 'o2', revenue: 20 },
        },
      ],
      secrets: { PIXEL: 'px' },
    });
    expect(out.map((e) => e.event_payload)).toEqual([
      { event_id: 'o1', value: 10, pixel: 'px' },
      { event_id: 'o2', value: 20, pixel: 'px' },
    ]);
  });

  it('rejects with what went wrong and where', async () => {
    const code = `function transform({ events }) {
  return events.map((e) => e.event_payload.missing.field);
}`;
    await expect(
      runTransform(code, { events: [{ event_type: 'x', event_time: 't', event_payload: {} }] }),
    ).rejects.toThrow(/event 0: TypeError: .*\(line 2/);
  });
});

describe('runSend', () => {
  const send = `async function send({ events, secrets }) {
  const res = await fetch('https://graph.facebook.com/v19.0/' + secrets.PIXEL + '/events', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ data: events.map((e) => e.event_payload) }),
  });
  if (!res.ok) throw new Error('Meta answered ' + res.status);
  return res.json();
}`;

  it('resolves to the value, the exchanges and the logs, with a substituted fetch', async () => {
    const result = await runSend(send, {
      events: [{ event_type: 'purchase', event_time: 't', event_payload: { event_id: 'o1' } }],
      secrets: { PIXEL: '123' },
      fetch: async () => Response.json({ events_received: 1 }),
    });
    expect(result.value).toEqual({ events_received: 1 });
    expect(result.exchanges[0]?.request.url).toBe('https://graph.facebook.com/v19.0/123/events');
  });

  it('rejects when send() fails, keeping the exchanges', async () => {
    const err = await runSend(send, {
      events: [],
      secrets: { PIXEL: '1' },
      fetch: async () => new Response('bad', { status: 400 }),
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'USER_CODE_ERROR',
      message: expect.stringMatching(/Meta answered 400 \(line 7/),
    });
    expect((err as { exchanges: unknown[] }).exchanges).toHaveLength(1);
  });

  it('uses the production egress guard when no fetch is given', async () => {
    await expect(
      runSend("async function send() { await fetch('http://127.0.0.1:9/'); }", { events: [] }),
    ).rejects.toThrow(/fetch failed/);
  });
});
