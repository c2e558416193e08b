/**
 * Migration 14 (as SQLite's 13): a new identifier's first event is kept in its own profile_identifiers
 * row, not in event_identifiers. Erasure and export must find a person's events exactly as before: on
 * a fresh schema, after the profile holding the identifier was pruned, after the event was pruned, and
 * for rows written before migration 14, whose index rows were all in event_identifiers. The cases that
 * need only the Store API are core's `runStoreIdentifierFirstEvent` (run in `store.test.ts`); these
 * read or write the schema's tables.
 */
import { firstEventHelpers, firstEventSteps } from '@openpipes/core/conformance';
import { afterEach, describe, expect, it } from 'vitest';
import { postgresAvailable, query, testStores } from './testing.js';

const available = await postgresAvailable();
const stores = testStores('first_event', 2);
afterEach(stores.close);

const { at, EMAIL, PHONE, E1, E2, E3, eventsOf } = firstEventHelpers;

describe.skipIf(!available)('an identifier’s first event in its own row (migration 14)', () => {
  it('writes no event_identifiers row for a new identifier, one for each event that carries it again', async () => {
    const { store, schema } = await stores.open();
    await firstEventSteps.emailThenEmailAndPhone(store);

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
    const { store, schema } = await stores.open();
    await firstEventSteps.emailThenTwoPeople(store);
    const stored = () => query(`SELECT key, event_ref FROM "${schema}".profile_identifiers ORDER BY key`);
    expect(await stored()).toEqual([
      { key: 'U1', event_ref: E2 },
      { key: 'U2', event_ref: E3 },
      { key: EMAIL, event_ref: E1 },
      { key: PHONE, event_ref: E3 },
    ]);

    await firstEventSteps.erasedByPhone(store);
    expect(await stored()).toEqual([
      { key: 'U2', event_ref: null },
      { key: EMAIL, event_ref: E1 },
    ]);
  });

  it('finds the events of rows written before migration 14, and of events linked after', async () => {
    const { store, schema } = await stores.open();
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

    await firstEventSteps.linkedAfterwards(store);
  });

  it('leaves no identifier row pointing at an event erased with another person, through a prune of that row’s profile', async () => {
    const { store, schema } = await stores.open();
    await firstEventSteps.erasedWithAnotherPerson(store);
    expect(await query(`SELECT count(*)::int AS n FROM "${schema}".event_identifiers`)).toEqual([{ n: 0 }]);
    expect(await query(`SELECT count(*)::int AS n FROM "${schema}".profile_identifiers`)).toEqual([{ n: 0 }]);
    expect(await eventsOf(store, 'U2', 'user_id')).toEqual([]);
  });
});
