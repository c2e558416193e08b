import { describe, expect, it } from 'vitest';
import {
  erasedAttempt,
  erasedDetail,
  erasureNeedles,
  jsonQuotesAny,
  packedErasedAttempt,
  packedErasedDetail,
  quotesAny,
  rejectionQuotesAny,
  scrubNeedles,
  scrubStates,
} from './erasure.js';
import { packJson, unpackJson } from './packed.js';

describe('erasure kit', () => {
  it('searches for given values, keys and every digest of a stored value, longest first, never short ones', () => {
    const needles = erasureNeedles({
      identifiers: [
        {
          kind: 'email',
          key: 'a'.repeat(64),
          value: JSON.stringify({ sha256: 'a'.repeat(64), sha256_google: 'b'.repeat(64) }),
        },
        { kind: 'fbp', key: 'fb.1.1.42', value: JSON.stringify('fb.1.1.42') },
        { kind: 'user_id', key: '7' },
      ],
      given: ['Jane@Example.test', 'x'],
    });
    expect(needles).toEqual(['a'.repeat(64), 'b'.repeat(64), 'Jane@Example.test', 'fb.1.1.42']);
  });

  it('never searches for a junk value every JSON document quotes (null, true, undefined...)', () => {
    const needles = erasureNeedles({
      identifiers: [
        { kind: 'user_id', key: 'null' },
        { kind: 'anonymous_id', key: 'TRUE', value: JSON.stringify('TRUE') },
      ],
      given: ['null', ' False ', 'undefined', 'unknown', '[object Object]', 'jane@x.test'],
    });
    expect(needles).toEqual(['jane@x.test']);
  });

  it('scrubs every string and key of a document and says whether anything changed', () => {
    const doc = {
      message: 'failed for jane@x.test (jane@x.test)',
      list: ['ok', 'jane@x.test'],
      'jane@x.test': 1,
      n: 3,
    };
    expect(scrubNeedles(doc, ['jane@x.test'])).toEqual({
      value: { message: 'failed for [erased] ([erased])', list: ['ok', '[erased]'], '[erased]': 1, n: 3 },
      changed: true,
    });
    expect(scrubNeedles({ state: 'closed' }, ['jane@x.test'])).toEqual({
      value: { state: 'closed' },
      changed: false,
    });
  });

  it('finds a needle only as a whole value, never inside a longer one', () => {
    for (const text of ['{"user_id":"1000"}', '{"user_id":1000}', 'staff:1000', 'failed for 1000.', '(1000)'])
      expect(quotesAny(text, ['1000']), text).toBe(true);
    for (const text of ['{"order":"10000"}', '{"ref":"a1000b"}', 'u-1000', '1000.5', 'x_1000', '+1000'])
      expect(quotesAny(text, ['1000']), text).toBe(false);
    expect(quotesAny('mary.jane@x.test', ['jane@x.test'])).toBe(false);
    expect(quotesAny('to jane@x.test, mary', ['jane@x.test'])).toBe(true);
    // A later whole occurrence counts even after one inside a longer value.
    expect(quotesAny('10000 and 1000', ['1000'])).toBe(true);
  });

  it('finds a needle in stored JSON as written or as a parsed string, and in text that no longer parses', () => {
    expect(jsonQuotesAny('{"a":"x\\n1000"}', ['1000'])).toBe(true);
    expect(jsonQuotesAny('{"email":"jane\\u0040x.test"}', ['jane@x.test'])).toBe(true);
    expect(jsonQuotesAny('{"user_id":"1000","pa', ['1000'])).toBe(true);
    expect(jsonQuotesAny('{"a":"10000","b":"a1000b"}', ['1000'])).toBe(false);
  });

  it('scrubs whole values only', () => {
    expect(scrubNeedles({ m: 'order 10000 of 1000; 1000' }, ['1000'])).toEqual({
      value: { m: 'order 10000 of [erased]; [erased]' },
      changed: true,
    });
    expect(scrubNeedles({ m: 'a1000b', k: ['u-1000'] }, ['1000'])).toEqual({
      value: { m: 'a1000b', k: ['u-1000'] },
      changed: false,
    });
  });

  it('keeps an attempt’s number, status, times and versions only', () => {
    const kept = {
      number: 2,
      status: 'failed',
      started_at: '2026-05-04T10:00:00.000Z',
      duration_ms: 12,
      pipe_version: 3,
      destination_version: 1,
    };
    const erased = erasedAttempt({
      ...kept,
      request: { payload: { em: 'digest' } },
      response: { status: 400, body: 'bad email jane@x.test' },
      error: { message: 'jane@x.test' },
      exchanges: [{}],
      logs: [{ message: 'jane' }],
    });
    expect(erased).toEqual({
      ...kept,
      request: null,
      response: null,
      error: null,
      exchanges: [],
      logs: [],
    });
  });

  it('packs the erased detail, and the erased attempt of a packed or JSON-text attempt', () => {
    const now = '2026-05-04T10:00:00.000Z';
    expect(JSON.parse(unpackJson(packedErasedDetail(now)))).toEqual(erasedDetail(now));
    const attempt = { number: 1, status: 'delivered', request: { payload: { em: 'jane@x.test' } } };
    for (const stored of [packJson(JSON.stringify(attempt)), JSON.stringify(attempt)])
      expect(JSON.parse(unpackJson(packedErasedAttempt(stored)))).toEqual(
        JSON.parse(JSON.stringify(erasedAttempt(attempt))),
      );
  });

  it('takes a rejection that quotes a needle in its event or its error, and scrubs only the states that quote one', () => {
    expect(rejectionQuotesAny({ event: '{"email":"jane@x.test"}', error: '{}' }, ['jane@x.test'])).toBe(true);
    expect(rejectionQuotesAny({ event: '{}', error: '{"message":"jane@x.test"}' }, ['jane@x.test'])).toBe(
      true,
    );
    expect(rejectionQuotesAny({ event: '{"email":"mary.jane@x.test"}', error: '{}' }, ['jane@x.test'])).toBe(
      false,
    );
    const rows = [
      { key: 'a', value: '{"last":"jane@x.test"}' },
      { key: 'b', value: '{"last":"bob@x.test"}' },
    ];
    expect(scrubStates(rows, ['jane@x.test'])).toEqual([{ key: 'a', value: '{"last":"[erased]"}' }]);
  });
});
