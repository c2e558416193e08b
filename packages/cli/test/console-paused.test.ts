/**
 * The console's overview in Chromium, on each host of console-hosts.ts (`openpipes serve` on
 * SQLite, and the Express example with the console under `/openpipes`): a destination
 * whose stand-in (on 127.0.0.1) keeps answering 500 opens its circuit breaker (the engine's
 * default: 5 consecutive failures), and the overview lists it under "Paused destinations" with its
 * failures, puts its pipe first among the pipes, marks it paused and shows the pipe's last error,
 * with no serious or critical axe-core violation.
 */
import { purchaseEvent, startTestServer, type TestServer } from '@openpipes/core/testing';
import { type Browser, launchBrowser, skipBrowser } from '@openpipes/test-support/browser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsoleHost, consoleHosts, consoleUrl } from './console-hosts.js';
import { openRecordedPage, problems, seriousViolations, signIn } from './console-page.js';
import { stopAll } from './helpers.js';
import { adminApi } from './meta-example.js';

describe.skipIf(skipBrowser).each(consoleHosts)(
  'the console overview with a paused destination, on $name',
  (kind) => {
    let down: TestServer;
    let host: ConsoleHost;
    let browser: Browser;
    let destinationId: string;
    const call = adminApi(() => host);

    beforeAll(async () => {
      down = await startTestServer(() => ({ status: 500, body: 'down' }));
      host = await kind.start({ egressAllow: down.host });
      const source = await call<{ id: string }>('POST', '/api/sources', { name: 'App', slug: 'app' });
      await call('POST', '/api/event-types', { name: 'purchase', schema: { type: 'object' } });
      const healthy = await call<{ id: string }>('POST', '/api/event-destinations', {
        name: 'healthy-sink',
        send: `async function send() { return { outcome: 'delivered' }; }`,
      });
      const failing = await call<{ id: string }>('POST', '/api/event-destinations', {
        name: 'down-sink',
        send: `async function send({ events }) {
        const res = await fetch('${down.url}/', { method: 'POST', body: JSON.stringify(events) });
        if (!res.ok) return { outcome: 'retry', message: 'stand-in answered HTTP ' + res.status };
        return { outcome: 'delivered' };
      }`,
        max_batch_size: 1,
        retry: { max_attempts: 100, initial_delay_ms: 10, multiplier: 1 },
      });
      destinationId = failing.id;
      // "a-healthy" sorts before "z-failing" by name: only the attention order puts it second.
      for (const [name, destination] of [
        ['a-healthy', healthy.id],
        ['z-failing', failing.id],
      ] as const) {
        const pipe = await call<{ id: string }>('POST', '/api/pipes', {
          name,
          source_id: source.id,
          destination_id: destination,
          transform: null,
        });
        await call('PUT', `/api/pipes/${pipe.id}/toggle`, { enabled: true });
        await call('PUT', `/api/event-destinations/${destination}/toggle`, { enabled: true });
      }
      browser = await launchBrowser();
    });
    afterAll(async () => {
      await browser?.close();
      await stopAll();
      await down?.close();
    });

    it('lists the paused destination first with its failures, and the pipe its last error', async () => {
      const collected = await fetch(`${host.url}/collect/app`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(Array.from({ length: 6 }, (_, i) => purchaseEvent(`ord_down_${i}`))),
      });
      expect(collected.status).toBe(202);

      const { page, messages } = await openRecordedPage(browser);
      await signIn(page, consoleUrl(host), host.token);
      // The overview polls: the breaker opens after five failed batches and the page shows it.
      const paused = page.getByRole('region', { name: 'Paused destinations (circuit breaker)' });
      await paused.getByRole('listitem').filter({ hasText: 'down-sink' }).waitFor({ timeout: 30_000 });
      const item = (await paused.getByRole('listitem').textContent())!;
      expect(item).toMatch(/down-sink: (paused until .+|half-open \(probing\)), \d+ consecutive failures/);
      expect(Number(/(\d+) consecutive failures/.exec(item)![1])).toBeGreaterThanOrEqual(5);
      expect(await paused.getByRole('link', { name: 'down-sink' }).getAttribute('href')).toBe(
        new URL(consoleUrl(host, `destinations/${destinationId}`)).pathname,
      );

      // Its pipe comes first among the pipes, marked paused, with its last error.
      const rows = page.getByRole('table').getByRole('row');
      await rows.nth(1).getByText('stand-in answered HTTP 500', { exact: false }).waitFor();
      const first = (await rows.nth(1).textContent())!;
      expect(first).toContain('z-failing');
      expect(first).toContain('paused');
      expect((await rows.nth(2).textContent())!).toContain('a-healthy');
      // The paused list and the last-error column pass axe-core like every other page.
      expect(await seriousViolations(page)).toEqual([]);
      expect(problems(messages)).toEqual([]);
      await page.close();
    }, 60_000);
  },
);
