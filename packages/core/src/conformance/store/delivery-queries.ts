/** Store conformance: listing, counting and replaying deliveries. */
import { describe, expect, it } from 'vitest';
import { newId } from '../../ids.js';
import { at, newEvent, outcome, type Seeded, type StoreCases, t0 } from './fixtures.js';

// long-function: one list of it() cases over the store the adapter hands in; every store adapter runs it, the contract's executable spec
export function deliveryQueryCases(t: StoreCases): void {
  const { claimFor, seed } = t;

  /** Six events one second apart, each with its delivery to the one pipe; ids and times both increase. */
  const secondApart = async (sourceId: string, pipeRefs: Seeded['pipeRefs'], prefix: string) => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const deliveryId = newId('delivery', t0 + i * 1000);
      ids.push(deliveryId);
      await t.store.appendEvents({
        sourceId,
        events: [newEvent(`${prefix}_${i}`, { value: 1 }, t0 + i * 1000)],
        pipes: pipeRefs,
        deliveryIds: [deliveryId],
        dedupSince: null,
        now: at(i * 1000),
      });
    }
    return ids;
  };
  // long-function: one list of it() cases over the store the adapter hands in; every store adapter runs it, the contract's executable spec
  describe('events and deliveries', () => {
    it('lists deliveries with filters and cursor pagination, newest first', async () => {
      const { pipeRefs } = await seed(7, 1);
      const p = pipeRefs[0]!;
      const claimed = await claimFor(p, 'w', at(0), { limit: 2 });
      await t.store.completeDeliveries({
        owner: 'w',
        outcomes: claimed.map((c) => outcome(c, 'failed')),
        now: at(1),
      });
      const all: string[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await t.store.listDeliveries({ pipeId: p.pipe_id, limit: 3, cursor });
        all.push(...page.map((r) => r.id));
        if (page.length < 3) break;
        cursor = page[page.length - 1]!.id;
      }
      expect(all).toHaveLength(7);
      expect([...all].sort().reverse()).toEqual(all);
      expect(await t.store.listDeliveries({ pipeId: p.pipe_id, status: 'failed', limit: 10 })).toHaveLength(
        2,
      );
      expect(
        await t.store.listDeliveries({ pipeId: p.pipe_id, status: ['failed', 'pending'], limit: 10 }),
      ).toHaveLength(7);
      const byEvent = await t.store.listDeliveries({ pipeId: p.pipe_id, eventId: 'ord_3', limit: 10 });
      expect(byEvent.map((r) => r.event_id)).toEqual(['ord_3']);
      expect(await t.store.listDeliveries({ destinationId: p.destination_id, limit: 10 })).toHaveLength(7);
      expect(await t.store.listDeliveries({ pipeId: p.pipe_id, since: at(1), limit: 10 })).toHaveLength(0);
      expect(await t.store.listDeliveries({ pipeId: p.pipe_id, until: at(1), limit: 10 })).toHaveLength(7);
      // Times ids cannot encode (an ISO timestamp may say year 0000 or 9999+): before 1970 is
      // before every delivery, never a bound that lists or re-queues everything.
      const before1970 = '1969-12-31T23:59:59.000Z';
      expect(await t.store.listDeliveries({ pipeId: p.pipe_id, until: before1970, limit: 10 })).toHaveLength(
        0,
      );
      expect(await t.store.listDeliveries({ pipeId: p.pipe_id, since: before1970, limit: 10 })).toHaveLength(
        7,
      );
      expect(
        await t.store.listDeliveries({ pipeId: p.pipe_id, since: '0000-01-01T00:00:00.000Z', limit: 10 }),
      ).toHaveLength(7);
    });

    it('reconciles an event type over a period: events received, deliveries by status and filter reason', async () => {
      const { sourceId, pipeRefs } = await seed(3, 2);
      const [p, q] = pipeRefs as [(typeof pipeRefs)[0], (typeof pipeRefs)[0]];
      const [a, b, c] = await claimFor(p, 'w', at(0));
      await t.store.completeDeliveries({
        owner: 'w',
        outcomes: [
          outcome(a!, 'delivered'),
          outcome(b!, 'filtered', { filter_reason: 'consent' }),
          outcome(c!, 'dead'),
        ],
        now: at(1),
      });
      // Not counted: another type in the period, and the same type outside it.
      const other = { ...newEvent('cart_1'), event_type: 'add_to_cart' };
      const later = newEvent('ord_later', { value: 1 }, t0 + 3_600_000);
      for (const [event, now] of [
        [other, at(0)],
        [later, at(3_600_000)],
      ] as const) {
        await t.store.appendEvents({
          sourceId,
          events: [event],
          pipes: pipeRefs,
          deliveryIds: pipeRefs.map(() => newId('delivery', t0)),
          dedupSince: null,
          now,
        });
      }
      const result = await t.store.reconciliation({
        eventType: 'purchase',
        since: at(-1000),
        until: at(60_000),
      });
      expect(result.collected).toEqual([{ source_id: sourceId, count: 3 }]);
      const rows = (id: string) =>
        result.deliveries
          .filter((r) => r.pipe_id === id)
          .map((r) => [
            r.status,
            r.filter_reason,
            r.count,
            r.destination_id === (id === p.pipe_id ? p : q).destination_id,
          ]);
      expect(rows(p.pipe_id).sort()).toEqual(
        [
          ['dead', null, 1, true],
          ['delivered', null, 1, true],
          ['filtered', 'consent', 1, true],
        ].sort(),
      );
      expect(rows(q.pipe_id)).toEqual([['pending', null, 3, true]]);
      const empty = await t.store.reconciliation({
        eventType: 'refund',
        since: at(-1000),
        until: at(60_000),
      });
      expect(empty).toEqual({ collected: [], deliveries: [] });
      const wide = await t.store.reconciliation({
        eventType: 'purchase',
        since: at(-1000),
        until: at(7_200_000),
      });
      expect(wide.collected).toEqual([{ source_id: sourceId, count: 4 }]);
    });

    it('re-queues failed and dead deliveries for replay with a fresh retry budget', async () => {
      const { pipeRefs } = await seed(4, 1);
      const p = pipeRefs[0]!;
      const claimed = await claimFor(p, 'w', at(0));
      const [a, b, c, d] = claimed;
      await t.store.completeDeliveries({
        owner: 'w',
        outcomes: [outcome(a!, 'failed'), outcome(b!, 'dead'), outcome(c!, 'delivered'), outcome(d!, 'dead')],
        now: at(1),
      });
      const onlyB = await t.store.requeueDeliveries({
        pipeId: p.pipe_id,
        ids: [b!.id, c!.id],
        now: at(2),
        limit: 100,
      });
      expect(onlyB).toEqual([b!.id]);
      const rest = await t.store.requeueDeliveries({
        pipeId: p.pipe_id,
        statuses: ['dead'],
        pinnedPipeVersion: 3,
        now: at(3),
        limit: 100,
      });
      expect(rest).toEqual([d!.id]);
      const replayed = await t.store.getDelivery({ id: d!.id });
      expect(replayed?.row).toMatchObject({
        status: 'pending',
        pinned_pipe_version: 3,
        replayed_at: at(3),
        attempts_before_replay: 1,
        attempt_count: 1,
      });
      const again = await claimFor(p, 'w2', at(4));
      expect(again.map((x) => x.id).sort()).toEqual([b!.id, d!.id].sort());
    });

    it('counts deliveries by destination, pipe and status', async () => {
      const { pipeRefs } = await seed(3, 2);
      const stats = await t.store.deliveryStats();
      expect(stats).toHaveLength(2);
      for (const row of stats) {
        expect(row.status).toBe('pending');
        expect(row.count).toBe(3);
        expect(row.oldest_created_at).toBe(at(0));
        expect(pipeRefs.map((r) => r.pipe_id)).toContain(row.pipe_id);
      }
    });

    it('counts the live backlog per destination: pending, retrying and in flight, not final ones', async () => {
      const { pipeRefs } = await seed(4, 2);
      const [p, q] = pipeRefs as [(typeof pipeRefs)[number], (typeof pipeRefs)[number]];
      const before = Object.fromEntries((await t.store.backlog()).map((r) => [r.destination_id, r.count]));
      expect(before[p.destination_id]).toBe(4);
      const [a, b, c] = await claimFor(p, 'w', at(0), { limit: 3 });
      await t.store.completeDeliveries({
        owner: 'w',
        outcomes: [outcome(a!, 'delivered'), outcome(b!, 'retrying', { next_attempt_at: at(60_000) })],
        now: at(1),
      });
      // c is still claimed (sending): in flight counts; the delivered one does not.
      expect(c).toBeDefined();
      const after = Object.fromEntries((await t.store.backlog()).map((r) => [r.destination_id, r.count]));
      expect(after[p.destination_id]).toBe(3);
      if (q.destination_id !== p.destination_id) expect(after[q.destination_id]).toBe(4);
      await t.store.completeDeliveries({ owner: 'w', outcomes: [outcome(c!, 'dead')], now: at(2) });
      const last = Object.fromEntries((await t.store.backlog()).map((r) => [r.destination_id, r.count]));
      expect(last[p.destination_id]).toBe(2);
    });

    it('answers the newest delivery of each pipe in the statuses asked for, one per pipe, newest first', async () => {
      const { pipeRefs } = await seed(5, 3);
      const [p, q, r] = pipeRefs as [Seeded['pipeRefs'][0], Seeded['pipeRefs'][0], Seeded['pipeRefs'][0]];
      // Claimed oldest first: a < b < c < d by id (by creation); e stays pending.
      const [a, b, c, d] = await claimFor(p, 'w', at(0), { limit: 4 });
      await t.store.completeDeliveries({
        owner: 'w',
        outcomes: [
          outcome(a!, 'dead'),
          outcome(b!, 'retrying', { next_attempt_at: at(60_000) }),
          outcome(c!, 'failed'),
          outcome(d!, 'delivered'),
        ],
        now: at(1),
      });
      const [qa] = await claimFor(q, 'w', at(2), { limit: 1 });
      await t.store.completeDeliveries({ owner: 'w', outcomes: [outcome(qa!, 'dead')], now: at(3) });
      const errors = ['failed', 'dead', 'retrying'] as const;
      const pipeIds = pipeRefs.map((x) => x.pipe_id);
      const newest = await t.store.newestDeliveries({ pipeIds, statuses: [...errors] });
      // p: c (failed) is newer than b (retrying) and a (dead); q: its one dead; r: none (all pending).
      expect(newest.map((row) => [row.pipe_id, row.id, row.status])).toEqual(
        [
          [p.pipe_id, c!.id, 'failed'],
          [q.pipe_id, qa!.id, 'dead'],
        ].sort((x, y) => (x[1]! < y[1]! ? 1 : -1)),
      );
      expect(newest[0]).toMatchObject({ destination_id: expect.any(String), updated_at: expect.any(String) });
      // Each status on its own, and a pipe listed twice answers once.
      expect(
        (await t.store.newestDeliveries({ pipeIds: [p.pipe_id, p.pipe_id], statuses: ['dead'] })).map(
          (x) => x.id,
        ),
      ).toEqual([a!.id]);
      expect(
        (await t.store.newestDeliveries({ pipeIds: [p.pipe_id, r.pipe_id], statuses: ['pending'] }))
          .map((x) => x.pipe_id)
          .sort(),
      ).toEqual([p.pipe_id, r.pipe_id].sort());
      // A retry that succeeds leaves the status: the next newest answers (e, pending, goes too).
      const again = await claimFor(p, 'w', at(60_000));
      expect(again.map((x) => x.id)).toContain(b!.id);
      await t.store.completeDeliveries({
        owner: 'w',
        outcomes: again.map((x) => outcome(x, 'delivered')),
        now: at(60_001),
      });
      expect(
        (await t.store.newestDeliveries({ pipeIds, statuses: ['retrying', 'dead'] })).map((x) => x.id),
      ).toEqual([qa!.id, a!.id].sort().reverse());
      expect(await t.store.newestDeliveries({ pipeIds: [], statuses: [...errors] })).toEqual([]);
      expect(await t.store.newestDeliveries({ pipeIds, statuses: [] })).toEqual([]);
      expect(await t.store.newestDeliveries({ pipeIds: ['pip_unknown'], statuses: [...errors] })).toEqual([]);
    });

    it('counts final statuses too, and keeps the counts right through replay and pruning', async () => {
      const { pipeRefs, sourceId } = await seed(5, 1);
      const p = pipeRefs[0]!;
      const claimed = await claimFor(p, 'w', at(0), { limit: 4 });
      const [a, b, c, d] = claimed;
      await t.store.completeDeliveries({
        owner: 'w',
        outcomes: [
          outcome(a!, 'delivered'),
          outcome(b!, 'delivered'),
          outcome(c!, 'failed'),
          outcome(d!, 'retrying', { next_attempt_at: at(60_000) }),
        ],
        now: at(1),
      });
      // A stale owner's outcome changes nothing, counts included.
      await t.store.completeDeliveries({
        owner: 'someone-else',
        outcomes: [outcome(d!, 'dead')],
        now: at(2),
      });
      const counts = async () =>
        Object.fromEntries(
          (await t.store.deliveryStats())
            .filter((r) => r.pipe_id === p.pipe_id)
            .map((r) => [r.status, [r.count, r.oldest_created_at]]),
        );
      expect(await counts()).toEqual({
        delivered: [2, at(0)],
        failed: [1, at(0)],
        retrying: [1, at(0)],
        pending: [1, at(0)],
      });
      await t.store.requeueDeliveries({ pipeId: p.pipe_id, now: at(3), limit: 10 });
      expect(await counts()).toEqual({ delivered: [2, at(0)], retrying: [1, at(0)], pending: [2, at(0)] });
      await t.store.appendEvents({
        sourceId,
        events: [newEvent('later', { value: 1 }, t0 + 10_000)],
        pipes: pipeRefs,
        deliveryIds: [newId('delivery', t0 + 10_000)],
        dedupSince: null,
        now: at(10_000),
      });
      await t.store.prune({ before: at(5000), limit: 100 });
      expect(await counts()).toEqual({ pending: [1, at(10_000)] });
    });

    it('counts each destination of a pipe apart, each with its oldest row, after the pipe changed destination', async () => {
      const { sourceId, pipeRefs } = await seed(3, 1);
      const a = pipeRefs[0]!;
      const b = { pipe_id: a.pipe_id, destination_id: newId('destination', t0) };
      const append = (to: typeof a, eventId: string, ms: number) =>
        t.store.appendEvents({
          sourceId,
          events: [newEvent(eventId, { value: 1 }, t0 + ms)],
          pipes: [to],
          deliveryIds: [newId('delivery', t0 + ms)],
          dedupSince: null,
          now: at(ms),
        });
      await append(b, 'to_b_1', 5000);
      await append(b, 'to_b_2', 5001);
      const [a1, a2, a3] = await claimFor(a, 'w', at(6000));
      const toB = await claimFor(b, 'w', at(6000));
      await t.store.completeDeliveries({
        owner: 'w',
        outcomes: [
          outcome(a1!, 'delivered'),
          outcome(a2!, 'delivered'),
          outcome(a3!, 'dead'),
          ...toB.map((d) => outcome(d, 'delivered')),
        ],
        now: at(6001),
      });
      await append(a, 'to_a_later', 7000);
      const stats = async () =>
        (await t.store.deliveryStats())
          .filter((r) => r.pipe_id === a.pipe_id)
          .map((r) => [
            r.destination_id === a.destination_id ? 'a' : 'b',
            r.status,
            r.count,
            r.oldest_created_at,
          ])
          .sort((x, y) => (`${x[0]} ${x[1]}` < `${y[0]} ${y[1]}` ? -1 : 1));
      expect(await stats()).toEqual([
        ['a', 'dead', 1, at(0)],
        ['a', 'delivered', 2, at(0)],
        ['a', 'pending', 1, at(7000)],
        ['b', 'delivered', 2, at(5000)],
      ]);
      // Out of a final status and back into one: a replay, then the same outcome again.
      await t.store.requeueDeliveries({
        pipeId: a.pipe_id,
        statuses: ['delivered'],
        since: at(5000),
        now: at(8000),
        limit: 1,
      });
      expect(await stats()).toEqual([
        ['a', 'dead', 1, at(0)],
        ['a', 'delivered', 2, at(0)],
        ['a', 'pending', 1, at(7000)],
        ['b', 'delivered', 1, at(5001)],
        ['b', 'pending', 1, at(5000)],
      ]);
      const [again] = await claimFor(b, 'w', at(9000));
      await t.store.completeDeliveries({
        owner: 'w',
        outcomes: [outcome(again!, 'delivered')],
        now: at(9001),
      });
      expect((await stats()).filter((r) => r[0] === 'b')).toEqual([['b', 'delivered', 2, at(5000)]]);
    });

    it('re-queues the oldest failed and dead deliveries first across both statuses, and only inside a window', async () => {
      const { sourceId, pipeRefs } = await seed(0, 1);
      const p = pipeRefs[0]!;
      const ids = await secondApart(sourceId, pipeRefs, 'rq');
      const claimed = await claimFor(p, 'w', at(10_000));
      const statusOf = ['failed', 'dead', 'delivered', 'failed', 'dead', 'failed'] as const;
      await t.store.completeDeliveries({
        owner: 'w',
        outcomes: claimed.map((d) => outcome(d, statusOf[ids.indexOf(d.id)]!)),
        now: at(10_001),
      });
      const requeue = (extra: { since?: string; until?: string; limit: number }) =>
        t.store.requeueDeliveries({ pipeId: p.pipe_id, now: at(11_000), ...extra });
      expect(await requeue({ limit: 3 })).toEqual([ids[0], ids[1], ids[3]]);
      expect(await requeue({ since: at(3500), until: at(4500), limit: 10 })).toEqual([ids[4]]);
      expect(await requeue({ limit: 10 })).toEqual([ids[5]]);
      expect(await requeue({ limit: 10 })).toEqual([]);
    });

    it('lists deliveries inside a closed time window, newest first, with a status and a cursor', async () => {
      const { sourceId, pipeRefs } = await seed(0, 1);
      const p = pipeRefs[0]!;
      const ids = await secondApart(sourceId, pipeRefs, 'win');
      const window = { pipeId: p.pipe_id, since: at(1000), until: at(5000) };
      expect((await t.store.listDeliveries({ ...window, limit: 10 })).map((r) => r.id)).toEqual([
        ids[4],
        ids[3],
        ids[2],
        ids[1],
      ]);
      expect((await t.store.listDeliveries({ ...window, limit: 2 })).map((r) => r.id)).toEqual([
        ids[4],
        ids[3],
      ]);
      expect(
        (await t.store.listDeliveries({ ...window, cursor: ids[3], limit: 10 })).map((r) => r.id),
      ).toEqual([ids[2], ids[1]]);
      expect(await t.store.listDeliveries({ ...window, status: 'failed', limit: 10 })).toEqual([]);
      expect(
        (await t.store.listDeliveries({ ...window, status: ['failed', 'pending'], limit: 3 })).map(
          (r) => r.id,
        ),
      ).toEqual([ids[4], ids[3], ids[2]]);
    });
  });
}
