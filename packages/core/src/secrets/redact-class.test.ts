/**
 * The class of leaks, not examples: every encoding the platform produces, in every setting, and a
 * cut at every offset of every encoding. The encodings and the leak check come from the platform's
 * own APIs (testing/leaks.ts), not from the redactor's list of forms.
 */
import { describe, expect, it } from 'vitest';
import { leakedPieces, platformEncodings } from '../testing/leaks.js';
import { CUT_FLOOR, CUT_MARK, createRedactor } from './redact.js';

const secrets = {
  // Quotes, a backslash, reserved URL characters, a space, non-ASCII, `#`, `~` and `*`.
  TOKEN: 'EAAB+long/token=with?special&chars-123 "q" \\ é€#frag~*',
  API_KEY: 'sk_live_51HbX2eLkdIwHu7ixQ9zT',
  PIXEL_ID: '998877665544',
  // The characters encodeURIComponent spares and RFC 3986 (OAuth 1.0a) encodes: ! ' ( ) *.
  OAUTH_TOKEN_SECRET: "LswwdoUaIvS8(ltyTt5j)kRh4J50vUPVV!HtR2YPi5k'*",
  // A password-like value: every character a different encoding treats differently.
  CLIENT_SECRET: "p@ss:w0rd/(2026)!+sp ace;'x'*~",
};
const redact = createRedactor(secrets);

/** The settings an encoded value is found in: alone, in prose, in a JSON text, in a URL, in a header. */
const settings: Array<[string, (encoded: string) => unknown]> = [
  ['alone', (e) => e],
  ['in a log line', (e) => `sending with ${e}, then waiting`],
  ['in a JSON text', (e) => JSON.stringify({ note: `token:${e}`, n: 1 })],
  ['in a field', (e) => ({ payload: { data: [{ custom: e }] } })],
  ['in a query string', (e) => `https://api.example/v1/events?a=1&t=${e}&b=2`],
  ['in a custom header', (e) => ({ headers: { 'x-trace': `t=${e}` } })],
];

describe('createRedactor, every encoding of every secret', () => {
  for (const [key, value] of Object.entries(secrets)) {
    for (const [encoding, encoded] of Object.entries(platformEncodings(value))) {
      it(`replaces ${key} as ${encoding} wherever it stands`, () => {
        for (const [where, wrap] of settings) {
          const out = JSON.stringify(redact(wrap(encoded)));
          expect(leakedPieces(out, value), `${key} ${encoding} ${where}: ${out}`).toEqual([]);
          expect(out, `${where}: ${out}`).toContain(`[secret:${key}]`);
        }
      });
    }
  }

  it('replaces the value inside base64 of a longer text at every alignment, in both alphabets', () => {
    for (const [key, value] of Object.entries(secrets)) {
      for (let before = 0; before < 6; before++) {
        for (let after = 0; after < 4; after++) {
          const framed = `${'u'.repeat(before)}:${value}:${'p'.repeat(after)}`;
          for (const encoding of ['base64', 'base64url'] as const) {
            const encoded = Buffer.from(framed).toString(encoding);
            const out = redact.text(`auth ${encoded} end`);
            expect(leakedPieces(out, value), `${key} ${encoding} ${before}/${after}: ${out}`).toEqual([]);
          }
        }
      }
    }
  });

  it('replaces the whole value of credential headers, known secret or not', () => {
    const basic = Buffer.from(`user:${secrets.API_KEY}`).toString('base64');
    expect(
      redact({
        request: {
          headers: {
            Authorization: 'Bearer not-a-known-secret',
            'Proxy-Authorization': `Basic ${basic}`,
            'X-Upstream-Auth': 'bearer another-unknown-token',
            'X-Basic': 'Basic dXNlcjpwYXNzd29yZA==',
            accept: 'application/json',
          },
          payload: { note: 'Bearer of good news' },
        },
      }),
    ).toEqual({
      request: {
        headers: {
          Authorization: 'Bearer [redacted]',
          'Proxy-Authorization': 'Basic [secret:API_KEY]',
          'X-Upstream-Auth': 'bearer [redacted]',
          'X-Basic': 'Basic [redacted]',
          accept: 'application/json',
        },
        payload: { note: 'Bearer of good news' },
      },
    });
    // A value that is not a known scheme keeps nothing of itself, not even its first word.
    expect(redact({ headers: { authorization: 'my secret words' } })).toEqual({
      headers: { authorization: '[redacted]' },
    });
  });

  it('redacts several values under one key (current and retired)', () => {
    const both = createRedactor([
      ['META_ACCESS_TOKEN', 'EAAB-old-token-0123456789'],
      ['META_ACCESS_TOKEN', 'EAAB-new-token-9876543210'],
    ]);
    expect(both.text('old EAAB-old-token-0123456789 new EAAB-new-token-9876543210')).toBe(
      'old [secret:META_ACCESS_TOKEN] new [secret:META_ACCESS_TOKEN]',
    );
  });
});

