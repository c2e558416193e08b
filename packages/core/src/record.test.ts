import { describe, expect, it } from 'vitest';
import { parseBody, parseExchange, recordExchange, sliceBatch } from './record.js';
import { createRedactor } from './secrets/redact.js';

describe('sliceBatch', () => {
  it("cuts every top-level array of the batch's length down to the event's rows", () => {
    const payload = { data: [{ id: 0 }, { id: 1 }, { id: 2 }], access_token: 't', tags: ['a'] };
    expect(sliceBatch(payload, 3, [1])).toEqual({ data: [{ id: 1 }], access_token: 't', tags: ['a'] });
    expect(sliceBatch(payload, 3, [0, 2])).toEqual({
      data: [{ id: 0 }, { id: 2 }],
      access_token: 't',
      tags: ['a'],
    });
    expect(sliceBatch(payload, 1, [0])).toBe(payload);
    expect(sliceBatch([1, 2, 3], 3, [0])).toEqual([1, 2, 3]);
  });
});

describe('parseBody', () => {
  it('parses JSON without prototype keys and keeps other text as text', () => {
    const parsed = parseBody('{"a":1,"__proto__":{"polluted":true},"b":{"constructor":{"x":1}}}') as Record<
      string,
      unknown
    >;
    expect(parsed).toEqual({ a: 1, b: {} });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(parseBody('OK')).toBe('OK');
    expect(parseBody('{not json')).toBe('{not json');
    expect(parseBody('')).toBeUndefined();
  });
});

describe('recordExchange', () => {
  it('shows the parsed request and response for the rows given, with secrets redacted', () => {
    const parsed = parseExchange({
      request: {
        url: 'https://graph.example/v19.0/123456789/events',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ data: [{ e: 'a' }, { e: 'b' }], access_token: 'EAAB-secret-token-value' }),
      },
      response: { status: 200, headers: {}, body: '{"events_received":2}' },
      startedAt: '2026-05-04T10:00:00.000Z',
      durationMs: 12,
    });
    const redact = createRedactor({
      META_ACCESS_TOKEN: 'EAAB-secret-token-value',
      META_PIXEL_ID: '123456789',
    });
    expect(recordExchange(parsed, 2, [1], redact)).toEqual({
      request: {
        url: 'https://graph.example/v19.0/[secret:META_PIXEL_ID]/events',
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        payload: { data: [{ e: 'b' }], access_token: '[secret:META_ACCESS_TOKEN]' },
      },
      response: { status: 200, headers: {}, body: { events_received: 2 } },
      error: null,
      started_at: '2026-05-04T10:00:00.000Z',
      duration_ms: 12,
    });
  });
});
