/**
 * Reliable-delivery scenarios every store runs: 429 with Retry-After, a hanging destination next to
 * a healthy one, per-row partial failures, replay (and dry-run replay) of dead deliveries, collect
 * side dedup, the circuit breaker, retention. Real store, real sandbox, loopback HTTP stand-ins.
 *
 * `runEngineReliability` is one long function because it is a suite: a list of end-to-end cases
 * around one set of fixtures. Cases that show "nothing more happened" await `pipes.idle()`; the few
 * that must run on the wall clock (Retry-After, a hanging destination, lease renewal) say so.
 *
 * ```ts
 * runEngineReliability({ name: 'sqlite', openStore: async (db) => sqliteStore({ filename: join(dir, `${db}.db`) }) });
 * ```
 */
import { describe, expect, it } from 'vitest';
import type { Pipes, PipesOptions } from '../engine.js';
import type { EngineEventMap } from '../events.js';
import type { Delivery } from '../schemas.js';
import { settled, waitFor } from '../testing/helpers.js';
import { metaExampleTransform, purchaseEvent, purchaseSchema } from '../testing/meta-example.js';
import type { EngineConformanceOptions } from './engine.js';
import { engineHarness } from './harness.js';

/** A send() that posts the batch and leaves the verdict to the HTTP status. */
const plainSend = (url: string) => `async function send({ events }) {
  const res = await fetch('${url}/events', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ data: events.map((e) => e.event_payload) }),
  });
  return res.json();
}`;

/** A send() that maps the platform's per-row errors to a structured partial result. */
const partialSend = (url: string) => `async function send({ events }) {
  const res = await fetch('${url}/events', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ data: events.map((e) => e.event_payload) }),
  });
  const body = await res.json();
  if (!res.ok) return { outcome: 'retry', message: 'HTTP ' + res.status };
  const failed = new Map(body.errors.map((e) => [e.index, e.message]));
  return {
    outcome: 'partial',
    events: events.map((_, i) =>
      failed.has(i) ? { outcome: 'failed', message: failed.get(i), code: 'ROW_REJECTED' } : { outcome: 'delivered' },
    ),
  };
}`;

