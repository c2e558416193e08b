/**
 * Store conformance: listing deliveries by the sender's event id (`listDeliveries({ eventId })`).
 * Each listing is compared with the whole history filtered here, so a store that finds the rows
 * another way (through the events rather than an index of deliveries) lists exactly the same.
 */
import { describe, expect, it } from 'vitest';
import { erasedEventIdDigest } from '../../identity/erasure.js';
import { DEFAULT_CAPS } from '../../identity/profiles.js';
import { newId } from '../../ids.js';
import type { DeliveryRow, IdentifierRef, ListDeliveriesQuery, NewEvent, Store } from '../../store.js';
import { erasureAudit } from '../../testing/helpers.js';
import { at, newEvent, outcome, type StoreCases, t0 } from './fixtures.js';

type Pipe = { pipe_id: string; destination_id: string };

/** What `query` should list, taken from `history` (every row, newest first) by the contract. */
export function expectedListing(
  history: Array<
    Pick<DeliveryRow, 'id' | 'pipe_id' | 'destination_id' | 'event_id' | 'status' | 'created_at'>
  >,
  query: ListDeliveriesQuery,
): string[] {
  const statuses = query.status === undefined ? null : [query.status].flat();
  return history
    .filter(
      (r) =>
        (!query.pipeId || r.pipe_id === query.pipeId) &&
        (!query.destinationId || r.destination_id === query.destinationId) &&
        (!query.eventId || r.event_id === query.eventId) &&
        (!statuses || statuses.includes(r.status)) &&
        (!query.since || r.created_at >= query.since) &&
        (!query.until || r.created_at < query.until) &&
        (!query.cursor || r.id < query.cursor),
    )
    .slice(0, query.limit)
    .map((r) => r.id);
}

