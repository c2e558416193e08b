/**
 * Store conformance for the per-minute delivery rollup (`Store.deliveryCounts`): every status
 * change is counted in the minute it happened, by pipe and destination, and nothing else is.
 *
 * ```ts
 * import { runStoreDeliveryCounts } from '@openpipes/core/conformance';
 * runStoreDeliveryCounts({ name: 'sqlite', createStore: async () => sqliteStore({ filename: tmpFile() }) });
 * ```
 */
import { describe, expect, it } from 'vitest';
import { newId } from '../ids.js';
import type { ClaimedDelivery, DeliveryOutcome, Store } from '../store.js';
import { freshStorePerCase } from './store/fresh-store.js';
import type { StoreConformanceOptions } from './store/index.js';

const t0 = Date.parse('2026-05-04T10:00:00.000Z');
const at = (ms: number) => new Date(t0 + ms).toISOString();
const minute = (n: number) => at(n * 60_000);

/** A final outcome of a claimed delivery, with the least the store needs. */
function finished(delivery: ClaimedDelivery, status: 'delivered' | 'failed', now: string): DeliveryOutcome {
  return {
    id: delivery.id,
    status,
    pipe_version: 1,
    destination_version: 1,
    test_mode: false,
    filter_reason: null,
    next_attempt_at: null,
    delivered_at: status === 'delivered' ? now : null,
    detail: { output: [], request: null, response: null, error: null },
    attempt: {
      number: delivery.attempt_count + 1,
      status,
      started_at: now,
      duration_ms: 5,
      pipe_version: 1,
      destination_version: 1,
      request: null,
      response: null,
      error: null,
      exchanges: [],
      logs: [],
    },
  };
}

