/**
 * Migration 16 on SQLite: a pipe's delivery listings read deliveries_pipe_status (pipe_id, status,
 * id) newest first, one walk per status merged in id order, with no sort of their own and no
 * (pipe_id, id) index, and return the rows a filter over the whole table returns, in its order.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type DeliveryStatus,
  deliveryStatuses,
  idAtTime,
  type ListDeliveriesQuery,
  newId,
} from '@openpipes/core';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { type SqliteDatabase, sqliteStore } from './index.js';

const t0 = Date.parse('2026-05-04T10:00:00.000Z');
const at = (ms: number) => new Date(t0 + ms).toISOString();
const minute = 60_000;
const sourceId = newId('source', t0);
const pipeIds = [newId('pipe', t0), newId('pipe', t0)];
const destinationIds = [newId('destination', t0), newId('destination', t0)];

type Row = {
  id: string;
  pipe_id: string;
  destination_id: string;
  event_id: string;
  status: string;
  filter_reason: string | null;
};

// A status for the i-th event's delivery to pipe k: mostly delivered, every other status scattered
// (a page of pipe 0 holds all seven); pipe 1's newest 90 all failed.
const statusOf = (i: number, k: number): DeliveryStatus =>
  k === 1 && i >= 150
    ? 'failed'
    : i % 10 < 6
      ? 'delivered'
      : (deliveryStatuses[(i * 3 + k + Math.floor(i / 40)) % 7] as DeliveryStatus);

describe("a pipe's delivery listings (migration 16) on SQLite", () => {
  const dir = mkdtempSync(join(tmpdir(), 'openpipes-pipe-listing-'));
  const stores: Array<ReturnType<typeof sqliteStore>> = [];
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // The store over a connection of our own, which notes each listing it prepares and its parameters.
  const open = async (file: string) => {
    const db = new Database(join(dir, file));
    const listings: Array<{ sql: string; params: unknown[] }> = [];
    const prepare = db.prepare.bind(db);
    db.prepare = ((sql: string) => {
      const statement = prepare(sql);
      if (!/^select \* from "deliveries" where/.test(sql)) return statement;
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

  // 240 events a minute apart, each delivered to both pipes (pipe 1 to destination 1 from event 100
  // on); filtered rows carry one of two reasons; event ids repeat every 60 events.
  const fill = (db: Database.Database) => {
    const insertEvent = db.prepare(
      `INSERT INTO events (id, source_id, event_id, sender_event_id, event_type, event_time, payload, received_at)
       VALUES (?, ?, ?, 1, 'purchase', ?, '{}', ?)`,
    );
    const insertDelivery = db.prepare(
      `INSERT INTO deliveries (id, event_ref, source_id, pipe_id, destination_id, event_id, event_type, status,
         filter_reason, created_at, updated_at, detail) VALUES (?, ?, ?, ?, ?, ?, 'purchase', ?, ?, ?, ?, '{}')`,
    );
    db.transaction(() => {
      for (let i = 0; i < 240; i++) {
        const ref = newId('event', t0 + i * minute);
        insertEvent.run(ref, sourceId, `ord_${i % 60}`, at(i * minute), at(i * minute));
        pipeIds.forEach((pipeId, k) => {
          const status = statusOf(i, k);
          const reason = status === 'filtered' ? (i % 3 ? 'consent' : 'condition') : null;
          const destination = destinationIds[k === 1 && i >= 100 ? 1 : 0];
          insertDelivery.run(
            newId('delivery', t0 + i * minute),
            ref,
            sourceId,
            pipeId,
            destination,
            `ord_${i % 60}`,
            status,
            reason,
            at(i * minute),
            at(i * minute),
          );
        });
      }
    })();
  };

  // What a listing must return: the whole table filtered and ordered here, not by the store.
  const expected = (rows: Row[], q: ListDeliveriesQuery) => {
    const statuses = q.status === undefined ? null : ([] as string[]).concat(q.status);
    const since = q.since && idAtTime('delivery', Date.parse(q.since));
    const until = q.until && idAtTime('delivery', Date.parse(q.until));
    return rows
      .filter(
        (r) =>
          (!q.pipeId || r.pipe_id === q.pipeId) &&
          (!q.destinationId || r.destination_id === q.destinationId) &&
          (!statuses || statuses.includes(r.status)) &&
          (!q.eventId || r.event_id === q.eventId) &&
          (!q.filterReason || r.filter_reason === q.filterReason) &&
          (!since || r.id >= since) &&
          (!until || r.id < until) &&
          (!q.cursor || r.id < q.cursor),
      )
      .map((r) => r.id)
      .sort()
      .reverse()
      .slice(0, q.limit);
  };

  const [p0, p1] = pipeIds as [string, string];
  const queries: ListDeliveriesQuery[] = [
    { pipeId: p0, limit: 50 },
    { pipeId: p0, limit: 1 },
    { pipeId: p0, limit: 1000 },
    { pipeId: p1, limit: 50 },
    { pipeId: p0, limit: 20, cursor: newId('delivery', t0 + 120 * minute) },
    { pipeId: p0, limit: 20, status: ['failed', 'dead'] },
    { pipeId: p0, limit: 20, status: ['failed', 'dead', 'failed'] },
    { pipeId: p1, limit: 20, status: 'failed' },
    { pipeId: p1, limit: 20, status: ['pending', 'delivered'], cursor: newId('delivery', t0 + 140 * minute) },
    { pipeId: p0, limit: 30, since: at(30 * minute), until: at(90 * minute) },
    {
      pipeId: p0,
      limit: 30,
      since: at(30 * minute),
      until: at(90 * minute),
      status: ['sending', 'retrying'],
    },
    { pipeId: p0, limit: 30, since: at(200 * minute) },
    { pipeId: p1, limit: 30, until: at(60 * minute) },
    { pipeId: p0, limit: 30, until: at(60 * minute), cursor: newId('delivery', t0 + 30 * minute) },
    { pipeId: p0, limit: 30, filterReason: 'consent' },
    { pipeId: p0, limit: 30, filterReason: 'consent', status: ['filtered', 'failed'] },
    { pipeId: p0, limit: 30, filterReason: 'consent', status: 'failed' },
    { pipeId: p0, limit: 30, status: [] },
    { pipeId: p1, limit: 30, destinationId: destinationIds[1] },
    { pipeId: p1, limit: 30, destinationId: destinationIds[0], status: ['failed', 'pending'] },
    { pipeId: p0, limit: 30, eventId: 'ord_7' },
    { pipeId: p0, limit: 30, eventId: 'ord_7', status: ['delivered', 'dead'] },
    { destinationId: destinationIds[0], limit: 30, status: ['failed', 'dead'] },
    { limit: 30, status: 'filtered', cursor: newId('delivery', t0 + 100 * minute) },
    { limit: 30 },
  ];

  it('returns the rows a filter over the whole table returns, newest first', async () => {
    const { store, db } = await open('rows.db');
    fill(db);
    const rows = db.prepare('SELECT * FROM deliveries').all() as Row[];
    for (const q of queries) {
      const listed = (await store.listDeliveries(q)).map((d) => d.id);
      expect({ q, listed }).toEqual({ q, listed: expected(rows, q) });
    }
    expect(expected(rows, { pipeId: p0, limit: 50 })).toHaveLength(50);
    expect(new Set((await store.listDeliveries({ pipeId: p0, limit: 50 })).map((d) => d.status)).size).toBe(
      7,
    );
  });

  it("reads a pipe's statuses from deliveries_pipe_status, merged without a sort", async () => {
    const { store, db, listings } = await open('plans.db');
    fill(db);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'deliveries_pipe'").all()).toEqual([]);
    for (const q of queries) {
      listings.length = 0;
      await store.listDeliveries(q);
      for (const { sql, params } of listings) {
        const plan = (
          db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>
        ).map((r) => r.detail);
        const searches = plan.filter((d) => /^(SEARCH|SCAN)/.test(d));
        // A sender's event id reads its candidates first (event-id-listing.test.ts), not noted here.
        if (!q.pipeId) continue;
        // One bounded newest-first walk per status, merged in id order: no scan, no sort.
        const statuses = new Set(
          q.filterReason ? ['filtered'] : q.status === undefined ? deliveryStatuses : [q.status].flat(),
        );
        expect({ q, plan: plan.filter((d) => /TEMP B-TREE|SCAN/.test(d)) }).toEqual({ q, plan: [] });
        expect({ q, searches }).toEqual({
          q,
          searches: Array.from(statuses, () =>
            expect.stringMatching(
              /^SEARCH deliveries USING INDEX deliveries_pipe_status \(pipe_id=\? AND status=\?( AND id[<>]\?)*( AND id[<>]\?)?\)$/,
            ),
          ),
        });
        if (statuses.size > 1) expect(plan).toContain('MERGE (UNION ALL)');
      }
    }
  });

  it('migrates a file from migration 15: the index goes, the listings stay', async () => {
    const first = await open('old.db');
    fill(first.db);
    await first.store.close();
    stores.pop();
    // The file as migration 15 left it: with deliveries_pipe.
    const old = new Database(join(dir, 'old.db'));
    old.exec(`CREATE INDEX deliveries_pipe ON deliveries (pipe_id, id);
      DELETE FROM openpipes_migrations WHERE version = 16;`);
    const rows = old.prepare('SELECT * FROM deliveries').all() as Row[];
    old.close();

    const { store, db } = await open('old.db');
    expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'deliveries_pipe'").all()).toEqual([]);
    const versions = db.prepare('SELECT version FROM openpipes_migrations WHERE version = 16').all();
    expect(versions).toEqual([{ version: 16 }]);
    for (const q of queries) {
      expect((await store.listDeliveries(q)).map((d) => d.id)).toEqual(expected(rows, q));
    }
  });
});