// long-function: one list of it() cases over the store the adapter hands in; every store adapter runs it, the contract's executable spec
export function deliveriesByEventIdCases(t: StoreCases): void {
  const pipeA: Pipe = { pipe_id: newId('pipe', t0), destination_id: newId('destination', t0) };
  const pipeB: Pipe = { pipe_id: newId('pipe', t0), destination_id: newId('destination', t0) };
  let clock = 0;
  /** Appends events of `sourceId` (no dedup) with one delivery per pipe each. */
  const append = async (sourceId: string, events: NewEvent[], pipes: Pipe[] = [pipeA, pipeB]) => {
    clock += 1000;
    await t.store.appendEvents({
      sourceId,
      events,
      pipes,
      deliveryIds: events.flatMap(() => pipes.map(() => newId('delivery', t0 + clock))),
      dedupSince: null,
      now: at(clock),
    });
  };
  const ids = (rows: DeliveryRow[]) => rows.map((r) => r.id);
  /** Lists `query` and checks it against the whole history filtered by the contract. */
  const listsAsHistory = async (query: ListDeliveriesQuery) => {
    const history = await t.store.listDeliveries({ limit: 1000 });
    const listed = ids(await t.store.listDeliveries(query));
    expect(listed).toEqual(expectedListing(history, query));
    return listed;
  };

  describe('deliveries by the sender’s event id', () => {
    it('lists an event’s deliveries on two pipes, and only that event’s', async () => {
      const source = newId('source', t0);
      const order = newEvent('ord-1');
      await append(source, [newEvent('ord-0'), order, newEvent('ord-2')]);
      const listed = await listsAsHistory({ eventId: 'ord-1', limit: 10 });
      expect(listed).toHaveLength(2);
      const rows = await t.store.listDeliveries({ eventId: 'ord-1', limit: 10 });
      expect(rows.map((r) => r.event_ref)).toEqual([order.id, order.id]);
      expect(await t.store.listDeliveries({ eventId: 'ord-9', limit: 10 })).toEqual([]);
    });

    it('lists an event sent without an id by its own id, and not one sent with an id by its own', async () => {
      const source = newId('source', t0);
      const anonymous = newEvent();
      const named = newEvent('ord-1');
      await append(source, [anonymous, named]);
      expect(await listsAsHistory({ eventId: anonymous.id, limit: 10 })).toHaveLength(2);
      expect(await t.store.listDeliveries({ eventId: named.id, limit: 10 })).toEqual([]);
      // A sender's id that is another event's own id lists the sender's event only.
      const mimic = newEvent(anonymous.id, { value: 1 }, t0 + 1);
      await append(source, [mimic], [pipeA]);
      const both = await listsAsHistory({ eventId: anonymous.id, limit: 10 });
      expect(both).toHaveLength(3);
    });

    it('lists every event with that id: re-sent after the dedup window, and from two sources, one gone', async () => {
      const [first, second] = [newId('source', t0), newId('source', t0 + 1)];
      await append(first, [newEvent('ord-1'), newEvent('ord-2')]);
      await append(first, [newEvent('ord-1', { value: 2 }, t0 + 10)]);
      // Sources are not entities here: a store must find events whose source no longer exists.
      await append(second, [newEvent('ord-1', { value: 3 }, t0 + 20)], [pipeB]);
      await append(newId('source', t0 + 2), [newEvent('ord-3', { value: 3 }, t0 + 30)]);
      const listed = await listsAsHistory({ eventId: 'ord-1', limit: 10 });
      expect(listed).toHaveLength(5);
      expect(await listsAsHistory({ eventId: 'ord-1', pipeId: pipeB.pipe_id, limit: 10 })).toHaveLength(3);
      expect(
        await listsAsHistory({ eventId: 'ord-1', destinationId: pipeA.destination_id, limit: 10 }),
      ).toHaveLength(2);
    });

    it('matches the id exactly: LIKE wildcards, other letter cases, quotes, the longest ids', async () => {
      // Ids a store must not read as a pattern (PostgreSQL's tombstones are `LIKE 'erased:%'`),
      // nor fold in case (SQLite's LIKE would), each beside the ids it would then be taken for.
      const odd = ['erased:%', 'erased_x', 'erased:x', 'ERASED:x', '%', 'a_b', 'A_B', "o'x", 'x'.repeat(256)];
      await append(
        newId('source', t0),
        odd.map((id, i) => newEvent(id, { value: i })),
        [pipeA],
      );
      for (const eventId of [
        ...odd,
        'erased%',
        '_%',
        'erased:_',
        'ERASED:%',
        'x'.repeat(255),
        'x'.repeat(4000),
      ]) {
        const listed = await listsAsHistory({ eventId, limit: 10 });
        expect(listed, eventId.slice(0, 20)).toHaveLength(odd.includes(eventId) ? 1 : 0);
      }
    });

    it('combines the event id with the status, the time window and the cursor, page by page', async () => {
      const source = newId('source', t0);
      const start = clock;
      for (let i = 0; i < 4; i++) await append(source, [newEvent('ord-1', { value: i }, t0 + i)]);
      await append(source, [newEvent('ord-2')]);
      const claimed = await t.claimFor(pipeA, 'w', at(clock), { limit: 3 });
      await t.store.completeDeliveries({
        owner: 'w',
        outcomes: claimed.map((c, i) => outcome(c, i === 0 ? 'failed' : 'delivered')),
        now: at(clock + 1),
      });
      expect(await listsAsHistory({ eventId: 'ord-1', status: 'delivered', limit: 10 })).toHaveLength(2);
      expect(
        await listsAsHistory({ eventId: 'ord-1', status: ['failed', 'pending'], limit: 10 }),
      ).toHaveLength(6);
      await listsAsHistory({ eventId: 'ord-1', pipeId: pipeA.pipe_id, status: 'pending', limit: 10 });
      const paged: string[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await listsAsHistory({ eventId: 'ord-1', limit: 3, ...(cursor ? { cursor } : {}) });
        paged.push(...page);
        if (page.length < 3) break;
        cursor = page[page.length - 1];
      }
      expect(paged).toEqual(await listsAsHistory({ eventId: 'ord-1', limit: 100 }));
      expect(paged).toHaveLength(8);
      // Delivery ids are made at creation: the window holds the second and third appends' rows.
      const window = { since: at(start + 2000), until: at(start + 4000) };
      expect(await listsAsHistory({ eventId: 'ord-1', ...window, limit: 10 })).toHaveLength(4);
      expect(await listsAsHistory({ eventId: 'ord-1', ...window, status: 'pending', limit: 1 })).toHaveLength(
        1,
      );
    });
  });
}

