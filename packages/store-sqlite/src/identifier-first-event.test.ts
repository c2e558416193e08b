/**
 * Migration 13: a new identifier's first event is kept in its own profile_identifiers row, not in
 * event_identifiers. Erasure and export must find a person's events exactly as before: on a fresh
 * file, after the profile holding the identifier was pruned, after the event was pruned, and on a
 * file migrated from migration 12 whose index rows were all in event_identifiers. The cases that need
 * only the Store API are core's `runStoreIdentifierFirstEvent` (run in `store.test.ts`); these read or
 * write the file's tables.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstEventHelpers, firstEventSteps } from '@openpipes/core/conformance';
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

function newFile() {
  const dir = mkdtempSync(join(tmpdir(), 'op-first-event-'));
  dirs.push(dir);
  return join(dir, 'identity.db');
}

const { at, EMAIL, PHONE, E1, E2, E3, eventsOf } = firstEventHelpers;

describe('an identifier’s first event in its own row (migration 13)', () => {
  it('writes no event_identifiers row for a new identifier, one for each event that carries it again', async () => {
    const filename = newFile();
    const store = await open(filename);
    await firstEventSteps.emailThenEmailAndPhone(store);

    const db = new Database(filename, { readonly: true });
    try {
      expect(db.prepare('SELECT kind, key, event_ref FROM event_identifiers').all()).toEqual([
        { kind: 'email', key: EMAIL, event_ref: E2 },
      ]);
      expect(db.prepare('SELECT kind, event_ref FROM profile_identifiers ORDER BY kind').all()).toEqual([
        { kind: 'email', event_ref: E1 },
        { kind: 'phone', event_ref: E2 },
      ]);
    } finally {
      db.close();
    }
    expect(await eventsOf(store, EMAIL)).toEqual([E1, E2]);
    expect(await eventsOf(store, PHONE, 'phone')).toEqual([E2]);
  });

  it('erases the events found through a stored identifier, and leaves no pointer to them in a row another profile keeps', async () => {
    const filename = newFile();
    const store = await open(filename);
    await firstEventSteps.emailThenTwoPeople(store);
    const stored = () => {
      const db = new Database(filename, { readonly: true });
      try {
        return db.prepare('SELECT key, event_ref FROM profile_identifiers ORDER BY key').all();
      } finally {
        db.close();
      }
    };
    expect(stored()).toEqual([
      { key: 'U1', event_ref: E2 },
      { key: 'U2', event_ref: E3 },
      { key: EMAIL, event_ref: E1 },
      { key: PHONE, event_ref: E3 },
    ]);

    await firstEventSteps.erasedByPhone(store);
    expect(stored()).toEqual([
      { key: 'U2', event_ref: null },
      { key: EMAIL, event_ref: E1 },
    ]);
  });

  it('finds the events of a file migrated from migration 12, and of events linked after', async () => {
    const filename = newFile();
    const store = await open(filename);
    await store.close();
    stores.pop();
    // The file as migration 12 left it: no event_ref column; every event indexed in event_identifiers.
    const old = new Database(filename);
    old.exec(`CREATE TABLE pi12 AS SELECT kind, key, profile_id, value, first_seen_at, last_seen_at FROM profile_identifiers;
      DROP TABLE profile_identifiers;
      CREATE TABLE profile_identifiers (
        kind TEXT NOT NULL, key TEXT NOT NULL, profile_id TEXT NOT NULL, value TEXT NOT NULL,
        first_seen_at TEXT NOT NULL, last_seen_at TEXT NOT NULL, PRIMARY KEY (kind, key)
      ) WITHOUT ROWID;
      CREATE INDEX profile_identifiers_profile ON profile_identifiers (profile_id);
      DROP TABLE pi12;
      DELETE FROM openpipes_migrations WHERE version = 13;
      INSERT INTO events (id, source_id, event_id, sender_event_id, event_type, event_time, payload, received_at)
        VALUES ('${E1}', 'src_web', 'e1', 0, 'purchase', '${at(0)}', '{}', '${at(0)}');
      INSERT INTO profiles (id, merged_into, created_at, last_seen_at) VALUES ('prf_old', NULL, '${at(0)}', '${at(0)}');
      INSERT INTO profile_identifiers VALUES ('email', '${EMAIL}', 'prf_old', '{}', '${at(0)}', '${at(0)}');
      INSERT INTO event_identifiers (kind, key, event_ref) VALUES ('email', '${EMAIL}', '${E1}');`);
    old.close();

    const migrated = await open(filename);
    await firstEventSteps.linkedAfterwards(migrated);
  });

  it('leaves no identifier row pointing at an event erased with another person, through a prune of that row’s profile', async () => {
    const filename = newFile();
    const store = await open(filename);
    await firstEventSteps.erasedWithAnotherPerson(store);
    const db = new Database(filename, { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) AS n FROM event_identifiers').get()).toEqual({ n: 0 });
      expect(db.prepare('SELECT count(*) AS n FROM profile_identifiers').get()).toEqual({ n: 0 });
    } finally {
      db.close();
    }
    expect(await eventsOf(store, 'U2', 'user_id')).toEqual([]);
  });
});
