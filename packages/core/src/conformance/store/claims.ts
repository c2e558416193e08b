/** Store conformance: claiming due deliveries, leases, outcomes, retries and release. */
import { describe, expect, it } from 'vitest';
import { at, attempt, outcome, type StoreCases } from './fixtures.js';

// long-function: one list of it() cases over the store the adapter hands in; every store adapter runs it, the contract's executable spec
export function claimCases(t: StoreCases): void {
  const { claimFor, claimArgs, seed } = t;
  // long-function: one list of it() cases over the store the adapter hands in; every store adapter runs it, the contract's executable spec
  describe('events and deliveries', () => {
    it('claims due deliveries once, oldest first, only for the given pipes', async () => {
      const { pipeRefs } = await seed(5);
      const [p1, p2] = pipeRefs;
      const other = await t.store.claimDeliveries({
        destinationId: p1!.destination_id,
        pipeIds: [p2!.pipe_id],
        owner: 'w0',
        limit: 10,
        leaseMs: 1000,
        now: at(1),
      });
      expect(other).toEqual([]);
      const [a, b] = await Promise.all([
        claimFor(p1!, 'w1', at(1), { limit: 3 }),
        claimFor(p1!, 'w2', at(1), { limit: 3 }),
      ]);
      const ids = [...a, ...b].map((d) => d.id);
      expect(new Set(ids).size).toBe(5);
      expect(ids).toHaveLength(5);
      for (const d of [...a, ...b]) {
        expect(d.status).toBe('sending');
        expect(d.event.event_type).toBe('purchase');
        expect(d.event.event_payload).toEqual({ value: 1 });
        expect(d.lease_expires_at).toBe(at(60_001));
      }
      const none = await claimFor(p1!, 'w3', at(2));
      expect(none).toEqual([]);
    });

    it('hands a delivery whose lease expired to another worker, and refuses the old owner', async () => {
      const { pipeRefs } = await seed(1, 1);
      const p = pipeRefs[0]!;
      const [first] = await claimFor(p, 'dead-worker', at(0), { leaseMs: 1000 });
      expect(first).toBeDefined();
      const early = await claimFor(p, 'w2', at(999), { leaseMs: 1000 });
      expect(early).toEqual([]);
      const [taken] = await claimFor(p, 'w2', at(1000), { leaseMs: 1000 });
      expect(taken?.id).toBe(first!.id);
      const stale = await t.store.completeDeliveries({
        owner: 'dead-worker',
        outcomes: [outcome(first!, 'delivered')],
        now: at(1001),
      });
      expect(stale).toEqual({ applied: [], lost: [first!.id] });
      const fresh = await t.store.completeDeliveries({
        owner: 'w2',
        outcomes: [outcome(taken!, 'delivered')],
        now: at(1002),
      });
      expect(fresh).toEqual({ applied: [taken!.id], lost: [] });
    });

    it('records outcomes and attempts, and retries only when due', async () => {
      const { pipeRefs } = await seed(3, 1);
      const p = pipeRefs[0]!;
      const claim = (owner: string, now: string) => claimFor(p, owner, now);
      const claimed = await claim('w1', at(0));
      const [d1, d2, d3] = claimed;
      await t.store.completeDeliveries({
        owner: 'w1',
        outcomes: [
          outcome(d1!, 'delivered', { test_mode: true }),
          outcome(d2!, 'retrying', { next_attempt_at: at(5000) }),
          outcome(d3!, 'filtered'),
        ],
        now: at(100),
      });
      const one = await t.store.getDelivery({ id: d1!.id });
      expect(one?.row).toMatchObject({
        status: 'delivered',
        attempt_count: 1,
        pipe_version: 1,
        destination_version: 2,
        test_mode: true,
        delivered_at: at(1000),
        next_attempt_at: null,
        lease_owner: null,
      });
      expect(one?.row.detail.output).toEqual([{ event_type: 'purchase' }]);
      expect(one?.attempts).toEqual([attempt(1, 'delivered')]);
      const filtered = await t.store.getDelivery({ id: d3!.id });
      expect(filtered?.row.status).toBe('filtered');
      expect(filtered?.row.attempt_count).toBe(0);
      expect(filtered?.attempts).toEqual([]);

      expect(await t.store.nextRetryAt({ destinationId: p.destination_id })).toBe(at(5000));
      expect(await claim('w2', at(4999))).toEqual([]);
      const [retry] = await claim('w2', at(5000));
      expect(retry?.id).toBe(d2!.id);
      expect(retry?.attempt_count).toBe(1);
      await t.store.completeDeliveries({ owner: 'w2', outcomes: [outcome(retry!, 'dead')], now: at(6000) });
      const dead = await t.store.getDelivery({ id: d2!.id });
      expect(dead?.row.status).toBe('dead');
      expect(dead?.attempts.map((a) => a.number)).toEqual([1, 2]);
      expect(await t.store.nextRetryAt({ destinationId: p.destination_id })).toBeNull();
    });

    it('keeps why a delivery was filtered, only on filtered records, and forgets it on replay', async () => {
      const { pipeRefs } = await seed(3, 1);
      const p = pipeRefs[0]!;
      const [a, b, c] = await claimFor(p, 'w1', at(0));
      await t.store.completeDeliveries({
        owner: 'w1',
        outcomes: [
          outcome(a!, 'filtered', { filter_reason: 'consent' }),
          outcome(b!, 'filtered', { filter_reason: 'no_click_id' }),
          // A reason on another status is not stored: the field belongs to filtered records.
          outcome(c!, 'delivered', { filter_reason: 'consent' }),
        ],
        now: at(100),
      });
      const row = async (id: string) => (await t.store.getDelivery({ id }))!.row;
      expect((await row(a!.id)).filter_reason).toBe('consent');
      expect((await row(b!.id)).filter_reason).toBe('no_click_id');
      expect((await row(c!.id)).filter_reason).toBeNull();
      const listed = await t.store.listDeliveries({ pipeId: p.pipe_id, status: 'filtered', limit: 10 });
      expect(listed.map((r) => r.filter_reason).sort()).toEqual(['consent', 'no_click_id']);
      const byReason = await t.store.listDeliveries({
        pipeId: p.pipe_id,
        filterReason: 'consent',
        limit: 10,
      });
      expect(byReason.map((r) => r.id)).toEqual([a!.id]);
      // A replay of a filtered delivery makes it pending again: no reason until it is filtered again.
      const requeued = await t.store.requeueDeliveries({
        pipeId: p.pipe_id,
        ids: [a!.id],
        statuses: ['filtered'],
        now: at(200),
        limit: 10,
      });
      expect(requeued).toEqual([a!.id]);
      expect(await row(a!.id)).toMatchObject({ status: 'pending', filter_reason: null });
    });

    it('makes the retrying deliveries of one destination due now when asked to expedite them', async () => {
      const { pipeRefs } = await seed(2, 2);
      const [p1, p2] = pipeRefs;
      for (const p of [p1!, p2!]) {
        const claimed = await claimFor(p, 'w', at(0));
        await t.store.completeDeliveries({
          owner: 'w',
          outcomes: claimed.map((c) => outcome(c, 'retrying', { next_attempt_at: at(3_600_000) })),
          now: at(1),
        });
      }
      expect(await t.store.expediteRetries({ destinationId: p1!.destination_id, now: at(10) })).toBe(2);
      expect(await t.store.nextRetryAt({ destinationId: p1!.destination_id })).toBe(at(10));
      expect(await t.store.nextRetryAt({ destinationId: p2!.destination_id })).toBe(at(3_600_000));
      const due = await claimFor(p1!, 'w2', at(10));
      expect(due).toHaveLength(2);
    });

    it('extends only the leases its owner holds, so a long batch is not taken over', async () => {
      const { pipeRefs } = await seed(2, 1);
      const p = pipeRefs[0]!;
      const claim = (owner: string, now: string) => claimFor(p, owner, now, { leaseMs: 1000 });
      const held = await claim('w1', at(0));
      expect(held).toHaveLength(2);
      const ids = held.map((d) => d.id);
      expect(await t.store.extendLeases({ owner: 'w2', ids, until: at(60_000) })).toBe(0);
      expect(await t.store.extendLeases({ owner: 'w1', ids, until: at(60_000) })).toBe(2);
      // Past the first lease, but within the extended one: nobody else may take them.
      expect(await claim('w2', at(5000))).toEqual([]);
      const row = await t.store.getDelivery({ id: ids[0]! });
      expect(row?.row.lease_expires_at).toBe(at(60_000));
      expect(await claim('w2', at(60_000))).toHaveLength(2);
      expect(await t.store.extendLeases({ owner: 'w1', ids, until: at(120_000) })).toBe(0);
    });

    it('gives released deliveries back as pending without an attempt', async () => {
      const { pipeRefs } = await seed(2, 1);
      const p = pipeRefs[0]!;
      const claimed = await claimFor(p, 'w1', at(0));
      await t.store.releaseDeliveries({ owner: 'w2', ids: claimed.map((c) => c.id), now: at(1) });
      expect((await t.store.listDeliveries({ pipeId: p.pipe_id, status: 'sending', limit: 10 })).length).toBe(
        2,
      );
      await t.store.releaseDeliveries({ owner: 'w1', ids: claimed.map((c) => c.id), now: at(1) });
      const rows = await t.store.listDeliveries({ pipeId: p.pipe_id, limit: 10 });
      expect(
        rows.every((r) => r.status === 'pending' && r.attempt_count === 0 && r.lease_owner === null),
      ).toBe(true);
    });

    it('matches nothing with an empty list or a limit below 1', async () => {
      const { pipeRefs } = await seed(2, 1);
      const p = pipeRefs[0]!;
      expect(await t.store.listDeliveries({ pipeId: p.pipe_id, status: [], limit: 10 })).toEqual([]);
      expect(await t.store.listDeliveries({ pipeId: p.pipe_id, limit: 10 })).toHaveLength(2);
      expect(await t.store.claimDeliveries({ ...claimArgs(p), pipeIds: [] })).toEqual([]);
      expect(await t.store.claimDeliveries({ ...claimArgs(p), limit: 0 })).toEqual([]);
      const claimed = await claimFor(p, 'w1', at(0));
      await t.store.completeDeliveries({
        owner: 'w1',
        outcomes: claimed.map((c) => outcome(c, 'dead')),
        now: at(1),
      });
      const requeue = { pipeId: p.pipe_id, now: at(2), limit: 10 };
      expect(await t.store.requeueDeliveries({ ...requeue, ids: [] })).toEqual([]);
      expect(await t.store.requeueDeliveries({ ...requeue, statuses: [] })).toEqual([]);
      expect(await t.store.requeueDeliveries({ ...requeue, limit: 0 })).toEqual([]);
      expect(await t.store.requeueDeliveries({ ...requeue, limit: -1 })).toEqual([]);
      expect(await t.store.prune({ before: at(86_400_000), limit: 0 })).toEqual({
        events: 0,
        deliveries: 0,
        rejections: 0,
      });
      expect(await t.store.prune({ before: at(86_400_000), limit: -1 })).toEqual({
        events: 0,
        deliveries: 0,
        rejections: 0,
      });
      expect(await t.store.listDeliveries({ pipeId: p.pipe_id, status: 'dead', limit: 10 })).toHaveLength(2);
    });
  });
}