const planDigest = erasedEventIdDigest('plan-test-secret-key-0123456789abc');

/**
 * A history for a store's own plan and migration tests of the listing by event id: `count` events
 * over three sources, two deliveries each, in batches a second apart; sender ids repeat across
 * sources and after the dedup window, every fifth event has none, every seventh sends one starting
 * with `erased:`, and the person behind three of them is erased (tombstones). Answers listings
 * that cover each way a delivery is found, alone and with the other filters.
 */
export async function fillEventIdHistory(store: Store, count = 600): Promise<ListDeliveriesQuery[]> {
  const pipes: Pipe[] = [0, 1].map(() => ({
    pipe_id: newId('pipe', t0),
    destination_id: newId('destination', t0),
  }));
  const sources = [0, 1, 2].map((i) => newId('source', t0 + i));
  const senderId = (i: number) => (i % 7 === 0 ? `erased:ord-${i % 50}` : `ord-${i % (count / 3)}`);
  const events: NewEvent[] = [];
  for (let batch = 0; batch * 100 < count; batch++) {
    const now = t0 + batch * 1000;
    const part = Array.from({ length: Math.min(100, count - batch * 100) }, (_, k) => {
      const i = batch * 100 + k;
      return newEvent(i % 5 === 0 ? undefined : senderId(i), { value: i }, now);
    });
    events.push(...part);
    await store.appendEvents({
      sourceId: sources[batch % 3]!,
      events: part,
      pipes,
      deliveryIds: part.flatMap(() => pipes.map(() => newId('delivery', now))),
      dedupSince: null,
      now: new Date(now).toISOString(),
    });
  }
  const person: IdentifierRef = { kind: 'anonymous_id', key: 'anon-plan' };
  const erased = [events[1]!, events[2]!, events[7]!];
  await store.linkProfiles({
    links: erased.map((e) => ({
      event_ref: e.id,
      identifiers: [{ ...person, value: JSON.stringify(person.key), first_seen_at: at(0) }],
      seen_at: at(0),
    })),
    caps: DEFAULT_CAPS,
    newId: () => newId('profile', t0),
    now: at(0),
  });
  await store.eraseProfiles({
    identifiers: [person],
    given: [],
    eventIdDigest: planDigest,
    now: at(count * 10),
    audit: erasureAudit(newId('audit', t0), at(count * 10)),
  });
  const [p0, p1] = pipes as [Pipe, Pipe];
  const repeated = senderId(3);
  return [
    { eventId: repeated, limit: 50 },
    { eventId: repeated, pipeId: p0.pipe_id, limit: 50 },
    { eventId: repeated, destinationId: p1.destination_id, status: ['pending', 'failed'], limit: 50 },
    { eventId: repeated, limit: 1 },
    { eventId: repeated, limit: 50, since: at(1000), until: at(count * 10) },
    { eventId: senderId(14), limit: 50 },
    { eventId: senderId(14), pipeId: p1.pipe_id, status: 'pending', limit: 2 },
    { eventId: events[5]!.id, limit: 50 },
    { eventId: events[6]!.id, limit: 50 },
    { eventId: planDigest(senderId(1)), limit: 50 },
    { eventId: planDigest(senderId(7)), pipeId: p0.pipe_id, limit: 50 },
    { eventId: planDigest(senderId(7)), limit: 1, cursor: newId('delivery', t0 + 1) },
    { eventId: 'ord-absent', limit: 50 },
    { eventId: 'erased:absent', limit: 50 },
  ];
}