// long-function: one list of it() cases sharing the engine harness set up at its top; every store runs it, the engine's executable spec
export function runEngineReliability(options: EngineConformanceOptions): void {
  describe(`reliable delivery on ${options.name}`, () => {
    // The servers close first, so a send still in flight fails at once instead of using the grace.
    const h = engineHarness(options, {
      prefix: 'reliability',
      defaults: { sandbox: { workers: 2 } },
      serversFirst: true,
    });
    const { dbName, server } = h;
    const engine = (extra: Partial<PipesOptions> = {}, egress: string[] = [], db = dbName()) =>
      h.engine(db, { egressAllow: egress, ...extra });

    /** A source `web`, the purchase type, and one enabled pipe + destination per send code. */
    async function setup(
      pipes: Pipes,
      destinations: Array<{
        name: string;
        send: string;
        retry?: Record<string, number>;
        max_batch_size?: number;
      }>,
      source = { name: 'Web', slug: 'web', dedup_window_seconds: 86400 },
    ) {
      const src = await pipes.sources.create(source);
      await pipes.eventTypes.create({ name: 'purchase', schema: purchaseSchema }).catch(() => {});
      const out = [];
      for (const d of destinations) {
        const dest = await pipes.destinations.create({
          name: d.name,
          send: d.send,
          max_batch_size: d.max_batch_size ?? 10,
          concurrency: 2,
          ...(d.retry ? { retry: { ...d.retry } } : {}),
        });
        const pipe = await pipes.pipes.create({
          name: `${source.slug}-to-${d.name}`,
          source_id: src.id,
          destination_id: dest.id,
          transform: metaExampleTransform,
        });
        await pipes.pipes.enable(pipe.id);
        await pipes.destinations.enable(dest.id);
        out.push({ destination: dest, pipe });
      }
      return out;
    }

    // Real time, slow (~10 s): Retry-After is honoured on the wall clock by a real platform stand-in.
    it('honours 429 Retry-After until the destination recovers: every event delivered, none dead', async () => {
      const recoversAt = Date.now() + 10_000;
      const platform = await server(() =>
        Date.now() < recoversAt
          ? {
              status: 429,
              headers: { 'retry-after': '1' },
              body: { error: { message: 'Too many calls', code: 4 } },
            }
          : { status: 200, body: { events_received: 10 } },
      );
      const pipes = await engine({}, [platform.host]);
      const { pipe } = (
        await setup(pipes, [
          {
            name: 'throttled',
            send: plainSend(platform.url),
            retry: { initial_delay_ms: 200, multiplier: 2 },
          },
        ])
      )[0]!;
      await pipes.start();
      await pipes.ingest(
        'web',
        Array.from({ length: 20 }, (_, i) => purchaseEvent(`ord_429_${i}`)),
      );
      const deliveries = await settled(pipes, pipe.id, 20, 40_000);
      expect(deliveries.every((d) => d.status === 'delivered')).toBe(true);
      for (const summary of deliveries) {
        const record = await pipes.deliveries.get(summary.id);
        const starts = record.attempts!.map((a) => Date.parse(a.started_at));
        // Retry-After: 1 is honoured between attempts, and the attempts stay within the policy.
        for (let i = 1; i < starts.length; i++)
          expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(950);
        expect(record.attempt_count).toBeGreaterThanOrEqual(2);
        expect(record.attempt_count).toBeLessThanOrEqual(10);
        expect(record.attempts!.slice(0, -1).every((a) => a.response?.status === 429)).toBe(true);
      }
      // 20 events in batches of 10 over ~10 s of 429s: far fewer requests than a hot loop would make.
      expect(platform.requests.length).toBeLessThanOrEqual(2 * 12);
    }, 60_000);

    // Real time: a destination that really hangs (30 s) beside one that answers.
    it('keeps delivering to a healthy destination while another one hangs', async () => {
      let hangingAnswered = 0;
      const hanging = await server(async () => {
        await new Promise((r) => setTimeout(r, 30_000));
        hangingAnswered++;
        return { status: 200, body: {} };
      });
      const healthy = await server(() => ({ status: 200, body: { events_received: 10 } }));
      const pipes = await engine({}, [hanging.host, healthy.host]);
      const [slow, fast] = await setup(pipes, [
        { name: 'hanging', send: plainSend(hanging.url) },
        { name: 'healthy', send: plainSend(healthy.url) },
      ]);
      await pipes.start();
      await pipes.ingest(
        'web',
        Array.from({ length: 200 }, (_, i) => purchaseEvent(`ord_hang_${i}`)),
      );
      const delivered = await settled(pipes, fast!.pipe.id, 200, 20_000);
      expect(delivered.every((d) => d.status === 'delivered')).toBe(true);
      // All of it while the hanging destination had answered nothing: nothing waited on it.
      expect(hangingAnswered).toBe(0);
      // The hanging destination is still waiting on its first batches; nothing of it is final.
      const stuck = await pipes.deliveries.list(slow!.pipe.id, { limit: 1000 });
      expect(stuck.data.filter((d) => d.status === 'delivered')).toHaveLength(0);
      expect(hanging.requests.length).toBeGreaterThan(0);
    }, 60_000);

    it('holds each destination to its own concurrency and rate limit', async () => {
      let active = 0;
      let peak = 0;
      const slow = await server(async () => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((r) => setTimeout(r, 100));
        active--;
        return { status: 200, body: {} };
      });
      const arrivals: number[] = [];
      const limited = await server(() => {
        arrivals.push(Date.now());
        return { status: 200, body: {} };
      });
      const pipes = await engine({}, [slow.host, limited.host]);
      const src = await pipes.sources.create({ name: 'Web', slug: 'web' });
      await pipes.eventTypes.create({ name: 'purchase', schema: purchaseSchema });
      const made = [];
      for (const [name, url, settings] of [
        ['two-at-a-time', slow.url, { concurrency: 2 }],
        ['five-per-second', limited.url, { concurrency: 4, rate_limit_per_second: 5 }],
      ] as const) {
        const dest = await pipes.destinations.create({
          name,
          send: plainSend(url),
          max_batch_size: 1,
          ...settings,
        });
        const pipe = await pipes.pipes.create({
          name: `to-${name}`,
          source_id: src.id,
          destination_id: dest.id,
          transform: metaExampleTransform,
        });
        await pipes.pipes.enable(pipe.id);
        await pipes.destinations.enable(dest.id);
        made.push(pipe);
      }
      await pipes.ingest(
        'web',
        Array.from({ length: 12 }, (_, i) => purchaseEvent(`ord_limit_${i}`)),
      );
      const started = Date.now();
      await pipes.start();
      await settled(pipes, made[0]!.id, 12, 20_000);
      await settled(pipes, made[1]!.id, 12, 20_000);
      expect(peak).toBe(2);
      expect(limited.requests).toHaveLength(12);
      // The limit is wired in: at five per second in any one-second span, the 11th and 12th calls
      // cannot start before two seconds after the first could. Only a lower bound, which no load
      // can break (a loaded machine only makes calls later); the exact sliding window is checked
      // on fake timers in dispatch/lane.test.ts. (Timers may fire a millisecond early: 1990.)
      expect(Math.max(...arrivals) - started).toBeGreaterThanOrEqual(1990);
    }, 40_000);

    // Real time, slow (~4 s): leases are renewed by a timer in this process and checked by the
    // store's clock in another engine, which fake timers cannot reach.
    it('renews the leases of a batch slower than its lease, so no other worker sends it again', async () => {
      const platform = await server(async () => {
        await new Promise((r) => setTimeout(r, 3500));
        return { status: 200, body: {} };
      });
      const db = dbName();
      // Renewals run every leaseMs / 3; with a 300 ms lease, a 200 ms stall of a busy machine let
      // the lease lapse and the second worker send again. 1 s leases tolerate ~650 ms stalls.
      const fast = { pollIntervalMs: 50, leaseMs: 1000 };
      const first = await engine({ dispatcher: fast }, [platform.host], db);
      const { pipe } = (await setup(first, [{ name: 'slow', send: plainSend(platform.url) }]))[0]!;
      await first.ingest('web', purchaseEvent('ord_slow_1'));
      await first.start();
      await waitFor(() => platform.requests.length === 1, 10_000, 'the first worker to send');
      // A second worker on the same store, polling while the first one's batch takes 3.5 leases.
      const second = await engine({ dispatcher: fast }, [platform.host], db);
      await second.start();
      const [delivery] = await settled(first, pipe.id, 1);
      expect(delivery?.status).toBe('delivered');
      // A takeover would have sent during the 3.5 s the first batch took; `delivered` is final.
      expect(platform.requests).toHaveLength(1);
      expect((await first.deliveries.get(delivery!.id)).attempt_count).toBe(1);
    });

    it('fails only the rows the platform rejected in a batch', async () => {
      const platform = await server((request) => {
        const rows = (request.json as { data: unknown[] }).data;
        return {
          status: 200,
          body: {
            received: rows.length,
            errors: [
              { index: 3, message: 'Invalid email hash at row 3' },
              { index: 7, message: 'Unknown click id at row 7' },
            ],
          },
        };
      });
      const pipes = await engine({}, [platform.host]);
      const { pipe } = (
        await setup(pipes, [{ name: 'partial', send: partialSend(platform.url), max_batch_size: 10 }])
      )[0]!;
      const ids = Array.from({ length: 10 }, (_, i) => `ord_row_${i}`);
      await pipes.ingest(
        'web',
        ids.map((id) => purchaseEvent(id)),
      );
      await pipes.start();
      const deliveries = await settled(pipes, pipe.id, 10);
      expect(platform.requests).toHaveLength(1);
      const byEvent = new Map(deliveries.map((d) => [d.event_id, d]));
      const failed = deliveries.filter((d) => d.status === 'failed').map((d) => d.event_id);
      expect(failed.sort()).toEqual(['ord_row_3', 'ord_row_7']);
      expect(deliveries.filter((d) => d.status === 'delivered')).toHaveLength(8);
      expect(byEvent.get('ord_row_3')?.error).toMatchObject({
        code: 'ROW_REJECTED',
        message: 'Invalid email hash at row 3',
        retryable: false,
      });
      expect(byEvent.get('ord_row_7')?.error?.message).toBe('Unknown click id at row 7');
      // Each record shows its own row of the batch.
      expect(byEvent.get('ord_row_7')?.request?.payload).toMatchObject({ data: [{ event_id: 'ord_row_7' }] });
    });

    it('replays dead deliveries after the destination recovers; a dry run sends nothing', async () => {
      let up = false;
      const platform = await server(() =>
        up ? { status: 200, body: { events_received: 1 } } : { status: 503, body: { error: 'down' } },
      );
      const pipes = await engine({}, [platform.host]);
      const { pipe } = (
        await setup(pipes, [
          { name: 'flaky', send: plainSend(platform.url), retry: { max_attempts: 2, initial_delay_ms: 10 } },
        ])
      )[0]!;
      await pipes.start();
      await pipes.ingest('web', [purchaseEvent('ord_dead_1'), purchaseEvent('ord_dead_2')]);
      const dead = await settled(pipes, pipe.id, 2);
      expect(dead.map((d) => d.status)).toEqual(['dead', 'dead']);
      expect(dead[0]?.error).toMatchObject({ code: 'HTTP_503', retryable: true });

      up = true;
      const before = platform.requests.length;
      const preview = await pipes.deliveries.replay(pipe.id, { dry_run: true });
      expect(preview.dry_run).toBe(true);
      expect(preview.count).toBe(2);
      const previewed = (preview.preview ?? []).map(
        (p) => (p.output?.[0] as { event_payload: { event_id: string } } | undefined)?.event_payload.event_id,
      );
      expect(previewed.sort()).toEqual(['ord_dead_1', 'ord_dead_2']);
      // The dry run sent nothing and re-queued nothing: still `dead`, which no dispatcher claims.
      expect(platform.requests.length).toBe(before);
      expect((await pipes.deliveries.list(pipe.id)).data.every((d) => d.status === 'dead')).toBe(true);

      const replay = await pipes.deliveries.replay(pipe.id, { statuses: ['dead'] });
      expect(replay.count).toBe(2);
      const after = await waitFor(async () => {
        const page = await pipes.deliveries.list(pipe.id);
        return page.data.every((d) => d.status === 'delivered') ? page.data : null;
      });
      const record = await pipes.deliveries.get(after[0]!.id);
      expect(record.attempt_count).toBe(3);
      expect(record.attempts?.map((a) => a.status)).toEqual(['retrying', 'dead', 'delivered']);
      // Nothing left to replay now.
      expect((await pipes.deliveries.replay(pipe.id)).count).toBe(0);
    });

    it('replays through a chosen pipe version', async () => {
      const platform = await server(() => ({ status: 400, body: { error: 'bad' } }));
      const pipes = await engine({}, [platform.host]);
      const { pipe } = (await setup(pipes, [{ name: 'versions', send: plainSend(platform.url) }]))[0]!;
      await pipes.start();
      await pipes.ingest('web', purchaseEvent('ord_v_1'));
      await settled(pipes, pipe.id, 1);
      const pinned = (await pipes.pipes.get(pipe.id)).version;
      await pipes.pipes.update(pipe.id, {
        transform: `function transform({ events }) { return events.map((e) => ({ ...e, event_payload: { v: 'new' } })); }`,
      });
      platform.handle(() => ({ status: 200, body: {} }));
      await pipes.deliveries.replay(pipe.id, { pipe_version: pinned });
      const [delivery] = await settled(pipes, pipe.id, 1);
      const record = await pipes.deliveries.get(delivery!.id);
      expect(record.status).toBe('delivered');
      expect(record.pipe_version).toBe(pinned);
      expect(record.request?.payload).toMatchObject({
        data: [{ event_name: 'Purchase', event_id: 'ord_v_1' }],
      });
    });

    it('acknowledges an event_id sent again within the dedup window as a duplicate and delivers it once', async () => {
      const platform = await server(() => ({ status: 200, body: {} }));
      const pipes = await engine({}, [platform.host]);
      const { pipe } = (await setup(pipes, [{ name: 'dedup', send: plainSend(platform.url) }]))[0]!;
      await pipes.start();
      const first = await pipes.ingest('web', purchaseEvent('ord_dup'));
      const again = await pipes.ingest('web', [purchaseEvent('ord_dup'), purchaseEvent('ord_other')]);
      expect(first.results[0]).toMatchObject({ status: 'accepted', event_id: 'ord_dup' });
      expect(again.results[0]).toMatchObject({
        status: 'duplicate',
        event_id: 'ord_dup',
        id: (first.results[0] as { id: string }).id,
      });
      expect(again.duplicates).toBe(1);
      const deliveries = await settled(pipes, pipe.id, 2);
      expect(deliveries.map((d) => d.event_id).sort()).toEqual(['ord_dup', 'ord_other']);
      // A source with dedup off accepts the same id again.
      await pipes.sources.create({ name: 'Backend', slug: 'backend', dedup_window_seconds: 0 });
      const twice = await pipes.ingest('backend', [purchaseEvent('ord_dup'), purchaseEvent('ord_dup')]);
      expect(twice.accepted).toBe(2);
    });

    it('pauses a failing destination with its circuit breaker and resumes by itself, draining the backlog', async () => {
      let up = false;
      const platform = await server(() => (up ? { status: 200, body: {} } : { status: 500, body: {} }));
      const pipes = await engine(
        { dispatcher: { pollIntervalMs: 50, breakerThreshold: 3, breakerInitialPauseMs: 300 } },
        [platform.host],
      );
      const events: Array<{ name: string; payload: unknown }> = [];
      pipes.on('destination-paused', (payload) => events.push({ name: 'paused', payload }));
      pipes.on('destination-resumed', (payload) => events.push({ name: 'resumed', payload }));
      const { pipe } = (
        await setup(pipes, [
          {
            name: 'breaker',
            send: plainSend(platform.url),
            max_batch_size: 1,
            retry: { initial_delay_ms: 20, multiplier: 1, max_attempts: 50 },
          },
        ])
      )[0]!;
      await pipes.start();
      await pipes.ingest(
        'web',
        Array.from({ length: 6 }, (_, i) => purchaseEvent(`ord_cb_${i}`)),
      );
      await waitFor(() => events.some((e) => e.name === 'paused'), 10_000, 'breaker to open');
      const paused = events.find((e) => e.name === 'paused')!.payload as EngineEventMap['destination-paused'];
      expect(paused.destination).toBe('breaker');
      expect(paused.consecutive_failures).toBeGreaterThanOrEqual(3);
      expect(pipes.status().breakers[paused.destination_id]?.state).toMatch(/open|half-open/);
      up = true;
      const deliveries = await settled(pipes, pipe.id, 6, 20_000);
      expect(deliveries.every((d: Delivery) => d.status === 'delivered')).toBe(true);
      // The batch that delivered after the outage closed the breaker before it was recorded.
      await pipes.idle();
      expect(events.filter((e) => e.name === 'resumed').length).toBeGreaterThanOrEqual(1);
      expect(pipes.status().breakers[paused.destination_id]?.state).toBe('closed');
    }, 40_000);

    it('keeps accepting events while the destination is down and shows the backlog', async () => {
      const platform = await server(() => ({ status: 503, body: {} }));
      const pipes = await engine({}, [platform.host]);
      const { pipe, destination } = (
        await setup(pipes, [
          { name: 'down', send: plainSend(platform.url), retry: { initial_delay_ms: 60_000 } },
        ])
      )[0]!;
      await pipes.start();
      for (let i = 0; i < 5; i++) {
        const result = await pipes.ingest(
          'web',
          Array.from({ length: 20 }, (_, j) => purchaseEvent(`ord_buf_${i}_${j}`)),
        );
        expect(result.accepted).toBe(20);
      }
      const stats = await waitFor(async () => {
        const rows = (await pipes.deliveries.stats()).filter((r) => r.pipe_id === pipe.id);
        const count = (status: string) =>
          rows.filter((r) => r.status === status).reduce((n, r) => n + r.count, 0);
        // Everything is buffered (waiting or between attempts), and the failures were recorded.
        return count('pending') + count('retrying') === 100 && count('retrying') > 0 ? rows : null;
      });
      expect(stats.every((r) => r.destination_id === destination.id)).toBe(true);
      expect(stats.every((r) => r.oldest_created_at !== null)).toBe(true);
    });

    it('prunes events and deliveries older than the retention period', async () => {
      let now = Date.parse('2026-01-01T00:00:00.000Z');
      const platform = await server(() => ({ status: 200, body: {} }));
      const pipes = await engine({ clock: () => now, retention: { days: 30 } }, [platform.host]);
      const { pipe } = (await setup(pipes, [{ name: 'retained', send: plainSend(platform.url) }]))[0]!;
      await pipes.ingest('web', [purchaseEvent('ord_old_1'), purchaseEvent('ord_old_2')]);
      now += 20 * 86_400_000;
      await pipes.ingest('web', [purchaseEvent('ord_new_1')]);
      now += 15 * 86_400_000;
      expect(await pipes.prune()).toEqual({
        events: 2,
        deliveries: 2,
        secretValues: 0,
        profiles: 0,
        rejections: 0,
        deliveryCounts: 0,
      });
      const left = await pipes.deliveries.list(pipe.id);
      expect(left.data.map((d) => d.event_id)).toEqual(['ord_new_1']);
    });

    it('keeps delivery counts past the history they came from, until their own retention prunes them', async () => {
      const day = 86_400_000;
      const start = Date.parse('2026-01-01T00:00:00.000Z');
      let now = start;
      const platform = await server(() => ({ status: 200, body: {} }));
      const pipes = await engine(
        { clock: () => now, retention: { days: 30, deliveryCountsDays: 60, batchSize: 1 } },
        [platform.host],
      );
      const { pipe } = (await setup(pipes, [{ name: 'counted', send: plainSend(platform.url) }]))[0]!;
      await pipes.ingest('web', [purchaseEvent('ord_count_1'), purchaseEvent('ord_count_2')]);
      now += 20 * day;
      await pipes.ingest('web', [purchaseEvent('ord_count_3')]);
      const countsOn = async (d: number) =>
        (
          await pipes.store.deliveryCounts({
            since: new Date(start + d * day).toISOString(),
            until: new Date(start + (d + 1) * day).toISOString(),
            pipeId: pipe.id,
          })
        ).reduce((sum, r) => sum + r.count, 0);

      // Day 35: the first two records are past `days`, their counts are not past `deliveryCountsDays`.
      now = start + 35 * day;
      expect(await pipes.prune()).toMatchObject({ events: 2, deliveries: 2, deliveryCounts: 0 });
      expect(await countsOn(0)).toBe(2);
      // Day 70: day 0's counts are past 60 days and go (in batches of one); day 20's stay.
      now = start + 70 * day;
      expect(await pipes.prune()).toMatchObject({ events: 1, deliveryCounts: 1 });
      expect(await countsOn(0)).toBe(0);
      expect(await countsOn(20)).toBe(1);
    });
  });
}
