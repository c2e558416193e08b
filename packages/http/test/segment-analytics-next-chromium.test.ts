/**
 * The real analytics.js (`@segment/analytics-next` from npm, its prebuilt UMD bundle served from
 * node_modules by a loopback shop server, never a CDN) in Debian's Chromium through playwright-core.
 * Its CDN option points at OpenPipes (createHandler with `segment: true` on node:http, a SQLite file,
 * identity on), so it loads `GET /v1/projects/:writeKey/settings` from us and posts where that says.
 * identify + page + track("Order Completed") must reach a Meta template destination aimed at a local
 * stand-in as a Purchase with the hashed email, value, currency, IP and the browser's user agent, and
 * the page must make no request off loopback.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Pipes } from '@openpipes/core';
import { type TestServer, waitFor } from '@openpipes/core/testing';
import { adminApi } from '@openpipes/test-support/admin-api';
import { type Browser, launchBrowser, skipBrowser } from '@openpipes/test-support/browser';
import { findMetaPurchase, setupSegmentToMeta, sha256Hex } from '@openpipes/test-support/segment-meta';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeKey as adminKey } from './servers.js';
import { closeServer, listen, type ServedSegmentEngine, serveSegmentEngine } from './sqlite-engine.js';

/** The package's prebuilt browser bundles: `index.js` (the `AnalyticsNext` UMD global) and its chunks. */
const umdDir = join(
  dirname(createRequire(import.meta.url).resolve('@segment/analytics-next/package.json')),
  'dist/umd',
);
const bundles = new Set(readdirSync(umdDir).filter((name) => name.endsWith('.js')));

describe.skipIf(skipBrowser)('the real analytics.js in Chromium', { timeout: 90_000 }, () => {
  let served: ServedSegmentEngine;
  let pipes: Pipes;
  let meta: TestServer;
  let shop: Server;
  let browser: Browser;
  let base: string;
  let shopOrigin: string;
  let sourceId: string;
  let key: string;

  beforeAll(async () => {
    served = await serveSegmentEngine('analytics-next');
    ({ pipes, meta, base } = served);

    // The shop, on another loopback address (another site): a page and the bundle files by name.
    // The bundle's chunk path is page-relative, so any path ending in a bundle's name serves it.
    shop = createServer((req, res) => {
      const name = (req.url ?? '/').split('?')[0]!.split('/').pop() ?? '';
      if (bundles.has(name)) {
        res.setHeader('content-type', 'application/javascript; charset=utf-8');
        res.end(readFileSync(join(umdDir, name)));
        return;
      }
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(`<!doctype html><html><head><meta charset="utf-8"><title>shop</title>
<script src="/analytics-next/index.js"></script></head><body>Checkout</body></html>`);
    });
    shopOrigin = `http://127.0.0.2:${await listen(shop, '127.0.0.2')}`;

    const admin = adminApi(() => ({ url: base, token: adminKey.token }));
    ({ sourceId, key } = await setupSegmentToMeta(admin, {
      metaUrl: meta.url,
      source: { allowed_origins: [shopOrigin] },
    }));
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await closeServer(shop);
    await served?.stop();
  });

  it('loads its settings from OpenPipes and delivers identify + page + Order Completed as a Meta Purchase', async () => {
    const page = await browser.context.newPage();
    const requested: string[] = [];
    page.on('request', (request) => requested.push(request.url()));
    await page.goto(`${shopOrigin}/checkout`);
    expect(await page.evaluate('typeof window.AnalyticsNext.AnalyticsBrowser.load')).toBe('function');

    // Expressions as text: they run in the page, which this package's types (no DOM) do not describe.
    const anonymousId = await page.evaluate(`(async () => {
      const [analytics] = await AnalyticsNext.AnalyticsBrowser.load({
        writeKey: ${JSON.stringify(key)},
        cdnURL: ${JSON.stringify(base)},
      });
      await analytics.identify('user-7', { email: 'Browser.Buyer@Shop.test' });
      await analytics.page('Checkout');
      await analytics.track('Order Completed', { order_id: 'ord-7007', revenue: 64.9, total: 70, currency: 'chf' });
      return analytics.user().anonymousId();
    })()`);
    const userAgent = await page.evaluate('navigator.userAgent');

    const { event: purchase } = await waitFor(
      () => findMetaPurchase(meta.requests),
      20_000,
      "analytics.js's Purchase at the Meta stand-in",
    );
    expect([purchase.user_data.em].flat()).toEqual([sha256Hex('browser.buyer@shop.test')]);
    expect(purchase.user_data.client_ip_address).toBe('127.0.0.1');
    expect(purchase.user_data.client_user_agent).toBe(userAgent);
    expect(purchase.custom_data).toMatchObject({ value: 64.9, currency: 'CHF' });

    const stored = await pipes.sources.events(sourceId, {});
    const byType = Object.fromEntries(stored.data.map((e) => [e.event_type, e.event_payload]));
    expect(Object.keys(byType).sort()).toEqual(['page_view', 'purchase']);
    expect(byType.page_view).toMatchObject({ anonymous_id: anonymousId, page_url: `${shopOrigin}/checkout` });
    expect(byType.purchase).toMatchObject({
      order_id: 'ord-7007',
      user_id: 'user-7',
      anonymous_id: anonymousId,
    });

    // Its settings came from us, its calls went to us, and nothing left loopback (no CDN, no telemetry).
    expect(requested).toContain(`${base}/v1/projects/${key}/settings`);
    expect(requested.filter((url) => url.startsWith(`${base}/v1/`)).length).toBeGreaterThanOrEqual(4);
    expect(requested.filter((url) => !/^http:\/\/127\.0\.0\.[12]:\d+\//.test(url))).toEqual([]);
  });
});
