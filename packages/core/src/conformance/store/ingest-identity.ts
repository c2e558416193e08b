/**
 * Store conformance: `appendEvents` with identity's writes (`AppendIdentity`): the links and index
 * entries of the events it stores are written in its transaction, a duplicate's are not, and a
 * failure of either stores nothing of the call, and nothing less of a call made at the same time
 * (SQLite commits such calls in one group, each in a savepoint of its own).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPS, type IdentifierKind } from '../../identity/index.js';
import type { ProfileLink } from '../../identity/profiles.js';
import { newId } from '../../ids.js';
import type { AppendIdentity, NewEvent } from '../../store.js';
import { at, newEvent, type Seeded, type StoreCases, t0 } from './fixtures.js';

const linkOf = (event_ref: string, kind: IdentifierKind, key: string): ProfileLink => ({
  event_ref,
  identifiers: [{ kind, key, value: JSON.stringify(key), first_seen_at: at(0) }],
  ip: '203.0.113.9',
  seen_at: at(0),
});

export function ingestIdentityCases(t: StoreCases): void {
  const { seed } = t;
  const identity = (
    links: ProfileLink[],
    index: AppendIdentity['index'] = [],
    makeId = () => newId('profile', t0),
  ): AppendIdentity => ({ links, index, caps: DEFAULT_CAPS, newId: makeId, now: at(10) });
  const holders = (kind: IdentifierKind, key: string) =>
    t.store.findProfiles({ identifiers: [{ kind, key }] });
  const indexed = (kind: IdentifierKind, key: string) =>
    t.store.listPersonEvents({ identifiers: [{ kind, key }], limit: 10 });
  /** Appends one event to a seeded source's pipes, with `withIdentity`'s writes when given. */
  const appendOne = (
    { sourceId, pipeRefs }: Pick<Seeded, 'sourceId' | 'pipeRefs'>,
    event: NewEvent,
    withIdentity?: AppendIdentity,
  ) =>
    t.store.appendEvents({
      sourceId,
      events: [event],
      pipes: pipeRefs,
      deliveryIds: [newId('delivery', t0)],
      dedupSince: at(-1000),
      now: at(10),
      ...(withIdentity && { identity: withIdentity }),
    });

  describe('events with their identity writes', () => {
    it('links and indexes the events it stores in the same call; a duplicate’s are dropped', async () => {
      const { sourceId, pipeRefs, events } = await seed(1, 1);
      const again = newEvent('ord_0'); // a duplicate of the seeded event
      const fresh = newEvent('ord_fresh');
      const results = await t.store.appendEvents({
        sourceId,
        events: [again, fresh],
        pipes: pipeRefs,
        deliveryIds: [newId('delivery', t0), newId('delivery', t0)],
        dedupSince: at(-1000),
        now: at(10),
        identity: identity(
          [linkOf(again.id, 'anonymous_id', 'anon-dup'), linkOf(fresh.id, 'anonymous_id', 'anon-fresh')],
          [
            { kind: 'gclid', key: 'withheld-dup', event_ref: again.id },
            { kind: 'gclid', key: 'withheld-fresh', event_ref: fresh.id },
          ],
        ),
      });
      expect(results).toEqual([
        { duplicate: true, id: events[0]!.id },
        { duplicate: false, id: fresh.id },
      ]);
      const [profile] = await holders('anonymous_id', 'anon-fresh');
      expect(profile).toMatchObject({ ip: '203.0.113.9' });
      expect(await holders('anonymous_id', 'anon-dup')).toEqual([]);
      // The linked identifier and the withheld one both index the stored event; nothing the duplicate's.
      expect((await indexed('anonymous_id', 'anon-fresh')).map((e) => e.event_ref)).toEqual([fresh.id]);
      expect((await indexed('gclid', 'withheld-fresh')).map((e) => e.event_ref)).toEqual([fresh.id]);
      expect(await indexed('anonymous_id', 'anon-dup')).toEqual([]);
      expect(await indexed('gclid', 'withheld-dup')).toEqual([]);
    });

    it('is all or nothing: when a link fails, no event of the call is stored', async () => {
      const seeded = await seed(0, 1);
      const event = newEvent('ord_atomic');
      const failing = identity([linkOf(event.id, 'anonymous_id', 'anon-atomic')], [], () => {
        throw new Error('no profile id today');
      });
      await expect(appendOne(seeded, event, failing)).rejects.toThrow();
      expect(await t.store.getEvent({ id: event.id })).toBeNull();
      expect(await holders('anonymous_id', 'anon-atomic')).toEqual([]);
      // The same events again without identity (what ingest does next) are stored.
      const again = await appendOne(seeded, event);
      expect(again).toEqual([{ duplicate: false, id: event.id }]);
    });

    it('a bad sender beside a good one: only the call whose identity writes fail is refused', async () => {
      const seeded = await seed(0, 1);
      const call = (event: NewEvent, anon: string, makeId?: () => string) =>
        appendOne(
          seeded,
          event,
          identity(
            [linkOf(event.id, 'anonymous_id', anon)],
            [{ kind: 'gclid', key: `withheld-${anon}`, event_ref: event.id }],
            makeId,
          ),
        );
      const good = newEvent('ord_good');
      const bad = newEvent('ord_bad');
      const other = newEvent('ord_other');
      // Issued together, not one after the other: on SQLite they share a group commit.
      const [g, b, o] = await Promise.allSettled([
        call(good, 'anon-good'),
        call(bad, 'anon-bad', () => {
          throw new Error('no profile id today');
        }),
        call(other, 'anon-other'),
      ]);
      expect(g).toEqual({ status: 'fulfilled', value: [{ duplicate: false, id: good.id }] });
      expect(o).toEqual({ status: 'fulfilled', value: [{ duplicate: false, id: other.id }] });
      expect(b).toMatchObject({ status: 'rejected', reason: { message: 'no profile id today' } });
      for (const [event, anon] of [
        [good, 'anon-good'],
        [other, 'anon-other'],
      ] as const) {
        expect(await t.store.getEvent({ id: event.id })).not.toBeNull();
        expect(await holders('anonymous_id', anon)).toHaveLength(1);
        expect((await indexed('gclid', `withheld-${anon}`)).map((e) => e.event_ref)).toEqual([event.id]);
      }
      expect(await t.store.getEvent({ id: bad.id })).toBeNull();
      expect(await holders('anonymous_id', 'anon-bad')).toEqual([]);
      expect(await indexed('gclid', 'withheld-anon-bad')).toEqual([]);
    });
  });
}
