/**
 * What every store keeps for observability (migration 3), and the alerts built on it, run against
 * the real store:
 *
 * - `runStoreObservability`: per-minute event volume (processes add up, ranges sum, old minutes
 *   go), and each event's trace context carried from ingest to its delivery rows.
 * - `runEngineLevelAlerts`: a source's volume under its usual level for this hour opens a
 *   `volume_anomaly` alert on a webhook stand-in on 127.0.0.1, and closes it when traffic is back.
 *
 * ```ts
 * runStoreObservability({ name: 'sqlite', createStore: async () => sqliteStore({ filename }) });
 * runEngineLevelAlerts({ name: 'sqlite', openStore: async (db) => sqliteStore({ filename: join(dir, `${db}.db`) }) });
 * ```
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createPipes, type Pipes } from '../engine.js';
import { newId } from '../ids.js';
import type { Store } from '../store.js';
import { stopAndClose, testSecretKey, waitFor } from '../testing/helpers.js';
import { purchaseEvent, purchaseSchema } from '../testing/meta-example.js';
import { startTestServer, type TestServer } from '../testing/test-server.js';
import type { EngineConformanceOptions } from './engine.js';
import { freshStorePerCase } from './store/fresh-store.js';
import type { StoreConformanceOptions } from './store/index.js';

const t0 = Date.parse('2026-05-04T10:00:00.000Z');
const at = (ms: number) => new Date(t0 + ms).toISOString();
const traceParent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

export function runStoreObservability(options: StoreConformanceOptions): void {
  describe(`store observability on ${options.name}`, () => {
    let store: Store;
    freshStorePerCase(options, (s) => {
      store = s;
    });

    it('adds the volume counts of several writers and sums a range of minutes per source and event type', async () => {
      const minute = (m: number) => at(m * 60_000);
      await store.addVolume({
        counts: [
          { minute: minute(0), source_id: 'src_a', event_type: 'purchase', count: 3 },
          { minute: minute(1), source_id: 'src_a', event_type: 'purchase', count: 2 },
          { minute: minute(1), source_id: 'src_b', event_type: 'lead', count: 7 },
          { minute: minute(1), source_id: 'src_b', event_type: 'noop', count: 0 },
        ],
      });
      // A second process adds its own counts for the same minutes.
      await store.addVolume({
        counts: [{ minute: minute(1), source_id: 'src_a', event_type: 'purchase', count: 5 }],
      });
      expect(await store.volumeTotals({ since: minute(0), until: minute(2) })).toEqual([
        { source_id: 'src_a', event_type: 'purchase', count: 10 },
        { source_id: 'src_b', event_type: 'lead', count: 7 },
      ]);
      expect(await store.volumeTotals({ since: minute(1), until: minute(2) })).toEqual([
        { source_id: 'src_a', event_type: 'purchase', count: 7 },
        { source_id: 'src_b', event_type: 'lead', count: 7 },
      ]);
      expect(await store.volumeTotals({ since: minute(2), until: minute(60) })).toEqual([]);
      // Minutes before pruneBefore go; the call's own counts stay.
      await store.addVolume({
        counts: [{ minute: minute(5), source_id: 'src_a', event_type: 'purchase', count: 1 }],
        pruneBefore: minute(1),
      });
      expect(await store.volumeTotals({ since: minute(-60), until: minute(60) })).toEqual([
        { source_id: 'src_a', event_type: 'purchase', count: 8 },
        { source_id: 'src_b', event_type: 'lead', count: 7 },
      ]);
    });

    it("keeps each event's trace context on its deliveries, through claims and history reads", async () => {
      const traced = newId('event', t0);
      const untraced = newId('event', t0 + 1);
      const deliveryIds = [newId('delivery', t0), newId('delivery', t0 + 1)];
      const base = { event_type: 'purchase', event_time: at(0), event_payload: { value: 1 } };
      await store.appendEvents({
        sourceId: 'src_1',
        events: [
          { ...base, id: traced, event_id: traced, sender_event_id: false, trace_parent: traceParent },
          { ...base, id: untraced, event_id: untraced, sender_event_id: false },
        ],
        pipes: [{ pipe_id: 'pip_1', destination_id: 'dst_1' }],
        deliveryIds,
        dedupSince: null,
        now: at(0),
      });
      const listed = await store.listDeliveries({ limit: 10 });
      expect(Object.fromEntries(listed.map((d) => [d.event_ref, d.trace_parent]))).toEqual({
        [traced]: traceParent,
        [untraced]: null,
      });
      expect((await store.getDelivery({ id: deliveryIds[0]! }))?.row.trace_parent).toBe(traceParent);
      const claimed = await store.claimDeliveries({
        destinationId: 'dst_1',
        pipeIds: ['pip_1'],
        owner: 'w1',
        limit: 10,
        leaseMs: 30_000,
        now: at(1000),
      });
      expect(claimed.map((d) => d.trace_parent)).toEqual([traceParent, null]);
    });
  });
}

export function runEngineLevelAlerts(options: EngineConformanceOptions): void {
  describe(`volume alerts on ${options.name}`, () => {
    const open: Pipes[] = [];
    const servers: TestServer[] = [];
    afterEach(async () => {
      await Promise.all(open.splice(0).map((p) => stopAndClose(p, { graceMs: 2000 }).catch(() => {})));
      await Promise.all(servers.splice(0).map((s) => s.close()));
      await options.cleanup?.();
    });

    it('alerts a source whose volume fell under half its usual level for this hour, counts what is ingested, and resolves when traffic is back', async () => {
      const hook = await startTestServer(() => ({ status: 200, body: { ok: true } }));
      servers.push(hook);
      const store = await options.openStore(`volume_${process.pid}_${Date.now().toString(36)}`);
      const pipes = createPipes({
        store,
        secretKey: testSecretKey,
        sandbox: { workers: 1 },
        egressAllow: [hook.host],
        alerts: { flushIntervalMs: 50, volumeIntervalMs: 100, timeoutMs: 2000 },
      });
      open.push(pipes);
      await pipes.migrate();
      const source = await pipes.sources.create({ name: 'Web', slug: 'web' });
      await pipes.eventTypes.create({ name: 'purchase', schema: purchaseSchema });
      /** `count` purchases of the source in the minute starting at `ms`, as the volume table holds them. */
      const volumeAt = (ms: number, count: number) => ({
        minute: new Date(ms).toISOString(),
        source_id: source.id,
        event_type: 'purchase',
        count,
      });
      // Every hour of the 7 days before the last 24 hours: 600 events (50 per 5 minutes), so
      // any hour the check lands in has a usual level, and none of it is in the observed window.
      const hourMs = 3_600_000;
      const thisHour = Math.floor(Date.now() / hourMs) * hourMs;
      const history = [];
      for (let h = 24; h <= 8 * 24 + 1; h++) history.push(volumeAt(thisHour - h * hourMs, 600));
      await store.addVolume({ counts: history });
      await pipes.alerts.channels.create({
        name: 'pager',
        type: 'webhook',
        url: `${hook.url}/hooks/${randomBytes(12).toString('hex')}`,
        kinds: ['volume_anomaly'],
        volume_anomaly: { window_minutes: 5, min_usual: 10 },
      });
      await pipes.start();
      const ofKind = (kind: string) =>
        hook.requests.filter((r) => (r.json as { kind?: string }).kind === kind);
      const firing = await waitFor(() => ofKind('volume_anomaly')[0], 15_000, 'the volume alert');
      expect(firing.json).toMatchObject({
        source: 'openpipes',
        event_action: 'trigger',
        status: 'firing',
        event_source: { id: source.id, name: 'web' },
        volume: {
          observed: 0,
          usual: 50,
          direction: 'below',
          limit: 0.5,
          window_minutes: 5,
          baseline_days: 7,
        },
        dedup_key: `openpipes:volume:source:${source.id}`,
      });

      // What is ingested now is counted and written to the store by the next check.
      await pipes.ingest('web', [purchaseEvent('ord_v1'), purchaseEvent('ord_v2'), purchaseEvent('ord_v3')]);
      const recent = {
        since: new Date(Date.now() - 300_000).toISOString(),
        until: new Date(Date.now() + 120_000).toISOString(),
      };
      await waitFor(
        async () =>
          (await store.volumeTotals(recent)).find((r) => r.source_id === source.id && r.count === 3),
        15_000,
        'the ingested events counted',
      );

      // Traffic back over the whole window: the incident closes with one recovery.
      const minuteMs = 60_000;
      const nowMinute = Math.floor(Date.now() / minuteMs) * minuteMs;
      const back = [];
      for (let m = 1; m <= 7; m++) back.push(volumeAt(nowMinute - m * minuteMs, 10));
      await store.addVolume({ counts: back });
      const resolved = await waitFor(() => ofKind('volume_recovered')[0], 15_000, 'the volume recovery');
      expect(resolved.json).toMatchObject({
        event_action: 'resolve',
        dedup_key: `openpipes:volume:source:${source.id}`,
      });
      expect(
        hook.requests.filter((r) => (r.json as { kind?: string }).kind === 'volume_anomaly'),
      ).toHaveLength(1);
    });
  });
}
