/**
 * What ingest costs the store in configuration reads. Ingest reads the configuration from a cache
 * that asks the store for its config revision only when the cache is stale or was invalidated, so
 * a run of ingest calls asks about as often in every state of the configuration. The engine's clock
 * stands still here, so the cache never goes stale by itself: every revision query a case counts
 * was asked for by something that invalidated the cache.
 */
import { describe, expect, it } from 'vitest';
import type { Pipes } from '../engine.js';
import { settled } from '../testing/helpers.js';
import type { RecordedTestRequest } from '../testing/test-server.js';
import type { EngineConformanceOptions } from './engine.js';
import { engineHarness, orderEvents, passThroughPipe, postSend } from './harness.js';

const hourMs = 3_600_000;

/** Ingest calls per measured run: far above the few revision queries a run may need. */
const calls = 20;

/** The order ids of every event the platform was sent (`postSend` batches them). */
const sentOrderIds = (requests: RecordedTestRequest[]) =>
  requests.flatMap((r) =>
    (r.json as { data: Array<{ event_payload: { order_id: string } }> }).data.map(
      (e) => e.event_payload.order_id,
    ),
  );

// long-function: one list of it() cases sharing the engine harness and the counting engine set up at its top; every store runs it, the engine's executable spec
export function runEngineConfigReads(options: EngineConformanceOptions): void {
  describe(`configuration reads of ingest on ${options.name}`, () => {
    const h = engineHarness(options, { prefix: 'reads' });

    /**
     * An engine whose store counts its config revision queries; polling once an hour. With
     * `wakes`, it is woken only through them (as another process's PostgreSQL NOTIFY wakes it),
     * not by its store's own signals.
     */
    const countingEngine = async (
      egress: string[],
      wakes?: Set<(ids: string[]) => void>,
      db = h.dbName(),
    ) => {
      const store = await options.openStore(db);
      let revisionQueries = 0;
      const now = Date.now();
      const pipes = await h.engine(db, {
        store: {
          ...store,
          configRevision() {
            revisionQueries++;
            return store.configRevision();
          },
          ...(wakes
            ? {
                async subscribe(listener: (ids: string[]) => void) {
                  wakes.add(listener);
                  return async () => {
                    wakes.delete(listener);
                  };
                },
              }
            : {}),
        },
        egressAllow: egress,
        clock: () => now,
        // Only a wake-up can start a lane in time: the poll never comes during a case.
        dispatcher: { pollIntervalMs: hourMs },
      });
      return { pipes, revisionQueries: () => revisionQueries, now };
    };

    /** Revision queries asked during `calls` ingest calls of one event each (ids `${prefix}_<n>`). */
    const measure = async (pipes: Pipes, revisionQueries: () => number, prefix: string) => {
      const before = revisionQueries();
      for (let i = 0; i < calls; i++) {
        const result = await pipes.ingest('web', orderEvents([`${prefix}_${i}`]));
        expect(result.accepted).toBe(1);
      }
      return revisionQueries() - before;
    };

    /**
     * Ingests warm-up events until one costs no revision query, and says how many: on PostgreSQL
     * the store tells of configuration writes by NOTIFY, and one of the set-up's may come a call
     * or two late.
     */
    const warm = async (pipes: Pipes, revisionQueries: () => number, prefix: string) => {
      for (let n = 1; n <= 10; n++) {
        const before = revisionQueries();
        await pipes.ingest('web', orderEvents([`${prefix}_warm_${n}`]));
        if (revisionQueries() === before) return n;
      }
      throw new Error('every warm-up ingest asked for the config revision');
    };

    it('an enabled pipe to a disabled destination costs ingest no more revision queries than all enabled', async () => {
      const platform = await h.server(() => ({ body: { ok: true } }));
      const { pipes, revisionQueries } = await countingEngine([platform.host]);
      const { pipe, destination } = await passThroughPipe(pipes, {
        name: 'platform',
        send: postSend(`${platform.url}/events`),
      });
      await pipes.start();
      // The first call after the writes above reads the configuration; what follows is the run.
      const warmEnabled = await warm(pipes, revisionQueries, 'enabled');
      const enabledQueries = await measure(pipes, revisionQueries, 'enabled');
      await settled(pipes, pipe.id, calls + warmEnabled);

      await pipes.destinations.disable(destination.id);
      const warmDisabled = await warm(pipes, revisionQueries, 'disabled');
      const disabledQueries = await measure(pipes, revisionQueries, 'disabled');
      // At most one each: a notification of the set-up's writes can still come after a warm-up
      // call that asked nothing. A query per ingest (the defect this guards) would count 20.
      expect(enabledQueries).toBeLessThanOrEqual(1);
      expect(disabledQueries).toBeLessThanOrEqual(1);

      // Held for the destination, never sent to it while it is disabled.
      await pipes.idle();
      const held = await pipes.deliveries.list(pipe.id, { status: 'pending', limit: 100 });
      expect(held.data).toHaveLength(calls + warmDisabled);
      expect(sentOrderIds(platform.requests)).toHaveLength(calls + warmEnabled);
    });

    it('wakes for a deleted destination, from a writer whose configuration still has a pipe to it, cost no revision query per ingest', async () => {
      const platform = await h.server(() => ({ body: { ok: true } }));
      const db = h.dbName();
      const wakes = new Set<(ids: string[]) => void>();
      const { pipes: dispatcher, revisionQueries, now } = await countingEngine([platform.host], wakes, db);
      // Another process's ingest, waking the dispatcher. Its clock stands still at the dispatcher's
      // time too: its configuration cache, once read, stays as it was, as any process's may for its
      // staleness allowance.
      const writer = await h.engine(db, {
        roles: ['ingest'],
        clock: () => now,
        onDeliveriesDue: (ids) => {
          for (const wake of wakes) wake(ids);
        },
      });
      await writer.start();
      const { pipe, destination } = await passThroughPipe(writer, {
        name: 'platform',
        send: postSend(`${platform.url}/events`),
      });
      await dispatcher.start();
      await writer.ingest('web', orderEvents(['before_delete']));
      await settled(writer, pipe.id, 1);

      // Deleted by the dispatcher's process: the writer's configuration still delivers to it.
      await dispatcher.pipes.delete(pipe.id);
      await dispatcher.destinations.delete(destination.id);
      const deletedQueries = await measure(writer, revisionQueries, 'deleted');
      await dispatcher.idle();
      // The one read after the deletes (this process's own writes) and at most one more for the
      // first wake naming the destination it no longer knows; not one per ingest.
      expect(deletedQueries).toBeLessThanOrEqual(2);
      expect(sentOrderIds(platform.requests)).toEqual(['before_delete']);
    });

    it('a destination enabled again gets the next ingest delivered at once', async () => {
      const platform = await h.server(() => ({ body: { ok: true } }));
      const { pipes, revisionQueries } = await countingEngine([platform.host]);
      const { pipe, destination } = await passThroughPipe(pipes, {
        name: 'platform',
        send: postSend(`${platform.url}/events`),
      });
      await pipes.destinations.disable(destination.id);
      await pipes.start();
      await pipes.ingest('web', orderEvents(['while_disabled']));
      await measure(pipes, revisionQueries, 'disabled');
      await pipes.idle();
      expect(platform.requests).toHaveLength(0);

      // The poll is an hour away: only the next ingest's wake-up can start the destination's lane.
      await pipes.destinations.enable(destination.id);
      await pipes.ingest('web', orderEvents(['after_enable']));
      const deliveries = await settled(pipes, pipe.id, calls + 2);
      expect(deliveries.every((d) => d.status === 'delivered')).toBe(true);
      const sent = sentOrderIds(platform.requests);
      expect(sent).toContain('after_enable');
      expect(sent).toHaveLength(calls + 2);
    });
  });
}
