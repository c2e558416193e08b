/**
 * Migration 11 on SQLite: details and attempts are stored packed (BLOBs, see the kit's packed.ts),
 * a detail that is its attempt's as a reference to it, and records written before (JSON text, or
 * a detail packed whole), read back exactly as they did.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Store } from '@openpipes/core';
import {
  recordAttempt as attempt,
  deliverOneRecord,
  recordDetail as detail,
  expectRecordReads,
  expectRecordReadsAsBefore,
  expectRetriedRecordReads,
} from '@openpipes/core/conformance';
import { attemptToJson, packAttempt, packJson } from '@openpipes/core/store-kit';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { sqliteStore } from './index.js';

describe('packed details and attempts (migration 11) on SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'openpipes-packed-'));
  const stores: Store[] = [];
  const open = async (file: string) => {
    const store = sqliteStore({ filename: join(dir, file) });
    stores.push(store);
    await store.migrate();
    return store;
  };
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('stores them packed, the detail as a reference to its attempt, and reads back the record as written', async () => {
    const store = await open('new.db');
    await expectRecordReads(store);
    const side = new Database(join(dir, 'new.db'), { readonly: true });
    const row = side
      .prepare('SELECT d.detail, a.data FROM deliveries d JOIN delivery_attempts a ON a.delivery_id = d.id')
      .get() as { detail: Buffer; data: Buffer };
    side.close();
    expect([...row.detail]).toEqual([0x02, 0x31]); // attempt "1"
    expect(row.data[0]).toBe(0x01);
    // The attempt with the detail's output, packed: under half the JSON of the two.
    expect(row.data.length).toBeLessThan((JSON.stringify(detail).length + attemptToJson(attempt).length) / 2);
  });

  it("reads a retried record through every read path: each detail its own attempt's", async () => {
    const store = await open('retried.db');
    await expectRetriedRecordReads(store);
    const side = new Database(join(dir, 'retried.db'), { readonly: true });
    const row = side.prepare('SELECT detail FROM deliveries').get() as { detail: Buffer };
    side.close();
    expect([...row.detail]).toEqual([0x02, 0x32]); // attempt "2"
  });

  it('reads a record written before references (detail and attempt packed whole) exactly as before', async () => {
    const store = await open('whole.db');
    const id = await deliverOneRecord(store);
    const before = await store.getDelivery({ id });
    const side = new Database(join(dir, 'whole.db'));
    side.prepare('UPDATE deliveries SET detail = ?').run(packJson(JSON.stringify(detail)));
    side.prepare('UPDATE delivery_attempts SET data = ?').run(packAttempt(attempt));
    side.close();
    await expectRecordReadsAsBefore(store, id, before);
  });

  it('reads a record written before migration 11 (JSON text) exactly as before', async () => {
    const store = await open('old.db');
    const id = await deliverOneRecord(store);
    const before = await store.getDelivery({ id });
    await store.close();
    // The rows as the store wrote them before: JSON text.
    const side = new Database(join(dir, 'old.db'));
    side.prepare('DELETE FROM openpipes_migrations WHERE version = 11').run();
    side.prepare('UPDATE deliveries SET detail = ?').run(JSON.stringify(detail));
    side.prepare('UPDATE delivery_attempts SET data = ?').run(attemptToJson(attempt));
    side.close();
    const again = await open('old.db');
    await expectRecordReadsAsBefore(again, id, before);
  });
});
