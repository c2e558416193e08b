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

export interface IdentifierStorageOptions extends StoreConformanceOptions {
  /** Each identifier row's `value` column as the store keeps it (text, or null), by `kind:key`. */
  storedValues: () => Promise<Map<string, string | null>>;
  /** Sets one row's `value` column: JSON text as written before elision, or null for elided. */
  setStoredValue: (kind: IdentifierKind, key: string, value: string | null) => Promise<void>;
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
      const stored = await options.storedValues();
      for (const n of names) {
        const v = VALUES[n]!;
        const kept = stored.get(`${v.kind}:${v.key}`);
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
      await options.setStoredValue('anonymous_id', VALUES.anon!.key, JSON.stringify(VALUES.anon!.value));
      await options.setStoredValue('email', VALUES.email!.key, JSON.stringify(VALUES.email!.value));
      await options.setStoredValue('fbc', VALUES.fbc!.key, null);
      await options.setStoredValue('external_id', VALUES.external!.key, null);
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
      expect((await options.storedValues()).size).toBe(0);
    });
  });
}
