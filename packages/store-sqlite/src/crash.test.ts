import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPipes, silentLogger } from '@openpipes/core';
import {
  purchaseEvent,
  settled,
  setupMetaExample,
  startTestServer,
  testSecretKey,
  waitFor,
} from '@openpipes/core/testing';
import { afterAll, expect, it } from 'vitest';
import { sqliteStore } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'openpipes-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('after kill -9 mid-batch and a restart, every accepted event is delivered; only the in-flight batch twice', async () => {
  // A Meta stand-in that answers slowly, so a batch is in flight when the process dies.
  const received = new Map<string, number>();
  let inFlight = 0;
  const meta = await startTestServer(async (request) => {
    const rows = (request.json as { data: Array<{ event_id: string }> }).data;
    for (const row of rows) received.set(row.event_id, (received.get(row.event_id) ?? 0) + 1);
    inFlight++;
    await new Promise((r) => setTimeout(r, 150));
    inFlight--;
    return { status: 200, body: { events_received: rows.length, fbtrace_id: 'x' } };
  });
  const filename = join(dir, 'crash.db');
  try {
    // Configure and accept 600 events; nothing is delivered yet.
    const setup = createPipes({
      store: sqliteStore({ filename }),
      secretKey: testSecretKey,
      logger: silentLogger,
    });
    const { pipe } = await setupMetaExample(setup, meta, { max_batch_size: 50 });
    const ids = Array.from({ length: 600 }, (_, i) => `ord_crash_${i}`);
    for (let i = 0; i < ids.length; i += 100) {
      const result = await setup.ingest(
        'web',
        ids.slice(i, i + 100).map((id) => purchaseEvent(id)),
      );
      expect(result.accepted).toBe(100);
    }
    await setup.stop();
    await setup.store.close();

    // A dispatcher process delivers, and is killed with SIGKILL while a batch is in flight.
    const child = fork(
      join(import.meta.dirname, '../test/dispatcher-child.mjs'),
      [filename, testSecretKey, meta.host],
      {
        stdio: 'ignore',
      },
    );
    await waitFor(
      () => received.size >= 150 && inFlight > 0,
      20_000,
      'a batch in flight after a few delivered',
    );
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));

    // What the dead process had claimed and not recorded: the only events that may go out twice.
    const restarted = createPipes({
      store: sqliteStore({ filename }),
      secretKey: testSecretKey,
      logger: silentLogger,
      egressAllow: [meta.host],
      sandbox: { workers: 1 },
      dispatcher: { pollIntervalMs: 50 },
    });
    const inFlightAtDeath = new Set(
      (await restarted.deliveries.list(pipe.id, { status: 'sending', limit: 1000 })).data.map(
        (d) => d.event_id,
      ),
    );
    expect(inFlightAtDeath.size).toBeGreaterThan(0);
    expect(inFlightAtDeath.size).toBeLessThanOrEqual(2 * 50); // at most `concurrency` batches
    await restarted.start();
    const deliveries = await settled(restarted, pipe.id, 600, 60_000);
    await restarted.stop();
    await restarted.store.close();

    expect(deliveries.every((d) => d.status === 'delivered')).toBe(true);
    expect(new Set(deliveries.map((d) => d.event_id))).toEqual(new Set(ids));
    expect([...received.keys()].sort()).toEqual([...ids].sort());
    const twice = [...received.entries()].filter(([, n]) => n > 1).map(([id]) => id);
    expect(twice.length).toBeGreaterThan(0); // the batch in flight at the kill went out again
    for (const id of twice) expect(inFlightAtDeath.has(id)).toBe(true);
    expect(Math.max(...received.values())).toBeLessThanOrEqual(2);
  } finally {
    await meta.close();
  }
}, 120_000);
