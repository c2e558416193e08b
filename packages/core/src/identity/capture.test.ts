import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { captureIdentifiers, isOfferable, parseCookies } from './capture.js';
import { junkPolicy } from './junk.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const seenAt = Date.UTC(2026, 11, 6, 12, 0, 0);
const DAY = 86_400_000;

const kinds = (payload: unknown, options = {}) =>
  Object.fromEntries(
    captureIdentifiers(payload, { seenAt, ...options }).identifiers.map((i) => [i.kind, i.value ?? i.hashes]),
  );

describe('captureIdentifiers', () => {
  it('reads canonical fields and aliases; personal values only as digests', () => {
    const got = captureIdentifiers(
      {
        userId: 'u-1',
        anonymous_id: 'a-1',
        email: 'Jane@Shop.test',
        phone: '+1 650 555 1212',
        fbp: 'fb.1.1.2',
        ua: 'UA/1',
        client_ip_address: '203.0.113.9',
      },
      { seenAt },
    );
    expect(got.identifiers.map((i) => i.kind).sort()).toEqual([
      'anonymous_id',
      'email',
      'fbp',
      'phone',
      'user_id',
    ]);
    const email = got.identifiers.find((i) => i.kind === 'email');
    expect(email).toMatchObject({
      hashes: { sha256: sha('jane@shop.test') },
      firstSeen: seenAt,
      from: 'field',
    });
    expect(email).not.toHaveProperty('value');
    expect(JSON.stringify(got)).not.toContain('Jane@Shop.test');
    expect(JSON.stringify(got)).not.toContain('650');
    expect(got.attributes).toEqual({ ip: '203.0.113.9', user_agent: 'UA/1' });
  });

  it('reads each kind and attribute in the table’s order of field and aliases, whatever the payload’s key order', () => {
    const got = captureIdentifiers(
      {
        ua: 'UA/alias',
        userId: 'u-alias',
        client_ip_address: '203.0.113.9',
        hashed_email: sha('jane@shop.test'),
        ip: '  ',
        user_id: 'u-field',
        client_user_agent: 'UA/last',
        user_agent: 'UA/field',
        email: 'Jane@Shop.test',
        anonymousId: '',
        anonymous_id: 'a-field',
        fbp: ' ',
        cookies: { _fbp: 'fb.1.5.6' },
      },
      { seenAt },
    );
    expect(got.identifiers.map((i) => [i.kind, i.value ?? i.hashes?.sha256, i.from])).toEqual([
      ['user_id', 'u-field', 'field'],
      ['anonymous_id', 'a-field', 'field'],
      ['email', sha('jane@shop.test'), 'field'],
      ['fbp', 'fb.1.5.6', 'cookie'],
    ]);
    // The email field wins over its digest field: its hashes are all the schemes, not the digest's one.
    expect(Object.keys(got.identifiers[2]?.hashes ?? {})).toEqual([
      'sha256',
      'sha256_google',
      'sha256_reddit',
    ]);
    expect(got.attributes).toEqual({ ip: '203.0.113.9', user_agent: 'UA/field' });
    // A digest field alone, and a field read through the prototype as before.
    const digest = captureIdentifiers(
      Object.assign(Object.create({ email: 'x@shop.test' }), { hashed_phone: sha('1') }),
      {
        seenAt,
      },
    );
    expect(digest.identifiers.map((i) => [i.kind, i.hashes])).toEqual([
      [
        'email',
        { sha256: sha('x@shop.test'), sha256_google: sha('x@shop.test'), sha256_reddit: sha('x@shop.test') },
      ],
      ['phone', { sha256: sha('1') }],
    ]);
  });

  it('turns fbclid in page_url into Meta’s fbc with the first-seen time; other click ids as given', () => {
    const got = kinds({
      page_url:
        'https://shop.test/?fbclid=IwAR0abc&gclid=Cj0K&ttclid=tt1&ScCid=sc1&epik=ep1&rdt_cid=r1&li_fat_id=li1&twclid=tw1&msclkid=ms1&wbraid=wb1',
    });
    expect(got).toEqual({
      fbc: `fb.1.${seenAt}.IwAR0abc`,
      gclid: 'Cj0K',
      ttclid: 'tt1',
      sc_click_id: 'sc1',
      epik: 'ep1',
      rdt_cid: 'r1',
      li_fat_id: 'li1',
      twclid: 'tw1',
      msclkid: 'ms1',
      wbraid: 'wb1',
    });
  });

  it('unwraps cookies, from a header string or an object, keeping the click time they carry', () => {
    const clickSeconds = Math.floor((seenAt - 3 * DAY) / 1000);
    const header = [
      `_fbc=fb.1.${seenAt - DAY}.IwAR9`,
      '_fbp=fb.1.1700000000000.55',
      `_gcl_aw=GCL.${clickSeconds}.CjwGclid`,
      '_ga=GA1.1.1234567890.1714816462',
      `ajs_anonymous_id=${encodeURIComponent('"anon-7"')}`,
      '_uetmsclkid=_uetabc123',
      '_ttp=ttp-9; _scid=sc-9; _epik=ep-9; _rdt_uuid=rd-9; li_fat_id=li-9; _twclid=tw-9; _gcl_gb=GCL.1.gb-9',
    ].join('; ');
    const got = captureIdentifiers({ cookies: header }, { seenAt });
    const by = Object.fromEntries(got.identifiers.map((i) => [i.kind, i]));
    expect(by.fbc).toMatchObject({
      value: `fb.1.${seenAt - DAY}.IwAR9`,
      firstSeen: seenAt - DAY,
      from: 'cookie',
    });
    expect(by.gclid).toMatchObject({ value: 'CjwGclid', firstSeen: clickSeconds * 1000 });
    expect(by.ga_client_id?.value).toBe('1234567890.1714816462');
    expect(by.anonymous_id?.value).toBe('anon-7');
    expect(by.msclkid?.value).toBe('abc123');
    expect(by.gbraid).toMatchObject({ value: 'gb-9', firstSeen: 1000 });
    for (const k of ['ttp', 'sc_cookie1', 'epik', 'rdt_uuid', 'li_fat_id', 'twclid'] as const)
      expect(by[k]?.value).toMatch(/-9$/);
    expect(kinds({ cookies: { _fbp: 'fb.1.2.3', other: 'x' } })).toEqual({ fbp: 'fb.1.2.3' });
  });

  it('takes a SHA-256 digest in the email and phone fields as the digest (no @ to judge)', () => {
    const digest = sha('jane@shop.test');
    expect(kinds({ email: digest.toUpperCase(), phone: digest })).toEqual({
      email: { sha256: digest },
      phone: { sha256: digest },
    });
  });

  it('prefers the field, then the URL, then the cookie', () => {
    expect(
      kinds({ gclid: 'field', page_url: 'https://s.test/?gclid=url', cookies: '_gcl_aw=GCL.1.cookie' }),
    ).toEqual({ gclid: 'field' });
    expect(kinds({ page_url: 'https://s.test/?gclid=url', cookies: '_gcl_aw=GCL.1.cookie' })).toEqual({
      gclid: 'url',
    });
  });

  it('reads a page_url’s query only: none without a `?`, none from a `?` inside the fragment', () => {
    const cookies = '_gcl_aw=GCL.1.cookie';
    expect(kinds({ page_url: 'https://s.test/thank-you', cookies })).toEqual({ gclid: 'cookie' });
    expect(kinds({ page_url: 'https://s.test/thank-you#x?gclid=frag', cookies })).toEqual({
      gclid: 'cookie',
    });
    expect(kinds({ page_url: 'https://s.test/a?b=1#x?gclid=frag', cookies })).toEqual({ gclid: 'cookie' });
    expect(kinds({ page_url: 'https://s.test/?gclid=url#top', cookies })).toEqual({ gclid: 'url' });
    expect(kinds({ page_url: 'not a url', cookies })).toEqual({ gclid: 'cookie' });
  });

  it('a click time in a cookie never lies in the future', () => {
    const got = captureIdentifiers({ cookies: `_fbc=fb.1.${seenAt + 10 * DAY}.x` }, { seenAt });
    expect(got.identifiers[0]?.firstSeen).toBe(seenAt);
  });

  it('drops junk values, and the junk list is a setting', () => {
    expect(
      kinds({
        email: 'test@test.com',
        user_id: 'undefined',
        anonymous_id: 'null',
        phone: '0000000000',
        external_id: '0',
      }),
    ).toEqual({});
    expect(kinds({ email: 'someone@example.com' })).toEqual({});
    expect(
      Object.keys(kinds({ email: 'someone@example.com' }, { junk: junkPolicy({ emailDomains: [] }) })),
    ).toEqual(['email']);
  });

  it('a list gives at most five values of a kind', () => {
    const emails = Array.from({ length: 50 }, (_, i) => `person${i}@shop.test`);
    const got = captureIdentifiers({ email: emails }, { seenAt });
    expect(got.identifiers).toHaveLength(5);
  });

  it.each([
    ['null', null],
    ['an array', [1, 2]],
    ['a string', 'email=x'],
    ['a bad URL', { page_url: 'http://[::1' }],
    ['a bad escape in a cookie', { cookies: '_fbp=%E0%A4%A; _ttp=%' }],
    ['values of the wrong type', { email: { toString: 'x' }, user_id: true, gclid: ['', null], cookies: 42 }],
    [
      'a huge value',
      { user_id: 'u'.repeat(100_000), page_url: `https://s.test/?gclid=${'g'.repeat(10_000)}` },
    ],
    ['prototype keys', JSON.parse('{"__proto__": {"email": "x@shop.test"}, "constructor": "c"}')],
  ])('hostile input (%s) gives nothing it should not, and never throws', (_, payload) => {
    const got = captureIdentifiers(payload, { seenAt });
    for (const i of got.identifiers) expect((i.value ?? '').length).toBeLessThanOrEqual(512);
    expect(got.identifiers.filter((i) => i.kind === 'email')).toEqual([]);
  });

  it('parseCookies keeps the first of repeated names and ignores fragments without a name', () => {
    expect([...parseCookies('a=1; =2; b; a=3; c= x%20y ')]).toEqual([
      ['a', '1'],
      ['c', 'x y'],
    ]);
  });
});

describe('isOfferable', () => {
  it('follows each kind’s window, which settings may change', () => {
    expect(isOfferable({ kind: 'ttclid', firstSeen: seenAt }, seenAt + 7 * DAY)).toBe(true);
    expect(isOfferable({ kind: 'ttclid', firstSeen: seenAt }, seenAt + 7 * DAY + 1)).toBe(false);
    expect(isOfferable({ kind: 'fbc', firstSeen: seenAt }, seenAt + 89 * DAY)).toBe(true);
    expect(isOfferable({ kind: 'fbc', firstSeen: seenAt }, seenAt + 91 * DAY)).toBe(false);
    expect(isOfferable({ kind: 'email', firstSeen: 0 }, seenAt)).toBe(true);
    expect(isOfferable({ kind: 'ttclid', firstSeen: seenAt }, seenAt + 20 * DAY, { ttclid: 28 })).toBe(true);
    expect(isOfferable({ kind: 'gclid', firstSeen: 0 }, seenAt, { gclid: null })).toBe(true);
  });
});
