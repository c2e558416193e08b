/**
 * How a store keeps identifier values (core's `storedIdentifierValue` / `identifierValueOf`): a value
 * its kind and key say already (a raw value, or `{"sha256": key}`) is kept elided, any other whole,
 * and every read gives the value back as linked, rows written whole before elision included. Each
 * store runs it with two hooks onto its own table:
 *
 * ```ts
 * runIdentifierStorageConformance({ ...options, storedValues, setStoredValue });
 * ```
 */
import { describe, expect, it } from 'vitest';
import { erasedEventIdDigest } from '../identity/erasure.js';
import type { IdentifierKind } from '../identity/identifiers.js';
import { DEFAULT_CAPS, type ProfileLink, type StoredProfile } from '../identity/profiles.js';
import { newId } from '../ids.js';
import type { Store } from '../store.js';
import { erasureAudit } from '../testing/helpers.js';
import { freshStorePerCase } from './store/fresh-store.js';
import type { StoreConformanceOptions } from './store/index.js';

/** One identifier row's columns as the store keeps them (text, or null). */
export interface StoredIdentifierRow {
  value: string | null;
  last_seen_at: string | null;
}

export interface IdentifierStorageOptions extends StoreConformanceOptions {
  /** Each identifier row as the store keeps it, by `kind:key`. */
  storedRows: () => Promise<Map<string, StoredIdentifierRow>>;
  /**
   * Sets one column of one row: text as written before elision (JSON for `value`, an ISO time for
   * `last_seen_at`), or null for elided in the store's own way.
   */
  setStored: (
    kind: IdentifierKind,
    key: string,
    column: keyof StoredIdentifierRow,
    stored: string | null,
  ) => Promise<void>;
}

const t0 = Date.parse('2026-05-04T10:00:00.000Z');
const at = (ms: number) => new Date(t0 + ms).toISOString();
const digest = (c: string) => c.repeat(64);

/** One of each way a value is kept: raw kinds, a lone sha256 digest, and several digests. */
const VALUES: Record<string, { kind: IdentifierKind; key: string; value: unknown; elided: boolean }> = {
  anon: { kind: 'anonymous_id', key: 'anon-1', value: 'anon-1', elided: true },
  fbc: { kind: 'fbc', key: 'fb.1.1700000000000.Ab"c\\d', value: 'fb.1.1700000000000.Ab"c\\d', elided: true },
  email: { kind: 'email', key: digest('a'), value: { sha256: digest('a') }, elided: true },
  external: { kind: 'external_id', key: digest('b'), value: { sha256: digest('b') }, elided: true },
  phone: {
    kind: 'phone',
    key: digest('c'),
    value: { sha256: digest('c'), sha256_digits: digest('d') },
    elided: false,
  },
  // A raw kind whose value is not its key (no capture writes one; a store keeps it as given).
  user: { kind: 'user_id', key: 'u-1', value: 'someone-else', elided: false },
};
type Name = keyof typeof VALUES;

const link = (ms: number, names: Name[]): ProfileLink => ({
  identifiers: names.map((n) => {
    const v = VALUES[n]!;
    return { kind: v.kind, key: v.key, value: JSON.stringify(v.value), first_seen_at: at(ms) };
  }),
  seen_at: at(ms),
});

/** A profile's identifiers as `kind:key` → parsed value (stores may space JSON differently). */
const valuesOf = (p: StoredProfile | null | undefined) =>
  Object.fromEntries((p?.identifiers ?? []).map((i) => [`${i.kind}:${i.key}`, JSON.parse(i.value)]));
const expected = (names: Name[]) =>
  Object.fromEntries(names.map((n) => [`${VALUES[n]!.kind}:${VALUES[n]!.key}`, VALUES[n]!.value]));

