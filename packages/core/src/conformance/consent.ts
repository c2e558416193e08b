/**
 * Consent end to end on a real engine (docs/consent.md): a pipe that requires `ad_user_data`
 * delivers the events that grant it and records the others as `filtered` with
 * `filter_reason: "consent"`, and nothing of those reaches the platform. Also: `unknown: 'allow'`,
 * a TC string standing in for the signal, replays, and a transform that filters with its own
 * reason. Every store runs it:
 *
 * ```ts
 * runEngineConsent({ name: 'sqlite', openStore: async (db) => sqliteStore({ filename: join(dir, `${db}.db`) }) });
 * ```
 */
import { describe, expect, it } from 'vitest';
import type { Pipes } from '../engine.js';
import type { Delivery, PipeInput } from '../schemas.js';
import { settled, waitFor } from '../testing/helpers.js';
import { tcString } from '../testing/tc-string.js';
import type { TestServer } from '../testing/test-server.js';
import type { EngineConformanceOptions } from './engine.js';
import { engineHarness, postSend } from './harness.js';

// Sends what it is given; an event without a value is filtered with a reason of the transform's own.
const TRANSFORM = `function transform({ events }) {
  return events.flatMap((e) => {
    if (e.event_payload.skip) return [];
    if (e.event_payload.value === undefined) return { filter_reason: 'no_value' };
    return { event_type: e.event_type, event_time: e.event_time, event_id: e.event_id, event_payload: e.event_payload };
  });
}`;

