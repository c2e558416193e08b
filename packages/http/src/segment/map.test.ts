import { describe, expect, it } from 'vitest';
import { eventTime, mapSegmentMessage } from './map.js';

const receivedAt = Date.parse('2026-01-01T12:00:10.000Z');

describe('mapSegmentMessage', () => {
  it('corrects originalTimestamp by the gap between sentAt and arrival; timestamp wins', () => {
    const original = '2026-01-01T11:00:00.000Z';
    // The device clock is an hour slow: sent "at 11:00:05", arrived at 12:00:10.
    expect(eventTime({ originalTimestamp: original, sentAt: '2026-01-01T11:00:05.000Z' }, receivedAt)).toBe(
      '2026-01-01T12:00:05.000Z',
    );
    expect(eventTime({ timestamp: '2026-01-01T10:00:00Z', originalTimestamp: original }, receivedAt)).toBe(
      '2026-01-01T10:00:00.000Z',
    );
    expect(eventTime({ timestamp: 'garbage' }, receivedAt)).toBe('2026-01-01T12:00:10.000Z');
  });

  it('takes revenue, else total, else value; maps products and drops the write key', () => {
    const track = (properties: Record<string, unknown>) =>
      mapSegmentMessage(
        { type: 'track', event: 'Order Completed', userId: 7, writeKey: 'opw_secret', properties },
        undefined,
        { receivedAt },
      );
    const both = track({
      revenue: 10,
      total: 12,
      value: 1,
      products: [{ sku: 'S1', price: '5', quantity: 2 }],
    });
    expect(both).toMatchObject({
      kind: 'event',
      event: {
        event_type: 'purchase',
        event_payload: { value: 10, user_id: '7', contents: [{ id: 'S1', price: 5, quantity: 2 }] },
      },
    });
    expect(JSON.stringify(both)).not.toContain('opw_secret');
    expect(track({ total: 12, value: 1 })).toMatchObject({ event: { event_payload: { value: 12 } } });
    expect(track({ value: 1 })).toMatchObject({ event: { event_payload: { value: 1 } } });
  });

  it('identify and alias are links; unknown names pass through; a name map overrides the default', () => {
    expect(
      mapSegmentMessage({ userId: 'u', anonymousId: 'a', traits: { email: 'x@shop.test' } }, 'identify', {
        receivedAt,
      }),
    ).toMatchObject({
      kind: 'link',
      item: { event_payload: { user_id: 'u', anonymous_id: 'a', email: 'x@shop.test' } },
    });
    expect(mapSegmentMessage({ userId: 'u', previousId: 'a' }, 'alias', { receivedAt })).toMatchObject({
      kind: 'link',
      item: { event_payload: { user_id: 'u', anonymous_id: 'a' } },
    });
    expect(mapSegmentMessage({ userId: 'u' }, 'alias', { receivedAt })).toMatchObject({ kind: 'rejected' });
    expect(
      mapSegmentMessage({ type: 'track', event: 'Video Played', anonymousId: 'a' }, undefined, {
        receivedAt,
      }),
    ).toMatchObject({ event: { event_type: 'Video Played' } });
    expect(
      mapSegmentMessage({ type: 'track', event: 'Order Completed', anonymousId: 'a' }, undefined, {
        receivedAt,
        eventNames: { 'Order Completed': 'order' },
      }),
    ).toMatchObject({ event: { event_type: 'order' } });
    expect(mapSegmentMessage({ type: 'page', anonymousId: 'a' }, undefined, { receivedAt })).toMatchObject({
      event: { event_type: 'page_view' },
    });
    expect(mapSegmentMessage({ type: 'track', event: 'x' }, undefined, { receivedAt })).toMatchObject({
      kind: 'rejected',
      path: 'userId',
    });
    expect(mapSegmentMessage([1], undefined, { receivedAt })).toMatchObject({ kind: 'rejected' });
  });
});