// long-function: one list of it() cases over the store the adapter hands in; every store adapter runs it
export function runIdentifierStorageConformance(options: IdentifierStorageOptions): void {
  describe(`identifier storage conformance: ${options.name}`, () => {
    let store: Store;
    let clock = 0;
    const linkAll = (links: ProfileLink[]) =>
      store.linkProfiles({
        links,
        caps: DEFAULT_CAPS,
        newId: () => newId('profile', t0 + clock++),
        now: at(0),
      });
    freshStorePerCase(options, (s) => {
      store = s;
    });

    /** Each named identifier is kept elided, or whole, as VALUES says. */
    const expectKept = async (names: Name[]) => {
      const stored = await options.storedRows();
      for (const n of names) {
        const v = VALUES[n]!;
        const kept = stored.get(`${v.kind}:${v.key}`)?.value;
        if (v.elided) expect([null, ''], n).toContain(kept);
        else expect(JSON.parse(kept ?? 'null'), n).toEqual(v.value);
      }
    };

    it('keeps values its kind and key say elided, others whole, and reads each back as linked', async () => {
      const names = Object.keys(VALUES).filter((n) => n !== 'user') as Name[];
      const [id] = await linkAll([link(0, names)]);
      await expectKept(names);
      expect(valuesOf(await store.getProfile({ id: id! }))).toEqual(expected(names));
      const [found] = await store.findProfiles({ identifiers: [{ kind: 'email', key: digest('a') }] });
      expect(valuesOf(found)).toEqual(expected(names));
      // A raw kind whose value is not its key stays whole (its own profile: another user id).
      const [other] = await linkAll([link(10, ['user'])]);
      await expectKept(['user']);
      expect(valuesOf(await store.getProfile({ id: other! }))).toEqual(expected(['user']));
    });

    it('reads rows kept whole (written before elision) and rows kept elided alike', async () => {
      const names: Name[] = ['anon', 'fbc', 'email', 'external', 'phone'];
      const [id] = await linkAll([link(0, names)]);
      // As a store wrote them before elision: whole; and elided, whatever the store wrote.
      const set = (n: Name, column: keyof StoredIdentifierRow, stored: string | null) =>
        options.setStored(VALUES[n]!.kind, VALUES[n]!.key, column, stored);
      await set('anon', 'value', JSON.stringify(VALUES.anon!.value));
      await set('anon', 'last_seen_at', at(0));
      await set('email', 'value', JSON.stringify(VALUES.email!.value));
      await set('fbc', 'value', null);
      await set('fbc', 'last_seen_at', null);
      await set('external', 'value', null);
      const times = (p: StoredProfile | null | undefined) =>
        Object.fromEntries((p?.identifiers ?? []).map((i) => [i.kind, [i.first_seen_at, i.last_seen_at]]));
      expect(times(await store.getProfile({ id: id! }))).toEqual(
        Object.fromEntries(names.map((n) => [VALUES[n]!.kind, [at(0), at(0)]])),
      );
      expect(valuesOf(await store.getProfile({ id: id! }))).toEqual(expected(names));
      const [found] = await store.findProfiles({ identifiers: [{ kind: 'fbc', key: VALUES.fbc!.key }] });
      expect(valuesOf(found)).toEqual(expected(names));
      // Seen again by a later event: the same profile, the same values.
      expect(await linkAll([link(50, ['anon', 'external'])])).toEqual([id]);
      expect(valuesOf(await store.getProfile({ id: id! }))).toEqual(expected(names));
    });

    it('a merge moves elided and whole values alike', async () => {
      const [a] = await linkAll([link(0, ['anon', 'email'])]);
      const [b] = await linkAll([link(10, ['fbc', 'phone'])]);
      expect(a).not.toBe(b);
      // One event carries identifiers of both: b merges into a, the older.
      expect(await linkAll([link(20, ['email', 'fbc', 'external'])])).toEqual([a]);
      const names: Name[] = ['anon', 'email', 'fbc', 'phone', 'external'];
      await expectKept(names);
      const merged = await store.getProfile({ id: b! });
      expect(merged?.id).toBe(a);
      expect(valuesOf(merged)).toEqual(expected(names));
    });

    it('keeps a last-seen time equal to the first-seen one elided, and moves it only forwards', async () => {
      const lastSeen = async (n: Name) => {
        const [p] = await store.findProfiles({
          identifiers: [{ kind: VALUES[n]!.kind, key: VALUES[n]!.key }],
        });
        return p?.identifiers.find((i) => i.key === VALUES[n]!.key)?.last_seen_at;
      };
      const kept = async (n: Name) =>
        (await options.storedRows()).get(`${VALUES[n]!.kind}:${VALUES[n]!.key}`);
      // Seen first at 100: last = first, kept elided, read as the first-seen time.
      await linkAll([link(100, ['anon'])]);
      expect([null, '']).toContain((await kept('anon'))?.last_seen_at);
      expect(await lastSeen('anon')).toBe(at(100));
      // An older event, stored later: the identifier was still last seen at 100.
      await linkAll([link(50, ['anon'])]);
      expect(await lastSeen('anon')).toBe(at(100));
      // A newer one moves it, kept whole.
      await linkAll([link(200, ['anon'])]);
      expect(await lastSeen('anon')).toBe(at(200));
      expect([null, '']).not.toContain((await kept('anon'))?.last_seen_at);
      // First seen before the event (a click's time a cookie carries): last seen is kept whole.
      await linkAll([{ ...link(300, ['fbc']), identifiers: [{ ...link(10, ['fbc']).identifiers[0]! }] }]);
      expect(await lastSeen('fbc')).toBe(at(300));
      expect([null, '']).not.toContain((await kept('fbc'))?.last_seen_at);
    });

    it('erasure finds and deletes elided identifiers as it did whole ones', async () => {
      const names: Name[] = ['anon', 'email', 'phone'];
      await linkAll([link(0, names)]);
      await expectKept(names);
      const counts = await store.eraseProfiles({
        identifiers: [{ kind: 'anonymous_id', key: 'anon-1' }],
        given: [],
        eventIdDigest: erasedEventIdDigest('conformance-secret-key-0123456789'),
        now: at(5000),
        audit: erasureAudit(newId('audit', t0 + 5000), at(5000)),
      });
      expect(counts).toMatchObject({ profiles: 1, identifiers: 3 });
      expect(await store.findProfiles({ identifiers: [{ kind: 'email', key: digest('a') }] })).toEqual([]);
      expect((await options.storedRows()).size).toBe(0);
    });
  });
}
