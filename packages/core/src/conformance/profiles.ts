/**
 * The identity part of the Store contract (`linkProfiles`, `findProfiles`, `getProfile`,
 * `pruneProfiles`): links, chains, merges, caps, retention and concurrent linking. Every store runs it:
 *
 * ```ts
 * runProfileConformance({ name: 'sqlite', createStore: async () => sqliteStore({ filename: tmpFile() }) });
 * ```
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPS, type IdentifierKind } from '../identity/index.js';
import { identifierRef, type ProfileLink } from '../identity/profiles.js';
import { newId } from '../ids.js';
import type { Store } from '../store.js';
import { freshStorePerCase } from './store/fresh-store.js';
import type { StoreConformanceOptions } from './store/index.js';

const t0 = Date.parse('2026-05-04T10:00:00.000Z');
const at = (ms: number) => new Date(t0 + ms).toISOString();

/** A link of raw identifiers (the value as key, as the raw kinds store them). */
const link = (
  ms: number,
  ids: Partial<Record<IdentifierKind, string>>,
  extra: Partial<ProfileLink> = {},
): ProfileLink => ({
  identifiers: Object.entries(ids).map(([kind, key]) => ({
    kind: kind as IdentifierKind,
    key: key as string,
    value: JSON.stringify(key),
    first_seen_at: at(ms),
  })),
  seen_at: at(ms),
  ...extra,
});

/** Profile ids get ascending times, so "oldest" is unambiguous. */
let clock = 0;
const makeId = () => newId('profile', t0 + clock++);

