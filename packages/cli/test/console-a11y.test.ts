/**
 * The console's accessibility, in Chromium against a real `openpipes serve` on SQLite (the serve
 * host of console-hosts.ts) with one delivered event: axe-core (injected into each page through
 * the DevTools protocol, so the console's CSP stays as strict as it is) finds no serious or
 * critical violation on any page, and the keyboard alone reaches every link, button and field of
 * the sign-in, overview, record and code pages with Tab.
 */
import { purchaseEvent } from '@openpipes/core/testing';
import { type Browser, launchBrowser, skipBrowser } from '@openpipes/test-support/browser';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleHost, consoleUrl, serveHost } from './console-hosts.js';
import { openRecordedPage, problems, seriousViolations, signIn } from './console-page.js';
import { collect, eventually, stopAll } from './helpers.js';
import { adminApi, setupMetaExampleOverApi, startMetaStandIn, type TestServer } from './meta-example.js';

const metaToken = 'EAAB-console-a11y-token-6a5b4c';

/**
 * Presses Tab until every enabled link, button, field and focusable region of the page has had
 * the focus (CodeMirror's editor too, inside its shadow root), or until twice as many presses as
 * there are controls; answers the controls never reached, described. Fails when the page has
 * fewer than `atLeast` controls (a check that finds nothing proves nothing).
 */
async function unreachedByTab(page: Page, atLeast: number): Promise<string[]> {
  const count = (await page.evaluate(`(() => {
    const controls = [];
    const collect = (root) => {
      for (const el of root.querySelectorAll('a[href], button, input, select, textarea, summary, [tabindex], [contenteditable="true"]')) {
        // Folded content (a closed <details>) is not a stop for Tab until it is opened.
        if (el.disabled || el.tabIndex < 0 || !el.checkVisibility({ contentVisibilityAuto: true, visibilityProperty: true })) continue;
        controls.push(el);
      }
      for (const host of root.querySelectorAll('*')) if (host.shadowRoot) collect(host.shadowRoot);
    };
    collect(document);
    controls.forEach((el, i) => { el.dataset.tabCheck = String(i); });
    window.__tabControls = controls;
    return controls.length;
  })()`)) as number;
  expect(count).toBeGreaterThanOrEqual(atLeast);
  await page.evaluate(
    'document.activeElement && document.activeElement.blur && document.activeElement.blur()',
  );
  const reached = new Set<string>();
  for (let press = 0; press < count * 2 + 4 && reached.size < count; press++) {
    await page.keyboard.press('Tab');
    const at = (await page.evaluate(`(() => {
      let el = document.activeElement;
      while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
      return el && el.dataset ? el.dataset.tabCheck ?? null : null;
    })()`)) as string | null;
    if (at !== null) reached.add(at);
  }
  const described = (await page.evaluate(`window.__tabControls.map((el, i) => [String(i),
    el.tagName.toLowerCase() + ' "' + (el.getAttribute('aria-label') || el.textContent || el.name || '').trim().slice(0, 40) + '"'])`)) as Array<
    [string, string]
  >;
  return described.filter(([i]) => !reached.has(i)).map(([, text]) => text);
}

