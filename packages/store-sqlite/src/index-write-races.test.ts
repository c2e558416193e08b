/**
 * A late `linkProfiles` (of an event stored before, not ingest's own) and the event-index backfill
 * naming the same event index each of its identifiers once: in the identifier's own row
 * (`profile_identifiers.event_ref`, migration 13) or in `event_identifiers`, never both. SQLite has
 * one writer, so the race is decided by which of the two commits first: both orders are run, each
 * call on its own store (its own connection) on the same file.
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

async function open(filename: string) {
  const store = sqliteStore({ filename });
  stores.push(store);
  await store.migrate();
  return store;
}

type Store = Awaited<ReturnType<typeof open>>;

const { EMAIL, PHONE, E1, at, ingest, eventsOf } = firstEventHelpers;

const identifier = (kind: 'email' | 'phone', key: string, ms: number) => ({
  kind,
  key,
  value: JSON.stringify({ sha256: key }),
  first_seen_at: at(ms),
});

/** A link of E1 naming the email (in its own row already, E1 brought it) and a new phone. */
const linkE1 = (store: Store, ms: number) =>
  store.linkProfiles({
    links: [
      {
        event_ref: E1,
        identifiers: [identifier('email', EMAIL, ms), identifier('phone', PHONE, ms)],
        seen_at: at(ms),
      },
    ],
    caps: DEFAULT_CAPS,
    newId: () => 'prf_late',
    now: at(ms),
  });

/** What the backfill writes for E1: every identifier it carried. */
const backfillE1 = (store: Store) =>
  store.indexEventIdentifiers({
    entries: [
      { kind: 'email', key: EMAIL, event_ref: E1 },
      { kind: 'phone', key: PHONE, event_ref: E1 },
    ],
  });

/** Where the index keeps that `kind` came with E1: rows of event_identifiers, identifiers' own rows. */
function indexedWithE1(filename: string, kind: string): Array<{ at: string }> {
  const db = new Database(filename, { readonly: true });
  try {
    return db
      .prepare(
        `SELECT 'event_identifiers' AS at FROM event_identifiers WHERE kind = ? AND event_ref = ?
         UNION ALL
         SELECT 'profile_identifiers' FROM profile_identifiers WHERE kind = ? AND event_ref = ?`,
      )
      .all(kind, E1, kind, E1) as Array<{ at: string }>;
  } finally {
    db.close();
  }
}

describe('a late link and the index backfill naming one event', () => {
  for (const first of ['link', 'backfill'] as const) {
    it(`index each identifier E1 carried once when the ${first} commits first`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'op-index-races-'));
      dirs.push(dir);
      const filename = join(dir, 'races.db');
      const store = await open(filename);
      await ingest(store, E1, 0, [{ kind: 'email', key: EMAIL }]);
      const [linker, backfiller] = [await open(filename), await open(filename)];
      if (first === 'link') {
        await linkE1(linker, 3000);
        await backfillE1(backfiller);
      } else {
        await backfillE1(backfiller);
        await linkE1(linker, 3000);
      }
      expect(indexedWithE1(filename, 'phone')).toHaveLength(1);
      expect(indexedWithE1(filename, 'email')).toEqual([{ at: 'profile_identifiers' }]);
      expect(await eventsOf(store, PHONE, 'phone')).toEqual([E1]);
    });
  }
});
