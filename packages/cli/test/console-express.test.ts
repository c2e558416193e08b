/**
 * The console mounted under a prefix: the Express example (examples/express, a shop that mounts
 * OpenPipes under /openpipes with `console: true`), run as its own process on a free port, in
 * Chromium: sign in at /openpipes/console/, an event collected at /openpipes/collect/web appears
 * delivered without a reload, its record shows the token redacted, and deep URLs survive a reload.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { purchaseEvent } from '@openpipes/core/testing';
import { type Browser, launchBrowser, skipBrowser } from '@openpipes/test-support/browser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openRecordedPage, problems, signIn } from './console-page.js';
import { stopAll, tempDir } from './helpers.js';
import { adminApi, setupMetaExampleOverApi, startMetaStandIn, type TestServer } from './meta-example.js';

const server = fileURLToPath(new URL('../../../examples/express/server.mjs', import.meta.url));
const apiKey = 'express-console-key-3f9a1c7e';
const metaToken = 'EAAB-express-console-token-2b8d4f';
const pixelId = '123456789';

/** Starts the Express example on a free loopback port; resolves with its base URL. */
function startExample(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [server], {
    cwd: tempDir('express-console'),
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /Shop on (http:\/\/\S+);/.exec(output);
      if (match && output.includes('The console:')) resolve({ url: match[1]!, child });
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('exit', (code) => reject(new Error(`the Express example exited with ${code}:\n${output}`)));
  });
}

describe.skipIf(skipBrowser)('the console under a prefix in the Express example', () => {
  let meta: TestServer;
  let shop: { url: string; child: ChildProcess };
  let browser: Browser;
  let pipeId: string;
  const mount = () => `${shop.url}/openpipes`;

  /** The mounted admin API with the shop's key; fails the test on an error answer. */
  const call = adminApi(() => ({ url: mount(), token: apiKey }));

  beforeAll(async () => {
    meta = await startMetaStandIn({ token: metaToken });
    shop = await startExample({ OPENPIPES_API_KEY: apiKey, OPENPIPES_EGRESS_ALLOW: meta.host });
    // The example creates the web source and the purchase event type itself; the rest as the docs do.
    const sources = await call<{ data: Array<{ id: string; slug: string }> }>('GET', '/api/sources');
    const source = sources.data.find((s) => s.slug === 'web')!;
    ({ pipeId } = await setupMetaExampleOverApi(call, {
      metaUrl: meta.url,
      token: metaToken,
      pixelId,
      sourceId: source.id,
    }));
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    if (shop && shop.child.exitCode === null) {
      const exited = new Promise((resolve) => shop.child.once('exit', resolve));
      shop.child.kill('SIGTERM');
      await exited;
    }
    await stopAll();
    await meta?.close();
  });

  it('signs in under /openpipes/console/, shows a delivered event and its record, and reloads deep URLs', async () => {
    const { page, messages, bodies } = await openRecordedPage(browser);
    const answer = await signIn(page, `${mount()}/console/`, apiKey);
    expect(answer.status()).toBe(200);
    expect(answer.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.getByText('shop-admin (read and write)').waitFor();

    await page.getByRole('link', { name: 'purchase-to-meta' }).click();
    await page.getByText('No deliveries.').waitFor();
    expect(page.url()).toBe(`${mount()}/console/pipes/${pipeId}`);

    const collected = await fetch(`${mount()}/collect/web`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(purchaseEvent('ord_express_1')),
    });
    expect(collected.status).toBe(202);
    const row = page.getByRole('row').filter({ hasText: 'ord_express_1' });
    await row.getByText('delivered').waitFor({ timeout: 15_000 });

    // The pipe's deep URL under the prefix survives a reload.
    await page.reload();
    await page.getByRole('row').filter({ hasText: 'ord_express_1' }).getByText('delivered').waitFor();

    await page.getByRole('row').filter({ hasText: 'ord_express_1' }).getByRole('link').click();
    await page.getByRole('heading', { name: 'Request (redacted)' }).waitFor();
    expect(page.url()).toMatch(new RegExp(`^${mount()}/console/deliveries/evd_\\w+$`));
    expect(await page.getByLabel('Request', { exact: true }).textContent()).toContain(
      '[secret:META_ACCESS_TOKEN]',
    );
    await page.reload();
    await page.getByRole('heading', { name: 'Request (redacted)' }).waitFor();
    expect(await page.getByLabel('Request', { exact: true }).textContent()).toContain(
      '[secret:META_ACCESS_TOKEN]',
    );

    // The shop's own routes are untouched by the console.
    expect((await fetch(`${shop.url}/health`)).status).toBe(200);
    expect(await page.content()).not.toContain(metaToken);
    for (const body of await Promise.all(bodies)) expect(body).not.toContain(metaToken);
    expect(problems(messages)).toEqual([]);
    await page.close();
  });
});
