/**
 * A claim reads its rows in better-sqlite3's raw mode (claim-rows.ts, claims.ts): a database whose
 * statements have no raw mode (`SqliteDatabase.raw` is optional) hands out objects, read by column
 * order, and claims the same deliveries, field for field; both as the store reads them back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '@openpipes/core';
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
// The same events and delivery ids go into both files.
const events = Array.from({ length: 6 }, (_, i) => ({
  id: newId('event', t0),
  event_id: `e_${i}`,
  sender_event_id: true,
  event_type: i % 2 === 0 ? 'purchase' : 'lead',
  event_time: at(i),
  event_payload: { value: i, nested: { list: [i, 'x'] } },
}));
const deliveryIds = Array.from({ length: events.length * pipes.length }, () => newId('delivery', t0));

const dir = mkdtempSync(join(tmpdir(), 'openpipes-claim-rows-'));
const stores: Array<ReturnType<typeof sqliteStore>> = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A store on `file`; with `raw: false`, over a connection whose statements have no raw mode. */
const open = async (file: string, raw: boolean) => {
  const db = new Database(join(dir, file));
  if (!raw) {
    const prepare = db.prepare.bind(db);
    db.prepare = ((sql: string) => {
      const statement = prepare(sql);
      return {
        run: (...p: unknown[]) => statement.run(...p),
        all: (...p: unknown[]) => statement.all(...p),
        get: (...p: unknown[]) => statement.get(...p),
      };
    }) as unknown as typeof db.prepare;
  }
  const store = sqliteStore({ database: db as unknown as SqliteDatabase });
  stores.push(store);
  await store.migrate();
  await store.appendEvents({ sourceId, events, pipes, deliveryIds, dedupSince: null, now: at(0) });
  return store;
};

const claimAll = async (store: ReturnType<typeof sqliteStore>) => {
  const claimed = [];
  for (;;) {
    const batch = await store.claimDeliveries({
      destinationId,
      pipeIds: pipes.map((p) => p.pipe_id),
      owner: 'o',
      limit: 5,
      leaseMs: 60_000,
      now: at(5000),
    });
    if (batch.length === 0) return claimed;
    claimed.push(...batch);
  }
};

it('claims the same deliveries, field for field, on a database without raw mode', async () => {
  const store = await open('raw.db', true);
  const withRaw = await claimAll(store);
  // Each claimed row as the store reads it back (by name, through kysely): the columns were read in order.
  for (const { event: _event, ...row } of withRaw) {
    expect((await store.getDelivery({ id: row.id }))?.row).toEqual(row);
  }
  const withoutRaw = await claimAll(await open('objects.db', false));
  expect(withRaw).toHaveLength(deliveryIds.length);
  expect(withoutRaw).toEqual(withRaw);
  expect(withRaw[0]).toMatchObject({
    status: 'sending',
    lease_owner: 'o',
    lease_expires_at: at(65_000),
    event: {
      event_type: 'purchase',
      event_time: at(0),
      event_payload: { value: 0, nested: { list: [0, 'x'] } },
    },
  });
});
