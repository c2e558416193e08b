/**
 * Migration 17 on SQLite: deliveries listed by the sender's event id are found through their events
 * (events_dedup, then deliveries_event_ref) and tombstones through the partial index
 * deliveries_erased, with no index of deliveries by event id and no scan of deliveries; a file
 * migrated from migration 16 lists what it listed before.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeliveryRow, ListDeliveriesQuery } from '@openpipes/core';
import { expectedListing, fillEventIdHistory } from '@openpipes/core/conformance';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type SqliteDatabase, sqliteStore } from './index.js';

const indexNames = (db: Database.Database) =>
  (
    db
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'deliveries' ORDER BY name",
      )
      .all() as Array<{ name: string }>
  ).map((r) => r.name);

describe('deliveries by event id (migration 17) on SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'openpipes-event-id-listing-'));
  const stores: Array<ReturnType<typeof sqliteStore>> = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // The store over a connection of our own, which notes each listing by event id it runs.
  const open = async (file: string) => {
    const db = new Database(join(dir, file));
    const listings: Array<{ sql: string; params: unknown[] }> = [];
    const prepare = db.prepare.bind(db);
    db.prepare = ((sql: string) => {
      const statement = prepare(sql);
      if (!/^select \* from \(\s*SELECT d\.\* FROM/.test(sql)) return statement;
      const all = statement.all.bind(statement);
      statement.all = ((...params: unknown[]) => {
        listings.push({ sql, params });
        return all(...params);
      }) as typeof statement.all;
      return statement;
    }) as typeof db.prepare;
    const store = sqliteStore({ database: db as unknown as SqliteDatabase });
    stores.push(store);
    await store.migrate();
    return { store, db, listings };
  };
  const history = (db: Database.Database) =>
    db.prepare('SELECT * FROM deliveries ORDER BY id DESC').all() as DeliveryRow[];
  const listsAsHistory = async (
    store: ReturnType<typeof sqliteStore>,
    rows: DeliveryRow[],
    queries: ListDeliveriesQuery[],
  ) => {
    for (const q of queries) {
      const listed = (await store.listDeliveries(q)).map((d) => d.id);
      expect({ q, listed }).toEqual({ q, listed: expectedListing(rows, q) });
    }
  };

  it('lists what a filter over the whole table lists, reading deliveries by id, never scanning them', async () => {
    const { store, db, listings } = await open('plans.db');
    const queries = await fillEventIdHistory(store);
    const rows = history(db);
    expect(rows.length).toBeGreaterThanOrEqual(1200);
    expect(rows.filter((r) => r.event_id.startsWith('erased:')).length).toBeGreaterThan(100);
    expect(indexNames(db)).not.toContain('deliveries_event_id');
    await listsAsHistory(store, rows, queries);
    expect(queries.filter((q) => expectedListing(rows, q).length > 1).length).toBeGreaterThan(5);
    expect(listings).toHaveLength(queries.length);
    for (const { sql, params } of listings) {
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map(
        (r) => r.detail,
      );
      // Scans of the sources walked and the candidates only; every table read is a search.
      expect(plan.filter((d) => /^SCAN /.test(d) && !/^SCAN (c|s|sources|CONSTANT ROW)$/.test(d))).toEqual(
        [],
      );
      expect(plan).toContain('SEARCH x USING INDEX deliveries_event_ref (event_ref=?)');
      expect(plan).toContain('SEARCH e USING INDEX events_dedup (source_id=? AND event_id=?)');
      expect(plan).toContain('SEARCH x USING INDEX deliveries_erased (event_id=?)');
      expect(plan.filter((d) => /^SEARCH d /.test(d))).toEqual([
        expect.stringMatching(/ \((pipe_id=\? AND status=\? AND )?id=\?\)$/),
      ]);
    }
  });

  it('migrates a file from migration 16: the index goes, tombstones are indexed, the listings stay', async () => {
    const first = await open('old.db');
    const queries = await fillEventIdHistory(first.store);
    await first.store.close();
    stores.pop();
    // The file as migration 16 left it: with deliveries_event_id, without deliveries_erased.
    const old = new Database(join(dir, 'old.db'));
    old.exec(`DROP INDEX deliveries_erased;
      CREATE INDEX deliveries_event_id ON deliveries (event_id);
      DELETE FROM openpipes_migrations WHERE version = 17;`);
    const rows = history(old);
    old.close();

    const { store, db } = await open('old.db');
    expect(indexNames(db)).toContain('deliveries_erased');
    expect(indexNames(db)).not.toContain('deliveries_event_id');
    const tombstones = db
      .prepare(
        `SELECT count(*) AS n FROM deliveries INDEXED BY deliveries_erased
         WHERE event_id >= 'erased:' AND event_id < 'erased;'`,
      )
      .get() as { n: number };
    expect(tombstones.n).toBe(rows.filter((r) => r.event_id.startsWith('erased:')).length);
    await listsAsHistory(store, rows, queries);
  });
});
