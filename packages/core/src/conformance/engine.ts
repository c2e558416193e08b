/**
 * End-to-end engine scenarios that every store runs: the operator flow, a destination that
 * answers 400 or 500, malformed events, and a restart with pending deliveries. Real components: the
 * store under test, the QuickJS sandbox, and an HTTP server on 127.0.0.1 that answers like Meta.
 *
 * ```ts
 * runEngineConformance({ name: 'sqlite', openStore: async (db) => sqliteStore({ filename: join(dir, `${db}.db`) }) });
 * ```
 */
import { describe, expect, it } from 'vitest';
import { createPipes, type PipesOptions } from '../engine.js';
import { silentLogger } from '../logger.js';
import type { IncomingEvent } from '../schemas.js';
import type { Store } from '../store.js';
import {
  exampleAccessToken as accessToken,
  metaLikeAnswer,
  examplePixelId as pixelId,
  settled,
  setupMetaExample,
  testSecretKey,
} from '../testing/helpers.js';
import { purchaseEvent } from '../testing/meta-example.js';
import { engineHarness, passThroughPipe } from './harness.js';

export interface EngineConformanceOptions {
  name: string;
  /** Opens the database called `db` (the same name opens the same data again). Not migrated. */
  openStore: (db: string) => Promise<Store>;
  /** Everything the store has written for `db`, as text (to prove no secret value is in it). */
  rawDump?: (db: string) => Promise<string>;
  /** Drops every database this suite created. */
  cleanup?: () => Promise<void>;
  /** Records migration `version` as applied in `db`'s migrations table, as a newer OpenPipes would. */
  recordMigration?: (db: string, version: number) => Promise<void>;
  /** How many rows `table` of `db` holds (to check what a pass wrote, not only what reads find). */
  countRows?: (db: string, table: string) => Promise<number>;
}

