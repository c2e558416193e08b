/**
 * Configuration written by one engine reaching a dispatcher that runs in another (another process,
 * or `openpipes serve`'s dispatch thread) through `configChanged()`, the receiving end of the
 * writer's `onConfigChanged`. Both engines' clocks stand still, so the dispatcher's configuration
 * cache never goes stale by itself, and it polls once an hour: only `configChanged()` can show it
 * a change, and only a wake-up (or a lane it starts) makes it deliver in time. A change that lands
 * while the dispatcher's claim is in flight (its store commits one before the claim returns) must
 * reach the batch so claimed, too.
 */
import { describe, expect, it } from 'vitest';
import { createPipes, type Pipes } from '../engine.js';
import { silentLogger } from '../logger.js';
import { settled, testSecretKey } from '../testing/helpers.js';
import type { EngineConformanceOptions } from './engine.js';
import { engineHarness, orderEvents, passThroughPipe, postSend } from './harness.js';

const hourMs = 3_600_000;

/** Posts the events to `url` with a `v` field that tells which version of this code ran. */
const taggedSend = (url: string, tag: string) =>
  postSend(url).replace('JSON.stringify({ data: events })', `JSON.stringify({ data: events, v: '${tag}' })`);

/** Marks each event's payload with `by`, so the platform can tell which transform ran. */
const markingTransform = (by: string) => `function transform({ events }) {
  return events.map((e) => ({
    event_type: e.event_type,
    event_time: e.event_time,
    event_id: e.event_id,
    event_payload: { ...e.event_payload, by: '${by}' },
  }));
}`;

