import { describe, expect, it } from 'vitest';
import { parseCookies, readIdentifiers, unwrapCookie } from './read.js';

const now = Date.UTC(2026, 11, 6, 12, 0, 0);
const day = 86_400_000;
const all = () => true;

describe('reading cookies', () => {
  it('parses document.cookie, decoding values and keeping the first of a repeated name', () => {
    const cookies = parseCookies('_fbp=fb.1.1714816462000.42; a=x%20y; _fbp=later; broken; =nameless');
    expect(cookies.get('_fbp')).toBe('fb.1.1714816462000.42');
    expect(cookies.get('a')).toBe('x y');
    expect(cookies.has('broken')).toBe(false);
    expect(cookies.size).toBe(2);
  });

  it('unwraps each cookie format of the identifier table and refuses values not in it', () => {
    expect(unwrapCookie('gcl', 'GCL.1714816462.Cj0KCQ')).toBe('Cj0KCQ');
    expect(unwrapCookie('gcl', 'Cj0KCQ')).toBeUndefined();
    expect(unwrapCookie('ga', 'GA1.1.1234567890.1714816462')).toBe('1234567890.1714816462');
    expect(unwrapCookie('ga', 'GA1.1.abc')).toBeUndefined();
    expect(unwrapCookie('uet', '_uetabc123')).toBe('abc123');
    expect(unwrapCookie('uet', '_uet')).toBeUndefined();
    expect(unwrapCookie('fb', 'fb.1.1714816462000.IwAR0')).toBe('fb.1.1714816462000.IwAR0');
    expect(unwrapCookie('fb', 'IwAR0')).toBeUndefined();
    expect(unwrapCookie('json-string', '"anon-1"')).toBe('anon-1');
    expect(unwrapCookie('plain', '')).toBeUndefined();
  });
});

describe('reading a page', () => {
  it('reads the ad platforms cookies into their canonical fields', () => {
    const { fields } = readIdentifiers({
      cookie:
        '_fbp=fb.1.1714816462000.42; _ttp=ttp-1; _gcl_aw=GCL.1714816462.Cj0; _uetmsclkid=_uetms1; _ga=GA1.1.99.1714816462; other=1',
      url: 'https://shop.example/checkout',
      stored: {},
      now,
      allowed: all,
    });
    expect(fields).toEqual({
      fbp: 'fb.1.1714816462000.42',
      ttp: 'ttp-1',
      gclid: 'Cj0',
      msclkid: 'ms1',
      client_id: '99.1714816462',
    });
  });

  it('takes click ids from the URL before the cookies, and turns fbclid into an fbc value', () => {
    const { fields, clicks } = readIdentifiers({
      cookie: '_gcl_aw=GCL.1714816462.OLD',
      url: 'https://shop.example/?fbclid=IwAR0abc&gclid=NEW&ScCid=sc-1&utm_source=x',
      stored: {},
      now,
      allowed: all,
    });
    expect(fields).toEqual({ fbc: `fb.1.${now}.IwAR0abc`, gclid: 'NEW', sc_click_id: 'sc-1' });
    expect(clicks).toEqual({
      fbc: [`fb.1.${now}.IwAR0abc`, now],
      gclid: ['NEW', now],
      sc_click_id: ['sc-1', now],
    });
  });

  it("keeps the first-seen time of a click when the URL repeats it (Meta's _fbc or an earlier page)", () => {
    const fromCookie = readIdentifiers({
      cookie: '_fbc=fb.1.1700000000000.IwAR0abc',
      url: 'https://shop.example/?fbclid=IwAR0abc',
      stored: {},
      now,
      allowed: all,
    });
    expect(fromCookie.fields.fbc).toBe('fb.1.1700000000000.IwAR0abc');
    const earlier = now - 3 * day;
    const fromStore = readIdentifiers({
      cookie: '',
      url: 'https://shop.example/?gclid=G1',
      stored: { gclid: ['G1', earlier] },
      now,
      allowed: all,
    });
    expect(fromStore.clicks.gclid).toEqual(['G1', earlier]);
  });

  it('sends a click id kept from an earlier page within its window, and forgets it after', () => {
    const read = (stored: Record<string, [string, number]>) =>
      readIdentifiers({ cookie: '', url: 'https://shop.example/thanks', stored, now, allowed: all });
    const kept = read({ gclid: ['G1', now - 89 * day], ttclid: ['T1', now - 6 * day] });
    expect(kept.fields).toEqual({ gclid: 'G1', ttclid: 'T1' });
    const expired = read({ gclid: ['G1', now - 91 * day], ttclid: ['T1', now - 8 * day] });
    expect(expired.fields).toEqual({});
    expect(expired.clicks).toEqual({});
  });

  it('reads nothing of a purpose the consent state denies', () => {
    const { fields, clicks } = readIdentifiers({
      cookie: '_fbp=fb.1.1.2; _ga=GA1.1.99.1714816462',
      url: 'https://shop.example/?gclid=G1',
      stored: { ttclid: ['T1', now] },
      now,
      allowed: (purpose) => purpose !== 'ad_storage',
    });
    expect(fields).toEqual({ client_id: '99.1714816462' });
    expect(clicks).toEqual({});
  });

  it('survives a URL that does not parse', () => {
    expect(readIdentifiers({ cookie: '', url: 'not a url', stored: {}, now, allowed: all })).toEqual({
      fields: {},
      clicks: {},
    });
  });
});