// long-function: one list of it() cases over the store the adapter hands in; every store adapter runs it, the contract's executable spec
export function runStoreDeliveryCounts(options: StoreConformanceOptions): void {
  describe(`store conformance, delivery counts: ${options.name}`, () => {
    let store: Store;
    freshStorePerCase(options, (s) => {
      store = s;
    });

    /** Two pipes of one source; `count` events appended at `now`. */
    async function seed(count: number) {
      const sourceId = newId('source', t0);
      const pipes = [0, 1].map(() => ({
        pipe_id: newId('pipe', t0),
        destination_id: newId('destination', t0),
      }));
      await store.appendEvents({
        sourceId,
        events: Array.from({ length: count }, (_, i) => {
          const id = newId('event', t0);
          return {
            id,
            event_id: `ord_${i}`,
            sender_event_id: true,
            event_type: 'purchase',
            event_time: at(0),
            event_payload: { i },
          };
        }),
        pipes,
        deliveryIds: Array.from({ length: count * pipes.length }, () => newId('delivery', t0)),
        dedupSince: null,
        now: at(0),
      });
      return pipes;
    }

    /** Claims a seeded pipe's due deliveries as worker `w1`. */
    const claim = (p: { pipe_id: string; destination_id: string }, now: string, leaseMs = 600_000) =>
      store.claimDeliveries({
        destinationId: p.destination_id,
        pipeIds: [p.pipe_id],
        owner: 'w1',
        limit: 10,
        leaseMs,
        now,
      });

    /** The counts as `minute status count` lines, for readable comparisons. */
    const counts = async (query: Parameters<Store['deliveryCounts']>[0]) =>
      (await store.deliveryCounts(query)).map((r) => `${r.minute.slice(11, 16)} ${r.status} ${r.count}`);

    it('counts every status change in its minute, per pipe and destination', async () => {
      const [p, other] = await seed(3);
      const claimed = await claim(p!, at(61_000));
      expect(claimed).toHaveLength(3);
      // A lease extension changes no status: not counted.
      await store.extendLeases({ owner: 'w1', ids: claimed.map((c) => c.id), until: at(900_000) });
      await store.completeDeliveries({
        owner: 'w1',
        outcomes: [
          finished(claimed[0]!, 'delivered', at(125_000)),
          finished(claimed[1]!, 'delivered', at(125_000)),
          finished(claimed[2]!, 'failed', at(125_000)),
        ],
        now: at(125_000),
      });
      const replayed = await store.requeueDeliveries({ pipeId: p!.pipe_id, now: at(190_000), limit: 10 });
      expect(replayed).toEqual([claimed[2]!.id]);

      const window = { since: minute(0), until: minute(10) };
      expect(await counts({ ...window, pipeId: p!.pipe_id })).toEqual([
        '10:00 pending 3',
        '10:01 sending 3',
        '10:02 delivered 2',
        '10:02 failed 1',
        '10:03 pending 1',
      ]);
      expect(await counts({ ...window, destinationId: other!.destination_id })).toEqual(['10:00 pending 3']);
      const all = await store.deliveryCounts(window);
      expect(all.filter((r) => r.minute === minute(0)).map((r) => [r.pipe_id, r.destination_id])).toEqual(
        [p!, other!].map((x) => [x.pipe_id, x.destination_id]).sort(),
      );
    });

    it('reads the minutes that overlap [since, until), and nothing when none do', async () => {
      const [p] = await seed(2);
      const claimed = await claim(p!, at(61_000), 60_000);
      // Given back without an attempt: pending again, counted.
      await store.releaseDeliveries({ owner: 'w1', ids: claimed.map((c) => c.id), now: at(62_000) });
      const pipeId = p!.pipe_id;
      expect(await counts({ since: at(30_000), until: at(60_000), pipeId })).toEqual(['10:00 pending 2']);
      expect(await counts({ since: at(30_000), until: at(60_001), pipeId })).toEqual([
        '10:00 pending 2',
        '10:01 pending 2',
        '10:01 sending 2',
      ]);
      expect(await counts({ since: minute(2), until: minute(60), pipeId })).toEqual([]);
      expect(await counts({ since: minute(0), until: minute(60), pipeId: newId('pipe', t0) })).toEqual([]);
    });

    it('keeps the counts when the history they came from is pruned', async () => {
      const [p] = await seed(2);
      const pruned = await store.prune({ before: at(86_400_000), limit: 100 });
      expect(pruned.events).toBe(2);
      expect(await store.listDeliveries({ pipeId: p!.pipe_id, limit: 10 })).toEqual([]);
      expect(await counts({ since: minute(0), until: minute(1), pipeId: p!.pipe_id })).toEqual([
        '10:00 pending 2',
      ]);
    });

    it('prunes counts older than their own retention, oldest first, in bounded batches, and keeps later ones and the deliveries', async () => {
      const [p, other] = await seed(2);
      await claim(p!, minute(5));
      const all = { since: minute(0), until: minute(60) };
      // Minute 0 holds a pending cell per pipe; minute 5 the claim. A cut at minute 5 keeps minute 5.
      expect(await store.pruneDeliveryCounts({ before: minute(5), limit: 0 })).toBe(0);
      expect(await store.pruneDeliveryCounts({ before: minute(5), limit: 1 })).toBe(1);
      expect(await store.pruneDeliveryCounts({ before: minute(5), limit: 10 })).toBe(1);
      expect(await store.pruneDeliveryCounts({ before: minute(5), limit: 10 })).toBe(0);
      expect(await counts({ ...all, pipeId: p!.pipe_id })).toEqual(['10:05 sending 2']);
      expect(await counts({ ...all, pipeId: other!.pipe_id })).toEqual([]);
      // The records themselves are retention's (`prune`), not this.
      expect(await store.listDeliveries({ pipeId: p!.pipe_id, limit: 10 })).toHaveLength(2);
      expect(await store.listDeliveries({ pipeId: other!.pipe_id, limit: 10 })).toHaveLength(2);
      expect(await store.pruneDeliveryCounts({ before: minute(6), limit: 10 })).toBe(1);
      expect(await counts({ ...all, pipeId: p!.pipe_id })).toEqual([]);
    });
  });
}