// long-function: one list of it() cases sharing the engine harness set up at its top; every store runs it, the engine's executable spec
export function runEngineConsent(options: EngineConformanceOptions): void {
  describe(`consent end to end on ${options.name}`, () => {
    const h = engineHarness(options, { prefix: 'consent' });

    const setup = async (consent: PipeInput['consent']) => {
      const sink = await h.server(() => ({ body: { ok: true } }));
      const pipes = await h.engine(h.dbName(), { egressAllow: [sink.host] });
      const source = await pipes.sources.create({ name: 'Web', slug: 'web' });
      await pipes.eventTypes.create({ name: 'purchase', schema: { type: 'object' } });
      const destination = await pipes.destinations.create({
        name: 'platform',
        send: postSend(`${sink.url}/events`),
      });
      const pipe = await pipes.pipes.create({
        name: 'to-platform',
        source_id: source.id,
        destination_id: destination.id,
        transform: TRANSFORM,
        consent,
      });
      await pipes.pipes.enable(pipe.id);
      await pipes.destinations.enable(destination.id);
      await pipes.start();
      return { pipes, pipe, sink };
    };

    const ingest = (pipes: Pipes, events: Array<[id: string, payload: Record<string, unknown>]>) =>
      pipes.ingest(
        'web',
        events.map(([event_id, event_payload]) => ({
          event_type: 'purchase',
          event_id,
          event_time: new Date().toISOString(),
          event_payload,
        })),
      );
    const byEvent = (deliveries: Delivery[]) => new Map(deliveries.map((d) => [d.event_id, d]));
    /** The event ids that reached the platform stand-in. */
    const arrived = (sink: TestServer) =>
      sink.requests.flatMap((r) =>
        ((r.json as { data?: Array<{ event_id: string }> }).data ?? []).map((e) => e.event_id),
      );

    it('delivers granted events and records denied and unknown ones as filtered for consent, sending none', async () => {
      const { pipes, pipe, sink } = await setup({ require: ['ad_user_data'] });
      await ingest(pipes, [
        ['granted', { value: 1, consent: { ad_user_data: 'GRANTED', ad_personalization: 'DENIED' } }],
        ['denied', { value: 2, consent: { ad_user_data: 'DENIED', ad_personalization: 'GRANTED' } }],
        ['unknown', { value: 3 }],
        ['old-shape', { value: 4, consent: { ad_personalization: 'GRANTED' } }],
        ['tcf-granted', { value: 5, consent: { tcf_string: tcString({ purposes: [1, 7] }) } }],
        ['tcf-denied', { value: 6, consent: { tcf_string: tcString({ purposes: [1, 3, 4] }) } }],
        ['tcf-broken', { value: 7, consent: { tcf_string: 'not-a-tc-string' } }],
      ]);
      const records = byEvent(await settled(pipes, pipe.id, 7));
      expect(records.get('granted')).toMatchObject({ status: 'delivered', filter_reason: null });
      expect(records.get('tcf-granted')).toMatchObject({ status: 'delivered', filter_reason: null });
      for (const id of ['denied', 'unknown', 'old-shape', 'tcf-denied', 'tcf-broken']) {
        const record = records.get(id);
        expect(record, id).toMatchObject({
          status: 'filtered',
          filter_reason: 'consent',
          attempt_count: 0,
          output: null,
          request: null,
        });
      }
      await pipes.idle();
      expect(arrived(sink).sort()).toEqual(['granted', 'tcf-granted']);
      // The full record says the same, with no attempt.
      const denied = await pipes.deliveries.get(records.get('denied')!.id);
      expect(denied).toMatchObject({ status: 'filtered', filter_reason: 'consent', attempts: [] });
    });

    it("lets unknown through with unknown: 'allow', never a denial", async () => {
      const { pipes, pipe, sink } = await setup({
        require: ['ad_user_data', 'ad_storage'],
        unknown: 'allow',
      });
      await ingest(pipes, [
        ['unknown', { value: 1 }],
        ['half-denied', { value: 2, consent: { ad_user_data: 'GRANTED', ad_storage: 'DENIED' } }],
      ]);
      const records = byEvent(await settled(pipes, pipe.id, 2));
      expect(records.get('unknown')?.status).toBe('delivered');
      expect(records.get('half-denied')).toMatchObject({ status: 'filtered', filter_reason: 'consent' });
      await pipes.idle();
      expect(arrived(sink)).toEqual(['unknown']);
    });

    it('checks consent again on a replay, through the pipe as it is now', async () => {
      const { pipes, pipe, sink } = await setup({ require: ['ad_user_data'] });
      await ingest(pipes, [['unknown', { value: 1 }]]);
      const [first] = await settled(pipes, pipe.id, 1);
      expect(first).toMatchObject({ status: 'filtered', filter_reason: 'consent' });
      // A dry run shows the same verdict and sends nothing.
      const dry = await pipes.deliveries.replay(pipe.id, { statuses: ['filtered'], dry_run: true });
      expect(dry.preview).toEqual([
        expect.objectContaining({ id: first!.id, output: null, error: null, filter_reason: 'consent' }),
      ]);
      await pipes.pipes.update(pipe.id, { consent: { require: ['ad_user_data'], unknown: 'allow' } });
      await pipes.deliveries.replay(pipe.id, { statuses: ['filtered'] });
      const again = await waitFor(
        async () => {
          const d = await pipes.deliveries.get(first!.id);
          return d.status === 'delivered' ? d : null;
        },
        15_000,
        'the replayed delivery delivered',
      );
      expect(again).toMatchObject({ id: first!.id, filter_reason: null });
      await pipes.idle();
      expect(arrived(sink)).toEqual(['unknown']);
    });

    it('records the reason a transform gives when it filters, and "transform" when it gives none', async () => {
      const { pipes, pipe, sink } = await setup(null);
      await ingest(pipes, [
        ['no-value', { consent: { ad_user_data: 'DENIED' } }],
        ['skipped', { value: 1, skip: true }],
        ['sent', { value: 2, consent: { ad_user_data: 'DENIED' } }],
      ]);
      const records = byEvent(await settled(pipes, pipe.id, 3));
      expect(records.get('no-value')).toMatchObject({ status: 'filtered', filter_reason: 'no_value' });
      expect(records.get('skipped')).toMatchObject({ status: 'filtered', filter_reason: 'transform' });
      // Without a requirement the pipe sends whatever the event says about consent.
      expect(records.get('sent')).toMatchObject({ status: 'delivered', filter_reason: null });
      await pipes.idle();
      expect(arrived(sink)).toEqual(['sent']);
    });
  });
}
