/**
 * Attacks on the record path's redaction (Redactor.kept, Redactor.remembering): a remembered text
 * in another setting, a clean object shared between a setting that masks and one that does not,
 * texts at the memo's bounds, and numbers a parse rounds away from a secret's digits.
 */
import { describe, expect, it } from 'vitest';
import { parseExchange, recordExchange } from '../record.js';
import { leakedPieces } from '../testing/leaks.js';
import { createRedactor } from './redact.js';

const API_KEY = 'sk_live_51HbX2eLkdIwHu7ixQ9zT';
const redact = createRedactor({ API_KEY, SHORT: 'abc', NUMERIC: '998877' });

describe('a remembering redactor', () => {
  it("answers by text alone: each setting's masking is applied around what it remembers", () => {
    const texts = [`Bearer ${API_KEY}`, 'Bearer not-a-known-token', `x?access_token=zzz&k=${API_KEY}`, 'abc'];
    const settings = (t: string) => ({
      plain: t,
      headers: { 'x-forward': t, authorization: t },
      password: t,
      keys: { [t]: t },
      list: [t, { api_key: t }],
    });
    // Each text first in every setting's place, then in the others', from one batch's memory.
    for (const order of [texts, [...texts].reverse()]) {
      const batch = redact.remembering();
      for (const t of order) {
        for (const [key, value] of Object.entries(settings(t))) {
          const expected = JSON.stringify(redact.under(key, value));
          expect(JSON.stringify(batch.kept(key, value)), `${t} as ${key}`).toBe(expected);
          expect(JSON.stringify(batch.under(key, value)), `${t} as ${key}`).toBe(expected);
        }
      }
    }
  });

  it('gives the plain answer at the memo bounds, and cuts a remembered text as the plain one', () => {
    const batch = redact.remembering();
    for (const length of [510, 511, 512, 513, 514]) {
      const text = `${'.'.repeat(length - API_KEY.length)}${API_KEY}`;
      for (let round = 0; round < 2; round++) {
        expect(batch.text(text)).toBe(redact.text(text));
        for (const max of [length - API_KEY.length + 3, length - 6, length - 1]) {
          expect(batch.cut(text, max)).toBe(redact.cut(text, max));
          expect(leakedPieces(batch.cut(text, max), API_KEY)).toEqual([]);
          expect(batch.cutEnd(text.slice(0, max))).toBe(redact.cutEnd(text.slice(0, max)));
        }
      }
    }
  });
});

describe('Redactor.kept', () => {
  it('keeps a clean object where it needs no change and copies it where the same object does', () => {
    // One object in two places: a header value that looks like a credential is masked only under
    // `headers`; elsewhere the same object is clean and kept as it is.
    const shared = { 'x-token': 'Bearer opaque-value', note: 'ok' };
    const value = { body: shared, headers: shared, list: [shared] };
    const out = redact.kept(null, value);
    expect(JSON.stringify(out)).toBe(JSON.stringify(redact(value)));
    expect(out.body).toBe(shared);
    expect(out.list).toBe(value.list);
    expect(out.headers).toEqual({ 'x-token': 'Bearer [redacted]', note: 'ok' });
    // The original is never written to.
    expect(shared['x-token']).toBe('Bearer opaque-value');
  });

  it('never keeps a row whose number is a secret, nor a key that is one, however deep', () => {
    let deep: unknown = { n: 998877, [API_KEY]: true, s: 'abc' };
    for (let i = 0; i < 200; i++) deep = i % 2 ? [deep] : { d: deep };
    const out = JSON.stringify(redact.kept(null, deep));
    expect(out).toBe(JSON.stringify(redact(deep)));
    expect(out).not.toContain('998877');
    expect(out).not.toContain(API_KEY);
    expect(out).toContain('"s":"[secret:SHORT]"');
  });
});

describe('numbers', () => {
  it('replaces a number that JSON parsing rounded from a secret written as one', () => {
    // Past 2^53 a parse keeps the nearest double: 9876543210987653 reads as ...652, 15 of 16 digits.
    const secrets = {
      PIXEL_ID: '9876543210987653',
      ACCOUNT: '12345678901234567890',
      RATE: '0.12345678901234567',
    };
    const numeric = createRedactor(secrets);
    const body = `{"pixel":9876543210987653,"account":12345678901234567890,"rate":0.12345678901234567,"same":9.876543210987653e15,"other":9876543210987600}`;
    const recorded = recordExchange(
      parseExchange(
        {
          request: { url: 'https://api.example/', method: 'POST', headers: {}, body },
          response: { status: 200, headers: {}, body },
          startedAt: '2026-05-04T10:00:00.000Z',
          durationMs: 1,
        },
        numeric,
      ),
      1,
      [0],
      numeric,
    );
    const expected = {
      pixel: '[secret:PIXEL_ID]',
      account: '[secret:ACCOUNT]',
      rate: '[secret:RATE]',
      same: '[secret:PIXEL_ID]',
      other: 9876543210987600,
    };
    expect(recorded.request.payload).toEqual(expected);
    expect(recorded.response?.body).toEqual(expected);
    // A value that reads back as written, or whose digits are few, stays a plain number.
    const plain = createRedactor({ ZEROS: '000000', HALF: '1.50000', TEN: '1000000' });
    expect(plain({ a: 0, b: 1.5, c: 1000000 })).toEqual({ a: 0, b: 1.5, c: '[secret:TEN]' });
  });
});
