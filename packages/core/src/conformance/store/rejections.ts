/** Store conformance: the rejection log (bounded per source, newest first, pruned) and a source's events. */
import { describe, expect, it } from 'vitest';
import { newId } from '../../ids.js';
import type { NewRejection } from '../../store.js';
import { at, newEvent, type StoreCases, t0 } from './fixtures.js';

function rejection(n: number, time = t0): NewRejection {
  return {
    id: newId('rejection', time),
    error: {
      code: 'VALIDATION_FAILED',
      message: `event_payload.value: expected number (${n})`,
      issues: [{ path: 'event_payload.value', message: 'expected number' }],
    },
    event: `{"event_type":"purchase","n":${n},"text":"é \\u0000 ✓"}`,
    truncated: n % 2 === 1,
  };
}

export function rejectionCases(t: StoreCases): void {
  describe('rejection log', () => {
    it('appends a request’s rejections in one call and lists them newest first, page by page', async () => {
      const sourceId = newId('source', t0);
      const other = newId('source', t0);
      const first = [rejection(0), rejection(1), rejection(2)];
      await t.store.appendRejections({ sourceId, rejections: first, keep: 100, now: at(0) });
      await t.store.appendRejections({ sourceId: other, rejections: [rejection(9)], keep: 100, now: at(0) });
      const page = await t.store.listRejections({ sourceId, limit: 2 });
      expect(page.map((r) => r.id)).toEqual([first[2]!.id, first[1]!.id]);
      expect(page[1]).toEqual({ ...first[1]!, source_id: sourceId, received_at: at(0) });
      const rest = await t.store.listRejections({ sourceId, limit: 2, cursor: page[1]!.id });
      expect(rest).toEqual([{ ...first[0]!, source_id: sourceId, received_at: at(0) }]);
      expect(await t.store.listRejections({ sourceId: other, limit: 10 })).toHaveLength(1);
    });

    it('keeps only the newest `keep` rejections of a source, whatever a flood sends', async () => {
      const sourceId = newId('source', t0);
      const other = newId('source', t0);
      await t.store.appendRejections({ sourceId: other, rejections: [rejection(0)], keep: 3, now: at(0) });
      const all = Array.from({ length: 8 }, (_, i) => rejection(i));
      await t.store.appendRejections({ sourceId, rejections: all.slice(0, 5), keep: 3, now: at(0) });
      expect((await t.store.listRejections({ sourceId, limit: 10 })).map((r) => r.id)).toEqual(
        [all[4], all[3], all[2]].map((r) => r!.id),
      );
      await t.store.appendRejections({ sourceId, rejections: all.slice(5), keep: 3, now: at(1) });
      expect((await t.store.listRejections({ sourceId, limit: 10 })).map((r) => r.id)).toEqual(
        [all[7], all[6], all[5]].map((r) => r!.id),
      );
      // Another source's log is its own.
      expect(await t.store.listRejections({ sourceId: other, limit: 10 })).toHaveLength(1);
      // Nothing to store, or a cap below one: nothing stored.
      await t.store.appendRejections({ sourceId, rejections: [], keep: 3, now: at(2) });
      await t.store.appendRejections({ sourceId: other, rejections: [rejection(1)], keep: 0, now: at(2) });
      expect(await t.store.listRejections({ sourceId: other, limit: 10 })).toHaveLength(1);
    });

    it('prunes rejections refused before a time, counted apart from events', async () => {
      const sourceId = newId('source', t0);
      const old = [rejection(0, t0), rejection(1, t0 + 1), rejection(2, t0 + 2)];
      const recent = rejection(3, t0 + 10_000);
      await t.store.appendRejections({ sourceId, rejections: [...old, recent], keep: 100, now: at(0) });
      expect(await t.store.prune({ before: at(5000), limit: 2 })).toEqual({
        events: 0,
        deliveries: 0,
        rejections: 2,
      });
      expect(await t.store.prune({ before: at(5000), limit: 2 })).toEqual({
        events: 0,
        deliveries: 0,
        rejections: 1,
      });
      expect((await t.store.listRejections({ sourceId, limit: 10 })).map((r) => r.id)).toEqual([recent.id]);
    });
  });

  describe("a source's events", () => {
    it('lists a source’s stored events newest first, page by page, and no other source’s', async () => {
      const { sourceId, pipeRefs, events } = await t.seed(3, 1);
      const otherSource = newId('source', t0);
      await t.store.appendEvents({
        sourceId: otherSource,
        events: [newEvent('elsewhere')],
        pipes: pipeRefs,
        deliveryIds: [newId('delivery', t0)],
        dedupSince: null,
        now: at(0),
      });
      const page = await t.store.listEvents({ sourceId, limit: 2 });
      expect(page.map((e) => e.id)).toEqual([events[2]!.id, events[1]!.id]);
      expect(page[0]).toMatchObject({
        source_id: sourceId,
        event_type: 'purchase',
        event_id: events[2]!.event_id,
      });
      const rest = await t.store.listEvents({ sourceId, limit: 2, cursor: page[1]!.id });
      expect(rest.map((e) => e.id)).toEqual([events[0]!.id]);
      expect(await t.store.listEvents({ sourceId: newId('source', t0), limit: 5 })).toEqual([]);
    });
  });
}