// long-function: one list of it() cases sharing the engine harness and the writer/dispatcher split set up at its top; every store runs it, the engine's executable spec
export function runEngineConfigElsewhere(options: EngineConformanceOptions): void {
  describe(`configuration changed elsewhere on ${options.name}`, () => {
    const h = engineHarness(options, { prefix: 'elsewhere' });

    /**
     * Runs `change` (once) after the dispatcher's next claim that takes deliveries, before the
     * claim returns to its lane: a change committed and signalled while the claim was in flight.
     */
    const duringClaim = () => {
      let change: (() => Promise<void>) | null = null;
      let fired = () => {};
      return {
        arm(next: () => Promise<void>) {
          change = next;
          return new Promise<void>((resolve) => {
            fired = resolve;
          });
        },
        async afterClaim() {
          const run = change;
          change = null;
          if (!run) return;
          await run();
          fired();
        },
      };
    };

    /**
     * A writer (ingest role) and a dispatcher (dispatch role) on one database, as `openpipes serve`
     * splits them. With `wakes`, the writer wakes the dispatcher (through the dispatcher's store
     * subscription, as PostgreSQL's NOTIFY or serve's `wake` message do); with `config`, it calls
     * its `configChanged()` after each configuration write.
     */
    const split = async (
      egress: string[],
      forward: { wakes: boolean; config: boolean },
      afterClaim: () => Promise<void> = async () => {},
    ) => {
      const db = h.dbName();
      let now = Date.now();
      const listeners = new Set<(ids: string[]) => void>();
      let dispatcher: Pipes | null = null;
      const writer = await h.engine(db, {
        roles: ['ingest'],
        clock: () => now,
        egressAllow: egress,
        onDeliveriesDue: (ids: string[]) => {
          if (forward.wakes) for (const listener of listeners) listener(ids);
        },
        onConfigChanged: () => {
          if (forward.config) dispatcher?.configChanged();
        },
      });
      await writer.start();
      const store = await options.openStore(db);
      dispatcher = h.trackEngine(
        createPipes({
          // Woken only by the writer: a store's own wake-ups (PostgreSQL's LISTEN) are not used.
          store: {
            ...store,
            async claimDeliveries(input) {
              const claimed = await store.claimDeliveries(input);
              if (claimed.length > 0) await afterClaim();
              return claimed;
            },
            async subscribe(listener) {
              listeners.add(listener);
              return async () => {
                listeners.delete(listener);
              };
            },
          },
          secretKey: testSecretKey,
          logger: silentLogger,
          sandbox: { workers: 1 },
          egressAllow: egress,
          roles: ['dispatch'],
          clock: () => now,
          dispatcher: { pollIntervalMs: hourMs },
        }),
      );
      /** Moves both engines' clocks on (their configuration caches may then be stale). */
      const advance = (ms: number) => {
        now += ms;
      };
      return { writer, dispatcher, advance };
    };

    /**
     * A platform, the writer/dispatcher {@link split} with both wake-ups and configuration changes
     * forwarded (and `afterClaim` run after each claim), and a pass-through pipe whose destination
     * posts to the platform tagged `send-1`.
     */
    const splitToPlatform = async (afterClaim?: () => Promise<void>) => {
      const platform = await h.server(() => ({ body: { ok: true } }));
      const { writer, dispatcher } = await split([platform.host], { wakes: true, config: true }, afterClaim);
      const { pipe, destination } = await passThroughPipe(writer, {
        name: 'platform',
        send: taggedSend(`${platform.url}/events`, 'send-1'),
      });
      return { platform, writer, dispatcher, pipe, destination };
    };

    it('a transform and a destination changed by the writer take effect on the very next delivery', async () => {
      const { platform, writer, dispatcher, pipe, destination } = await splitToPlatform();
      await writer.pipes.update(pipe.id, { transform: markingTransform('transform-1') });
      await dispatcher.start();
      await writer.ingest('web', orderEvents(['ord_before']));
      await settled(writer, pipe.id, 1);

      // Two writes in a row, then at once an event: it goes out through both new versions.
      await writer.pipes.update(pipe.id, { transform: markingTransform('transform-2') });
      await writer.destinations.update(destination.id, {
        send: taggedSend(`${platform.url}/events`, 'send-2'),
      });
      await writer.ingest('web', orderEvents(['ord_after']));
      const deliveries = await settled(writer, pipe.id, 2);
      expect(deliveries.every((d) => d.status === 'delivered')).toBe(true);

      const sent = platform.requests.map(
        (r) => r.json as { data: Array<{ event_payload: object }>; v: string },
      );
      expect(sent.map((body) => [body.v, body.data[0]?.event_payload])).toEqual([
        ['send-1', { order_id: 'ord_before', by: 'transform-1' }],
        ['send-2', { order_id: 'ord_after', by: 'transform-2' }],
      ]);
    });

    it('a batch goes out with a transform and a destination changed while it was being claimed', async () => {
      const claims = duringClaim();
      const { platform, writer, dispatcher, pipe, destination } = await splitToPlatform(claims.afterClaim);
      await writer.pipes.update(pipe.id, { transform: markingTransform('transform-1') });
      await dispatcher.start();
      await writer.ingest('web', orderEvents(['ord_before']));
      await settled(writer, pipe.id, 1);

      // The lane read the configuration before its claim; both writes land before the claim returns.
      const fired = claims.arm(async () => {
        await writer.pipes.update(pipe.id, { transform: markingTransform('transform-2') });
        await writer.destinations.update(destination.id, {
          send: taggedSend(`${platform.url}/events`, 'send-2'),
        });
      });
      await writer.ingest('web', orderEvents(['ord_during']));
      await fired;
      const deliveries = await settled(writer, pipe.id, 2);
      expect(deliveries.every((d) => d.status === 'delivered')).toBe(true);
      const sent = platform.requests.map(
        (r) => r.json as { data: Array<{ event_payload: object }>; v: string },
      );
      expect(sent.map((body) => [body.v, body.data[0]?.event_payload])).toEqual([
        ['send-1', { order_id: 'ord_before', by: 'transform-1' }],
        ['send-2', { order_id: 'ord_during', by: 'transform-2' }],
      ]);
    });

    it.each([
      ['pipe', 'pipe'],
      ['destination', 'destination'],
    ] as const)(
      'a batch whose %s is disabled during its claim is given back unsent, and goes out once it is enabled again',
      async (_, what) => {
        const claims = duringClaim();
        const { platform, writer, dispatcher, pipe, destination } = await splitToPlatform(claims.afterClaim);
        const registry = what === 'pipe' ? writer.pipes : writer.destinations;
        const id = what === 'pipe' ? pipe.id : destination.id;
        await dispatcher.start();
        const fired = claims.arm(async () => {
          await registry.disable(id);
        });
        await writer.ingest('web', orderEvents(['ord_during']));
        await fired;
        await dispatcher.idle();
        // Not sent, and not left leased (`sending`) until its lease runs out: pending again.
        const page = await writer.deliveries.list(pipe.id, { limit: 10 });
        expect(page.data.map((d) => d.status)).toEqual(['pending']);
        expect(platform.requests).toHaveLength(0);

        // Enabled again, with no event since: the pipe's lane (asleep for the hour's poll, no pipe to
        // claim for) is woken by configChanged(), a destination's lane starts anew.
        await registry.enable(id);
        const deliveries = await settled(writer, pipe.id, 1);
        expect(deliveries.map((d) => d.status)).toEqual(['delivered']);
        const sent = platform.requests.flatMap(
          (r) => (r.json as { data: Array<{ event_payload: { order_id: string } }> }).data,
        );
        expect(sent.map((e) => e.event_payload.order_id)).toEqual(['ord_during']);
      },
    );

    it('starts the lane of a destination made by the writer, with no wake-up at all', async () => {
      const platform = await h.server(() => ({ body: { ok: true } }));
      const { writer, dispatcher } = await split([platform.host], { wakes: false, config: false });
      await dispatcher.start();
      expect(dispatcher.status().breakers).toEqual({});
      // Made after the dispatcher read its (empty) configuration, with an event already due.
      const { pipe, destination } = await passThroughPipe(writer, {
        name: 'platform',
        send: taggedSend(`${platform.url}/events`, 'send-1'),
      });
      await writer.ingest('web', orderEvents(['ord_due']));

      dispatcher.configChanged();
      const deliveries = await settled(writer, pipe.id, 1);
      expect(deliveries.map((d) => d.status)).toEqual(['delivered']);
      expect(Object.keys(dispatcher.status().breakers)).toEqual([destination.id]);
      expect(platform.requests).toHaveLength(1);
    });

    it('starts the lane of a destination made by the writer when woken for it (another process: a NOTIFY)', async () => {
      const platform = await h.server(() => ({ body: { ok: true } }));
      const { writer, dispatcher } = await split([platform.host], { wakes: true, config: false });
      await dispatcher.start();
      const { pipe } = await passThroughPipe(writer, {
        name: 'platform',
        send: taggedSend(`${platform.url}/events`, 'send-1'),
      });
      // The wake names a destination the dispatcher has no lane for: a configuration it has not read.
      await writer.ingest('web', orderEvents(['ord_woken']));
      const deliveries = await settled(writer, pipe.id, 1);
      expect(deliveries.map((d) => d.status)).toEqual(['delivered']);
    });

    it('starts the lane of a destination made by the writer when woken for it, after wakes for a destination it deleted', async () => {
      const platform = await h.server(() => ({ body: { ok: true } }));
      const { writer, dispatcher } = await split([platform.host], { wakes: true, config: false });
      const first = await passThroughPipe(writer, {
        name: 'platform',
        send: taggedSend(`${platform.url}/events`, 'send-1'),
      });
      await dispatcher.start();
      await writer.ingest('web', orderEvents(['ord_first']));
      await settled(writer, first.pipe.id, 1);
      // Deleted by the dispatcher's process; the writer's configuration (its clock stands still)
      // still has the pipe, so its ingest goes on waking the dispatcher for a destination it does
      // not know.
      await dispatcher.pipes.delete(first.pipe.id);
      await dispatcher.destinations.delete(first.destination.id);
      for (const id of ['ord_gone_1', 'ord_gone_2', 'ord_gone_3'])
        await writer.ingest('web', orderEvents([id]));

      // Then the writer makes another destination and at once ingests for it (the poll is an hour away).
      const destination = await writer.destinations.create({
        name: 'platform-2',
        send: taggedSend(`${platform.url}/events`, 'send-2'),
      });
      const pipe = await writer.pipes.create({
        name: 'to-platform-2',
        source_id: first.source.id,
        destination_id: destination.id,
        transform: null,
      });
      await writer.pipes.enable(pipe.id);
      await writer.destinations.enable(destination.id);
      await writer.ingest('web', orderEvents(['ord_new']));
      const deliveries = await settled(writer, pipe.id, 1);
      expect(deliveries.map((d) => d.status)).toEqual(['delivered']);
      const sent = platform.requests.map((r) => r.json as { v: string });
      expect(sent.map((body) => body.v)).toEqual(['send-1', 'send-2']);
    });

    it('starts the lane of a destination enabled by the writer when woken for it while its cached configuration shows it disabled', async () => {
      const platform = await h.server(() => ({ body: { ok: true } }));
      const { writer, dispatcher, advance } = await split([platform.host], { wakes: true, config: false });
      const { pipe, destination } = await passThroughPipe(writer, {
        name: 'platform',
        send: taggedSend(`${platform.url}/events`, 'send-1'),
      });
      await writer.destinations.disable(destination.id);
      await dispatcher.start();
      await writer.ingest('web', orderEvents(['ord_held']));
      // Presenting the held delivery reads the configuration through the dispatcher's cache (as
      // its start and the wake did): from here on it holds one that shows the destination disabled.
      const held = await dispatcher.deliveries.list(pipe.id);
      expect(held.data.map((d) => d.status)).toEqual(['pending']);
      await writer.destinations.enable(destination.id);
      // Woken for it while that configuration is still fresh: it may trust it for now, but not
      // for ever (the poll is an hour away, and no other event comes).
      await writer.ingest('web', orderEvents(['ord_enabled']));
      advance(60_000);
      const deliveries = await settled(writer, pipe.id, 2);
      expect(deliveries.map((d) => d.status)).toEqual(['delivered', 'delivered']);
    });
  });
}
