/**
 * Store conformance: several events linked in one `appendEvents` call are linked in order, each
 * against what the earlier ones wrote, as one call per event would link them. A store that plans a
 * call's links from one lookup made before any of them is written (SQLite does, for new people)
 * must not plan a later link from that stale picture: an identifier two events of the call share,
 * a known person beside new ones, and a merge made inside the call.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPS, type IdentifierKind } from '../../identity/index.js';
import type { ProfileLink } from '../../identity/profiles.js';
import { newId } from '../../ids.js';
import type { NewEvent } from '../../store.js';
import { at, newEvent, type StoreCases, t0 } from './fixtures.js';

type Ref = [kind: IdentifierKind, key: string];

/** A link of `event` carrying `refs`, seen at `ms` after t0. */
const linkOf = (event: NewEvent, refs: Ref[], ms = 0): ProfileLink => ({
  event_ref: event.id,
  identifiers: refs.map(([kind, key]) => ({ kind, key, value: JSON.stringify(key), first_seen_at: at(ms) })),
  ip: '203.0.113.9',
  seen_at: at(ms),
});

/** What the cases read and write through the store. */
function kitOf(t: StoreCases) {
  const holders = (kind: IdentifierKind, key: string) =>
    t.store.findProfiles({ identifiers: [{ kind, key }] });
  /** The id of the one live profile holding the identifier (fails when there is not exactly one). */
  const holderOf = async (kind: IdentifierKind, key: string) => {
    const found = await holders(kind, key);
    expect(found).toHaveLength(1);
    return found[0]!.id;
  };
  const eventsOf = async (kind: IdentifierKind, key: string) =>
    (await t.store.listPersonEvents({ identifiers: [{ kind, key }], limit: 10 }))
      .map((e) => e.event_ref)
      .sort();
  /** Stores `events` in ONE call, each linked with the identifiers given beside it. */
  const appendLinked = async (pairs: Array<[NewEvent, Ref[]]>) => {
    const { sourceId, pipeRefs } = await t.seed(0, 1);
    const events = pairs.map(([event]) => event);
    await t.store.appendEvents({
      sourceId,
      events,
      pipes: pipeRefs,
      deliveryIds: events.map(() => newId('delivery', t0)),
      dedupSince: at(-1000),
      now: at(10),
      identity: {
        links: pairs.map(([event, refs], n) => linkOf(event, refs, n)),
        index: [],
        caps: DEFAULT_CAPS,
        newId: () => newId('profile', t0),
        now: at(10),
      },
    });
  };
  return { holders, holderOf, eventsOf, appendLinked };
}

export function ingestIdentityFlushCases(t: StoreCases): void {
  const { holders, holderOf, eventsOf, appendLinked } = kitOf(t);
  describe('events linked in one call', () => {
    it('two new events sharing an identifier make one profile, and both are found by it', async () => {
      const [a, b] = [newEvent('ord_share_a'), newEvent('ord_share_b')];
      await appendLinked([
        [
          a,
          [
            ['email', 'flush-shared@x'],
            ['anonymous_id', 'flush-anon-a'],
          ],
        ],
        [
          b,
          [
            ['email', 'flush-shared@x'],
            ['anonymous_id', 'flush-anon-b'],
          ],
        ],
      ]);
      const id = await holderOf('email', 'flush-shared@x');
      expect(await holderOf('anonymous_id', 'flush-anon-a')).toBe(id);
      expect(await holderOf('anonymous_id', 'flush-anon-b')).toBe(id);
      const [profile] = await holders('email', 'flush-shared@x');
      // The shared identifier was first seen with the first event, and seen again with the second.
      expect(profile!.identifiers.find((i) => i.kind === 'email')).toMatchObject({
        first_seen_at: at(0),
        last_seen_at: at(1),
      });
      expect(await eventsOf('email', 'flush-shared@x')).toEqual([a.id, b.id].sort());
      expect(await eventsOf('anonymous_id', 'flush-anon-b')).toEqual([b.id]);
    });

    it('a known person between new ones: the known profile grows, each new person gets their own', async () => {
      const known = newEvent('ord_known_first');
      await appendLinked([[known, [['anonymous_id', 'flush-known']]]]);
      const knownId = await holderOf('anonymous_id', 'flush-known');
      const [n1, k, n2] = [newEvent('ord_new_1'), newEvent('ord_known_again'), newEvent('ord_new_2')];
      await appendLinked([
        [n1, [['anonymous_id', 'flush-new-1']]],
        [
          k,
          [
            ['anonymous_id', 'flush-known'],
            ['email', 'flush-known@x'],
          ],
        ],
        [n2, [['anonymous_id', 'flush-new-2']]],
      ]);
      expect(await holderOf('email', 'flush-known@x')).toBe(knownId);
      const ids = [
        await holderOf('anonymous_id', 'flush-new-1'),
        await holderOf('anonymous_id', 'flush-new-2'),
      ];
      expect(new Set([...ids, knownId]).size).toBe(3);
      expect(await eventsOf('anonymous_id', 'flush-known')).toEqual([known.id, k.id].sort());
      expect(await eventsOf('email', 'flush-known@x')).toEqual([k.id]);
      expect(await eventsOf('anonymous_id', 'flush-new-2')).toEqual([n2.id]);
    });

    it('a merge inside the call: a later event joining two new people merges them, a next new one stays apart', async () => {
      const [x, y, z, w] = ['x', 'y', 'z', 'w'].map((n) => newEvent(`ord_merge_${n}`)) as [
        NewEvent,
        NewEvent,
        NewEvent,
        NewEvent,
      ];
      await appendLinked([
        [x, [['anonymous_id', 'flush-merge-x']]],
        [y, [['email', 'flush-merge-y@x']]],
        [
          z,
          [
            ['anonymous_id', 'flush-merge-x'],
            ['email', 'flush-merge-y@x'],
            ['fbp', 'flush-merge-z'],
          ],
        ],
        [w, [['anonymous_id', 'flush-merge-w']]],
      ]);
      const id = await holderOf('anonymous_id', 'flush-merge-x');
      expect(await holderOf('email', 'flush-merge-y@x')).toBe(id);
      expect(await holderOf('fbp', 'flush-merge-z')).toBe(id);
      expect(await holderOf('anonymous_id', 'flush-merge-w')).not.toBe(id);
      const profile = await t.store.getProfile({ id });
      expect(profile?.merged).toHaveLength(1);
      expect(await eventsOf('anonymous_id', 'flush-merge-x')).toEqual([x.id, z.id].sort());
      expect(await eventsOf('email', 'flush-merge-y@x')).toEqual([y.id, z.id].sort());
    });

    it('an identifier carried twice by one new event is stored once, with that event', async () => {
      const e = newEvent('ord_twice');
      await appendLinked([
        [
          e,
          [
            ['anonymous_id', 'flush-twice'],
            ['anonymous_id', 'flush-twice'],
          ],
        ],
      ]);
      const [profile] = await holders('anonymous_id', 'flush-twice');
      expect(profile?.identifiers).toHaveLength(1);
      expect(await eventsOf('anonymous_id', 'flush-twice')).toEqual([e.id]);
    });
  });
}
