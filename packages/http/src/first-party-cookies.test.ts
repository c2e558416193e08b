import type { IngestEventResult } from '@openpipes/core';
import { tcString } from '@openpipes/core/testing';
import { describe, expect, it } from 'vitest';
import { cookieScope, firstPartyCookieDays, firstPartyCookies } from './first-party-cookies.js';

const now = Date.UTC(2026, 11, 6, 12, 0, 0);
const fbp = 'fb.1.1714816462000.1234567890';
const fbc = 'fb.1.1714816400000.IwAR0abc-_9';
const anonymous = '3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b';
const granted = { ad_storage: 'GRANTED' };
const taken = (n: number): IngestEventResult[] =>
  Array.from({ length: n }, (_, index) => ({
    index,
    status: 'accepted',
    id: `evt_${index}`,
    event_id: `e${index}`,
  }));
const event = (payload: Record<string, unknown>) => ({
  event_type: 'purchase',
  event_time: now,
  event_payload: payload,
});
const names = (cookies: string[]) => cookies.map((c) => c.slice(0, c.indexOf(';')));

describe('where first-party cookies go', () => {
  it('sets host-only cookies when the page and OpenPipes share a host (the embedded case)', () => {
    expect(cookieScope('https://shop.example', new URL('http://shop.example/openpipes/collect/web'))).toEqual(
      {
        secure: true,
      },
    );
    expect(cookieScope('http://127.0.0.1:8080', new URL('http://127.0.0.1:3000/collect/web'))).toEqual({
      secure: false,
    });
  });

  it('sets them on the common parent domain for a first-party subdomain', () => {
    expect(cookieScope('https://www.shop.example', new URL('http://t.shop.example/collect/web'))).toEqual({
      domain: 'shop.example',
      secure: true,
    });
    expect(cookieScope('https://shop.example', new URL('https://t.shop.example/collect/web'))).toEqual({
      domain: 'shop.example',
      secure: true,
    });
  });

  it('sets none for another site, an address, or a request without an Origin', () => {
    const ours = new URL('https://t.shop.example/collect/web');
    expect(cookieScope('https://other.example', ours)).toBeNull();
    expect(cookieScope('https://shop.example.evil.test', ours)).toBeNull();
    expect(cookieScope('http://127.0.0.2:8080', new URL('http://127.0.0.1:3000/collect/web'))).toBeNull();
    expect(cookieScope(null, ours)).toBeNull();
    expect(cookieScope('null', ours)).toBeNull();
  });
});

describe('which first-party cookies are set', () => {
  it('refreshes _fbp, _fbc and our anonymous id from an event whose consent grants ad storage', () => {
    const cookies = firstPartyCookies(
      [event({ fbp, fbc, anonymous_id: anonymous, consent: granted })],
      taken(1),
      { secure: true },
      now,
    );
    const attributes = 'Path=/; SameSite=Lax; Secure';
    expect(cookies).toEqual([
      `_fbp=${fbp}; Max-Age=7776000; ${attributes}`,
      `_fbc=${fbc}; Max-Age=7776000; ${attributes}`,
      `op_anonymous_id=${anonymous}; Max-Age=33696000; ${attributes}`,
    ]);
    // Meta's pixel keeps _fbp and _fbc 90 days; ours stays under the 400 days browsers allow.
    expect(firstPartyCookieDays).toEqual({ _fbp: 90, _fbc: 90, op_anonymous_id: 390 });
  });

  it('reads ad storage from a TC string too, and sets nothing when it is denied or unknown', () => {
    const payloads = [{ consent: { ad_storage: 'DENIED' } }, {}, { consent: { ad_user_data: 'GRANTED' } }];
    for (const extra of payloads) {
      expect(firstPartyCookies([event({ fbp, ...extra })], taken(1), { secure: false }, now)).toEqual([]);
    }
    for (const consent of [{ ad_storage: 'granted' }, { tcf_string: tcString({ purposes: [1] }) }]) {
      expect(firstPartyCookies([event({ fbp, consent })], taken(1), { secure: false }, now)).toHaveLength(1);
    }
    const purposeOneRefused = { tcf_string: tcString({ purposes: [7] }) };
    expect(
      firstPartyCookies([event({ fbp, consent: purposeOneRefused })], taken(1), { secure: false }, now),
    ).toEqual([]);
  });

  it('makes _fbc from an fbclid in page_url when the event has no fbc, with the Domain given', () => {
    const cookies = firstPartyCookies(
      [event({ page_url: 'https://shop.example/?fbclid=IwAR0xyz', consent: granted })],
      taken(1),
      { domain: 'shop.example', secure: true },
      now,
    );
    expect(cookies).toEqual([
      `_fbc=fb.1.${now}.IwAR0xyz; Max-Age=7776000; Path=/; SameSite=Lax; Domain=shop.example; Secure`,
    ]);
  });

  it('never writes a value outside its shape into the header', () => {
    const hostile = [
      'fb.1.1714816462000.1;Domain=evil.example',
      'fb.1.1714816462000.1\r\nSet-Cookie: x=1',
      'fb.1.1.2',
      'fb.1.1714816462000.a b',
      `fb.1.1714816462000.${'1'.repeat(501)}`,
    ];
    for (const value of hostile) {
      const cookies = firstPartyCookies(
        [event({ fbp: value, fbc: value, anonymous_id: value, consent: granted })],
        taken(1),
        { secure: false },
        now,
      );
      expect(cookies).toEqual([]);
    }
  });

  it('takes only events that were accepted or duplicates, the later value winning', () => {
    const results: IngestEventResult[] = [
      { index: 0, status: 'duplicate', id: 'evt_0', event_id: 'e0' },
      { index: 1, status: 'accepted', id: 'evt_1', event_id: 'e1' },
      {
        index: 2,
        status: 'rejected',
        error: { code: 'UNKNOWN_EVENT_TYPE', message: 'no such event type', issues: [] },
      },
    ];
    const cookies = firstPartyCookies(
      [
        event({ fbp: 'fb.1.1714816462000.111', consent: granted }),
        event({ fbp: 'fb.1.1714816462000.222', consent: granted }),
        event({ fbp: 'fb.1.1714816462000.333', anonymous_id: anonymous, consent: granted }),
      ],
      results,
      { secure: false },
      now,
    );
    expect(names(cookies)).toEqual(['_fbp=fb.1.1714816462000.222']);
  });
});