// long-function: one list of it() cases over the store the adapter hands in; every store adapter runs it, the contract's executable spec
export function runProfileConformance(options: StoreConformanceOptions): void {
  describe(`profile conformance: ${options.name}`, () => {
    let store: Store;
    const linkAll = (links: ProfileLink[], caps = DEFAULT_CAPS) =>
      store.linkProfiles({ links, caps, newId: makeId, now: at(0) });
    const kindsOf = async (id: string) =>
      ((await store.getProfile({ id }))?.identifiers ?? []).map((i) => `${i.kind}=${i.key}`).sort();

    freshStorePerCase(options, (s) => {
      store = s;
    });

    it('an event with two identifiers links them; a later event with one finds the same profile', async () => {
      const [p] = await linkAll([
        link(0, { anonymous_id: 'A', fbp: 'fb.1.1.1' }, { ip: '203.0.113.1', user_agent: 'UA/1' }),
      ]);
      const [q] = await linkAll([link(1000, { anonymous_id: 'A', user_id: 'U' })]);
      expect(q).toBe(p);
      expect(await kindsOf(p!)).toEqual(['anonymous_id=A', 'fbp=fb.1.1.1', 'user_id=U']);
      const found = await store.findProfiles({ identifiers: [{ kind: 'user_id', key: 'U' }] });
      expect(found.map((f) => f.id)).toEqual([p]);
      expect(found[0]).toMatchObject({
        ip: '203.0.113.1',
        user_agent: 'UA/1',
        last_seen_at: at(1000),
        created_at: at(0),
      });
    });

    it('a link with no identifiers gives null and stores nothing', async () => {
      expect(await linkAll([{ identifiers: [], seen_at: at(0) }])).toEqual([null]);
      expect(await store.findProfiles({ identifiers: [{ kind: 'user_id', key: 'x' }] })).toEqual([]);
    });

    it('a chain of links merges into the oldest profile, whatever the order, with history', async () => {
      const [a] = await linkAll([link(0, { anonymous_id: 'A1' })]);
      const [b] = await linkAll([link(10, { anonymous_id: 'A2', email: 'E' })]);
      const [c] = await linkAll([link(20, { anonymous_id: 'A3', ga_client_id: 'G' })]);
      expect(new Set([a, b, c]).size).toBe(3);
      // One event joins A3 and E, another A1 and E: all three end in the oldest, a.
      const [m1] = await linkAll([link(30, { anonymous_id: 'A3', email: 'E' })]);
      expect(m1).toBe(b);
      const [m2] = await linkAll([link(40, { email: 'E', anonymous_id: 'A1' })]);
      expect(m2).toBe(a);
      expect(await kindsOf(a!)).toEqual([
        'anonymous_id=A1',
        'anonymous_id=A2',
        'anonymous_id=A3',
        'email=E',
        'ga_client_id=G',
      ]);
      const profile = await store.getProfile({ id: c! });
      expect(profile?.id).toBe(a);
      expect(profile?.merged.map((m) => m.id).sort()).toEqual([b, c].sort());
      expect(await store.findProfiles({ identifiers: [{ kind: 'anonymous_id', key: 'A3' }] })).toHaveLength(
        1,
      );
    });

    it('two different user ids never merge: the second gets a profile of its own', async () => {
      const [u1] = await linkAll([link(0, { user_id: 'U1', anonymous_id: 'shared-browser' })]);
      const [u2] = await linkAll([link(10, { user_id: 'U2', anonymous_id: 'shared-browser' })]);
      expect(u2).not.toBe(u1);
      expect(await kindsOf(u1!)).toEqual(['anonymous_id=shared-browser', 'user_id=U1']);
      expect(await kindsOf(u2!)).toEqual(['user_id=U2']);
      // Later links through the shared browser do not merge them either.
      const [again] = await linkAll([link(20, { user_id: 'U2', anonymous_id: 'shared-browser', fbp: 'F2' })]);
      expect(again).toBe(u2);
      expect(await kindsOf(u2!)).toEqual(['fbp=F2', 'user_id=U2']);
    });

    it('a kind at its cap takes no more: the next value starts a profile of its own', async () => {
      const caps = { ...DEFAULT_CAPS, anonymous_id: 2 };
      const [p] = await linkAll([link(0, { user_id: 'U', anonymous_id: 'A1' })], caps);
      await linkAll([link(1, { user_id: 'U', anonymous_id: 'A2' })], caps);
      const [third] = await linkAll([link(2, { user_id: 'U', anonymous_id: 'A3' })], caps);
      expect(third).toBe(p);
      expect(await kindsOf(p!)).toEqual(['anonymous_id=A1', 'anonymous_id=A2', 'user_id=U']);
      const [alone] = await store.findProfiles({ identifiers: [{ kind: 'anonymous_id', key: 'A3' }] });
      expect(alone?.id).not.toBe(p);
    });

    it('links in one call apply in order and see each other', async () => {
      const ids = await linkAll([
        link(0, { anonymous_id: 'A' }),
        link(1, { anonymous_id: 'A', user_id: 'U' }),
        link(2, { user_id: 'U', email: 'E' }),
      ]);
      expect(new Set(ids).size).toBe(1);
      expect(await kindsOf(ids[0]!)).toEqual(['anonymous_id=A', 'email=E', 'user_id=U']);
    });

    it('last seen moves forward only; attributes are the latest', async () => {
      const [p] = await linkAll([link(5000, { anonymous_id: 'A' }, { ip: '203.0.113.5' })]);
      await linkAll([link(1000, { anonymous_id: 'A' }, { ip: '203.0.113.1' })]);
      const [profile] = await store.findProfiles({ identifiers: [{ kind: 'anonymous_id', key: 'A' }] });
      expect(profile).toMatchObject({ id: p, ip: '203.0.113.5', last_seen_at: at(5000) });
      expect(profile?.identifiers[0]?.last_seen_at).toBe(at(5000));
    });

    it('keeps the value JSON as given and keys personal kinds by digest', async () => {
      const digest = 'a'.repeat(64);
      const value = JSON.stringify({ sha256: digest, sha256_google: 'b'.repeat(64) });
      await linkAll([
        { identifiers: [{ kind: 'email', key: digest, value, first_seen_at: at(0) }], seen_at: at(0) },
      ]);
      const [profile] = await store.findProfiles({ identifiers: [{ kind: 'email', key: digest }] });
      expect(JSON.parse(profile!.identifiers[0]!.value)).toEqual(JSON.parse(value));
    });

    it('prunes profiles last seen before the cut, with their identifiers, merged ids and history', async () => {
      const [old] = await linkAll([link(0, { anonymous_id: 'old-1' })]);
      const [merged] = await linkAll([link(1, { anonymous_id: 'old-2' })]);
      await linkAll([
        link(2, { anonymous_id: 'old-1', user_id: 'old-user' }),
        link(3, { user_id: 'old-user', anonymous_id: 'old-2' }),
      ]);
      const [fresh] = await linkAll([link(86_400_000, { anonymous_id: 'new' })]);
      expect(await store.pruneProfiles({ before: at(1000), limit: 10 })).toBe(1);
      expect(await store.getProfile({ id: old! })).toBeNull();
      expect(await store.getProfile({ id: merged! })).toBeNull();
      expect(await store.findProfiles({ identifiers: [{ kind: 'user_id', key: 'old-user' }] })).toEqual([]);
      expect((await store.getProfile({ id: fresh! }))?.id).toBe(fresh);
      expect(await store.pruneProfiles({ before: at(1000), limit: 0 })).toBe(0);
    });

    it('concurrent links of the same identifiers end in one profile', async () => {
      // Twenty callers at once (on PostgreSQL: twenty transactions on the pool) each link a new
      // anonymous id to the same user id; they must all land in one profile.
      const calls = Array.from({ length: 20 }, (_, i) =>
        linkAll([link(i, { anonymous_id: `A${i}`, user_id: 'same-user' })]),
      );
      const ids = (await Promise.all(calls)).map(([id]) => id);
      expect(new Set(ids).size).toBe(1);
      const found = await store.findProfiles({
        identifiers: Array.from({ length: 20 }, (_, i) => ({ kind: 'anonymous_id' as const, key: `A${i}` })),
      });
      expect(found.map((f) => f.id)).toEqual([ids[0]]);
      const refs = new Set(found[0]!.identifiers.map(identifierRef));
      expect(refs.size).toBe(21);
    });
  });
}
