import { describe, expect, it } from 'vitest';
import { createRedactor } from './redact.js';

const token = 'EAAB+long/token=with?special&chars-123';
const redact = createRedactor({ META_ACCESS_TOKEN: token, META_PIXEL_ID: '123456789' });

describe('createRedactor', () => {
  it('replaces a secret in URLs, headers and bodies, as written and URL-encoded', () => {
    const out = redact({
      url: `https://graph.example/v19.0/123456789/events?access_token=${encodeURIComponent(token)}`,
      headers: { authorization: `Bearer ${token}`, 'x-other': 'fine' },
      payload: { access_token: token, nested: [{ note: `token is ${token}.` }] },
    });
    expect(out).toEqual({
      url: 'https://graph.example/v19.0/[secret:META_PIXEL_ID]/events?access_token=[secret:META_ACCESS_TOKEN]',
      headers: { authorization: 'Bearer [secret:META_ACCESS_TOKEN]', 'x-other': 'fine' },
      payload: {
        access_token: '[secret:META_ACCESS_TOKEN]',
        nested: [{ note: 'token is [secret:META_ACCESS_TOKEN].' }],
      },
    });
  });

  it('replaces the base64 form (Basic auth) and a number equal to a secret', () => {
    const b64 = Buffer.from(token).toString('base64');
    expect(redact({ h: `Basic ${b64}`, id: 123456789 })).toEqual({
      h: 'Basic [secret:META_ACCESS_TOKEN]',
      id: '[secret:META_PIXEL_ID]',
    });
  });

  it('does not mangle a longer run of digits that merely contains a short secret', () => {
    expect(redact({ fbp: 'fb.1.1714816462.1234567890', n: 1234567890 })).toEqual({
      fbp: 'fb.1.1714816462.1234567890',
      n: 1234567890,
    });
  });

  it('masks credential-named fields, headers and query parameters even when the value is not a known secret', () => {
    expect(
      redact({
        headers: { Authorization: 'Bearer hard-coded', 'access-token': 'tt-abc', accept: 'json' },
        body: { client_secret: 'cs', refresh_token: 'rt', name: 'x' },
        url: 'https://api.example/collect?api_secret=s3cr3t&measurement_id=G-1',
      }),
    ).toEqual({
      headers: { Authorization: 'Bearer [redacted]', 'access-token': '[redacted]', accept: 'json' },
      body: { client_secret: '[redacted]', refresh_token: '[redacted]', name: 'x' },
      url: 'https://api.example/collect?api_secret=[redacted]&measurement_id=G-1',
    });
  });

  it('leaves values without secrets untouched and handles no secrets at all', () => {
    const plain = { a: [1, 'two', { three: null }], b: true };
    expect(createRedactor({})(plain)).toEqual(plain);
    expect(redact('nothing here')).toBe('nothing here');
  });
});

describe('createRedactor with a value too short to search for', () => {
  // A placeholder value ('x', '1', 'USD') set while configuring and then rotated stays a retired
  // value that every destination's redactor searches: searched in free text, it would blank every
  // standalone "1", every quantity 1 and every "USD" of every record from then on.
  const tiny = createRedactor([
    ['PLACEHOLDER', '1'],
    ['OLD', 'USD'],
    ['LETTER', 'a'],
    ['META_ACCESS_TOKEN', token],
  ]);

  it('keeps numbers, words and encodings that merely equal or contain a 1-5 character value', () => {
    const record = {
      payload: { quantity: 1, value: 1, note: 'order 1 of 31, a gift paid in USD', hex: '31', b64: 'VVNE' },
      url: 'https://x.example/p?item=1&c=USD',
    };
    expect(tiny(record)).toEqual(record);
  });

  it('still replaces a string that is exactly the short value, and long values everywhere', () => {
    expect(tiny({ pixel: '1', headers: { 'x-currency': 'USD' }, t: `k=${token}` })).toEqual({
      pixel: '[secret:PLACEHOLDER]',
      headers: { 'x-currency': '[secret:OLD]' },
      t: 'k=[secret:META_ACCESS_TOKEN]',
    });
    expect(tiny.text('a')).toBe('[secret:LETTER]');
  });
});

describe('createRedactor on a value JSON escapes, inside JSON that was then URL-encoded', () => {
  // `?data=` + encodeURIComponent(JSON.stringify(payload)), or a form field holding JSON (a batch
  // API's `batch=[...]`): the value's `"` and `\` are JSON-escaped first, then percent-encoded.
  const quoted = 'EAAB+long/token=with?special&chars-123 "q" \\ ~*';
  const redactQuoted = createRedactor({ TOKEN: quoted });
  const payload = JSON.stringify({ token: quoted });
  const url = new URL('https://api.example/v1/events');
  url.searchParams.set('data', payload);

  it.each([
    ['encodeURIComponent', `?data=${encodeURIComponent(payload)}`],
    ['URLSearchParams', new URLSearchParams({ batch: payload }).toString()],
    ['the URL search params setter', url.href],
    [
      'lowercase percent-encoding',
      encodeURIComponent(payload).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    ],
    ['hex', Buffer.from(payload).toString('hex')],
  ])('replaces it when written with %s', (_, text) => {
    const out = redactQuoted.text(text);
    expect(out).toContain('[secret:TOKEN]');
    expect(out).not.toContain('special');
  });
});
