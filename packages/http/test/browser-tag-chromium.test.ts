/**
 * The browser tag in a real browser (Debian's Chromium through playwright-core): a real handler on
 * node:http with a SQLite file serves `<mount>/openpipes.js`; a shop page on another loopback origin
 * loads it, has Meta's `_fbp` cookie and `?fbclid=...&gclid=...` in its URL, and tracks a purchase
 * while it unloads (in `pagehide`, as the browser navigates away). The event must arrive in the
 * store with the cookie's value and the click ids, under the event id `track` returned.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { type Pipes, type StoredEvent, silentLogger } from '@openpipes/core';
import { type Browser, launchBrowser, skipBrowser } from '@openpipes/test-support/browser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../src/index.js';
import { createNodeListener } from '../src/node.js';
import { closeServer, listen, type SqliteEngine, startSqliteEngine } from './sqlite-engine.js';

const fbp = 'fb.1.1714816462000.1234567890';
const fbclid = 'IwAR0tagTest_-9';
const gclid = 'Cj0KCQtagTest';

/** The example page of @openpipes/browser, loading the tag from the server under test. */
const examplePage = (tagUrl: string) =>
  readFileSync(fileURLToPath(new URL('../../browser/example/index.html', import.meta.url)), 'utf8').replace(
    'http://localhost:8080/openpipes.js',
    tagUrl,
  );

/** The shop: a checkout page that loads the tag from OpenPipes, and a thank-you page. */
function shopPages(tagUrl: string) {
  const checkout = `<!doctype html><html><head><meta charset="utf-8"><title>checkout</title>
<script src="${tagUrl}"></script>
<script>
  openpipes.init({ source: 'web', consent: { ad_storage: 'granted', ad_user_data: 'granted' } });
  // The purchase is tracked as the page unloads: the beacon must outlive the page.
  addEventListener('pagehide', function () {
    var id = openpipes.track('purchase', { value: 42.5, currency: 'EUR', order_id: 'ord_70213' });
    sessionStorage.setItem('event_id', id);
  });
</script></head><body><a id="pay" href="/thanks">Pay</a></body></html>`;
  const thanks = `<!doctype html><html><head><meta charset="utf-8"><title>thanks</title>
<script>document.title = 'thanks ' + sessionStorage.getItem('event_id');</script></head><body>Thanks</body></html>`;
  const plain = `<!doctype html><html><head><meta charset="utf-8"><title>plain</title>
<script src="${tagUrl}"></script><script>openpipes.init({ source: 'web' });</script></head><body></body></html>`;
  const pages: Record<string, string> = { thanks, plain, example: examplePage(tagUrl) };
  return (path: string) => pages[path.split(/[/?]/)[1] ?? ''] ?? checkout;
}