// long-function: one list of it() cases sharing the engine harness set up at its top; every store runs it, the engine's executable spec
export function runEngineConformance(options: EngineConformanceOptions): void {
  describe(`engine on ${options.name}`, () => {
    const h = engineHarness(options, { prefix: 'engine' });
    const { dbName, server } = h;
    const engine = (db: string, extra: Partial<PipesOptions> = {}, egress: string[] = []) =>
      h.engine(db, { egressAllow: egress, ...extra });

    it('runs the operator flow: three purchases delivered, an add_to_cart filtered, no secret stored', async () => {
      const meta = await server(metaLikeAnswer);
      const db = dbName();
      const pipes = await engine(db, {}, [meta.host]);
      const { pipe, destination } = await setupMetaExample(pipes, meta);
      await pipes.start();

      const result = await pipes.ingest('web', [
        purchaseEvent('ord_70213'),
        purchaseEvent('ord_70214'),
        { event_type: 'add_to_cart', event_time: new Date().toISOString(), event_payload: { sku: 'A-1' } },
        purchaseEvent('ord_70215'),
      ]);
      expect(result).toMatchObject({ accepted: 4, rejected: 0, duplicates: 0 });

      const deliveries = await settled(pipes, pipe.id, 4);
      const delivered = deliveries.filter((d) => d.status === 'delivered');
      expect(delivered.map((d) => d.event_id).sort()).toEqual(['ord_70213', 'ord_70214', 'ord_70215']);
      expect(deliveries.filter((d) => d.status === 'filtered')).toHaveLength(1);

      const record = await pipes.deliveries.get(delivered.find((d) => d.event_id === 'ord_70213')!.id);
      expect(record).toMatchObject({
        pipe_id: pipe.id,
        pipe_version: 2,
        destination_id: destination.id,
        destination: 'meta-capi-prod',
        event_id: 'ord_70213',
        status: 'delivered',
        attempt_count: 1,
        request: {
          url: `${meta.url}/v19.0/[secret:META_PIXEL_ID]/events`,
          method: 'POST',
          payload: {
            data: [{ event_name: 'Purchase', event_id: 'ord_70213', action_source: 'website' }],
            access_token: '[secret:META_ACCESS_TOKEN]',
          },
        },
        response: { status: 200, body: { fbtrace_id: 'AbC123xyz', messages: [] } },
        error: null,
      });
      expect(record.delivered_at).not.toBeNull();
      expect(record.attempts).toHaveLength(1);
      // The request really carried the token and pixel (the record shows them redacted).
      expect(meta.requests.length).toBeGreaterThanOrEqual(1);
      const sent = meta.requests.flatMap((r) => (r.json as { data: Array<{ event_id: string }> }).data);
      expect(sent.map((e) => e.event_id).sort()).toEqual(['ord_70213', 'ord_70214', 'ord_70215']);
      expect(meta.requests[0]!.url).toBe(`/v19.0/${pixelId}/events`);

      // No secret value anywhere the engine can show, nor in the raw store.
      const everything = JSON.stringify([
        await Promise.all(deliveries.map((d) => pipes.deliveries.get(d.id))),
        await pipes.secrets.list(),
        await pipes.destinations.versions(destination.id),
        await pipes.store.listAudit({ limit: 1000 }),
      ]);
      expect(everything).not.toContain(accessToken);
      expect(everything).not.toContain(pixelId);
      if (options.rawDump) {
        const raw = await options.rawDump(db);
        expect(raw.length).toBeGreaterThan(0);
        expect(raw).toContain('ord_70213');
        expect(raw).not.toContain(accessToken);
        expect(raw).not.toContain(pixelId);
      }
    });

    it('records a 400 with its Meta error as failed and does not retry it', async () => {
      const meta = await server(() => ({
        status: 400,
        body: {
          error: {
            message: 'Invalid parameter',
            type: 'OAuthException',
            code: 100,
            error_subcode: 2804003,
            error_user_msg: 'Event Timestamp Too Old',
            fbtrace_id: 'Ab1',
          },
        },
      }));
      const pipes = await engine(dbName(), {}, [meta.host]);
      const { pipe } = await setupMetaExample(pipes, meta, { retry: { initial_delay_ms: 10 } });
      await pipes.start();
      await pipes.ingest('web', purchaseEvent('ord_400'));
      const [delivery] = await settled(pipes, pipe.id, 1);
      expect(delivery?.status).toBe('failed');
      expect(delivery?.error).toMatchObject({ code: 'HTTP_400', retryable: false, stage: 'response' });
      expect(delivery?.error?.message).toContain('Event Timestamp Too Old');
      expect(delivery?.response).toMatchObject({ status: 400, body: { error: { code: 100 } } });
      // Not retried: `failed` is final and nothing is scheduled (no sleep can prove a negative).
      const record = await pipes.deliveries.get(delivery!.id);
      expect(record).toMatchObject({ status: 'failed', next_attempt_at: null, attempt_count: 1 });
      expect(meta.requests).toHaveLength(1);
    });

    it('retries a 500 and delivers when the destination answers 200', async () => {
      let calls = 0;
      const meta = await server((request) => {
        calls++;
        return calls === 1
          ? { status: 500, body: { error: { message: 'Service unavailable', code: 2 } } }
          : metaLikeAnswer(request);
      });
      const pipes = await engine(dbName(), {}, [meta.host]);
      const { pipe } = await setupMetaExample(pipes, meta, {
        retry: { initial_delay_ms: 20, multiplier: 1 },
      });
      await pipes.start();
      await pipes.ingest('web', purchaseEvent('ord_500'));
      const [delivery] = await settled(pipes, pipe.id, 1);
      expect(delivery?.status).toBe('delivered');
      const record = await pipes.deliveries.get(delivery!.id);
      expect(record.attempt_count).toBe(2);
      expect(record.attempts?.map((a) => [a.status, a.response?.status])).toEqual([
        ['retrying', 500],
        ['delivered', 200],
      ]);
      expect(record.attempts?.[0]?.error).toMatchObject({ code: 'HTTP_500', retryable: true });
    });

    it('keeps event_id on the output of a pass-through pipe (transform: null), the same on every re-send', async () => {
      // Issue 12: the pass-through branch dropped event_id, so the platforms could not deduplicate
      // the re-sends that at-least-once delivery makes. The stand-in fails the first request that
      // carries an event, so each event is sent twice, as after a crash.
      const seen = new Map<string, number>();
      const platform = await server((request) => {
        const data = (request.json as { data: Array<{ event_id?: unknown }> }).data;
        const ids = data.map((e) => String(e.event_id));
        const fresh = ids.some((id) => !seen.has(id));
        for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
        return fresh ? { status: 503, body: { error: 'busy' } } : { status: 200, body: { ok: true } };
      });
      const pipes = await engine(dbName(), {}, [platform.host]);
      const { pipe } = await passThroughPipe(pipes, {
        name: 'as-is',
        send: `async function send({ events }) {
          await fetch(${JSON.stringify(`${platform.url}/events`)}, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ data: events }),
          });
        }`,
        retry: { initial_delay_ms: 20, multiplier: 1 },
      });
      await pipes.start();

      const time = '2026-05-04T10:14:22.481Z';
      await pipes.ingest('web', [
        { event_type: 'purchase', event_id: 'ord_pt_1', event_time: time, event_payload: { value: 1 } },
        { event_type: 'purchase', event_time: time, event_payload: { value: 2 } },
      ]);
      const deliveries = await settled(pipes, pipe.id, 2);
      expect(deliveries.map((d) => d.status)).toEqual(['delivered', 'delivered']);
      const ids = deliveries.map((d) => d.event_id).sort();
      // The sender's id, and the generated evt_ id for the event that came without one.
      expect(ids[0]).toMatch(/^evt_/);
      expect(ids[1]).toBe('ord_pt_1');
      // Every request carried each event's id; each event went out twice with the same id.
      expect([...seen.entries()].sort()).toEqual(ids.map((id) => [id, 2]));
      for (const delivery of deliveries) {
        const record = await pipes.deliveries.get(delivery.id);
        expect(record.output).toEqual([
          expect.objectContaining({ event_id: delivery.event_id, event_type: 'purchase', event_time: time }),
        ]);
        expect(record.attempts?.map((a) => a.status)).toEqual(['retrying', 'delivered']);
      }
      // A dry-run replay shows what would be sent: the same event_id.
      const preview = await pipes.deliveries.replay(pipe.id, { statuses: ['delivered'], dry_run: true });
      expect(
        preview.preview?.map((p) => (p.output as Array<{ event_id?: string }>)[0]?.event_id).sort(),
      ).toEqual(ids);
    });

    it('rejects malformed events one by one, stores their valid siblings, and stores nothing for them', async () => {
      const meta = await server(metaLikeAnswer);
      const pipes = await engine(dbName(), {}, [meta.host]);
      const { pipe } = await setupMetaExample(pipes, meta);
      const result = await pipes.ingest('web', [
        purchaseEvent('ord_ok_1'),
        { event_type: 'purchase', event_time: 'yesterday', event_payload: { order_id: 'x' } },
        { event_type: 'refund', event_time: new Date().toISOString(), event_payload: {} },
        purchaseEvent('ord_bad', { currency: 'euro', revenue: -1 }),
        // What an untyped caller (a parsed request body) may pass: checked at run time all the same.
        'not an event' as unknown as IncomingEvent,
        purchaseEvent('ord_ok_2'),
      ]);
      expect(result.accepted).toBe(2);
      expect(result.rejected).toBe(4);
      expect(result.results.map((r) => r.status)).toEqual([
        'accepted',
        'rejected',
        'rejected',
        'rejected',
        'rejected',
        'accepted',
      ]);
      const [, badTime, unknownType, badPayload] = result.results;
      expect(badTime).toMatchObject({
        error: { code: 'VALIDATION_FAILED', issues: [{ path: 'event_time' }] },
      });
      expect(unknownType).toMatchObject({ error: { code: 'UNKNOWN_EVENT_TYPE' } });
      expect(badPayload?.status === 'rejected' && badPayload.error.issues.map((i) => i.path).sort()).toEqual([
        'event_payload.currency',
        'event_payload.revenue',
      ]);
      const stored = await pipes.deliveries.list(pipe.id);
      expect(stored.data.map((d) => d.event_id).sort()).toEqual(['ord_ok_1', 'ord_ok_2']);
      await expect(pipes.ingest('nope', [purchaseEvent('x')])).rejects.toMatchObject({
        code: 'UNKNOWN_SOURCE',
      });
    });

    it('delivers after a restart what was accepted before it', async () => {
      const meta = await server(metaLikeAnswer);
      const db = dbName();
      const first = await engine(db, { roles: ['ingest'] }, [meta.host]);
      const { pipe } = await setupMetaExample(first, meta);
      await first.start();
      const ids = Array.from({ length: 25 }, (_, i) => `ord_restart_${i}`);
      await first.ingest(
        'web',
        ids.map((id) => purchaseEvent(id)),
      );
      expect((await first.deliveries.list(pipe.id, { status: 'pending', limit: 100 })).data).toHaveLength(25);
      await first.stop();
      expect(meta.requests).toHaveLength(0);

      const second = await engine(db, {}, [meta.host]);
      await second.start();
      const deliveries = await settled(second, pipe.id, 25);
      expect(deliveries.every((d) => d.status === 'delivered')).toBe(true);
      expect(deliveries.map((d) => d.event_id).sort()).toEqual([...ids].sort());
    });

    it('tells onDeliveriesDue which destinations got work, also when it does not dispatch itself', async () => {
      const meta = await server(metaLikeAnswer);
      const woken: string[][] = [];
      const pipes = await engine(dbName(), { roles: ['ingest'], onDeliveriesDue: (ids) => woken.push(ids) }, [
        meta.host,
      ]);
      const { destination } = await setupMetaExample(pipes, meta);
      await pipes.start();
      await pipes.ingest('web', [purchaseEvent('ord_due_1'), purchaseEvent('ord_due_2')]);
      // One call per commit, after it: the deliveries are there for a dispatcher to claim.
      expect(woken).toEqual([[destination.id]]);
      expect(meta.requests).toHaveLength(0);
    });

    it('with autoMigrate: false, changes no schema and refuses calls with MIGRATION_REQUIRED until migrate()', async () => {
      const db = dbName();
      const pipes = await engine(db, { autoMigrate: false });
      const required = { code: 'MIGRATION_REQUIRED', retryable: true };
      await expect(pipes.sources.list()).rejects.toMatchObject(required);
      await expect(pipes.ingest('web', purchaseEvent('ord_early'))).rejects.toMatchObject(required);
      await expect(pipes.start()).rejects.toMatchObject(required);
      const before = await pipes.store.migrationStatus();
      expect(before.applied).toBe(0);
      expect(before.latest).toBeGreaterThan(0);

      await pipes.migrate();
      expect(await pipes.store.migrationStatus()).toEqual({ applied: before.latest, latest: before.latest });
      await pipes.sources.create({ name: 'Web', slug: 'web' });
      await pipes.migrate(); // idempotent
      // Another process (a store of its own) sees a current schema and goes ahead without migrating.
      const other = await engine(db, { autoMigrate: false });
      expect((await other.sources.list()).data.map((s) => s.slug)).toEqual(['web']);
      await other.start();
    });

    if (options.recordMigration) {
      const recordMigration = options.recordMigration;
      it('refuses with SCHEMA_TOO_NEW a schema a newer OpenPipes migrated further, and changes nothing', async () => {
        const db = dbName();
        const first = await engine(db);
        const source = await first.sources.create({ name: 'Web', slug: 'web' });
        const { latest } = await first.store.migrationStatus();
        await recordMigration(db, latest + 1);
        const newer = { code: 'SCHEMA_TOO_NEW', retryable: false, details: { applied: latest + 1, latest } };
        for (const autoMigrate of [true, false]) {
          const older = await engine(db, { autoMigrate });
          await expect(older.sources.list()).rejects.toMatchObject(newer);
          await expect(older.deliveries.backlog()).rejects.toMatchObject(newer);
          await expect(older.ingest('web', purchaseEvent('ord_newer_schema'))).rejects.toMatchObject(newer);
          await expect(older.start()).rejects.toMatchObject(newer);
          await expect(older.migrate()).rejects.toMatchObject(newer);
        }
        // Nothing was stored, and the schema is as the newer version left it.
        expect(await first.store.migrationStatus()).toEqual({ applied: latest + 1, latest });
        expect((await first.sources.events(source.id)).data).toEqual([]);
        expect((await first.sources.rejections(source.id)).data).toEqual([]);
      });
    }

    it('leaves the store open on stop(): the caller made it, and another engine can go on with it', async () => {
      const meta = await server(metaLikeAnswer);
      const store = await options.openStore(dbName());
      const make = () =>
        createPipes({
          store,
          secretKey: testSecretKey,
          logger: silentLogger,
          sandbox: { workers: 1 },
          egressAllow: [meta.host],
          dispatcher: { pollIntervalMs: 50 },
        });
      const first = make();
      const { pipe } = await setupMetaExample(first, meta);
      await first.ingest('web', purchaseEvent('ord_before_stop'));
      await first.stop({ graceMs: 2000 });
      await expect(first.sources.list()).rejects.toMatchObject({ code: 'ENGINE_STOPPED' });

      // The very same store object still answers, directly and through a new engine.
      expect(await store.getEntity({ kind: 'pipe', id: pipe.id })).toMatchObject({ id: pipe.id });
      const second = make();
      h.trackEngine(second);
      await second.start();
      expect((await settled(second, pipe.id, 1))[0]?.status).toBe('delivered');
    });
  });
}
