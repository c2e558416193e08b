/**
 * A row of event_identifiers naming an event no longer stored (an older version's backfill could
 * write one when an erasure deleted the event between the step's read and its write) is never
 * listed: export and erasure find a person's events joined to events. Erasure deletes such a row of
 * the person's identifiers by its key. And the index write itself skips an event no longer stored.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstEventHelpers } from '@openpipes/core/conformance';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteStore } from './index.js';

const dirs: string[] = [];
const stores: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function open() {
  const dir = mkdtempSync(join(tmpdir(), 'op-dangling-'));
  dirs.push(dir);
  const filename = join(dir, 'index.db');
  const store = sqliteStore({ filename });
  stores.push(store);
  await store.migrate();
  return { store, filename };
}

const { EMAIL, E1, E2, E3, ingest, eventsOf, erase } = firstEventHelpers;

function rowsOf(filename: string): Array<{ key: string; event_ref: string }> {
  const db = new Database(filename, { readonly: true });
  try {
    return db.prepare('SELECT key, event_ref FROM event_identifiers ORDER BY event_ref').all() as Array<{
      key: string;
      event_ref: string;
    }>;
  } finally {
    db.close();
  }
}

describe('event_identifiers rows of events no longer stored', () => {
  it('are never listed, and erasure deletes those of the person’s identifiers', async () => {
    const { store, filename } = await open();
    await ingest(store, E1, 0, [{ kind: 'email', key: EMAIL }]);
    await ingest(store, E2, 1000, [{ kind: 'email', key: EMAIL }]);
    const db = new Database(filename);
    db.prepare("INSERT INTO event_identifiers (kind, key, event_ref) VALUES ('email', ?, ?)").run(EMAIL, E3);
    db.close();
    expect(rowsOf(filename)).toEqual([
      { key: EMAIL, event_ref: E2 },
      { key: EMAIL, event_ref: E3 },
    ]);

    expect(await eventsOf(store, EMAIL)).toEqual([E1, E2]);
    expect((await erase(store, 'email', EMAIL, 2000)).events).toBe(2);
    expect(rowsOf(filename)).toEqual([]);
  });

  it('are not written: the index write skips an event no longer stored', async () => {
    const { store, filename } = await open();
    await ingest(store, E1, 0, [{ kind: 'email', key: EMAIL }]);
    await store.indexEventIdentifiers({
      entries: [
        { kind: 'email', key: 'k'.repeat(64), event_ref: E1 },
        { kind: 'email', key: 'k'.repeat(64), event_ref: E3 },
      ],
    });
    expect(rowsOf(filename)).toEqual([{ key: 'k'.repeat(64), event_ref: E1 }]);
  });
});
