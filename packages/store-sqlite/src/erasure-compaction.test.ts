/**
 * When an erasure rewrites the SQLite file (docs/erasure.md, "No bytes left behind"): VACUUM
 * rebuilds the whole file on the process's only connection, so it runs only when the erasure
 * deleted something, or when an earlier one could not finish. An erasure of nobody must not let a
 * write key hold up ingest and dispatch in a loop. Free pages (`PRAGMA freelist_count`) show
 * whether VACUUM ran: it leaves none.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Store } from '@openpipes/core';
import { erasureAudit } from '@openpipes/core/testing';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type SqliteDatabase, sqliteStore } from './index.js';

const now = '2026-05-04T10:00:00.000Z';
let auditNumber = 0;
const erase = (store: Store, given: string) =>
  store.eraseProfiles({
    identifiers: [{ kind: 'user_id', key: given }],
    given: [given],
    eventIdDigest: (id) => `erased:${id.length}`,
    now,
    audit: erasureAudit(`aud_compaction${auditNumber++}`, now),
  });

describe('sqlite erasure compaction', () => {
  let dir: string;
  let file: string;
  let store: Store;
  let side: Database.Database;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'openpipes-sqlite-compaction-'));
    file = join(dir, 'test.db');
    store = sqliteStore({ filename: file });
    await store.migrate();
    side = new Database(file);
    // Free pages: a megabyte written and dropped by another connection.
    side.exec(
      'CREATE TABLE filler (b BLOB); INSERT INTO filler VALUES (zeroblob(1048576)); DROP TABLE filler;',
    );
    side.pragma('wal_checkpoint(TRUNCATE)');
  });
  afterEach(async () => {
    side.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const freePages = () => side.pragma('freelist_count', { simple: true }) as number;

  it('an erasure of nobody does not rewrite the file', async () => {
    expect(freePages()).toBeGreaterThan(0);
    const result = await erase(store, 'nobody-at-all');
    expect(result).toMatchObject({ profiles: 0, events: 0, rejections: 0, state: 0, compacted: true });
    expect(freePages()).toBeGreaterThan(0);
  });

  it('an erasure that deleted something compacts; one that could not finish is finished by the next, even of nobody', async () => {
    await store.setState({ key: 'alerts:probe', value: { message: 'failed for jane-compaction' }, now });
    // Another connection's open read transaction keeps the log from being truncated.
    side.exec('BEGIN');
    side.prepare('SELECT count(*) FROM state').get();
    const first = await erase(store, 'jane-compaction');
    expect(first).toMatchObject({ state: 1, compacted: false });
    side.exec('COMMIT');

    const second = await erase(store, 'nobody-at-all');
    expect(second).toMatchObject({ state: 0, compacted: true });
    expect(freePages()).toBe(0);

    // Nothing owed any more: the next erasure of nobody leaves new free pages alone.
    side.exec(
      'CREATE TABLE filler (b BLOB); INSERT INTO filler VALUES (zeroblob(1048576)); DROP TABLE filler;',
    );
    side.pragma('wal_checkpoint(TRUNCATE)');
    expect(freePages()).toBeGreaterThan(0);
    expect(await erase(store, 'nobody-at-all')).toMatchObject({ compacted: true });
    expect(freePages()).toBeGreaterThan(0);
  });

  it('VACUUM copies the file through a temporary file, not memory; writes leave temp_store as it was', async () => {
    // The store's own connection, watched: what temp_store says when VACUUM runs.
    const handle = new Database(join(dir, 'watched.db'));
    const exec = handle.exec.bind(handle);
    const atVacuum: unknown[] = [];
    handle.exec = (sql: string) => {
      if (sql === 'VACUUM') atVacuum.push(handle.pragma('temp_store', { simple: true }));
      return exec(sql);
    };
    // better-sqlite3's own transaction() type is wider than the structural one the store declares.
    const watched = sqliteStore({ database: handle as unknown as SqliteDatabase });
    await watched.migrate();
    await watched.setState({ key: 'alerts:probe', value: { message: 'failed for joe-compaction' }, now });
    expect(handle.pragma('temp_store', { simple: true })).toBe(0); // DEFAULT (a file)
    expect(await erase(watched, 'joe-compaction')).toMatchObject({ state: 1, compacted: true });
    expect(atVacuum).toEqual([0]);
    expect(handle.pragma('temp_store', { simple: true })).toBe(0);
    await watched.close();
  });
});
