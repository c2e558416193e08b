/**
 * The browser tag over HTTP (docs/browser-tag.md), on every adapter: `<mount>/openpipes.js` served
 * with its cache headers and ETag when the handler enables it, and collect's first-party cookies,
 * set only for a source that opts in and an event whose consent grants ad storage.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserTagFile } from '../src/browser-tag.js';
import { type Answer, checkedFetch, collect } from './client.js';
import { adapters, type Fixture, startFixture } from './servers.js';

const fbp = 'fb.1.1714816462000.1234567890';
const anonymous = '3f1c2a4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b';

describe.each(adapters)('the browser tag on %s', (adapter) => {
  let f: Fixture;
  let plain: Fixture;
  beforeAll(async () => {
    f = await startFixture(adapter, { browserTag: true });
    plain = await startFixture(adapter);
    await f.pipes.eventTypes.create({ name: 'purchase', schema: { type: 'object' } });
    await f.pipes.sources.create({ name: 'Site', slug: 'site', first_party_cookies: true });
    await f.pipes.sources.create({ name: 'Other', slug: 'other' });
  });
  afterAll(async () => {
    await f?.close();
    await plain?.close();
  });

  it('serves the built openpipes.js with a day of cache, an ETag, and a 304 for the same copy', async () => {
    const answer = await checkedFetch(f, '/openpipes.js');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toBe('application/javascript; charset=utf-8');
    expect(answer.headers.get('cache-control')).toBe('public, max-age=86400');
    expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
    expect(answer.text).toBe(readFileSync(browserTagFile(), 'utf8'));
    const etag = answer.headers.get('etag');
    expect(etag).toMatch(/^"[\w-]{22}"$/);

    const again = await checkedFetch(f, '/openpipes.js', { headers: { 'if-none-match': `W/${etag}` } });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    const changed = await checkedFetch(f, '/openpipes.js', { headers: { 'if-none-match': '"other"' } });
    expect(changed.status).toBe(200);
    const head = await fetch(`${f.base}/openpipes.js`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('etag')).toBe(etag);
  });

  it('does not serve it unless the handler is asked to', async () => {
    expect((await checkedFetch(plain, '/openpipes.js')).status).toBe(404);
  });

  const send = (slug: string, payload: Record<string, unknown>, headers: Record<string, string> = {}) =>
    collect(
      f,
      slug,
      { event_type: 'purchase', event_time: Date.now(), event_payload: payload },
      { 'content-type': 'text/plain;charset=UTF-8', origin: f.origin, ...headers },
    );
  const cookiesOf = (answer: Answer) => answer.headers.getSetCookie();

  it('sets _fbp, _fbc and the anonymous id as first-party cookies when the source opts in and consent grants ad storage', async () => {
    const answer = await send('site', {
      fbp,
      page_url: 'https://shop.example/?fbclid=IwAR0abc',
      anonymous_id: anonymous,
      consent: { ad_storage: 'GRANTED' },
    });
    expect(answer.status).toBe(202);
    expect(answer.headers.get('access-control-allow-credentials')).toBe('true');
    const cookies = cookiesOf(answer);
    expect(cookies.map((c) => c.split('=')[0])).toEqual(['_fbp', '_fbc', 'op_anonymous_id']);
    expect(cookies[0]).toBe(`_fbp=${fbp}; Max-Age=7776000; Path=/; SameSite=Lax`);
    expect(cookies[1]).toMatch(/^_fbc=fb\.1\.\d{13}\.IwAR0abc; Max-Age=7776000; Path=\/; SameSite=Lax$/);

    const secure = await send(
      'site',
      { fbp, consent: { ad_storage: 'GRANTED' } },
      { origin: f.origin.replace('http:', 'https:') },
    );
    expect(cookiesOf(secure)).toEqual([`_fbp=${fbp}; Max-Age=7776000; Path=/; SameSite=Lax; Secure`]);
  });

  it('sets none when consent denies or does not grant ad storage, the source does not opt in, or the page is another site', async () => {
    const refusals = [
      await send('site', { fbp, consent: { ad_storage: 'DENIED' } }),
      await send('site', { fbp }),
      await send('other', { fbp, consent: { ad_storage: 'GRANTED' } }),
      await send('site', { fbp, consent: { ad_storage: 'GRANTED' } }, { origin: 'http://127.0.0.2:8080' }),
    ];
    for (const answer of refusals) {
      expect(answer.status).toBe(202);
      expect(cookiesOf(answer)).toEqual([]);
    }
  });
});
