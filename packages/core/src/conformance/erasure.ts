/**
 * Erasure end to end on a real engine (docs/erasure.md): Jane browses (an `_fbp` cookie, a
 * `?fbclid=`, IP and user agent under an anonymous id), logs in with her email, and her events
 * leave for a stand-in platform on loopback; a collect request carrying her email is refused (the
 * rejection log keeps it). Then, with the dispatcher stopped, a purchase of hers and one of Bob's
 * wait as pending deliveries. Erasing her by email must leave Bob's data, must stop her purchase
 * from ever leaving (proved by Bob's purchase, claimed after hers would have been, arriving
 * without it), and must leave none of her raw email, hashed email or `_fbp` value in any table or
 * in the database's bytes (`rawDump`: the SQLite file and its WAL; every PostgreSQL row as text).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createPipes, type Pipes } from '../engine.js';
import { erasedEventIdDigest } from '../identity/erasure.js';
import { silentLogger } from '../logger.js';
import type { Store } from '../store.js';
import { settled, stopAndClose, testSecretKey, waitFor } from '../testing/helpers.js';
import type { TestServer } from '../testing/test-server.js';
import type { EngineConformanceOptions } from './engine.js';
import { engineHarness, storyPipe } from './harness.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

const EMAIL = 'Jane.Erasure@Example-Shop.test';
const FBP = 'fb.1.1700000000000.987654321';
const FBCLID = 'IwAR0erasurestory';

// Every event leaves as is, with the profile the transform was given (so hashes and ids travel).
const TRANSFORM = `function transform({ events, profiles }) {
  return events.map((e) => ({
    event_type: e.event_type,
    event_time: e.event_time,
    event_payload: { event_id: e.event_id, payload: e.event_payload, profile: profiles[e.event_id] || null },
  }));
}`;

// long-function: one list of it() cases sharing the engine harness set up at its top; every store runs it, the engine's executable spec
export function runEngineErasure(options: EngineConformanceOptions): void {
  describe(`erasure end to end on ${options.name}`, () => {
    const h = engineHarness(options, { prefix: 'erasure', defaults: { identity: true } });
    let sink: TestServer | null = null;
    const engine = (db: string, platform: TestServer) => h.engine(db, { egressAllow: [platform.host] });
    const at = (ms = Date.now()) => new Date(ms).toISOString();
    /** The event ids the platform received, from every request. */
    const received = () =>
      (sink?.requests ?? []).flatMap((r) =>
        ((r.json as { data?: Array<{ event_id: string }> }).data ?? []).map((d) => d.event_id),
      );

    // long-function: one scenario in the order a data subject's erasure happens: seed, erase, then check every place her bytes could remain
    it('erases a person: her data goes, Bob’s stays, her pending purchase never leaves, no bytes remain', async () => {
      const db = h.dbName();
      sink = await h.server(() => ({ body: { ok: true } }));
      const first = await engine(db, sink);
      const { pipe } = await storyPipe(first, `${sink.url}/events`, TRANSFORM);
      await first.start();

      await first.ingest('web', [
        {
          event_type: 'page_view',
          event_id: 'pv-jane',
          event_time: at(Date.now() - 60_000),
          event_payload: {
            anonymous_id: 'anon-jane',
            page_url: `https://shop.test/landing?fbclid=${FBCLID}`,
            cookies: `_fbp=${FBP}; other=1`,
            ip: '203.0.113.77',
            user_agent: 'Mozilla/5.0 (jane)',
          },
        },
        {
          event_type: 'page_view',
          event_id: 'pv-bob',
          event_time: at(),
          event_payload: { anonymous_id: 'anon-bob' },
        },
      ]);
      await first.ingest('web', [
        {
          event_type: 'login',
          event_id: 'login-jane',
          event_time: at(),
          event_payload: { anonymous_id: 'anon-jane', user_id: 'user-jane', email: EMAIL },
        },
        // Refused (no such event type): the rejection log keeps the event as sent, email and all.
        { event_type: 'newsletter', event_time: at(), event_payload: { email: EMAIL } },
      ]);
      await settled(first, pipe.id, 3);
      expect(received()).toEqual(expect.arrayContaining(['pv-jane', 'login-jane', 'pv-bob']));
      await stopAndClose(first);

      // Stopped: both purchases wait as pending deliveries; Jane's is the older.
      const second = await engine(db, sink);
      await second.ingest('web', [
        {
          event_type: 'purchase',
          event_id: 'ord-jane',
          event_time: at(),
          event_payload: { user_id: 'user-jane', value: 42 },
        },
      ]);
      await second.ingest('web', [
        {
          event_type: 'purchase',
          event_id: 'ord-bob',
          event_time: at(),
          event_payload: { anonymous_id: 'anon-bob', value: 7 },
        },
      ]);
      const erased = await second.profiles.erase(
        { identifiers: { email: EMAIL } },
        { actor: 'dpo@shop.test' },
      );
      expect(erased).toMatchObject({
        events: 3,
        deliveries: 3,
        cancelled: 1,
        rejections: 1,
        compacted: true,
      });
      expect(erased.profiles).toBeGreaterThanOrEqual(1);

      await second.start();
      const bob = await waitFor(
        async () => {
          const page = await second.deliveries.list(pipe.id, { limit: 100 });
          return page.data.find((d) => d.event_id === 'ord-bob' && d.status === 'delivered');
        },
        15_000,
        'Bob’s purchase delivered',
      );
      expect(bob).toBeDefined();
      // Bob's purchase was claimed after Jane's would have been: hers never left.
      expect(received()).toContain('ord-bob');
      expect(received()).not.toContain('ord-jane');

      const records = (await second.deliveries.list(pipe.id, { limit: 100 })).data;
      // Her order id is personal too: the tombstone keeps only its digest keyed by the secret key.
      expect(records.find((d) => d.event_id === 'ord-jane')).toBeUndefined();
      const jane = records.find((d) => d.event_id === erasedEventIdDigest(testSecretKey)('ord-jane'));
      expect(jane).toMatchObject({
        status: 'filtered',
        filter_reason: 'erased',
        output: null,
        request: null,
      });
      expect(jane?.erased_at).not.toBeNull();
      expect(records.find((d) => d.event_id === 'pv-bob')?.output).not.toBeNull();
      expect(await second.profiles.search({ identifiers: { email: EMAIL } })).toEqual([]);
      expect(await second.profiles.search({ identifiers: { anonymous_id: 'anon-bob' } })).toHaveLength(1);
      // Replays, dry or real, leave an erased record alone (it has no event to run).
      const dry = await second.deliveries.replay(pipe.id, {
        statuses: ['filtered', 'delivered'],
        dry_run: true,
      });
      expect(dry.ids.map((id) => records.find((r) => r.id === id)?.event_id).sort()).toEqual([
        'ord-bob',
        'pv-bob',
      ]);
      expect((await second.deliveries.replay(pipe.id, { statuses: ['filtered'] })).count).toBe(0);
      const audit = await second.audit.list({ actor: 'dpo@shop.test' });
      expect(audit.data[0]).toMatchObject({ action: 'erase', entity_kind: 'profile' });

      if (options.rawDump) {
        const bytes = await options.rawDump(db);
        expect(bytes).toContain('anon-bob');
        for (const needle of [
          EMAIL,
          EMAIL.toLowerCase(),
          sha(EMAIL.toLowerCase()),
          FBP,
          FBCLID,
          'anon-jane',
          'ord-jane',
        ])
          expect(bytes.includes(needle), `${needle} is still stored`).toBe(false);
      }
    });

    // docs/erasure.md, "Events from before the index": a backfill step reads events, then writes
    // their index rows in a second call; an erasure may run between the two.
    it.skipIf(!options.countRows)(
      'an erasure between a backfill step’s read and its write leaves no index row of an erased event',
      async () => {
        const db = h.dbName();
        const store = await options.openStore(db);
        let between: (() => Promise<unknown>) | null = null;
        // The store, with `between` run once just before the step's write reaches it.
        const raced: Store = {
          ...store,
          indexEventIdentifiers: async (input) => {
            const run = between;
            between = null;
            await run?.();
            return store.indexEventIdentifiers(input);
          },
        };
        const pipes: Pipes = h.trackEngine(
          createPipes({
            store: raced,
            secretKey: testSecretKey,
            logger: silentLogger,
            sandbox: { workers: 1 },
            identity: true,
            retention: { batchSize: 10 },
          }),
        );
        await pipes.sources.create({ name: 'Web', slug: 'web' });
        await pipes.eventTypes.create({ name: 'page_view', schema: { type: 'object' } });
        const view = (event_id: string, event_payload: Record<string, unknown>) =>
          pipes.ingest('web', [{ event_type: 'page_view', event_id, event_time: at(), event_payload }]);
        await view('pv-race-jane', { anonymous_id: 'anon-race', email: EMAIL });
        await view('pv-race-bob-1', { anonymous_id: 'anon-race-bob' });
        await view('pv-race-bob-2', { anonymous_id: 'anon-race-bob' });
        const rows = () => options.countRows!(db, 'event_identifiers');
        expect(await rows()).toBe(1);

        let erased = -1;
        between = async () => {
          erased = (await pipes.profiles.erase({ identifiers: { email: EMAIL } })).events;
        };
        await pipes.prune();
        expect(between).toBeNull();
        expect(erased).toBe(1);
        expect(await pipes.store.getState({ key: 'identity:event-index-backfill' })).toMatchObject({
          done: true,
        });
        // Bob's second page view keeps its row; Jane's erased page view has none.
        expect(await rows()).toBe(1);
        // She comes back under the same anonymous id: her export lists only what is stored.
        const again = await view('pv-race-jane-again', { anonymous_id: 'anon-race' });
        const againId = (again.results[0] as { id: string }).id;
        const anon = [{ kind: 'anonymous_id' as const, key: 'anon-race' }];
        const listed = await pipes.store.listPersonEvents({ identifiers: anon, limit: 10 });
        expect(listed.map((e) => e.event_ref)).toEqual([againId]);
        const [profile] = await pipes.profiles.search({ identifiers: { anonymous_id: 'anon-race' } });
        const exported = await pipes.profiles.export(profile!.id);
        expect(exported.events.map((e) => e.event_id)).toEqual(['pv-race-jane-again']);
        expect((await pipes.profiles.erase({ identifiers: { anonymous_id: 'anon-race' } })).events).toBe(1);
        expect(await rows()).toBe(1);
      },
    );
  });
}
