/**
 * The web console in a real browser (Debian's Chromium through playwright-core), on each host of
 * console-hosts.ts (`openpipes serve` on SQLite, and the Express example with the console under
 * `/openpipes`), with a stand-in for Meta on 127.0.0.1: sign in, see the pipe, see a collected
 * event appear as delivered without a reload, open its record, find the token redacted and its
 * value nowhere the browser received; deep URLs survive a reload; the CSP holds and is never
 * violated; a read-scope key gets no write controls; a source's page shows a good and a bad event
 * sent to it.
 */
import { metaExampleTransform, purchaseEvent } from '@openpipes/core/testing';
import { type Browser, launchBrowser, skipBrowser } from '@openpipes/test-support/browser';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleHost, consoleHosts, consoleUrl, consoleUrlPattern } from './console-hosts.js';
import { openRecordedPage } from './console-page.js';
import { collect, stopAll } from './helpers.js';
import { adminApi, setupMetaExampleOverApi, startMetaStandIn, type TestServer } from './meta-example.js';

const metaToken = 'EAAB-console-browser-token-5c4d3e';
const pixelId = '123456789';

describe.skipIf(skipBrowser).each(consoleHosts)('the console in Chromium, on $name', (kind) => {
  let meta: TestServer;
  let host: ConsoleHost;
  let browser: Browser;
  let pipeId: string;

  /** The admin API with the host's key; fails the test on an error answer. */
  const call = adminApi(() => host);

  beforeAll(async () => {
    meta = await startMetaStandIn({ token: metaToken });
    host = await kind.start({ egressAllow: meta.host });
    ({ pipeId } = await setupMetaExampleOverApi(call, { metaUrl: meta.url, token: metaToken, pixelId }));
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await stopAll();
    await meta?.close();
  });

  /** A page that records every console message, page error and answer body. */
  const openPage = () => openRecordedPage(browser);

  /** Submits `token` on the sign-in form (without waiting for the console: it may refuse). */
  const signIn = async (page: Page, token: string) => {
    const answer = await page.goto(consoleUrl(host));
    await page.getByLabel('API key or admin token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    return answer!;
  };

  it('signs in, shows a collected event delivered without a reload, and never shows the token', async () => {
    const { page, messages, bodies } = await openPage();
    const answer = await signIn(page, host.token);
    expect(answer.status()).toBe(200);
    expect(answer.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.getByText(host.who).waitFor();

    await page.getByRole('link', { name: 'purchase-to-meta' }).click();
    await page.getByText('No deliveries.').waitFor();
    expect(page.url()).toBe(consoleUrl(host, `pipes/${pipeId}`));
    // Its destination is its own send() code with no identifier declaration: match quality says so.
    await page
      .getByRole('region', { name: 'Match quality' })
      .getByText(/^Not measured/)
      .waitFor();

    const collected = await collect(host.url, purchaseEvent('ord_90001'));
    expect(collected.status).toBe(202);
    // The page polls: the row appears, then turns delivered, with no navigation in between.
    const row = page.getByRole('row').filter({ hasText: 'ord_90001' });
    await row.getByText('delivered').waitFor({ timeout: 15_000 });
    expect(page.url()).toBe(consoleUrl(host, `pipes/${pipeId}`));

    // The pipe's deep URL survives a reload (the server answers the app for it).
    await page.reload();
    await page.getByRole('row').filter({ hasText: 'ord_90001' }).getByText('delivered').waitFor();

    await page.getByRole('row').filter({ hasText: 'ord_90001' }).getByRole('link').click();
    await page.getByRole('heading', { name: 'Request (redacted)' }).waitFor();
    expect(page.url()).toMatch(consoleUrlPattern(host, 'deliveries/evd_\\w+'));
    const request = await page.getByLabel('Request').textContent();
    expect(request).toContain('[secret:META_ACCESS_TOKEN]');

    // So does the record's.
    await page.reload();
    await page.getByRole('heading', { name: 'Request (redacted)' }).waitFor();
    expect(await page.getByLabel('Request').textContent()).toContain('[secret:META_ACCESS_TOKEN]');

    // The overview's chart and counts come from the per-minute rollup.
    await page.getByRole('link', { name: 'OpenPipes' }).click();
    await page.getByText('1 delivered', { exact: true }).waitFor();
    expect(await page.getByRole('row').filter({ hasText: 'purchase-to-meta' }).textContent()).toContain(
      '1 / 1',
    );

    // The host's own routes are untouched by the console.
    if (host.ownRoute) expect((await fetch(host.ownRoute)).status).toBe(200);
    expect(await page.content()).not.toContain(metaToken);
    const received = await Promise.all(bodies);
    expect(received.length).toBeGreaterThan(5);
    for (const body of received) expect(body).not.toContain(metaToken);
    expect(messages.filter((m) => /Content.Security.Policy|Refused to|csp-violation/i.test(m))).toEqual([]);
    expect(messages.filter((m) => m.startsWith('pageerror'))).toEqual([]);
    await page.close();
  });

  it('runs, edits, reviews, saves and reverts the transform in the code page', async () => {
    const { page, messages } = await openPage();
    await signIn(page, host.token);
    await page.getByRole('link', { name: 'purchase-to-meta' }).click();
    await page.getByRole('link', { name: 'Transform code' }).click();
    const editor = page.getByRole('textbox', { name: 'Transform code' });
    await editor.waitFor();

    await page.getByRole('button', { name: 'Run on the last 5 events' }).click();
    await page.getByRole('heading', { name: 'Event ord_90001' }).waitFor();
    expect(await page.getByLabel('Output of event ord_90001').textContent()).toContain(
      '"event_name": "Purchase"',
    );

    // Break it: the run shows the error with its line.
    await editor.click();
    await page.keyboard.press('Control+A');
    // Typed key by key, as an operator would (the editor closes brackets; typing the closer skips it).
    await page.keyboard.type('function transform({ events }) { return events.map((e) => e.nope.deeper); }');
    await page.getByRole('button', { name: 'Run on these events' }).click();
    await page.getByText(/USER_CODE_ERROR: .* \(line 1, column \d+\)/).waitFor();

    // Review the diff, save, then revert to the version before.
    await page.getByRole('button', { name: 'Review changes' }).click();
    const diff = await page.getByLabel('Changes against the current version').textContent();
    expect(diff).toContain('+ function transform({ events }) { return events.map((e) => e.nope.deeper); }');
    expect(diff).toMatch(/- function transform\(\{ events, profiles, secrets \}\)/);
    const { version } = await call<{ version: number }>('GET', `/api/pipes/${pipeId}`);
    await page.getByRole('button', { name: 'Save as a new version' }).click();
    await page.getByText(`Saved as version ${version + 1}.`, { exact: true }).waitFor();
    expect((await call<{ transform: string }>('GET', `/api/pipes/${pipeId}`)).transform).toContain(
      'e.nope.deeper',
    );
    await page.getByRole('button', { name: `Revert to version ${version}` }).click();
    await page
      .getByText(`Reverted to version ${version}: now version ${version + 2}.`, { exact: true })
      .waitFor();
    expect((await call<{ transform: string }>('GET', `/api/pipes/${pipeId}`)).transform).toBe(
      metaExampleTransform,
    );
    // Known gap: while typing in the editor, Chromium reports one blocked style attribute with no
    // source (style-src-attr, from no script of ours); the editor works and looks the same. Every
    // other violation, and any script-src one, fails the test.
    const violations = messages.filter((m) => m.includes('csp-violation'));
    expect(violations.filter((v) => !/csp-violation style-src-attr :0$/.test(v))).toEqual([]);
    expect(messages.filter((m) => /script-src|pageerror/i.test(m))).toEqual([]);
    await page.close();
  });

  it('shows a source with its snippets, and a good and a bad event sent to it, newest first', async () => {
    const { page, messages } = await openPage();
    await signIn(page, host.token);
    await page.getByRole('link', { name: 'Sources' }).click();
    await page.getByRole('link', { name: 'Web' }).click();
    await page.getByRole('heading', { name: 'Source Web' }).waitFor();
    expect(page.url()).toMatch(consoleUrlPattern(host, 'sources/src_\\w+'));
    const curl = await page.getByLabel('curl', { exact: true }).textContent();
    expect(curl).toContain(`curl -X POST '${host.url}/collect/web'`);
    const beacon = await page.getByLabel('sendBeacon', { exact: true }).textContent();
    expect(beacon).toContain(`navigator.sendBeacon(\n  '${host.url}/collect/web'`);

    // Sent from the test while the page is open: both appear by themselves (the page polls).
    const good = await collect(host.url, purchaseEvent('ord_source_page_1'));
    expect(good.status).toBe(202);
    const bad = await collect(host.url, {
      event_type: 'purchase',
      event_time: new Date().toISOString(),
      event_payload: { order_id: 'ord_refused_1' },
    });
    expect(bad.status).toBe(400);
    const refused = (await bad.json()) as {
      error: { details: { results: Array<{ error: { issues: Array<{ path: string }> } }> } };
    };

    const rejection = page.getByRole('row').filter({ hasText: 'ord_refused_1' });
    await rejection.waitFor({ timeout: 10_000 });
    expect(await rejection.textContent()).toContain('VALIDATION_FAILED');
    expect(await rejection.textContent()).toContain(refused.error.details.results[0]!.error.issues[0]!.path);
    await page.getByRole('row').filter({ hasText: 'ord_source_page_1' }).waitFor({ timeout: 10_000 });
    // Newest first: the event sent last heads the events table.
    const firstEvent = page
      .getByRole('table', { name: /Accepted events/ })
      .getByRole('row')
      .nth(1);
    expect(await firstEvent.textContent()).toContain('ord_source_page_1');
    expect(
      messages.filter((m) => /Content.Security.Policy|Refused to|csp-violation|pageerror/i.test(m)),
    ).toEqual([]);
    await page.close();
  });

  it('gives a read-scope key a console without write controls', async () => {
    const key = await call<{ token: string }>('POST', '/api/api-keys', { name: 'viewer', scope: 'read' });
    const { page } = await openPage();
    await signIn(page, key.token);
    await page.getByText('viewer (read-only)').waitFor();
    await page.getByRole('link', { name: 'purchase-to-meta' }).click();
    await page.getByRole('row').filter({ hasText: 'ord_90001' }).waitFor();
    expect(await page.getByRole('button', { name: /^(Enable|Disable)$/ }).count()).toBe(0);
    await page.getByRole('row').filter({ hasText: 'ord_90001' }).getByRole('link').click();
    await page.getByRole('heading', { name: 'Attempts' }).waitFor();
    expect(await page.getByRole('button', { name: /Replay/ }).count()).toBe(0);
    await page.close();
  });

  it('refuses a key the server does not know at sign-in', async () => {
    const { page } = await openPage();
    await signIn(page, 'not-a-key-of-this-server');
    await page.getByRole('alert').waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('not known');
    await page.close();
  });
  /** Signs in, then opens a console path directly (a deep URL, as after a reload or a shared link). */
  const openAt = async (path: string, token = host.token) => {
    const opened = await openPage();
    await signIn(opened.page, token);
    await opened.page.getByRole('link', { name: 'Sources' }).waitFor();
    await opened.page.goto(consoleUrl(host, path));
    return opened;
  };

  it('has its own URL for every admin page, and each survives a reload', async () => {
    const { page, messages } = await openAt('destinations');
    for (const [path, heading] of [
      ['destinations', 'Destinations'],
      ['secrets', 'Secrets'],
      ['alerts', 'Alerts'],
      ['audit', 'Audit trail'],
      ['api-keys', 'API keys'],
      ['reconciliation', 'Reconciliation'],
    ] as const) {
      await page.goto(consoleUrl(host, path));
      await page.getByRole('heading', { name: heading, exact: true, level: 1 }).waitFor();
      await page.reload();
      await page.getByRole('heading', { name: heading, exact: true, level: 1 }).waitFor();
    }
    // The audit trail filtered by entity kind from its URL, then by actor from the form.
    await page.goto(consoleUrl(host, 'audit?entity_kind=pipe'));
    await page.getByRole('table', { name: /Audit entries/ }).waitFor();
    expect(await page.getByLabel('Entity kind').inputValue()).toBe('pipe');
    const rows = await page.getByRole('row').allTextContents();
    expect(rows.length).toBeGreaterThan(1);
    expect(rows.slice(1).every((row) => row.includes('pipe pip_'))).toBe(true);
    await page.getByLabel('Actor').fill('nobody-at-all');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByText('No entries.').waitFor();
    expect(page.url()).toContain('entity_kind=pipe&actor=nobody-at-all');
    expect(messages.filter((m) => /csp-violation|pageerror/i.test(m))).toEqual([]);
    await page.close();
  });

  it('creates and rotates a secret whose values appear nowhere the browser received', async () => {
    const plain = 'console-plain-secret-value-4b7c9e1f';
    const rotated = 'console-rotated-secret-value-8d2a6f3c';
    const { page, bodies } = await openAt('secrets');
    await page.getByLabel('Key', { exact: true }).fill('CONSOLE_SECRET');
    await page.getByLabel('Value', { exact: true }).fill(plain);
    await page.getByRole('button', { name: 'Create secret' }).click();
    await page.getByText('Secret CONSOLE_SECRET created.').waitFor();
    const row = page.getByRole('row').filter({ hasText: 'CONSOLE_SECRET' });
    await row.waitFor();
    await row.getByLabel('New value for CONSOLE_SECRET').fill(rotated);
    await row.getByRole('button', { name: 'Rotate' }).click();
    await row.getByText('Rotated.').waitFor();
    await row.getByRole('cell', { name: '2', exact: true }).waitFor();
    await page.reload();
    await page.getByRole('row').filter({ hasText: 'CONSOLE_SECRET' }).waitFor();
    const html = await page.content();
    const received = await Promise.all(bodies);
    for (const text of [html, ...received]) {
      expect(text).not.toContain(plain);
      expect(text).not.toContain(rotated);
    }
    expect(received.some((body) => body.includes('CONSOLE_SECRET'))).toBe(true);
    await page.close();
  });

  it("dry-runs the destination's send(): the recorded request, the token redacted, nothing sent", async () => {
    const { page, bodies } = await openAt('destinations');
    await page.getByRole('link', { name: 'meta-capi-prod' }).click();
    await page.getByRole('heading', { name: 'Destination meta-capi-prod' }).waitFor();
    expect(page.url()).toMatch(consoleUrlPattern(host, 'destinations/dst_\\w+'));
    await page.getByLabel('Events (JSON)').fill(JSON.stringify([purchaseEvent('ord_dry_console')]));
    const sent = meta.requests.length;
    await page.getByRole('button', { name: 'Dry run' }).click();
    await page.getByText(/^Dry run: every request was recorded and answered with a synthetic 200/).waitFor();
    const request = await page.getByLabel('Request 1').textContent();
    expect(request).toContain(`${meta.url}`);
    expect(request).toContain('[secret:META_ACCESS_TOKEN]');
    expect(request).toContain('ord_dry_console');
    expect(await page.getByLabel('Answer 1').textContent()).toContain('200');
    // The destination has its own send() code: no test mode, and the button says so.
    expect(await page.getByRole('button', { name: 'Test send' }).isDisabled()).toBe(true);
    expect(meta.requests.length).toBe(sent);
    expect(await page.content()).not.toContain(metaToken);
    for (const body of await Promise.all(bodies)) expect(body).not.toContain(metaToken);
    await page.close();
  });

  it("keeps a destination section mounted across versions: its 'saved' line stays, its form takes up the new version", async () => {
    const created = await call<{ id: string }>('POST', '/api/event-destinations', {
      name: 'versions-check',
      send: 'async function send({ events }) { return { received: events.length }; }',
    });
    const { page } = await openAt(`destinations/${created.id}`);
    const version = page.locator('dt:text-is("Version") + dd');
    const pixelBox = page.getByRole('checkbox', { name: 'META_PIXEL_ID' });
    await pixelBox.check();
    await page.getByRole('button', { name: 'Save bindings' }).click();
    await version.getByText('2', { exact: true }).waitFor();
    // Version 3 is made behind the page's back (no binding), version 4 by the page (enabled).
    await call('PUT', `/api/event-destinations/${created.id}/secrets`, { secretIds: [] });
    await page.getByRole('button', { name: 'Enable' }).click();
    await version.getByText('4', { exact: true }).waitFor();
    // The bindings section shows version 4's (none), and still its own confirmation.
    await page.getByRole('button', { name: 'Disable' }).waitFor();
    expect(await pixelBox.isChecked()).toBe(false);
    expect(await page.getByText('Bindings saved.').isVisible()).toBe(true);
    await page.close();
  });

  it('reconciles purchases: the page shows what the API counts, with the delivered purchase', async () => {
    const { page } = await openAt('reconciliation');
    await page.getByLabel('Event type').selectOption('purchase');
    await page.getByRole('button', { name: 'Reconcile' }).click();
    const row = page.getByRole('row').filter({ hasText: 'meta-capi-prod' });
    await row.waitFor();
    expect(page.url()).toContain('event_type=purchase');
    const query = new URL(page.url()).search;
    const expected = await call<{
      collected: number;
      destinations: Array<{
        delivered: number;
        expected: number;
        failed: number;
        pending: number;
        missing: number;
      }>;
    }>('GET', `/api/reconciliation${query}`);
    const counts = expected.destinations[0]!;
    expect(counts.delivered).toBeGreaterThanOrEqual(1);
    const cells = await row.getByRole('cell').allTextContents();
    expect(cells.map(Number)).toEqual([
      counts.expected,
      counts.delivered,
      0,
      counts.failed,
      counts.pending,
      counts.missing,
    ]);
    await page.getByText(`${expected.collected} purchase events collected`).waitFor();
    await page.reload();
    await page.getByRole('row').filter({ hasText: 'meta-capi-prod' }).waitFor();
    await page.close();
  });

  it('hides the admin pages write controls from a read-scope key', async () => {
    const key = await call<{ token: string }>('POST', '/api/api-keys', { name: 'auditor', scope: 'read' });
    const { page } = await openAt('secrets', key.token);
    await page.getByRole('heading', { name: 'Secrets', level: 1 }).waitFor();
    await page.getByRole('row').filter({ hasText: 'META_ACCESS_TOKEN' }).waitFor();
    expect(await page.getByRole('button', { name: /Create secret|Rotate/ }).count()).toBe(0);
    // The write-only column goes with its header: every header names a column that is there.
    const secretsTable = page.getByRole('table', { name: 'Secrets' });
    expect(await secretsTable.getByRole('columnheader').allTextContents()).toEqual([
      'Key',
      'Description',
      'Value version',
      'Value changed',
    ]);
    const firstRow = secretsTable.getByRole('row').filter({ hasText: 'META_ACCESS_TOKEN' });
    expect(await firstRow.getByRole('cell').count()).toBe(4);
    await page.goto(consoleUrl(host, 'api-keys'));
    await page.getByRole('row').filter({ hasText: 'auditor' }).waitFor();
    expect(await page.getByRole('button', { name: /Create API key|Revoke/ }).count()).toBe(0);
    await page.goto(consoleUrl(host, 'destinations'));
    await page.getByRole('link', { name: 'meta-capi-prod' }).click();
    await page.getByRole('heading', { name: 'Bound secrets' }).waitFor();
    expect(await page.getByRole('button', { name: /Dry run|Test send|Save|Enable|Disable/ }).count()).toBe(0);
    await page.close();
  });
});
