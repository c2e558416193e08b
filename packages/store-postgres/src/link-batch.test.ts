/**
 * `linkProfiles` plans a call's links in memory and writes them at the end: the tables must end as
 * they do when the same links come one call at a time (each then reads what the one before wrote).
 */

import { DEFAULT_CAPS, type IdentifierKind, type ProfileLink } from '@openpipes/core/identity';
import { afterEach, describe, expect, it } from 'vitest';
import { postgresAvailable, query, testStores } from './testing.js';

const available = await postgresAvailable();
const stores = testStores('links', 2);
afterEach(stores.close);

/** A small deterministic generator (mulberry32), so a failure replays. */
function random(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Links over small pools of identifiers, so they overlap: merges, chains of merges within one call,
 * a second user id on a shared browser, kinds at their caps, times that go back as well as forward.
 */
function links(count: number, seed: number): ProfileLink[] {
  const next = random(seed);
  const pick = <T>(list: readonly T[]) => list[Math.floor(next() * list.length)]!;
  const base = Date.parse('2026-05-01T00:00:00.000Z');
  const kinds: Array<[IdentifierKind, number]> = [
    ['user_id', 6],
    ['anonymous_id', 25],
    ['email', 12],
    ['fbp', 30],
  ];
  return Array.from({ length: count }, (_, n) => {
    const identifiers: ProfileLink['identifiers'] = [];
    const seenAt = new Date(base + n * 60_000 - Math.floor(next() * 5) * 60_000).toISOString();
    for (const [kind, pool] of kinds) {
      if (next() < 0.5) continue;
      const key = `${kind}-${Math.floor(next() * pool)}`;
      identifiers.push({ kind, key, value: JSON.stringify(key), first_seen_at: seenAt });
    }
    return {
      event_ref: `evt_${String(n).padStart(26, '0')}`,
      identifiers,
      seen_at: seenAt,
      ...(next() < 0.5 ? { ip: pick(['203.0.113.7', '198.51.100.2']) } : {}),
      ...(next() < 0.5 ? { user_agent: pick(['Firefox', 'Chrome']) } : {}),
    };
  });
}

const tables = {
  profiles: 'SELECT id, merged_into, created_at, last_seen_at, ip, user_agent FROM %s.profiles ORDER BY id',
  profile_identifiers:
    'SELECT kind, key, profile_id, value, first_seen_at, last_seen_at FROM %s.profile_identifiers ORDER BY kind, key',
  profile_merges: 'SELECT merged_id, survivor_id, merged_at FROM %s.profile_merges ORDER BY merged_id',
  event_identifiers: 'SELECT kind, key, event_ref FROM %s.event_identifiers ORDER BY kind, key, event_ref',
};
const dump = async (schema: string) =>
  Object.fromEntries(
    await Promise.all(
      Object.entries(tables).map(async ([name, text]) => [
        name,
        await query(text.replace('%s', `"${schema}"`)),
      ]),
    ),
  );

describe.skipIf(!available)('linkProfiles: one call of many links', () => {
  it('leaves the same profiles, identifiers, merges and index as one call per link', async () => {
    const { store: a, schema: batched } = await stores.open();
    const { store: b, schema: oneByOne } = await stores.open();
    const now = '2026-05-02T00:00:00.000Z';
    const counter = (seed: number) => {
      let n = 0;
      return () => `pro_${seed}${String(++n).padStart(25, '0')}`;
    };
    for (const [seed, size] of [
      [1, 120],
      [2, 200],
    ] as const) {
      const list = links(size, seed);
      const idsA = counter(seed);
      const idsB = counter(seed);
      // Two calls on the batched side, so the second plans against what the first wrote.
      const half = Math.floor(list.length / 2);
      const outA = [
        ...(await a.linkProfiles({ links: list.slice(0, half), caps: DEFAULT_CAPS, newId: idsA, now })),
        ...(await a.linkProfiles({ links: list.slice(half), caps: DEFAULT_CAPS, newId: idsA, now })),
      ];
      const outB: Array<string | null> = [];
      for (const link of list) {
        outB.push(...(await b.linkProfiles({ links: [link], caps: DEFAULT_CAPS, newId: idsB, now })));
      }
      expect(outA).toEqual(outB);
      const [tablesA, tablesB] = await Promise.all([dump(batched), dump(oneByOne)]);
      expect(tablesA).toEqual(tablesB);
      // The generator did make the cases this is about.
      expect((tablesA.profile_merges as unknown[]).length).toBeGreaterThan(0);
      expect(
        (tablesA.profiles as Array<{ merged_into: string | null }>).filter((p) => p.merged_into !== null)
          .length,
      ).toBeGreaterThan(0);
    }
  });
});
