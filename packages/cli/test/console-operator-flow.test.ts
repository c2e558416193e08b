/**
 * The brief's whole operator flow in the console alone, in Chromium, on each host of
 * console-hosts.ts (`openpipes serve` on SQLite, and the Express example with the console under
 * `/openpipes`), with a stand-in for Meta on 127.0.0.1: every object is created,
 * bound and enabled through the console's own controls (the test calls no admin API); an event is
 * collected with a plain HTTP POST (as curl would) and appears delivered without a reload; its
 * record shows the token redacted; the transform is broken in the code page, the failure shows,
 * the transform is reverted in the console and the failed delivery replayed until it is delivered.
 */
import {
  metaExampleSend,
  metaExampleTransform,
  purchaseEvent,
  purchaseSchema,
} from '@openpipes/core/testing';
import { type Browser, launchBrowser, skipBrowser } from '@openpipes/test-support/browser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleHost, consoleHosts, consoleUrl, consoleUrlPattern } from './console-hosts.js';
import { openRecordedPage, problems, signIn } from './console-page.js';
import { collect, stopAll } from './helpers.js';
import { startMetaStandIn, type TestServer } from './meta-example.js';

const metaToken = 'EAAB-console-operator-flow-7e1d2c';
const pixelId = '123456789';

describe.skipIf(skipBrowser).each(consoleHosts)(
  'the operator flow in the console alone, on $name',
  (kind) => {
    let meta: TestServer;
    let host: ConsoleHost;
    let browser: Browser;

    beforeAll(async () => {
      meta = await startMetaStandIn({ token: metaToken, pixelId });
      host = await kind.start({ egressAllow: meta.host });
      browser = await launchBrowser();
    });
    afterAll(async () => {
      await browser?.close();
      await stopAll();
      await meta?.close();
    });

    /** POSTs an event to the source's collect URL, as `curl -X POST ... -d` would. */
    const collectPurchase = async (orderId: string) => {
      const answer = await collect(host.url, purchaseEvent(orderId));
      expect(answer.status).toBe(202);
    };

    it('sets up, delivers, shows the record redacted, breaks, reverts and replays, all in the console', async () => {
      const { page, messages, bodies } = await openRecordedPage(browser);
      const nav = page.getByRole('navigation', { name: 'Console' });
      await signIn(page, consoleUrl(host), host.token);

      // The source.
      await nav.getByRole('link', { name: 'Sources' }).click();
      await page.locator('summary', { hasText: 'New source' }).click();
      const newSource = page.getByRole('form', { name: 'New source' });
      await newSource.getByLabel('Name').fill('Web');
      await newSource.getByLabel('Slug').fill('web');
      await newSource.getByRole('button', { name: 'Create source' }).click();
      await page.getByText('Source Web created.').waitFor();
      await page.getByRole('link', { name: 'Web', exact: true }).waitFor();

      // The event type with the brief's purchase schema.
      await nav.getByRole('link', { name: 'Event types' }).click();
      await page.locator('summary', { hasText: 'New event type' }).click();
      const newType = page.getByRole('form', { name: 'New event type' });
      await newType.getByLabel('Name').fill('purchase');
      await newType.getByLabel('Payload schema (JSON Schema)').fill(JSON.stringify(purchaseSchema, null, 2));
      await newType.getByRole('button', { name: 'Create event type' }).click();
      await page.getByText('Event type purchase created.').waitFor();
      await page.getByRole('row').filter({ hasText: 'purchase' }).waitFor();

      // The two secrets, typed into write-only fields.
      await nav.getByRole('link', { name: 'Secrets' }).click();
      for (const [key, value] of [
        ['META_ACCESS_TOKEN', metaToken],
        ['META_PIXEL_ID', pixelId],
      ] as const) {
        await page.getByLabel('Key', { exact: true }).fill(key);
        await page.getByLabel('Value', { exact: true }).fill(value);
        await page.getByRole('button', { name: 'Create secret' }).click();
        await page.getByText(`Secret ${key} created.`).waitFor();
      }

      // The destination with the brief's send(), its secrets bound, enabled.
      await nav.getByRole('link', { name: 'Destinations' }).click();
      await page.locator('summary', { hasText: 'New destination' }).click();
      const newDestination = page.getByRole('form', { name: 'New destination' });
      await newDestination.getByLabel('Name').fill('meta-capi-prod');
      await newDestination.getByLabel('send() code').fill(metaExampleSend(meta.url));
      await newDestination.getByRole('button', { name: 'Create destination' }).click();
      await page.getByRole('heading', { name: 'Destination meta-capi-prod' }).waitFor();
      expect(page.url()).toMatch(consoleUrlPattern(host, 'destinations/dst_\\w+'));
      await page.getByRole('checkbox', { name: 'META_ACCESS_TOKEN' }).check();
      await page.getByRole('checkbox', { name: 'META_PIXEL_ID' }).check();
      await page.getByRole('button', { name: 'Save bindings' }).click();
      // Binding makes version 2, which the section takes up (it stays mounted): the confirmation stays.
      await page.locator('dt:text-is("Version") + dd').getByText('2', { exact: true }).waitFor();
      expect(await page.getByText('Bindings saved.').isVisible()).toBe(true);
      await page.getByRole('button', { name: 'Enable' }).click();
      await page.getByRole('button', { name: 'Disable' }).waitFor();

      // The pipe with the brief's transform, from the overview, enabled.
      await nav.getByRole('link', { name: 'OpenPipes' }).click();
      await page.locator('summary', { hasText: 'New pipe' }).click();
      const newPipe = page.getByRole('form', { name: 'New pipe' });
      await newPipe.getByLabel('Name').fill('purchase-to-meta');
      await newPipe.getByLabel('Source').selectOption({ label: 'Web' });
      await newPipe.getByLabel('Destination').selectOption({ label: 'meta-capi-prod' });
      await newPipe.getByLabel('Transform code').fill(metaExampleTransform);
      await newPipe.getByRole('button', { name: 'Create pipe' }).click();
      await page.getByRole('heading', { name: 'Pipe purchase-to-meta' }).waitFor();
      const pipeUrl = page.url();
      expect(pipeUrl).toMatch(consoleUrlPattern(host, 'pipes/pip_\\w+'));
      await page.getByRole('button', { name: 'Enable' }).click();
      await page.getByRole('button', { name: 'Disable' }).waitFor();
      await page.getByText('No deliveries.').waitFor();

      // An event sent like curl appears, then turns delivered, with no navigation in between.
      await collectPurchase('ord_flow_1');
      const first = page.getByRole('row').filter({ hasText: 'ord_flow_1' });
      await first.getByText('delivered').waitFor({ timeout: 15_000 });
      expect(page.url()).toBe(pipeUrl);
      expect(meta.requests.length).toBe(1);

      // Its record: the token is redacted in the request that left.
      await first.getByRole('link').click();
      await page.getByRole('heading', { name: 'Request (redacted)' }).waitFor();
      const request = await page.getByLabel('Request', { exact: true }).textContent();
      expect(request).toContain('[secret:META_ACCESS_TOKEN]');
      expect(request).toContain('ord_flow_1');
      expect(await page.content()).not.toContain(metaToken);

      // Break the transform in the code page and save it.
      await page.getByRole('link', { name: /^pip_/ }).click();
      await page.getByRole('link', { name: 'Transform code' }).click();
      const editor = page.getByRole('textbox', { name: 'Transform code' });
      await editor.waitFor();
      await editor.click();
      await page.keyboard.press('Control+A');
      await page.keyboard.type('function transform({ events }) { return events.map((e) => e.nope.deeper); }');
      await page.getByRole('button', { name: 'Review changes' }).click();
      await page.getByRole('button', { name: 'Save as a new version' }).click();
      const saved = page.getByText(/^Saved as version \d+\.$/);
      await saved.waitFor();
      const brokenVersion = Number(/\d+/.exec((await saved.textContent())!)![0]);

      // The next event fails at the transform, and the pipe's page says so.
      await page.getByRole('link', { name: "Back to the pipe's deliveries" }).click();
      await collectPurchase('ord_flow_2');
      const second = page.getByRole('row').filter({ hasText: 'ord_flow_2' });
      await second.getByText(/^(failed|dead)$/).waitFor({ timeout: 15_000 });
      expect(await second.textContent()).toContain("cannot read property 'deeper' of undefined");
      await second.getByRole('link').click();
      await page.getByText(/^transform USER_CODE_ERROR: .*'deeper' of undefined/).waitFor();
      const failedUrl = page.url();
      expect(failedUrl).toMatch(consoleUrlPattern(host, 'deliveries/evd_\\w+'));

      // Revert to the version before in the code page.
      await page.getByRole('link', { name: /^pip_/ }).click();
      await page.getByRole('link', { name: 'Transform code' }).click();
      await page.getByRole('button', { name: `Revert to version ${brokenVersion - 1}` }).click();
      await page
        .getByText(`Reverted to version ${brokenVersion - 1}: now version ${brokenVersion + 1}.`, {
          exact: true,
        })
        .waitFor();

      // The pipe is still enabled; replay the failed delivery from its record: it is delivered.
      await page.getByRole('link', { name: "Back to the pipe's deliveries" }).click();
      await page.getByRole('button', { name: 'Disable' }).waitFor();
      await page.getByRole('row').filter({ hasText: 'ord_flow_2' }).getByRole('link').click();
      await page.getByRole('heading', { name: 'Attempts' }).waitFor();
      expect(page.url()).toBe(failedUrl);
      await page.getByRole('button', { name: 'Replay', exact: true }).click();
      await page.getByText('Replayed: 1 re-queued.').waitFor();
      await page
        .getByRole('definition')
        .filter({ has: page.locator('.badge') })
        .first()
        .getByText('delivered')
        .waitFor({ timeout: 15_000 });
      const replayed = await page.getByLabel('Request', { exact: true }).textContent();
      expect(replayed).toContain('ord_flow_2');
      expect(replayed).toContain('[secret:META_ACCESS_TOKEN]');
      expect(meta.requests.length).toBe(2);

      // The token never reached the browser, and nothing broke the CSP or threw. (Typing in the
      // editor: see the known style-src-attr gap in console-browser.test.ts.)
      expect(await page.content()).not.toContain(metaToken);
      for (const body of await Promise.all(bodies)) expect(body).not.toContain(metaToken);
      expect(problems(messages, { afterTyping: true })).toEqual([]);
      await page.close();
    });
  },
);