/** The encodings that begin where the value begins (the others begin with `https://`, `Basic `...). */
function startingEncodings(value: string): Record<string, string> {
  const all = platformEncodings(value);
  const names = ['raw', 'json', 'encode_uri_component', 'encode_uri', 'hex', 'hex_upper'];
  const out: Record<string, string> = Object.fromEntries(names.map((name) => [name, all[name]!]));
  out.form = new URLSearchParams({ a: value }).toString().slice(2);
  out.base64 = all.base64_after_0!;
  out.base64url = all.base64url_after_0!;
  return out;
}

describe('Redactor.cut', () => {
  const max = 300;

  for (const [key, value] of Object.entries(secrets)) {
    it(`leaves no piece of ${key} at a cut that falls at any offset of any encoding of it`, () => {
      for (const [encoding, encoded] of Object.entries(startingEncodings(value))) {
        for (let inside = 1; inside < encoded.length; inside++) {
          // The whole value is in the text: it is replaced before the cut, whole.
          const out = redact.cut(
            `${'.'.repeat(max - inside)}${encoded}${'.'.repeat(encoded.length + 40)}`,
            max,
          );
          expect(out).toMatch(/… \[truncated \d+ chars\]$/);
          expect(leakedPieces(out, value), `${encoding} cut after ${inside}: ${out}`).toEqual([]);
          expect(out).toContain(`.[secret:${key}]`);
          expect(out).not.toContain(`.${encoded.slice(0, CUT_FLOOR)}`);
        }
      }
    });

    it(`replaces a piece of ${key} of ${CUT_FLOOR}+ characters left at a cut by an earlier cut`, () => {
      for (const [encoding, encoded] of Object.entries(startingEncodings(value))) {
        for (let inside = 1; inside < encoded.length; inside++) {
          const piece = encoded.slice(0, inside);
          // Only the start of the encoding is there (someone cut it before), and the cut is right after it.
          const out = redact.cut(`${'.'.repeat(max - inside)}${piece}${'~'.repeat(40)}`, max);
          const ended = redact.cutEnd(`${'.'.repeat(10)}${piece}`);
          if (inside >= CUT_FLOOR) {
            expect(out, `${encoding}, ${inside} kept`).toContain(`.[secret:${key}]`);
            expect(out, `${encoding}, ${inside} kept`).not.toContain(`.${piece.slice(0, CUT_FLOOR)}`);
            expect(ended, `${encoding}, ${inside} kept`).toBe(`${'.'.repeat(10)}[secret:${key}]`);
          } else {
            // The documented floor: fewer characters than that are kept as they are.
            expect(out).toContain(`.${piece}${CUT_MARK}`);
            expect(ended).toBe(`${'.'.repeat(10)}${piece}`);
          }
        }
      }
    });
  }

  it('redacts the whole text before cutting: a secret right at the limit is replaced whole', () => {
    const text = `${'a '.repeat(100)}${secrets.API_KEY} and more`;
    const out = redact.cut(text, 210);
    expect(out).toBe(`${'a '.repeat(100)}[secret:API_KEY]… [truncated 9 chars]`);
  });

  it('never splits a marker, and treats any … in a text as a cut', () => {
    const cutMarker = redact.cut(`${'x'.repeat(95)} ${secrets.API_KEY} tail`, 100);
    expect(cutMarker).toBe(`${'x'.repeat(95)} [secret:API_KEY]… [truncated 5 chars]`);
    // An error message that quotes the first characters of a response echoing the token.
    const quoted = `HTTP 400: {"error":"bad token ${secrets.API_KEY.slice(0, 17)}…`;
    expect(redact.text(quoted)).toBe('HTTP 400: {"error":"bad token [secret:API_KEY]…');
  });

  it('cutEnd redacts the end of a text cut before it reached us', () => {
    expect(redact.cutEnd(`body ${secrets.API_KEY.slice(0, 10)}`)).toBe('body [secret:API_KEY]');
    const utf8Cut = Buffer.from(`x ${secrets.TOKEN}`)
      .subarray(0, 3 + secrets.TOKEN.indexOf('é'))
      .toString();
    expect(redact.cutEnd(utf8Cut)).toBe('x [secret:TOKEN]\ufffd');
    // Three characters are under the floor; text that merely ends like a short value's start stays.
    expect(redact.cutEnd('ends with EAA')).toBe('ends with EAA');
    expect(redact.cutEnd('order 99887766')).toBe('order [secret:PIXEL_ID]');
    expect(redact.cutEnd('order A99887766')).toBe('order A99887766');
  });
});
