/**
 * Redactor.kept and Redactor.remembering, the record path's forms of redaction: the same JSON as
 * redacting a copy, for every encoding of every secret in every setting (the class test's), and
 * objects kept as they are only where nothing in them changed.
 */
import { describe, expect, it } from 'vitest';
import { leakedPieces, platformEncodings } from '../testing/leaks.js';
import { createRedactor } from './redact.js';

const secrets = {
  TOKEN: 'EAAB+long/token=with?special&chars-123 "q" \\ é€#frag~*',
  API_KEY: 'sk_live_51HbX2eLkdIwHu7ixQ9zT',
  PIXEL_ID: '998877665544',
  CLIENT_SECRET: "p@ss:w0rd/(2026)!+sp ace;'x'*~",
};
const redact = createRedactor(secrets);

/** Where a secret stands in what a record keeps: per-event output, a shared request, a response. */
const settings: Array<[string, (encoded: string) => unknown]> = [
  ['an output field', (e) => [{ event_name: 'Purchase', user_data: { em: e, list: ['x', e] } }]],
  ['an output key', (e) => [{ custom_data: { [e]: 1, ok: 'EUR' } }]],
  ['a shared request body', (e) => ({ data: [{ id: 1 }, { id: 2, note: `t=${e}` }], access_token: e })],
  ['a response body', (e) => ({ events_received: 2, messages: [`echo ${e}`], error: { detail: e } })],
  ['headers', (e) => ({ 'x-trace': `t=${e}`, authorization: `Bearer ${e}`, accept: 'json' })],
  ['a query string', (e) => `https://api.example/v1/events?a=1&t=${e}&b=2`],
];

describe('Redactor.kept and Redactor.remembering', () => {
  for (const [key, value] of Object.entries(secrets)) {
    for (const [encoding, encoded] of Object.entries(platformEncodings(value))) {
      it(`give redact()'s JSON for ${key} as ${encoding} in every setting`, () => {
        // One remembering redactor for all settings, each redacted twice: the second from memory.
        const batch = redact.remembering();
        for (const [where, wrap] of settings) {
          for (const name of [null, 'headers', 'payload']) {
            const expected = JSON.stringify(redact.under(name, wrap(encoded)));
            for (const out of [
              JSON.stringify(redact.kept(name, wrap(encoded))),
              JSON.stringify(batch.kept(name, wrap(encoded))),
              JSON.stringify(batch.under(name, wrap(encoded))),
              JSON.stringify(batch.kept(name, wrap(encoded))),
            ]) {
              expect(out, `${where} under ${name}`).toBe(expected);
              expect(leakedPieces(out, value), `${key} ${encoding} ${where}: ${out}`).toEqual([]);
            }
          }
        }
      });
    }
  }

  it('keeps what holds no secret and copies the path to each change', () => {
    const clean = { name: 'Purchase', items: [{ sku: 'a', n: 1 }], when: 'today' };
    const value = { clean, dirty: { note: `x ${secrets.API_KEY}`, same: { a: 1 } }, list: [clean, 2] };
    const out = redact.kept(null, value);
    expect(JSON.stringify(out)).toBe(JSON.stringify(redact(value)));
    expect(out).not.toBe(value);
    expect(out.clean).toBe(clean);
    expect(out.list).toBe(value.list);
    expect(out.dirty).not.toBe(value.dirty);
    expect(out.dirty.same).toBe(value.dirty.same);
    expect(value.dirty.note).toContain(secrets.API_KEY);
    expect(redact.kept(null, clean)).toBe(clean);
  });

  it('copies as redact() does what a copy changes: holes, `__proto__` keys, non-plain objects', () => {
    // biome-ignore lint/suspicious/noSparseArray: an array with holes is the case
    const holes = [1, , `k ${secrets.API_KEY}`, , 5];
    const keptHoles = redact.kept(null, holes);
    expect(keptHoles).toEqual(redact(holes));
    expect(1 in keptHoles).toBe(false);
    expect(keptHoles).toHaveLength(5);
    const proto = JSON.parse('{"a":1,"__proto__":{"x":1},"b":"c"}');
    expect(JSON.stringify(redact.kept(null, proto))).toBe(JSON.stringify(redact(proto)));
    const date = new Date(0);
    expect(JSON.stringify(redact.kept(null, { date }))).toBe(JSON.stringify(redact({ date })));
    const keyed = { [secrets.API_KEY]: 1, b: 2 };
    expect(Object.keys(redact.kept(null, keyed))).toEqual(Object.keys(redact(keyed)));
  });

  it("gives each text the plain redactor's answer, past the texts it keeps too", () => {
    const batch = redact.remembering();
    const texts = Array.from(
      { length: 20_000 },
      (_, i) => `row ${i} ${i % 7 ? 'clean text here' : secrets.API_KEY}`,
    );
    for (let round = 0; round < 2; round++) {
      for (const text of texts) expect(batch.text(text)).toBe(redact.text(text));
    }
    // Another batch's redactor starts empty and shares nothing but what it looks for.
    expect(redact.remembering().text(`a ${secrets.PIXEL_ID} b`)).toBe('a [secret:PIXEL_ID] b');
  });
  it('reads a name it met before as the plain redactor does, whatever the value or the place', () => {
    // A remembering redactor decides each field name once: the same name must still mask a
    // credential under it, read headers as headers, and redact a secret in the name itself.
    const batch = redact.remembering();
    const names = [
      'Authorization',
      'AUTHORIZATION',
      'authorization',
      'Headers',
      'headers',
      'note',
      secrets.API_KEY,
    ];
    const value = (i: number) =>
      Object.fromEntries(
        names.map((n, j) => [
          n,
          (i + j) % 2
            ? `Bearer t${i}`
            : { authorization: `Basic x${i}`, 'x-a': `Bearer y${i}`, [n]: `z${i}` },
        ]),
      );
    for (let i = 0; i < 6; i++) {
      for (const key of [null, 'headers', 'Authorization', 'data']) {
        const expected = JSON.stringify(redact.under(key, value(i)));
        expect(JSON.stringify(batch.kept(key, value(i)))).toBe(expected);
        expect(JSON.stringify(batch.under(key, value(i)))).toBe(expected);
      }
    }
  });
});
