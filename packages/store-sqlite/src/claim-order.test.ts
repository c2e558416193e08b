/**
 * Migration 15 on SQLite: a claim reads a destination's due deliveries from `deliveries_due` in
 * their order (due_at, id) and stops at its limit, with no sort of its own; a file migrated from
 * migration 14 claims the rows it claimed before, in the same order.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '@openpipes/core';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type SqliteDatabase, sqliteStore } from './index.js';

const t0 = Date.parse('2026-05-04T10:00:00.000Z');
const at = (ms: number) => new Date(t0 + ms).toISOString();
const destinationId = newId('destination', t0);
const pipeIds = [newId('pipe', t0), newId('pipe', t0)];
const elsewhere = { pipe_id: newId('pipe', t0), destination_id: newId('destination', t0) };

describe('claims in due order (migration 15) on SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'openpipes-claim-order-'));
  const stores: Array<ReturnType<typeof sqliteStore>> = [];
  // The store over a connection of our own, which notes the claim's SELECT as the store prepares it.
  const open = async (file: string) => {
    const db = new Database(join(dir, file));
    const seen: string[] = [];
    const prepare = db.prepare.bind(db);
    db.prepare = ((sql: string) => {
      if (/ORDER BY d.due_at, d.id/.test(sql)) seen.push(sql);
      return prepare(sql);
    }) as typeof db.prepare;
    const store = sqliteStore({ database: db as unknown as SqliteDatabase });
    stores.push(store);
    await store.migrate();
    return { store, db, claimSql: () => seen[0] as string };
  };
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // Three ingest batches, each of one due_at; within a batch the delivery ids are given newest
  // first, so the table's insertion order is not the ids' order.
  const ingest = async (store: ReturnType<typeof sqliteStore>) => {
    const sourceId = newId('source', t0);
    for (let b = 0; b < 3; b++) {
      const events = Array.from({ length: 6 }, (_, i) => ({
        id: newId('event', t0 + b * 1000),
        event_id: `e_${b}_${i}`,
        sender_event_id: true,
        event_type: 'purchase',
        event_time: at(b * 1000),
        event_payload: { value: i },
      }));
      const pipes = [...pipeIds.map((pipe_id) => ({ pipe_id, destination_id: destinationId })), elsewhere];
      const deliveryIds = Array.from({ length: events.length * pipes.length }, () =>
        newId('delivery', t0 + b * 1000),
      ).reverse();
      await store.appendEvents({ sourceId, events, pipes, deliveryIds, dedupSince: null, now: at(b * 1000) });
    }
  };
  // Claims of `limit` until none is left, in the order they came.
  const claimAll = async (store: ReturnType<typeof sqliteStore>, limit: number) => {
    const ids: string[] = [];
    for (;;) {
      const claimed = await store.claimDeliveries({
        destinationId,
        pipeIds,
        owner: 'o',
        limit,
        leaseMs: 60_000,
        now: at(5000),
      });
      if (claimed.length === 0) return ids;
      ids.push(...claimed.map((d) => d.id));
    }
  };
  const plan = (db: Database.Database, sql: string) =>
    (
      db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(destinationId, at(5000), ...pipeIds, 10) as Array<{
        detail: string;
      }>
    ).map((r) => r.detail);
  // The due rows of the destination's pipes as the claim must take them.
  const dueOrder = (db: Database.Database) =>
    (
      db
        .prepare(
          `SELECT id FROM deliveries NOT INDEXED WHERE destination_id = ? AND due_at IS NOT NULL
           ORDER BY due_at, id`,
        )
        .all(destinationId) as Array<{ id: string }>
    ).map((r) => r.id);

  it('claims through deliveries_due in its order, without a sort', async () => {
    const { store, db, claimSql } = await open('new.db');
    await ingest(store);
    const expected = dueOrder(db);
    expect(await claimAll(store, 10)).toEqual(expected);
    expect(plan(db, claimSql())).toEqual([
      expect.stringMatching(
        /^SEARCH d USING INDEX deliveries_due \(destination_id=\? AND due_at>\? AND due_at<\?\)$/,
      ),
      // The event is only probed (its key, a covering index): its payload is read after the lease.
      expect.stringMatching(/^SEARCH e USING COVERING INDEX/),
    ]);
  });

  it('migrates a file from migration 14 and claims the same rows in the same order', async () => {
    const first = await open('old.db');
    await ingest(first.store);
    await first.store.close();
    stores.pop();
    // The file as migration 14 left it: deliveries_due without id.
    const old = new Database(join(dir, 'old.db'));
    old.exec(`DROP INDEX deliveries_due;
      CREATE INDEX deliveries_due ON deliveries (destination_id, due_at) WHERE due_at IS NOT NULL;
      DELETE FROM openpipes_migrations WHERE version = 15;`);
    const expected = dueOrder(old);
    old.close();

    const { store, db, claimSql } = await open('old.db');
    expect(expected).toHaveLength(36);
    expect(await claimAll(store, 7)).toEqual(expected);
    expect(plan(db, claimSql()).join('\n')).not.toMatch(/TEMP B-TREE/);
    const index = db.prepare("SELECT sql FROM sqlite_master WHERE name = 'deliveries_due'").get() as {
      sql: string;
    };
    expect(index.sql).toBe(
      'CREATE INDEX deliveries_due ON deliveries (destination_id, due_at, id) WHERE due_at IS NOT NULL',
    );
  });
});
