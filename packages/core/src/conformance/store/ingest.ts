/** Store conformance: appending events (one delivery per pipe), deduplication, exact payloads, pruning. */
import { describe, expect, it } from 'vitest';
import { newId } from '../../ids.js';
import { at, expectCode, newEvent, outcome, type StoreCases, t0 } from './fixtures.js';

// long-function: one list of it() cases over the store the adapter hands in; every store adapter runs it, the contract's executable spec
export function ingestCases(t: StoreCases): void {
  const { claimFor, seed } = t;
  // long-function: one list of it() cases over the store the adapter hands in; every store adapter runs it, the contract's executable spec
  describe('events and deliveries', () => {
    it('appends events with one pending delivery per pipe, in one call', async () => {
      const { events, pipeRefs, results, deliveryIds } = await seed(3);
      expect(results).toEqual(events.map((e) => ({ duplicate: false, id: e.id })));
      const rows = await t.store.listDeliveries({ pipeId: pipeRefs[0]!.pipe_id, limit: 10 });
      expect(rows).toHaveLength(3);
      expect(rows.every((r) => r.status === 'pending' && r.attempt_count === 0)).toBe(true);
      // newest first
      expect(rows.map((r) => r.id)).toEqual([deliveryIds[4], deliveryIds[2], deliveryIds[0]]);
      const stored = await t.store.getEvent({ id: events[1]!.id });
      expect(stored).toMatchObject({
        event_id: 'ord_1',
        event_type: 'purchase',
        event_payload: { value: 1 },
      });
    });

    it('deduplicates sender event ids within the window and within one call', async () => {
      const { sourceId, pipeRefs, events } = await seed(1, 1);
      const again = newEvent('ord_0');
      const twiceInCall = [newEvent('ord_new'), newEvent('ord_new')];
      const generated = newEvent();
      const results = await t.store.appendEvents({
        sourceId,
        events: [again, ...twiceInCall, generated],
        pipes: pipeRefs,
        deliveryIds: Array.from({ length: 4 }, () => newId('delivery', t0)),
        dedupSince: at(-1000),
        now: at(10),
      });
      expect(results).toEqual([
        { duplicate: true, id: events[0]!.id },
        { duplicate: false, id: twiceInCall[0]!.id },
        { duplicate: true, id: twiceInCall[0]!.id },
        { duplicate: false, id: generated.id },
      ]);
      expect(await t.store.listDeliveries({ pipeId: pipeRefs[0]!.pipe_id, limit: 10 })).toHaveLength(3);
      // Outside the window (or with dedup off) the same id is a new event.
      const later = await t.store.appendEvents({
        sourceId,
        events: [newEvent('ord_0')],
        pipes: pipeRefs,
        deliveryIds: [newId('delivery', t0)],
        dedupSince: at(5),
        now: at(100_000),
      });
      expect(later[0]?.duplicate).toBe(false);
      const off = await t.store.appendEvents({
        sourceId,
        events: [newEvent('ord_0')],
        pipes: pipeRefs,
        deliveryIds: [newId('delivery', t0)],
        dedupSince: null,
        now: at(100_001),
      });
      expect(off[0]?.duplicate).toBe(false);
    });

    it('keeps appends made at once apart: one that fails stores nothing and fails no other', async () => {
      const { sourceId, pipeRefs } = await seed(0, 1);
      const append = (events: ReturnType<typeof newEvent>[], n: number) =>
        t.store.appendEvents({
          sourceId,
          events,
          pipes: pipeRefs,
          deliveryIds: events.map(() => newId('delivery', t0 + n)),
          dedupSince: at(-1000),
          now: at(n),
        });
      const first = newEvent('ord_first');
      const clash = { ...newEvent('ord_clash'), id: first.id }; // the same stored id: refused
      const third = [newEvent('ord_third_a'), newEvent('ord_third_b')];
      const settled = await Promise.allSettled([append([first], 1), append([clash], 2), append(third, 3)]);
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect((settled[0] as PromiseFulfilledResult<unknown>).value).toEqual([
        { duplicate: false, id: first.id },
      ]);
      expect((settled[2] as PromiseFulfilledResult<unknown>).value).toEqual(
        third.map((e) => ({ duplicate: false, id: e.id })),
      );
      expect((await t.store.getEvent({ id: first.id }))?.event_id).toBe('ord_first');
      const rows = await t.store.listDeliveries({ pipeId: pipeRefs[0]!.pipe_id, limit: 10 });
      expect(rows.map((r) => r.event_id).sort()).toEqual(['ord_first', 'ord_third_a', 'ord_third_b']);
      // Many calls at once, each one event (single-event collect requests): every one is stored.
      const many = Array.from({ length: 40 }, (_, i) => newEvent(`ord_many_${i}`));
      const results = await Promise.all(many.map((e, i) => append([e], 10 + i)));
      expect(results).toEqual(many.map((e) => [{ duplicate: false, id: e.id }]));
      expect(await t.store.listDeliveries({ pipeId: pipeRefs[0]!.pipe_id, limit: 100 })).toHaveLength(43);
    });

    it('refuses delivery ids that do not match events times pipes, storing nothing', async () => {
      const sourceId = newId('source', t0);
      const pipes = [{ pipe_id: newId('pipe', t0), destination_id: newId('destination', t0) }];
      await expectCode(
        t.store.appendEvents({
          sourceId,
          events: [newEvent('ord_a'), newEvent('ord_b')],
          pipes,
          deliveryIds: [newId('delivery', t0)],
          dedupSince: null,
          now: at(0),
        }),
        'INTERNAL',
      );
      expect(await t.store.listDeliveries({ pipeId: pipes[0]!.pipe_id, limit: 10 })).toEqual([]);
    });

    it('returns event payloads and delivery details exactly: key order, unicode, escapes, numbers', async () => {
      const payload = {
        z: 1,
        a: { y: [3, 2, 1], q: 'quote " back \\ slash' },
        e: 'émoji 🎯 ☃',
        n: -0.5,
        big: 1e21,
      };
      const { pipeRefs, sourceId } = await seed(0, 1);
      const p = pipeRefs[0]!;
      const event = newEvent('json', payload);
      await t.store.appendEvents({
        sourceId,
        events: [event],
        pipes: pipeRefs,
        deliveryIds: [newId('delivery', t0)],
        dedupSince: null,
        now: at(0),
      });
      expect(JSON.stringify((await t.store.getEvent({ id: event.id }))?.event_payload)).toBe(
        JSON.stringify(payload),
      );
      const [claimed] = await claimFor(p, 'w', at(0), { limit: 1 });
      expect(JSON.stringify(claimed?.event.event_payload)).toBe(JSON.stringify(payload));
      const detail = {
        output: [payload],
        request: { url: 'u', payload },
        response: { body: payload },
        error: null,
      };
      await t.store.completeDeliveries({
        owner: 'w',
        outcomes: [outcome(claimed!, 'delivered', { detail })],
        now: at(1),
      });
      const record = await t.store.getDelivery({ id: claimed!.id });
      expect(JSON.stringify(record?.row.detail)).toBe(JSON.stringify(detail));
    });

    it('prunes events received before a time with their deliveries and attempts', async () => {
      const { pipeRefs, events, sourceId } = await seed(3, 1);
      const p = pipeRefs[0]!;
      const claimed = await claimFor(p, 'w', at(0), { limit: 1 });
      await t.store.completeDeliveries({
        owner: 'w',
        outcomes: [outcome(claimed[0]!, 'delivered')],
        now: at(1),
      });
      const recent = newEvent('recent', { value: 1 }, t0 + 10_000);
      await t.store.appendEvents({
        sourceId,
        events: [recent],
        pipes: pipeRefs,
        deliveryIds: [newId('delivery', t0 + 10_000)],
        dedupSince: null,
        now: at(10_000),
      });
      const first = await t.store.prune({ before: at(5000), limit: 2 });
      expect(first).toEqual({ events: 2, deliveries: 2, rejections: 0 });
      const second = await t.store.prune({ before: at(5000), limit: 2 });
      expect(second).toEqual({ events: 1, deliveries: 1, rejections: 0 });
      expect(await t.store.getEvent({ id: events[0]!.id })).toBeNull();
      expect(await t.store.getEvent({ id: recent.id })).not.toBeNull();
      expect(await t.store.getDelivery({ id: claimed[0]!.id })).toBeNull();
      expect(await t.store.listDeliveries({ pipeId: p.pipe_id, limit: 10 })).toHaveLength(1);
    });
  });
}
