/**
 * A claim's events are read after its write transaction (claims.ts, claimDue): a delivery whose
 * event is gone by then is not handed out but given back, and the counts stay right; an outcome
 * recorded by another store than the one that claimed it (which noted the claimed rows' pipes)
 * reads its pipe and is counted the same.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '@openpipes/core';
import { deliveredOutcome } from '@openpipes/core/testing';
import Database from 'better-sqlite3';
import { afterAll, afterEach, expect, it } from 'vitest';
import { type SqliteDatabase, sqliteStore } from './index.js';
import { compare, shadowSql } from './tallies-oracle.test-support.js';

const t0 = Date.parse('2026-05-04T10:00:00.000Z');
const at = (ms: number) => new Date(t0 + ms).toISOString();
const destinationId = newId('destination', t0);
const pipeId = newId('pipe', t0);

const dir = mkdtempSync(join(tmpdir(), 'openpipes-claim-events-'));
const stores: Array<ReturnType<typeof sqliteStore>> = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A store over a connection of our own; `beforeEventsRead` runs as the claim prepares its events' read. */
const open = (filename: string, beforeEventsRead?: () => void) => {
  const db = new Database(filename);
  const prepare = db.prepare.bind(db);
  db.prepare = ((sql: string) => {
    if (beforeEventsRead && /^SELECT id, event_time, payload FROM events/.test(sql)) beforeEventsRead();
    return prepare(sql);
  }) as typeof db.prepare;
  const store = sqliteStore({ database: db as unknown as SqliteDatabase });
  stores.push(store);
  return store;
};

const ingest = async (store: ReturnType<typeof sqliteStore>, count: number) => {
  const events = Array.from({ length: count }, (_, i) => ({
    id: newId('event', t0),
    event_id: `e_${i}`,
    sender_event_id: true,
    event_type: 'purchase',
    event_time: at(0),
    event_payload: { value: i },
  }));
  const deliveryIds = events.map(() => newId('delivery', t0));
  await store.appendEvents({
    sourceId: newId('source', t0),
    events,
    pipes: [{ pipe_id: pipeId, destination_id: destinationId }],
    deliveryIds,
    dedupSince: null,
    now: at(0),
  });
  return { events, deliveryIds };
};

const claim = (store: ReturnType<typeof sqliteStore>, owner: string) =>
  store.claimDeliveries({
    destinationId,
    pipeIds: [pipeId],
    owner,
    limit: 10,
    leaseMs: 60_000,
    now: at(1000),
  });

const delivered = (id: string, now: string) =>
  deliveredOutcome({
    id,
    now,
    output: [{ id }],
    request: { url: 'https://example.test/', method: 'POST', headers: {}, payload: { id } },
    response: { status: 200, headers: {}, body: { ok: true } },
    durationMs: 3,
  });

it('gives back a claimed delivery whose event is gone before its payload is read, and counts it', async () => {
  const filename = join(dir, 'gone.db');
  const setup = sqliteStore({ filename });
  await setup.migrate();
  const { events, deliveryIds } = await ingest(setup, 3);
  await setup.close();
  const check = new Database(filename);
  check.exec(shadowSql);
  const goneEvent = events[1]!.id;
  const store = open(filename, () => check.prepare('DELETE FROM events WHERE id = ?').run(goneEvent));

  const claimed = await claim(store, 'o');

  expect(claimed.map((d) => d.id).sort()).toEqual([deliveryIds[0], deliveryIds[2]].sort());
  expect(claimed.map((d) => d.event.event_payload)).toEqual(
    expect.arrayContaining([{ value: 0 }, { value: 2 }]),
  );
  expect(
    check.prepare('SELECT status, lease_owner, due_at FROM deliveries WHERE id = ?').get(deliveryIds[1]),
  ).toEqual({ status: 'pending', lease_owner: null, due_at: at(1000) });
  compare(check, 'after the claim');
  check.close();
});

it('counts an outcome recorded by a store that did not claim it as the claiming store does', async () => {
  const filename = join(dir, 'two.db');
  const first = open(filename);
  await first.migrate();
  const check = new Database(filename);
  check.exec(shadowSql);
  await ingest(first, 4);
  const claimed = await claim(first, 'o');
  expect(claimed).toHaveLength(4);
  const [a, b, c, d] = claimed.map((x) => x.id) as [string, string, string, string];
  const other = open(filename);
  const now = at(2000);

  expect(await other.completeDeliveries({ owner: 'o', outcomes: [delivered(a, now)], now })).toEqual({
    applied: [a],
    lost: [],
  });
  // The claiming store records the rest, and the one the other store recorded again: fenced.
  expect(
    await first.completeDeliveries({
      owner: 'o',
      outcomes: [b, c, a].map((id) => delivered(id, now)),
      now,
    }),
  ).toEqual({ applied: [b, c], lost: [a] });
  await first.releaseDeliveries({ owner: 'o', ids: [d], now });
  compare(check, 'after the outcomes');
  expect(check.prepare("SELECT count(*) AS n FROM deliveries WHERE status = 'delivered'").get()).toEqual({
    n: 3,
  });
  expect((await other.getDelivery({ id: a }))?.attempts[0]?.request).toEqual(
    delivered(a, now).attempt?.request,
  );
  check.close();
});
