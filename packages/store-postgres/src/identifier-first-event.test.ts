/**
 * Migration 15 (as SQLite's 13): a new identifier's first event is kept in its own profile_identifiers
 * row, not in event_identifiers. Erasure and export must find a person's events exactly as before: on
 * a fresh schema, after the profile holding the identifier was pruned, after the event was pruned, and
 * for rows written before migration 14, whose index rows were all in event_identifiers. The cases that
 * need only the Store API are core's `runStoreIdentifierFirstEvent` (run in `store.test.ts`); these
 * read or write the schema's tables.
 */
import { firstEventHelpers } from '@openpipes/core/conformance';
import { afterEach, describe, expect, it } from 'vitest';
import { postgresStore } from './index.js';
import { dropSchemas, postgresAvailable, postgresUrl, query, testSchema } from './testing.js';

const available = await postgresAvailable();
const schemas: string[] = [];
const stores: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  await dropSchemas(schemas.splice(0));
});

async function open(schema: string) {
  const store = postgresStore({ connectionString: postgresUrl, schema, poolSize: 2 });
  stores.push(store);
  await store.migrate();
  return store;
}

function newSchema() {
  const schema = testSchema('first_event');
  schemas.push(schema);
  return schema;
}

const { at, EMAIL, PHONE, E1, E2, E3, ingest, eventsOf, erase } = firstEventHelpers;

describe.skipIf(!available)('an identifier’s first event in its own row (migration 14)', () => {
  it('writes no event_identifiers row for a new identifier, one for each event that carries it again', async () => {
    const schema = newSchema();
    const store = await open(schema);
    await ingest(store, E1, 0, [{ kind: 'email', key: EMAIL }]);
    await ingest(store, E2, 1000, [
      { kind: 'email', key: EMAIL },
      { kind: 'phone', key: PHONE },
    ]);

    expect(await query(`SELECT kind, key, event_ref FROM "${schema}".event_identifiers`)).toEqual([
      { kind: 'email', key: EMAIL, event_ref: E2 },
    ]);
    expect(await query(`SELECT kind, event_ref FROM "${schema}".profile_identifiers ORDER BY kind`)).toEqual([
      { kind: 'email', event_ref: E1 },
      { kind: 'phone', event_ref: E2 },
    ]);
    expect(await eventsOf(store, EMAIL)).toEqual([E1, E2]);
    expect(await eventsOf(store, PHONE, 'phone')).toEqual([E2]);
  });

  it('erases the events found through a stored identifier, and leaves no pointer to them in a row another profile keeps', async () => {
    const schema = newSchema();
    const store = await open(schema);
    await ingest(store, E1, 0, [{ kind: 'email', key: EMAIL }]);
    await ingest(store, E2, 1000, [{ kind: 'user_id', key: 'U1' }]);
    // U1's profile holds its one user id: U2 starts a profile of its own, whose row names E3.
    await ingest(store, E3, 2000, [
      { kind: 'user_id', key: 'U1' },
      { kind: 'user_id', key: 'U2' },
      { kind: 'phone', key: PHONE },
    ]);
    const stored = () => query(`SELECT key, event_ref FROM "${schema}".profile_identifiers ORDER BY key`);
    expect(await stored()).toEqual([
      { key: 'U1', event_ref: E2 },
      { key: 'U2', event_ref: E3 },
      { key: EMAIL, event_ref: E1 },
      { key: PHONE, event_ref: E3 },
    ]);

    // Found by the phone, erased with U1's profile: E3 (the phone's first event) and E2 (U1's).
    const erased = await erase(store, 'phone', PHONE, 3000);
    expect(erased.events).toBe(2);
    expect(await store.getEvent({ id: E3 })).toBeNull();
    expect(await eventsOf(store, EMAIL)).toEqual([E1]);
    expect(await eventsOf(store, 'U2', 'user_id')).toEqual([]);
    expect(await stored()).toEqual([
      { key: 'U2', event_ref: null },
      { key: EMAIL, event_ref: E1 },
    ]);
  });

  it('finds the events of rows written before migration 14, and of events linked after', async () => {
    const schema = newSchema();
    const store = await open(schema);
    // As migration 13 left a schema: no event_ref in the row; every event indexed in event_identifiers.
    await query(`INSERT INTO "${schema}".events (id, source_id, event_id, sender_event_id, event_type, event_time, payload, received_at)
      VALUES ('${E1}', 'src_web', 'e1', false, 'purchase', '${at(0)}', '{}', '${at(0)}')`);
    await query(
      `INSERT INTO "${schema}".profiles (id, merged_into, created_at, last_seen_at) VALUES ('prf_old', NULL, '${at(0)}', '${at(0)}')`,
    );
    await query(`INSERT INTO "${schema}".profile_identifiers (kind, key, profile_id, value, first_seen_at, last_seen_at)
      VALUES ('email', '${EMAIL}', 'prf_old', '{}', '${at(0)}', '${at(0)}')`);
    await query(
      `INSERT INTO "${schema}".event_identifiers (kind, key, event_ref) VALUES ('email', '${EMAIL}', '${E1}')`,
    );

    await ingest(store, E2, 1000, [
      { kind: 'email', key: EMAIL },
      { kind: 'phone', key: PHONE },
    ]);
    expect(await eventsOf(store, EMAIL)).toEqual([E1, E2]);
    expect(await eventsOf(store, PHONE, 'phone')).toEqual([E2]);
    const erased = await erase(store, 'email', EMAIL, 2000);
    expect(erased.events).toBe(2);
    expect(await eventsOf(store, PHONE, 'phone')).toEqual([]);
  });

  it('leaves no identifier row pointing at an event erased with another person, through a prune of that row’s profile', async () => {
    const schema = newSchema();
    const store = await open(schema);
    // U2 cannot join U1's profile (one user id each): E2 is the first event of both rows.
    await ingest(store, E1, 0, [{ kind: 'user_id', key: 'U1' }]);
    await ingest(store, E2, 1000, [
      { kind: 'user_id', key: 'U1' },
      { kind: 'user_id', key: 'U2' },
    ]);
    await erase(store, 'user_id', 'U1', 2000);
    expect(await store.getEvent({ id: E2 })).toBeNull();
    // U2's profile is pruned: nothing of the erased event comes back into the index.
    expect(await store.pruneProfiles({ before: at(3000), limit: 10 })).toBe(1);
    expect(await query(`SELECT count(*)::int AS n FROM "${schema}".event_identifiers`)).toEqual([{ n: 0 }]);
    expect(await query(`SELECT count(*)::int AS n FROM "${schema}".profile_identifiers`)).toEqual([{ n: 0 }]);
    expect(await eventsOf(store, 'U2', 'user_id')).toEqual([]);
  });
});
