/**
 * Identity end to end on a real engine (docs/identifiers.md): a page view with `?fbclid=`, an `_fbp`
 * cookie, IP and user agent under an anonymous id; a login linking it to a user id and an email; a
 * backend purchase with only the user id. The purchase's transform must receive all of it, stitched
 * at delivery time, and the raw email must be nowhere in the store. Also: the purchase arriving
 * before the login is stitched by a replay after it. Every store runs it:
 *
 * ```ts
 * runEngineIdentity({ name: 'sqlite', openStore: async (db) => sqliteStore({ filename: join(dir, `${db}.db`) }), rawDump });
 * ```
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createPipes, type Pipes, type PipesOptions } from '../engine.js';
import type { TransformProfile } from '../identity/stitch.js';
import { type Logger, silentLogger } from '../logger.js';
import type { Store } from '../store.js';
import { settled, stopAndClose, testSecretKey, waitFor } from '../testing/helpers.js';
import type { TestServer } from '../testing/test-server.js';
import type { EngineConformanceOptions } from './engine.js';
import { engineHarness, storyPipe } from './harness.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

// Purchases only; each carries the profile the transform was given, as is.
const TRANSFORM = `function transform({ events, profiles }) {
  return events.flatMap((e) => e.event_type !== 'purchase' ? [] : [{
    event_type: e.event_type,
    event_time: e.event_time,
    event_payload: { event_id: e.event_id, profile: profiles[e.event_id] || null },
  }]);
}`;

const EMAIL = 'Jane.Doe+shop@Example-Shop.test';

/** The identity part of one `appendEvents` call: the profile links its transaction writes. */
type IngestIdentity = NonNullable<Parameters<Store['appendEvents']>[0]['identity']>;

/**
 * `store` with identity's part of an ingest made to fail inside its transaction (minting a profile
 * id throws) for each `appendEvents` whose identity `fails` picks; the rest pass through. Shows
 * that a broken identity index costs the links, never the events.
 */
function failingIdentity(store: Store, fails: (identity: IngestIdentity) => boolean): Store {
  return {
    ...store,
    appendEvents: (input) =>
      store.appendEvents(
        input.identity && fails(input.identity)
          ? {
              ...input,
              identity: {
                ...input.identity,
                newId: () => {
                  throw new Error('identity is down');
                },
              },
            }
          : input,
      ),
  };
}

/** A silent logger that keeps the message of every warning, to check what the engine said. */
function capturingWarnings(): { logger: Logger; warned: string[] } {
  const warned: string[] = [];
  const logger: Logger = {
    ...silentLogger,
    warn: (a, b) => void warned.push(String(typeof a === 'string' ? a : b)),
  };
  return { logger, warned };
}

