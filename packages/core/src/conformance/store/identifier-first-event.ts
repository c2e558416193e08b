/**
 * Store conformance for an identifier's first event kept in its own profile_identifiers row, not in
 * event_identifiers (SQLite's migration 13, and PostgreSQL's as it): erasure and export find a person's
 * events exactly as before, after the profile holding the identifier was pruned, after the event was
 * pruned, and through a merge, a prune of the survivor and a re-ingest. Only the Store API is used;
 * each store's own `identifier-first-event.test.ts` keeps the cases that read or write its tables,
 * with the helpers below (`firstEventHelpers`).
 *
 * ```ts
 * import { runStoreIdentifierFirstEvent } from '@openpipes/core/conformance';
 * runStoreIdentifierFirstEvent({ name: 'sqlite', createStore: async () => sqliteStore({ filename: tmpFile() }) });
 * ```
 */
import { describe, expect, it } from 'vitest';
import type { IdentifierKind } from '../../identity/identifiers.js';
import { DEFAULT_CAPS } from '../../identity/profiles.js';
import { newId } from '../../ids.js';
import type { Store } from '../../store.js';
import { erasureAudit } from '../../testing/helpers.js';
import { freshStorePerCase } from './fresh-store.js';
import type { StoreConformanceOptions } from './index.js';

const t0 = Date.parse('2026-11-01T00:00:00.000Z');
const at = (ms: number) => new Date(t0 + ms).toISOString();
const EMAIL = 'e'.repeat(64);
const PHONE = 'f'.repeat(64);

let profileNumber = 0;
/** Ingests one event carrying `identifiers`, linked in the same transaction (as ingest does). */
async function ingest(
  store: Store,
  id: string,
  ms: number,
  identifiers: Array<{ kind: IdentifierKind; key: string }>,
) {
  await store.appendEvents({
    sourceId: 'src_web',
    events: [
      {
        id,
        event_id: `e_${id}`,
        sender_event_id: false,
        event_type: 'purchase',
        event_time: at(ms),
        event_payload: {},
        trace_parent: null,
      },
    ],
    pipes: [],
    deliveryIds: [],
    dedupSince: null,
    now: at(ms),
    identity: {
      links: [
        {
          event_ref: id,
          identifiers: identifiers.map((i) => ({
            ...i,
            value: JSON.stringify({ sha256: i.key }),
            first_seen_at: at(ms),
          })),
          seen_at: at(ms),
        },
      ],
      index: [],
      caps: DEFAULT_CAPS,
      newId: () => `prf_${String(++profileNumber).padStart(4, '0')}`,
      now: at(ms),
    },
  });
}

/** Event ids as ingest makes them (ULIDs of their time: retention prunes by them). */
const evt = (ms: number) => newId('event', t0 + ms);
const [E1, E2, E3] = [evt(0), evt(1000), evt(2000)];

const eventsOf = async (store: Store, key: string, kind: IdentifierKind = 'email') =>
  (await store.listPersonEvents({ identifiers: [{ kind, key }], limit: 100 })).map((e) => e.event_ref);

const erase = (store: Store, kind: IdentifierKind, key: string, ms: number) =>
  store.eraseProfiles({
    identifiers: [{ kind, key }],
    given: [],
    eventIdDigest: (id) => `digest:${id}`,
    now: at(ms),
    audit: erasureAudit(newId('audit', t0 + ms), at(ms)),
  });

/**
 * What the first-event cases share, for the stores' own cases over their tables: the clock (`at`,
 * `evt` and the event ids `E1`..`E3`), two identifier keys, and ingest, export and erasure through
 * the Store API.
 */
export const firstEventHelpers = { t0, at, EMAIL, PHONE, evt, E1, E2, E3, ingest, eventsOf, erase };

/**
 * The Store API steps of the cases each store keeps: the store reads or writes its tables between
 * them.
 */
