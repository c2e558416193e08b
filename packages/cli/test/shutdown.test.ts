/**
 * SIGTERM while deliveries are in flight: `openpipes serve` stops accepting connections, lets the
 * in-flight batch finish and be recorded, exits 0 within its grace period; after a restart every
 * event it had accepted is delivered. The stand-in for Meta answers slowly on purpose.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { purchaseEvent, startTestServer, type TestServer } from '@openpipes/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, eventually, openpipes, startServe, stopAll, tempDir } from './helpers.js';
import { createMetaSecretsOverCli, metaExampleConfig } from './meta-example.js';

const delayMs = 1500;
const graceMs = 10_000;

describe('openpipes serve on SIGTERM', () => {
  let meta: TestServer;
  beforeAll(async () => {
    meta = await startTestServer((request) => {
      const data = (request.json as { data?: unknown[] })?.data ?? [];
      return { delayMs, body: { events_received: data.length, fbtrace_id: 'slow' } };
    });
  });
  afterAll(async () => {
    await stopAll();
    await meta.close();
  });

  it('finishes in-flight deliveries within the grace period, exits 0, and delivers every accepted event after a restart', async () => {
    const dir = tempDir('shutdown');
    const database = join(dir, 'openpipes.db');
    const env = { OPENPIPES_EGRESS_ALLOW: meta.host };
    const args = ['--grace-ms', String(graceMs)];
    const first = await startServe({ database, env, args });

    // The configuration, through a config import. Batches of 5 so the backlog needs several sends.
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify(metaExampleConfig(meta.url, { name: 'slow-meta', max_batch_size: 5, concurrency: 1 })),
    );
    await createMetaSecretsOverCli(first.env, 'EAAB-slow');
    expect((await openpipes(['config', 'import', 'config.json'], { env: first.env, cwd: dir })).code).toBe(0);

    // 30 events, all accepted (202: stored before the answer).
    const ids = Array.from({ length: 30 }, (_, i) => `ord_sigterm_${i}`);
    for (let i = 0; i < ids.length; i += 10) {
      const response = await collect(
        first.url,
        ids.slice(i, i + 10).map((id) => purchaseEvent(id)),
      );
      expect(response.status).toBe(202);
      expect(((await response.json()) as { accepted: number }).accepted).toBe(10);
    }

    // A batch is in flight at the stand-in: stop now.
    await eventually(async () => meta.requests.length >= 1, 10_000);
    const stopped = await first.stop('SIGTERM');
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(graceMs);
    expect(first.stderr()).toContain(
      '"message":"stopping: no new connections; finishing in-flight deliveries"',
    );
    expect(first.stderr()).not.toContain('stopped before in-flight deliveries finished');
    const sentBeforeStop = meta.requests.length;
    // The server no longer accepts anything.
    await expect(fetch(`${first.url}/healthz`)).rejects.toThrow();

    // After a restart, every accepted event is delivered (the in-flight batch was recorded, not lost).
    const second = await startServe({ database, env, args });
    const pipeId = (await openpipes(['api', 'GET', '/api/pipes'], { env: second.env })).json().data[0].id;
    const records = await eventually(async () => {
      const page = (
        await openpipes(['api', 'GET', `/api/pipes/${pipeId}/deliveries?limit=100`], { env: second.env })
      ).json();
      const delivered = page.data.filter((d: { status: string }) => d.status === 'delivered');
      return delivered.length === ids.length ? page.data : null;
    }, 60_000);
    expect(new Set(records.map((d: { event_id: string }) => d.event_id))).toEqual(new Set(ids));
    expect(meta.requests.length).toBeGreaterThan(sentBeforeStop);
    // At least once, and here exactly once: no event reached the stand-in twice.
    const sent = meta.requests.flatMap((r) =>
      ((r.json as { data: Array<{ event_id: string }> }).data ?? []).map((e) => e.event_id),
    );
    expect(sent.sort()).toEqual([...ids].sort());
    expect(await second.stop('SIGINT')).toMatchObject({ code: 0 });
  });
});