describe.skipIf(skipBrowser)('the browser tag in Chromium', { timeout: 90_000 }, () => {
  let engine: SqliteEngine;
  let pipes: Pipes;
  let api: Server;
  let shop: Server;
  let browser: Browser;
  let shopOrigin: string;
  let sourceId: string;

  beforeAll(async () => {
    engine = await startSqliteEngine('tag-chromium');
    pipes = engine.pipes;
    const handler = createHandler(pipes, { browserTag: true, logger: silentLogger });
    api = createServer(createNodeListener(handler, { basePath: '/openpipes' }));
    const apiOrigin = `http://127.0.0.1:${await listen(api, '127.0.0.1')}`;
    // Another loopback address: another site, as a shop and its OpenPipes on another host are.
    const page = shopPages(`${apiOrigin}/openpipes/openpipes.js`);
    shop = createServer((req, res) => {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(page(req.url ?? '/'));
    });
    shopOrigin = `http://127.0.0.2:${await listen(shop, '127.0.0.2')}`;
    await pipes.eventTypes.create({ name: 'purchase', schema: { type: 'object' } });
    sourceId = (await pipes.sources.create({ name: 'Web', slug: 'web', allowed_origins: [shopOrigin] })).id;
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await closeServer(shop);
    await closeServer(api);
    await engine?.stop();
  });

  /** Polls the store until `found` returns something, or fails at the deadline. */
  async function storedEvent(
    found: (events: StoredEvent[]) => StoredEvent | undefined,
  ): Promise<StoredEvent> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const event = found((await pipes.sources.events(sourceId, { limit: 50 })).data);
      if (event) return event;
      if (Date.now() > deadline) throw new Error('the event did not arrive in the store within 20 s');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  it('delivers a purchase tracked during page unload, with the _fbp cookie and the click ids', async () => {
    await browser.context.addCookies([
      { name: '_fbp', value: fbp, url: shopOrigin },
      { name: '_ttp', value: 'ttp-tag-test', url: shopOrigin },
    ]);
    const page = await browser.context.newPage();
    const landing = `${shopOrigin}/checkout?fbclid=${fbclid}&gclid=${gclid}&utm_source=meta`;
    await page.goto(landing);
    // Expressions as text: they run in the page, which this package's types (no DOM) do not describe.
    expect(await page.evaluate('typeof window.openpipes')).toBe('object');
    await page.click('#pay');
    await page.waitForURL(`${shopOrigin}/thanks`);
    const eventId = (await page.title()).replace(/^thanks /, '');
    expect(eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    const event = await storedEvent((events) => events.find((e) => e.event_id === eventId));
    expect(event.event_type).toBe('purchase');
    const payload = event.event_payload as Record<string, unknown>;
    expect(payload).toMatchObject({
      value: 42.5,
      currency: 'EUR',
      order_id: 'ord_70213',
      fbp,
      ttp: 'ttp-tag-test',
      gclid,
      page_url: landing,
      consent: { ad_storage: 'GRANTED', ad_user_data: 'GRANTED' },
    });
    expect(payload.fbc).toMatch(new RegExp(`^fb\\.1\\.\\d{13}\\.${fbclid}$`));
    expect(payload.anonymous_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(payload.user_agent).toContain('Chrome');
    await page.close();
  });

  it('keeps an event tracked offline in its local queue and sends it when the page is back online', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${shopOrigin}/plain`);
    await browser.context.setOffline(true);
    const eventId = await page.evaluate<string>("openpipes.track('purchase', { value: 7, currency: 'EUR' })");
    const queued = await page.evaluate<string | null>("localStorage.getItem('op_queue')");
    expect(JSON.parse(queued ?? '[]').map((e: { event_id: string }) => e.event_id)).toEqual([eventId]);

    await browser.context.setOffline(false);
    const event = await storedEvent((events) => events.find((e) => e.event_id === eventId));
    expect(event.event_payload).toMatchObject({ value: 7, currency: 'EUR', page_url: `${shopOrigin}/plain` });
    // Sent: the queue empties (the beacon was handed to the browser).
    await page.waitForFunction("localStorage.getItem('op_queue') === '[]'");
    await page.close();
  });

  it('runs the example page: consent starts denied, the banner grants it, a purchase arrives under the shown id', async () => {
    await browser.context.addCookies([{ name: '_fbp', value: fbp, url: shopOrigin }]);
    const page = await browser.context.newPage();
    await page.goto(`${shopOrigin}/example?fbclid=${fbclid}`);
    await page.click('#buy');
    const denied = (await page.textContent('#sent'))?.replace(/^tracked /, '') ?? '';
    await page.click('#accept');
    await page.click('#buy');
    const granted = (await page.textContent('#sent'))?.replace(/^tracked /, '') ?? '';

    const before = await storedEvent((events) => events.find((e) => e.event_id === denied));
    // Ad storage denied: no ad cookie, no click id field (the URL is still the page's).
    expect(before.event_payload).toMatchObject({ consent: { ad_storage: 'DENIED', ad_user_data: 'DENIED' } });
    expect(before.event_payload).not.toHaveProperty('fbp');
    expect(before.event_payload).not.toHaveProperty('fbc');
    const after = await storedEvent((events) => events.find((e) => e.event_id === granted));
    expect(after.event_payload).toMatchObject({
      fbp,
      value: 42.5,
      currency: 'EUR',
      consent: { ad_storage: 'GRANTED', ad_user_data: 'GRANTED', analytics_storage: 'GRANTED' },
    });
    expect((after.event_payload as { fbc?: string }).fbc).toMatch(new RegExp(`\\.${fbclid}$`));
    await page.close();
  });

  it('falls back to fetch with keepalive when the beacon is refused, and keeps no anonymous id while analytics storage is denied', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${shopOrigin}/plain`);
    // An anonymous id exists first (consent unknown), so denying has something to remove.
    expect(await page.evaluate<string>('openpipes.getAnonymousId()')).toMatch(/^[0-9a-f-]{36}$/);
    const eventId = await page.evaluate<string>(`
      navigator.sendBeacon = function () { return false; };
      openpipes.consent({ analytics_storage: 'denied' });
      openpipes.track('purchase', { value: 3, currency: 'EUR' });
    `);
    const event = await storedEvent((events) => events.find((e) => e.event_id === eventId));
    expect(event.event_payload).toMatchObject({ value: 3, consent: { analytics_storage: 'DENIED' } });
    expect(event.event_payload).not.toHaveProperty('anonymous_id');
    // The fetch was answered, so the event left the queue; no anonymous id was written anywhere.
    await page.waitForFunction("localStorage.getItem('op_queue') === '[]'");
    expect(await page.evaluate<string>('document.cookie')).not.toContain('op_anonymous_id');
    expect(await page.evaluate<string | null>("localStorage.getItem('op_anonymous_id')")).toBeNull();
    await page.close();
  });
});