export const firstEventSteps = {
  /** E1 brings the email; E2 brings it again, with a phone new to the store. */
  async emailThenEmailAndPhone(store: Store) {
    await ingest(store, E1, 0, [{ kind: 'email', key: EMAIL }]);
    await ingest(store, E2, 1000, [
      { kind: 'email', key: EMAIL },
      { kind: 'phone', key: PHONE },
    ]);
  },
  /** E2 links the email again with a new phone; export finds E1 and E2, erasure takes both. */
  async linkedAfterwards(store: Store) {
    await ingest(store, E2, 1000, [
      { kind: 'email', key: EMAIL },
      { kind: 'phone', key: PHONE },
    ]);
    expect(await eventsOf(store, EMAIL)).toEqual([E1, E2]);
    expect(await eventsOf(store, PHONE, 'phone')).toEqual([E2]);
    const erased = await erase(store, 'email', EMAIL, 2000);
    expect(erased.events).toBe(2);
    expect(await eventsOf(store, PHONE, 'phone')).toEqual([]);
  },
  /** E1 brings the email, E2 U1, E3 U1 again with U2 and the phone (U2 in a profile of its own). */
  async emailThenTwoPeople(store: Store) {
    await ingest(store, E1, 0, [{ kind: 'email', key: EMAIL }]);
    await ingest(store, E2, 1000, [{ kind: 'user_id', key: 'U1' }]);
    // U1's profile holds its one user id: U2 starts a profile of its own, whose row names E3.
    await ingest(store, E3, 2000, [
      { kind: 'user_id', key: 'U1' },
      { kind: 'user_id', key: 'U2' },
      { kind: 'phone', key: PHONE },
    ]);
  },
  /** After `emailThenTwoPeople`: erasure by the phone. */
  async erasedByPhone(store: Store) {
    // Found by the phone, erased with U1's profile: E3 (the phone's first event) and E2 (U1's).
    const erased = await erase(store, 'phone', PHONE, 3000);
    expect(erased.events).toBe(2);
    expect(await store.getEvent({ id: E3 })).toBeNull();
    expect(await eventsOf(store, EMAIL)).toEqual([E1]);
    expect(await eventsOf(store, 'U2', 'user_id')).toEqual([]);
  },
  /** E2 is the first event of U1's and U2's rows; U1 is erased, then U2's profile pruned. */
  async erasedWithAnotherPerson(store: Store) {
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
  },
};

export function runStoreIdentifierFirstEvent(options: StoreConformanceOptions): void {
  describe(`store conformance, an identifier’s first event in its own row: ${options.name}`, () => {
    let store: Store;
    freshStorePerCase(options, (s) => {
      store = s;
    });

    it('still finds the first event once the profile that held the identifier is pruned', async () => {
      await ingest(store, E1, 0, [{ kind: 'email', key: EMAIL }]);
      expect(await store.pruneProfiles({ before: at(1000), limit: 10 })).toBe(1);
      expect(await store.findProfiles({ identifiers: [{ kind: 'email', key: EMAIL }] })).toEqual([]);
      expect(await eventsOf(store, EMAIL)).toEqual([E1]);

      const erased = await erase(store, 'email', EMAIL, 2000);
      expect(erased.events).toBe(1);
      expect(await eventsOf(store, EMAIL)).toEqual([]);
    });

    it('lists no event that retention pruned, though the identifier’s row still names it', async () => {
      await ingest(store, E1, 0, [{ kind: 'email', key: EMAIL }]);
      await ingest(store, E2, 1000, [{ kind: 'email', key: EMAIL }]);
      await store.prune({ before: at(500), limit: 100 });
      expect(await store.getEvent({ id: E1 })).toBeNull();
      expect(await eventsOf(store, EMAIL)).toEqual([E2]);
    });

    it('keeps every first event through a merge, a prune of the survivor and a re-ingest: export and erasure find them all', async () => {
      const ANON = 'a'.repeat(64);
      const [E4, E5] = [evt(3000), evt(4000)];
      await ingest(store, E1, 0, [{ kind: 'anonymous_id', key: ANON }]);
      await ingest(store, E2, 1000, [{ kind: 'email', key: EMAIL }]);
      // The two profiles meet: the older (the anonymous id's) survives and takes the email's row,
      // with the email's first event in it.
      await ingest(store, E3, 2000, [
        { kind: 'anonymous_id', key: ANON },
        { kind: 'email', key: EMAIL },
      ]);
      const [merged] = await store.findProfiles({ identifiers: [{ kind: 'email', key: EMAIL }] });
      const exportOf = async (id: string) => {
        const profile = await store.getProfile({ id });
        return (
          await store.listPersonEvents({
            identifiers: profile?.identifiers.map((i) => ({ kind: i.kind, key: i.key })) ?? [],
            limit: 100,
          })
        ).map((e) => e.event_ref);
      };
      expect(await exportOf(merged!.id)).toEqual([E1, E2, E3]);

      // Retention prunes the survivor (and the profile merged into it); the events stay.
      expect(await store.pruneProfiles({ before: at(2500), limit: 10 })).toBe(1);
      expect(await eventsOf(store, EMAIL)).toEqual([E2, E3]);
      expect(await eventsOf(store, ANON, 'anonymous_id')).toEqual([E1, E3]);

      // Both come back in a new profile, through an event that brings both again as new.
      await ingest(store, E4, 3000, [
        { kind: 'email', key: EMAIL },
        { kind: 'anonymous_id', key: ANON },
      ]);
      await ingest(store, E5, 4000, [{ kind: 'email', key: EMAIL }]);
      const [again] = await store.findProfiles({ identifiers: [{ kind: 'email', key: EMAIL }] });
      expect(await exportOf(again!.id)).toEqual([E1, E2, E3, E4, E5]);

      const erased = await erase(store, 'email', EMAIL, 5000);
      expect(erased.events).toBe(5);
      for (const id of [E1, E2, E3, E4, E5]) expect(await store.getEvent({ id })).toBeNull();
      expect(await eventsOf(store, EMAIL)).toEqual([]);
      expect(await eventsOf(store, ANON, 'anonymous_id')).toEqual([]);
    });
  });
}
