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
import { DEFAULT_CAPS } from '@openpipes/core/identity';
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

const { EMAIL, PHONE, E1, E2, E3, at, ingest, eventsOf, erase } = firstEventHelpers;

function rowsOf(filename: string): Array<{ key: string; event_ref: string }> {
  const db = new Database(filename, { readonly: true });
  try {
    return db.prepare('SELECT key, event_ref FROM event_identifiers ORDER BY event_ref, key').all() as Array<{
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

  it('are not written by linkProfiles on its own for an event erased or pruned before it', async () => {
    const { store, filename } = await open();
    await ingest(store, E1, 0, [{ kind: 'user_id', key: 'U1' }]);
    await ingest(store, E2, 1000, [{ kind: 'email', key: EMAIL }]);
    expect((await erase(store, 'user_id', 'U1', 2000)).events).toBe(1);
    await ingest(store, E3, 2000, [{ kind: 'email', key: EMAIL }]);
    expect((await store.prune({ before: at(1500), limit: 10 })).events).toBe(1);

    // E1 erased, E2 pruned: the links are applied (a new phone joins the email's profile), and
    // neither event is indexed, by a row of event_identifiers (the email, held already) or in the
    // phone's own row (its first event). E3, stored before the link, is indexed in
    // event_identifiers only, its new phone's row included (profiles.ts, linkWriter).
    const link = (event_ref: string, phone: string) => ({
      event_ref,
      identifiers: [
        {
          kind: 'email' as const,
          key: EMAIL,
          value: JSON.stringify({ sha256: EMAIL }),
          first_seen_at: at(3000),
        },
        {
          kind: 'phone' as const,
          key: phone,
          value: JSON.stringify({ sha256: phone }),
          first_seen_at: at(3000),
        },
      ],
      seen_at: at(3000),
    });
    const out = await store.linkProfiles({
      links: [link(E1, PHONE), link(E2, 'p'.repeat(64)), link(E3, 'q'.repeat(64))],
      caps: DEFAULT_CAPS,
      newId: () => 'prf_late',
      now: at(3000),
    });
    expect(new Set(out).size).toBe(1);
    expect(rowsOf(filename)).toEqual([
      { key: EMAIL, event_ref: E3 },
      { key: 'q'.repeat(64), event_ref: E3 },
    ]);
    const db = new Database(filename, { readonly: true });
    try {
      expect(
        db.prepare('SELECT key, event_ref FROM profile_identifiers WHERE kind = ? ORDER BY key').all('phone'),
      ).toEqual([
        { key: PHONE, event_ref: null },
        { key: 'p'.repeat(64), event_ref: null },
        { key: 'q'.repeat(64), event_ref: null },
      ]);
    } finally {
      db.close();
    }
  });
});
