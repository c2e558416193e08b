/**
 * The engine's own paths over the SQLite tallies (migration 14): dispatch into `dead` (one attempt),
 * a destination refusing some events (`failed`), a replay over the API and delivery afterwards;
 * the rollup and totals equal what the triggers they replaced count (shadow tables, see
 * tallies-oracle.test-support.ts) and the totals a recount.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPipes, newId, silentLogger } from '@openpipes/core';
import {
  purchaseEvent,
  settled,
  setupMetaExample,
  startTestServer,
  testSecretKey,
  waitFor,
} from '@openpipes/core/testing';
import Database from 'better-sqlite3';
import { afterAll, expect, it } from 'vitest';
import { sqliteStore } from './index.js';
import { compare, shadowSql } from './tallies-oracle.test-support.js';

const dir = mkdtempSync(join(tmpdir(), 'openpipes-tallies-engine-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('dispatch, retries, dead-lettering, refusals and a replay are counted as the triggers counted', async () => {
  let answer = 500;
  const meta = await startTestServer(async (request) => {
    const rows = (request.json as { data: Array<{ event_id: string }> }).data;
    if (rows.some((r) => r.event_id.includes('bad')))
      return { status: 400, body: { error: { message: 'no' } } };
    return answer === 200
      ? { status: 200, body: { events_received: rows.length, fbtrace_id: 'x' } }
      : { status: answer, body: { error: { message: 'down' } } };
  });
  const filename = join(dir, 'engine.db');
  const store = sqliteStore({ filename });
  await store.migrate();
  const check = new Database(filename);
  check.exec(shadowSql);
  const pipes = createPipes({
    store,
    secretKey: testSecretKey,
    logger: silentLogger,
    egressAllow: [meta.host],
    sandbox: { workers: 1 },
    dispatcher: { pollIntervalMs: 20 },
  });
  try {
    const { pipe } = await setupMetaExample(pipes, meta, {
      max_batch_size: 1,
      retry: { max_attempts: 1 },
    });
    const ids = Array.from({ length: 12 }, (_, i) => (i % 4 === 0 ? `ord_bad_${i}` : `ord_${i}`));
    expect(
      (
        await pipes.ingest(
          'web',
          ids.map((id) => purchaseEvent(id)),
        )
      ).accepted,
    ).toBe(12);
    await pipes.start();
    const first = await settled(pipes, pipe.id, 12, 30_000);
    expect(new Set(first.map((d) => d.status))).toEqual(new Set(['dead', 'failed']));
    compare(check, 'after dead-lettering');
    answer = 200;
    const replayed = await pipes.deliveries.replay(pipe.id, { statuses: ['dead'] });
    expect(replayed.count).toBe(9);
    await waitFor(
      async () => {
        const page = await pipes.deliveries.list(pipe.id, { status: 'delivered', limit: 100 });
        return page.data.length === 9 ? true : null;
      },
      30_000,
      'the replayed deliveries delivered',
    );
    compare(check, 'after the replay');
  } finally {
    await pipes.stop();
    await store.close();
    check.close();
    await meta.close();
  }
}, 60_000);

it('two processes writing one file at once: the counts of both, as the triggers counted them', async () => {
  const filename = join(dir, 'two-processes.db');
  const store = sqliteStore({ filename });
  await store.migrate();
  const check = new Database(filename);
  check.exec(shadowSql);
  const pipes = [
    { pipe_id: 'pip_1', destination_id: 'dst_1' },
    { pipe_id: 'pip_2', destination_id: 'dst_1' },
  ];
  const child = fork(join(import.meta.dirname, '../test/tallies-child.mjs'), [filename, '150'], {
    stdio: 'ignore',
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  let clock = Date.parse('2026-05-04T10:00:00.000Z');
  let done = false;
  void exited.then(() => {
    done = true;
  });
  for (let round = 0; !done || round < 50; round++) {
    clock += 5_000;
    const now = new Date(clock).toISOString();
    const events = [0, 1, 2].map((i) => ({
      id: newId('event', clock + i),
      event_id: `e_${round}_${i}`,
      sender_event_id: false,
      event_type: 'purchase',
      event_time: now,
      event_payload: {},
    }));
    await store.appendEvents({
      sourceId: 'src_1',
      events,
      pipes,
      deliveryIds: events.flatMap((_, i) => pipes.map(() => newId('delivery', clock + i))),
      dedupSince: null,
      now,
    });
    const claimed = await store.claimDeliveries({
      destinationId: 'dst_1',
      pipeIds: ['pip_1'],
      owner: 'parent',
      limit: 2,
      leaseMs: 10_000,
      now,
    });
    await store.completeDeliveries({
      owner: 'parent',
      outcomes: claimed.map((d) => ({
        id: d.id,
        status: round % 3 === 0 ? 'dead' : 'delivered',
        pipe_version: 1,
        destination_version: 1,
        test_mode: false,
        filter_reason: null,
        next_attempt_at: null,
        delivered_at: now,
        detail: { output: null, request: null, response: null, error: null },
        attempt: null,
      })),
      now,
    });
    if (round % 4 === 0)
      await store.requeueDeliveries({ pipeId: 'pip_1', statuses: ['dead'], now, limit: 2 });
    if (round > 2000) break;
  }
  expect(await exited).toBe(0);
  const byChild = check
    .prepare(
      "SELECT count(*) AS n FROM deliveries WHERE lease_owner = 'child' OR status IN ('filtered', 'failed')",
    )
    .get() as { n: number };
  expect(byChild.n).toBeGreaterThan(0);
  compare(check, 'after both processes');
  await store.close();
  check.close();
}, 60_000);
