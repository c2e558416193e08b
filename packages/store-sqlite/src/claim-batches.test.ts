/**
 * A claim leases the rows it read by rowid (claims.ts), and a completion writes its batch's
 * match-quality increments summed per pipe and identifier: checked against what they replaced.
 * Rows deleted by hand and VACUUM between claims (rowids with holes; SQLite may renumber them
 * in VACUUM, never inside the claim's transaction), a host's database that reads integers as
 * BigInt (safe integers: the lease's JSON array of rowids failed to serialize), and a batch of two
 * pipes with a lost lease in it, whose rollup must equal the same outcomes recorded one by one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '@openpipes/core';
import { bareOutcome } from '@openpipes/core/testing';
import Database from 'better-sqlite3';
import { afterAll, afterEach, expect, it } from 'vitest';
import { type SqliteDatabase, sqliteStore } from './index.js';

const t0 = Date.parse('2026-05-04T10:00:00.000Z');
const at = (ms: number) => new Date(t0 + ms).toISOString();
const destinationId = newId('destination', t0);
const pipes = [newId('pipe', t0), newId('pipe', t0)].map((pipe_id) => ({
  pipe_id,
  destination_id: destinationId,
}));
const sourceId = newId('source', t0);
const events = Array.from({ length: 30 }, (_, i) => ({
  id: newId('event', t0),
  event_id: `e_${i}`,
  sender_event_id: true,
  event_type: 'purchase',
  event_time: at(i),
  event_payload: { value: i },
}));
const deliveryIds = Array.from({ length: events.length * pipes.length }, () => newId('delivery', t0));
const dir = mkdtempSync(join(tmpdir(), 'openpipes-claim-attack-'));
const stores: Array<ReturnType<typeof sqliteStore>> = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const open = async (file: string, safe = false) => {
  const db = new Database(join(dir, file));
  if (safe) db.defaultSafeIntegers(true);
  const store = sqliteStore({ database: db as unknown as SqliteDatabase });
  stores.push(store);
  await store.migrate();
  await store.appendEvents({ sourceId, events, pipes, deliveryIds, dedupSince: null, now: at(0) });
  return { store, db };
};
const claim = (store: ReturnType<typeof sqliteStore>, owner: string, limit: number, now = at(5000)) =>
  store.claimDeliveries({
    destinationId,
    pipeIds: pipes.map((p) => p.pipe_id),
    owner,
    limit,
    leaseMs: 60_000,
    now,
  });

it('leases exactly the rows it hands out, with rows deleted by hand and VACUUM between claims', async () => {
  const { store, db } = await open('vacuum.db');
  db.prepare(
    'DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries ORDER BY id LIMIT 7 OFFSET 3)',
  ).run();
  db.exec('VACUUM');
  for (let k = 0; ; k++) {
    const got = await claim(store, `o${k}`, 9);
    if (got.length === 0) break;
    const leased = (
      db.prepare('SELECT id FROM deliveries WHERE lease_owner = ? ORDER BY id').all(`o${k}`) as Array<{
        id: string;
      }>
    ).map((r) => r.id);
    expect(leased).toEqual(got.map((g) => g.id).sort());
    for (const { event: _e, ...row } of got)
      expect((await store.getDelivery({ id: row.id }))?.row).toEqual(row);
    db.prepare(
      'DELETE FROM deliveries WHERE id = (SELECT id FROM deliveries WHERE lease_owner IS NULL ORDER BY id LIMIT 1)',
    ).run();
    db.exec('VACUUM');
  }
  expect(db.prepare("SELECT count(*) AS n FROM deliveries WHERE status <> 'sending'").get()).toEqual({
    n: 0,
  });
});

it('adds up a batch of several pipes, identifiers and a lost lease as outcomes one by one would', async () => {
  const ids = ['email', 'fbp', 'user_id', 'phone'];
  const matchOf = (i: number) => ({
    raw: ids.filter((_, j) => (i >> j) & 1),
    stitched: ids.filter((_, j) => ((i * 7) >> j) & 1),
  });
  const statusOf = (i: number): 'failed' | 'delivered' => (i % 5 === 4 ? 'failed' : 'delivered');
  const run = async (file: string, batched: boolean) => {
    const { store, db } = await open(file);
    const got = await claim(store, 'w1', 1000);
    // One delivery leased again by another owner: w1's outcome for it is lost.
    await store.releaseDeliveries({ owner: 'w1', ids: [got[3]!.id], now: at(5000) });
    expect((await claim(store, 'w2', 1)).map((g) => g.id)).toEqual([got[3]!.id]);
    const outcomes = got.map((g, i) => ({
      ...bareOutcome(g.id, statusOf(i), at(6000), null),
      ...(i % 6 === 5 ? {} : { match: matchOf(i) }),
    }));
    if (batched) await store.completeDeliveries({ owner: 'w1', outcomes, now: at(6000) });
    else
      for (const o of outcomes) await store.completeDeliveries({ owner: 'w1', outcomes: [o], now: at(6000) });
    // What the rollup must hold: each applied delivered outcome's match, counted on its own.
    const expected = pipes.map((p) => {
      const sums = new Map<string, { identifier: string; raw: number; stitched: number }>();
      const add = (identifier: string, raw: boolean, stitched: boolean) => {
        const sum = sums.get(identifier) ?? { identifier, raw: 0, stitched: 0 };
        sum.raw += raw ? 1 : 0;
        sum.stitched += stitched ? 1 : 0;
        sums.set(identifier, sum);
      };
      outcomes.forEach((o, i) => {
        if (i === 3 || got[i]!.pipe_id !== p.pipe_id || o.status !== 'delivered' || !o.match) return;
        add('*', true, true);
        for (const id of new Set([...o.match.raw, ...o.match.stitched]))
          add(id, o.match.raw.includes(id), o.match.stitched.includes(id));
      });
      return [...sums.values()].sort((a, b) => (a.identifier < b.identifier ? -1 : 1));
    });
    return {
      expected,
      rows: db.prepare('SELECT * FROM match_rollup ORDER BY pipe_id, minute, identifier').all(),
      counts: await Promise.all(
        pipes.map((p) => store.matchCounts({ pipeId: p.pipe_id, since: at(0), until: at(120_000) })),
      ),
    };
  };
  const batched = await run('batched.db', true);
  const single = await run('single.db', false);
  expect(batched).toEqual(single);
  expect(batched.counts).toEqual(batched.expected);
  expect(batched.counts[0]!.length).toBeGreaterThan(3);
  expect(batched.counts[1]!.length).toBeGreaterThan(3);
});

it('claims and completes on a host database with safe integers (rowids read as BigInt)', async () => {
  const { store } = await open('safe.db', true);
  const got = await claim(store, 'o', 5);
  expect(got).toHaveLength(5);
  const done = await store.completeDeliveries({
    owner: 'o',
    outcomes: got.map((g) => bareOutcome(g.id, 'delivered', at(6000), null)),
    now: at(6000),
  });
  expect(done.applied).toHaveLength(5);
  expect((await store.getDelivery({ id: got[0]!.id }))?.row.status).toBe('delivered');
});