// On `openpipes serve` only: the pages and their markup do not depend on the mount (the other
// suites run on both hosts), and this suite would add about a minute on CI's two cores.
describe.skipIf(skipBrowser).each([serveHost])('the console is accessible, on $name', (kind) => {
  let meta: TestServer;
  let host: ConsoleHost;
  let browser: Browser;
  let pipeId: string;
  let sourceId: string;
  let destinationId: string;
  let deliveryId: string;

  const call = adminApi(() => host);

  /**
   * Every console page past sign-in, with what shows that its data has arrived: the one list both
   * the axe check and the Tab check go through (ids are known once beforeAll has run).
   */
  const consolePages = (): Array<[string, (p: Page) => Promise<void>]> => [
    ['', (p) => p.getByRole('row').filter({ hasText: 'purchase-to-meta' }).waitFor()],
    [`pipes/${pipeId}`, (p) => p.getByRole('row').filter({ hasText: 'ord_a11y_1' }).waitFor()],
    [`pipes/${pipeId}/code`, (p) => p.getByRole('textbox', { name: 'Transform code' }).waitFor()],
    [`deliveries/${deliveryId}`, (p) => p.getByRole('heading', { name: 'Attempts' }).waitFor()],
    ['sources', (p) => p.getByRole('link', { name: 'Web', exact: true }).waitFor()],
    [`sources/${sourceId}`, (p) => p.getByRole('row').filter({ hasText: 'ord_a11y_1' }).waitFor()],
    ['event-types', (p) => p.getByRole('row').filter({ hasText: 'purchase' }).waitFor()],
    ['destinations', (p) => p.getByRole('link', { name: 'meta-capi-prod' }).waitFor()],
    [`destinations/${destinationId}`, (p) => p.getByRole('heading', { name: 'Bound secrets' }).waitFor()],
    ['secrets', (p) => p.getByRole('row').filter({ hasText: 'META_PIXEL_ID' }).waitFor()],
    ['alerts', (p) => p.getByRole('heading', { name: 'Alerts', level: 1 }).waitFor()],
    ['audit', (p) => p.getByRole('table', { name: /Audit entries/ }).waitFor()],
    ['api-keys', (p) => p.getByRole('row').filter({ hasText: 'viewer' }).waitFor()],
    ['reconciliation', (p) => p.getByRole('heading', { name: 'Reconciliation', level: 1 }).waitFor()],
  ];

  beforeAll(async () => {
    meta = await startMetaStandIn();
    host = await kind.start({ egressAllow: meta.host });
    ({ sourceId, destinationId, pipeId } = await setupMetaExampleOverApi(call, {
      metaUrl: meta.url,
      token: metaToken,
      pixelId: '1',
    }));
    await call('POST', '/api/api-keys', { name: 'viewer', scope: 'read' });
    const collected = await collect(host.url, purchaseEvent('ord_a11y_1'));
    expect(collected.status).toBe(202);
    // A refused event too, so the source page shows its rejections table.
    await collect(host.url, {
      event_type: 'purchase',
      event_time: new Date().toISOString(),
      event_payload: {},
    });
    deliveryId = await eventually(async () => {
      const page = await call<{ data: Array<{ id: string; status: string }> }>(
        'GET',
        `/api/pipes/${pipeId}/deliveries`,
      );
      return page.data[0]?.status === 'delivered' ? page.data[0].id : null;
    });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await stopAll();
    await meta?.close();
  });

  it('has no serious or critical axe violation on any page', async () => {
    const { page, messages } = await openRecordedPage(browser);
    await page.goto(consoleUrl(host));
    await page.getByLabel('API key or admin token').waitFor();
    const found: Record<string, string[]> = { 'sign-in': await seriousViolations(page) };
    await signIn(page, consoleUrl(host), host.token);
    const pages = consolePages();
    for (const [path, loaded] of pages) {
      await page.goto(consoleUrl(host, path));
      await loaded(page);
      found[path || 'overview'] = await seriousViolations(page);
    }
    // The reconciliation page with its table filled.
    await page.getByLabel('Event type').selectOption('purchase');
    await page.getByRole('button', { name: 'Reconcile' }).click();
    await page.getByRole('row').filter({ hasText: 'meta-capi-prod' }).waitFor();
    found['reconciliation with results'] = await seriousViolations(page);

    expect(Object.entries(found).filter(([, v]) => v.length > 0)).toEqual([]);
    expect(problems(messages)).toEqual([]);
    await page.close();
  });

  it('reaches every control of the sign-in, overview, record and code pages by Tab', async () => {
    const { page } = await openRecordedPage(browser);
    await page.goto(consoleUrl(host));
    await page.getByLabel('API key or admin token').waitFor();
    const unreached: Record<string, string[]> = { 'sign-in': await unreachedByTab(page, 2) };
    // Signing in by keyboard alone: type the key, Enter.
    await page.getByLabel('API key or admin token').focus();
    await page.keyboard.type(host.token);
    await page.keyboard.press('Enter');
    await page.getByRole('row').filter({ hasText: 'purchase-to-meta' }).waitFor();
    unreached.overview = await unreachedByTab(page, 12);
    await page.goto(consoleUrl(host, `deliveries/${deliveryId}`));
    await page.getByRole('heading', { name: 'Attempts' }).waitFor();
    unreached.record = await unreachedByTab(page, 12);
    await page.goto(consoleUrl(host, `pipes/${pipeId}/code`));
    await page.getByRole('textbox', { name: 'Transform code' }).waitFor();
    await page
      .getByRole('button', { name: /^Revert to version/ })
      .first()
      .waitFor();
    unreached.code = await unreachedByTab(page, 14);
    expect(unreached).toEqual({ 'sign-in': [], overview: [], record: [], code: [] });
    await page.close();
  });

  it('reaches every control of every other page by Tab', async () => {
    const { page } = await openRecordedPage(browser);
    await signIn(page, consoleUrl(host), host.token);
    // The overview, record and code pages are tested apart above, with their sign-in.
    const testedApart = new Set(['', `pipes/${pipeId}/code`, `deliveries/${deliveryId}`]);
    const pages = consolePages().filter(([path]) => !testedApart.has(path));
    const unreached: Record<string, string[]> = {};
    for (const [path, loaded] of pages) {
      await page.goto(consoleUrl(host, path));
      await loaded(page);
      // The navigation alone is more than ten controls: a page that failed to render cannot pass.
      unreached[path] = await unreachedByTab(page, 10);
    }
    expect(unreached).toEqual(Object.fromEntries(pages.map(([path]) => [path, []])));
    await page.close();
  });
});