// long-function: one list of it() cases sharing the engine harness set up at its top; every store runs it, the engine's executable spec
export function runEngineIdentity(options: EngineConformanceOptions): void {
  describe(`identity end to end on ${options.name}`, () => {
    const h = engineHarness(options, { prefix: 'identity', defaults: { identity: true } });
    let sink: TestServer | null = null;

    const setup = async (identity: boolean | { respectConsent: boolean } = true) => {
      const db = h.dbName();
      sink = await h.server(() => ({ body: { ok: true } }));
      const pipes = await h.engine(db, { identity, egressAllow: [sink.host] });
      const { pipe } = await storyPipe(pipes, `${sink.url}/events`, TRANSFORM);
      await pipes.start();
      return { pipes, pipe, db };
    };

    const pageViewAt = Date.now() - 60_000;
    const ingest = (
      pipes: Pipes,
      event_type: string,
      event_id: string,
      payload: Record<string, unknown>,
      at = Date.now(),
    ) =>
      pipes.ingest('web', [
        { event_type, event_id, event_time: new Date(at).toISOString(), event_payload: payload },
      ]);
    const pageView = (pipes: Pipes) =>
      ingest(
        pipes,
        'page_view',
        'pv-1',
        {
          anonymous_id: 'anon-A',
          page_url: 'https://shop.test/landing?utm_source=fb&fbclid=IwAR0story',
          cookies: '_fbp=fb.1.1700000000000.4242; other=1',
          ip: '203.0.113.7',
          user_agent: 'Mozilla/5.0 (story)',
        },
        pageViewAt,
      );
    const login = (pipes: Pipes) =>
      ingest(pipes, 'login', 'login-1', { anonymous_id: 'anon-A', user_id: 'user-U', email: EMAIL });
    const purchase = (pipes: Pipes, id: string) =>
      ingest(pipes, 'purchase', id, { user_id: 'user-U', order_id: id, value: 42 });
    /** The profile the transform gave the purchase `id`, from the newest request that carried it. */
    const receivedProfile = async (id: string, orNull = false): Promise<TransformProfile> => {
      const found = await waitFor(
        () => {
          for (const request of [...(sink?.requests ?? [])].reverse()) {
            const body = request.json as {
              data?: Array<{ event_id: string; profile: TransformProfile | null }>;
            };
            const match = (body.data ?? []).find((d) => d.event_id === id);
            if (match) return { profile: match.profile };
          }
          return null;
        },
        15_000,
        `the purchase ${id} at the sink`,
      );
      if (orNull) return found.profile as TransformProfile;
      expect(found.profile).not.toBeNull();
      return found.profile as TransformProfile;
    };

    it('a backend purchase with only the user id leaves with the browser’s ids, hashed email, IP and user agent', async () => {
      const { pipes, pipe, db } = await setup();
      await pageView(pipes);
      await login(pipes);
      await purchase(pipes, 'ord-1');
      await settled(pipes, pipe.id, 3);
      const profile = await receivedProfile('ord-1');
      expect(profile.id).toMatch(/^prf_/);
      if (!profile.id) return;
      expect(profile.identifiers.user_id).toEqual(['user-U']);
      expect(profile.identifiers.anonymous_id).toEqual(['anon-A']);
      expect(profile.identifiers.fbp).toEqual(['fb.1.1700000000000.4242']);
      expect(profile.identifiers.fbc).toEqual([`fb.1.${pageViewAt}.IwAR0story`]);
      expect(profile.identifiers.email).toEqual([
        {
          sha256: sha(EMAIL.toLowerCase()),
          sha256_google: sha(EMAIL.toLowerCase()),
          sha256_reddit: sha('janedoe@example-shop.test'),
        },
      ]);
      expect(profile).toMatchObject({ ip: '203.0.113.7', user_agent: 'Mozilla/5.0 (story)' });
      // Personal identifiers are stored as digests only: the raw email is nowhere in the store's
      // identity tables (the event itself keeps its payload until retention, as every event does).
      const stored = JSON.stringify(await pipes.profiles.get(profile.id));
      expect(stored).not.toContain(EMAIL);
      expect(stored.toLowerCase()).not.toContain(EMAIL.toLowerCase());
      if (options.rawDump) {
        const bytes = await options.rawDump(db);
        expect(bytes).toContain(sha(EMAIL.toLowerCase()));
      }
    });

    it('a transform that never reads profiles is not stitched once the sandbox has said so; one that reads them is', async () => {
      const stitched: string[] = [];
      const db = h.dbName();
      sink = await h.server(() => ({ body: { ok: true } }));
      const pipes = await h.engine(db, {
        identity: true,
        egressAllow: [sink.host],
        profiles: ({ events, builtIn }) => {
          for (const e of events) stitched.push(String(e.event_id));
          return builtIn;
        },
      });
      // Its own text (the database name in a comment): no earlier run of the same code answered yet.
      const unread = `// ${db}\n${TRANSFORM.replace('{ events, profiles }', '{ events }').replace('profiles[e.event_id] || null', 'null')}`;
      const { pipe } = await storyPipe(pipes, `${sink.url}/events`, unread);
      await pipes.start();
      await purchase(pipes, 'ord-a');
      await settled(pipes, pipe.id, 1);
      // The first batch is stitched: what the code reads is known from its first run.
      expect(stitched).toEqual(['ord-a']);
      await purchase(pipes, 'ord-b');
      await settled(pipes, pipe.id, 2);
      expect(stitched).toEqual(['ord-a']);
      // A new version that reads them is stitched from its first batch on.
      await pipes.pipes.update(pipe.id, { transform: TRANSFORM });
      await login(pipes);
      await purchase(pipes, 'ord-c');
      await settled(pipes, pipe.id, 4);
      expect(stitched).toContain('ord-c');
      expect((await receivedProfile('ord-c')).identifiers.user_id).toEqual(['user-U']);
    });

    it('a skip learned from one engine never costs another engine whose entry for the same code reads profiles', async () => {
      sink = await h.server(() => ({ body: { ok: true } }));
      const dbA = h.dbName();
      // One code text whose top level picks its entry by how deep it can recurse: with the default
      // stack, one that never reads profiles; under a small stack limit, TRANSFORM's, which does.
      const unreadEntry = TRANSFORM.replace('{ events, profiles }', '{ events }')
        .replace('profiles[e.event_id] || null', 'null')
        .replace('function transform', 'function');
      const code = `// ${dbA}
function depth() { var n = 0; function f() { n++; f(); } try { f(); } catch (e) {} return n; }
var transform = depth() > 5000 ? ${unreadEntry} : ${TRANSFORM.replace('function transform', 'function')};`;
      const a = await h.engine(dbA, { identity: true, egressAllow: [sink.host] });
      const pipeA = (await storyPipe(a, `${sink.url}/events`, code)).pipe;
      await a.start();
      await purchase(a, 'ord-a');
      await settled(a, pipeA.id, 1);
      expect(await receivedProfile('ord-a', true)).toBeNull();
      const b = await h.engine(h.dbName(), {
        identity: true,
        egressAllow: [sink.host],
        sandbox: { workers: 1, limits: { stackBytes: 256 * 1024 } },
      });
      const pipeB = (await storyPipe(b, `${sink.url}/events`, code)).pipe;
      await b.start();
      await purchase(b, 'ord-b');
      await settled(b, pipeB.id, 1);
      expect((await receivedProfile('ord-b')).identifiers.user_id).toEqual(['user-U']);
    });

    it('a purchase that arrives before the login is stitched when it is replayed after it', async () => {
      const { pipes, pipe } = await setup();
      await pageView(pipes);
      await purchase(pipes, 'ord-early');
      await settled(pipes, pipe.id, 2);
      const before = await receivedProfile('ord-early');
      expect(before.identifiers.user_id).toEqual(['user-U']);
      expect(before.identifiers.fbp).toBeUndefined();
      await login(pipes);
      await settled(pipes, pipe.id, 3);
      const requestsBefore = sink!.requests.length;
      const replay = await pipes.deliveries.replay(pipe.id, { statuses: ['delivered'] });
      expect(replay.count).toBeGreaterThan(0);
      await waitFor(() => sink!.requests.length > requestsBefore, 15_000, 'the replay at the sink');
      const after = await receivedProfile('ord-early');
      expect(after.identifiers.fbp).toEqual(['fb.1.1700000000000.4242']);
      expect(after.identifiers.anonymous_id).toEqual(['anon-A']);
      expect(after.identifiers.email?.[0]).toMatchObject({ sha256: sha(EMAIL.toLowerCase()) });
    });

    // docs/identifiers.md, "Consent and linking".
    it('a page view that denied ad_user_data links nothing: a later purchase under its anonymous id gets none of it', async () => {
      const { pipes, pipe } = await setup();
      await ingest(
        pipes,
        'page_view',
        'pv-denied',
        {
          anonymous_id: 'anon-D',
          email: EMAIL,
          page_url: 'https://shop.test/?fbclid=IwAR0denied',
          ip: '203.0.113.9',
          user_agent: 'Mozilla/5.0 (denied)',
          consent: { ad_user_data: 'DENIED' },
        },
        pageViewAt,
      );
      expect(await pipes.profiles.search({ identifiers: { email: EMAIL } })).toEqual([]);
      expect(await pipes.profiles.search({ identifiers: { anonymous_id: 'anon-D' } })).toEqual([]);
      await ingest(pipes, 'purchase', 'ord-d', {
        anonymous_id: 'anon-D',
        order_id: 'ord-d',
        consent: { ad_user_data: 'GRANTED', ad_storage: 'GRANTED' },
      });
      await settled(pipes, pipe.id, 2);
      const profile = await receivedProfile('ord-d');
      expect(profile.identifiers.email).toBeUndefined();
      expect(profile.identifiers.fbc).toBeUndefined();
      expect(profile.ip).toBeNull();
      // Not linked, but indexed: erasure by the email finds and erases the denied page view.
      const erased = await pipes.profiles.erase({ identifiers: { email: EMAIL } });
      expect(erased.events).toBe(1);
    });

    it('a purchase that denied ad_storage is offered no click id or ad cookie, its own or its profile’s', async () => {
      const { pipes, pipe } = await setup();
      await pageView(pipes);
      await login(pipes);
      await ingest(pipes, 'purchase', 'ord-s', {
        user_id: 'user-U',
        order_id: 'ord-s',
        page_url: 'https://shop.test/thanks?gclid=Cj0denied',
        consent: { ad_user_data: 'GRANTED', ad_storage: 'DENIED' },
      });
      await settled(pipes, pipe.id, 3);
      const profile = await receivedProfile('ord-s');
      expect(profile.identifiers.user_id).toEqual(['user-U']);
      expect(profile.identifiers.email?.[0]).toMatchObject({ sha256: sha(EMAIL.toLowerCase()) });
      expect(profile.identifiers.gclid).toBeUndefined();
      // The profile holds the page view's fbp and fbc (that event said nothing about consent), but
      // this event's denial is the person's latest word: none of them is offered to it.
      expect(profile.identifiers.fbp).toBeUndefined();
      expect(profile.identifiers.fbc).toBeUndefined();
      expect(profile.identifiers.anonymous_id).toEqual(['anon-A']);
      expect((await pipes.profiles.search({ identifiers: { gclid: 'Cj0denied' } })).length).toBe(0);
    });

    it('with respectConsent: false a denied event links as before', async () => {
      const { pipes } = await setup({ respectConsent: false });
      await ingest(pipes, 'page_view', 'pv-x', {
        anonymous_id: 'anon-X',
        email: EMAIL,
        consent: { ad_user_data: 'DENIED', ad_storage: 'DENIED' },
      });
      const [found] = await pipes.profiles.search({ identifiers: { email: EMAIL } });
      expect(found?.identifiers.map((i) => i.kind).sort()).toEqual(['anonymous_id', 'email']);
    });

    /**
     * An engine (identity on, one sandbox worker, not started) on a fresh database whose store
     * fails identity's writes for the ingests `fails` picks; `warned` keeps what it warned.
     */
    const engineFailingIdentity = async (
      fails: (identity: IngestIdentity) => boolean,
      extra: Partial<PipesOptions> = {},
    ) => {
      const store = await options.openStore(h.dbName());
      const { logger, warned } = capturingWarnings();
      const pipes = h.trackEngine(
        createPipes({
          store: failingIdentity(store, fails),
          secretKey: testSecretKey,
          logger,
          sandbox: { workers: 1 },
          identity: true,
          ...extra,
        }),
      );
      return { pipes, store, warned };
    };

    it('an event whose identity writes fail is still accepted, stored and delivered; the failure is logged', async () => {
      sink = await h.server(() => ({ body: { ok: true } }));
      // The real store, with identity's part of each ingest made to fail inside its transaction.
      const { pipes, warned } = await engineFailingIdentity(() => true, {
        dispatcher: { pollIntervalMs: 50 },
        egressAllow: [sink.host],
      });
      await storyPipe(pipes, `${sink.url}/events`, TRANSFORM);
      await pipes.start();
      const result = await purchase(pipes, 'order-identity-down');
      expect(result.accepted).toBe(1);
      expect(warned).toContain('could not link identifiers');
      const profile = await receivedProfile('order-identity-down');
      // Not linked (no profile), but stitched from the event's own identifiers at delivery.
      expect(profile.id).toBeNull();
      expect(profile.identifiers.user_id).toEqual(['user-U']);
      expect(await pipes.profiles.search({ identifiers: { user_id: 'user-U' } })).toEqual([]);
    });

    it('a bad sender beside a good one: only its own events go in without identity', async () => {
      // The real store; identity's writes fail for the request carrying anon-bad only.
      const carriesBad = (identity: IngestIdentity) =>
        identity.links.some((l) => l.identifiers.some((i) => i.key === 'anon-bad'));
      const { pipes, store, warned } = await engineFailingIdentity(carriesBad);
      await pipes.eventTypes.create({ name: 'page_view', schema: { type: 'object' } });
      await pipes.sources.create({ name: 'Web', slug: 'web' });
      await pipes.start();
      // Issued together: on SQLite they share a group commit.
      const [good, bad] = await Promise.all([
        ingest(pipes, 'page_view', 'pv-good', { anonymous_id: 'anon-good' }),
        ingest(pipes, 'page_view', 'pv-bad', { anonymous_id: 'anon-bad' }),
      ]);
      expect([good.accepted, bad.accepted]).toEqual([1, 1]);
      expect(warned.filter((w) => w === 'could not link identifiers')).toHaveLength(1);
      const [goodProfile] = await pipes.profiles.search({ identifiers: { anonymous_id: 'anon-good' } });
      expect(goodProfile?.identifiers.map((i) => i.kind)).toEqual(['anonymous_id']);
      expect(await pipes.profiles.search({ identifiers: { anonymous_id: 'anon-bad' } })).toEqual([]);
      for (const r of [...good.results, ...bad.results]) {
        expect(r.status).toBe('accepted');
        expect(await store.getEvent({ id: (r as { id: string }).id })).not.toBeNull();
      }
    });

    // docs/erasure.md, "Events from before the index".
    it('events stored without index rows (before migration 8, or identity off) are erased after the backfill', async () => {
      const db = h.dbName();
      const old = await h.engine(db, { identity: false });
      await old.sources.create({ name: 'Web', slug: 'web' });
      await old.eventTypes.create({ name: 'page_view', schema: { type: 'object' } });
      await ingest(old, 'page_view', 'pv-old-1', {
        email: EMAIL,
        page_url: 'https://shop.test/?gclid=Cj0old',
      });
      await ingest(old, 'page_view', 'pv-old-2', { anonymous_id: 'anon-old', email: EMAIL });
      await stopAndClose(old, { graceMs: 2000 });

      const pipes = await h.engine(db, {
        identity: true,
        // One event per backfill step: the marker has to carry the scan from step to step.
        retention: { batchSize: 1 },
      });
      expect(
        await pipes.store.listPersonEvents({
          identifiers: [{ kind: 'anonymous_id', key: 'anon-old' }],
          limit: 10,
        }),
      ).toEqual([]);
      await pipes.prune();
      expect(await pipes.store.getState({ key: 'identity:event-index-backfill' })).toMatchObject({
        done: true,
      });
      expect(
        await pipes.store.listPersonEvents({
          identifiers: [{ kind: 'anonymous_id', key: 'anon-old' }],
          limit: 10,
        }),
      ).toHaveLength(1);
      const erased = await pipes.profiles.erase({ identifiers: { email: EMAIL } });
      expect(erased.events).toBe(2);
      const source = (await pipes.sources.list()).data[0]!;
      expect(await pipes.store.listEvents({ sourceId: source.id, limit: 10 })).toEqual([]);
    });

    // docs/erasure.md: a new identifier's first event is findable through its own row (event_ref).
    it.skipIf(!options.countRows)(
      'the backfill adds no index row for events their link made findable',
      async () => {
        const db = h.dbName();
        const pipes = await h.engine(db, { retention: { batchSize: 1 } });
        await pipes.sources.create({ name: 'Web', slug: 'web' });
        await pipes.eventTypes.create({ name: 'page_view', schema: { type: 'object' } });
        // Two identifiers new to the store (kept in their rows), then one seen again and one new.
        await ingest(pipes, 'page_view', 'pv-new-1', { anonymous_id: 'anon-new', email: EMAIL });
        await ingest(pipes, 'page_view', 'pv-new-2', { anonymous_id: 'anon-new', user_id: 'user-new' });
        const rows = () => options.countRows!(db, 'event_identifiers');
        expect(await rows()).toBe(1);
        await pipes.prune();
        expect(await pipes.store.getState({ key: 'identity:event-index-backfill' })).toMatchObject({
          done: true,
        });
        expect(await rows()).toBe(1);
        const found = await pipes.store.listPersonEvents({
          identifiers: [{ kind: 'anonymous_id', key: 'anon-new' }],
          limit: 10,
        });
        expect(found).toHaveLength(2);
        expect((await pipes.profiles.erase({ identifiers: { user_id: 'user-new' } })).events).toBe(2);
        expect(await rows()).toBe(0);
      },
    );
  });
}
