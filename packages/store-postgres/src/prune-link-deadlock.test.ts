/**
 * Retention, ingest and a `linkProfiles` of a stored event can wait for each other in a cycle, and
 * PostgreSQL breaks it: the three lock orders below are each safe two by two, not all three.
 *
 * - A link of the old event E holds its identifiers' locks and its owners' rows, then locks E
 *   `FOR KEY SHARE` (withStoredEvents in profiles.ts): it waits for a prune that locked E first.
 * - The prune locks E `FOR UPDATE SKIP LOCKED`, then deletes E's dedup row in the same statement:
 *   it waits for an ingest that has upserted that row (a re-sent event with E's sender id).
 * - The ingest upserts its dedup rows first and links last: it waits for the link's identifier lock.
 *
 * PostgreSQL finds the cycle (40P01) in the backend whose deadlock_timeout runs out first once it
 * is closed, rolls that transaction back, and the store's `tx` runs it again. Whichever is the
 * victim, every call resolves, the re-sent event is stored with its delivery, and the index keeps
 * no row of the pruned event. The victim is chosen by its deadlock_timeout: the last to wait gets
 * 50 ms, the others 10 s. The prune locks E and waits for the dedup row in one statement: it is the
 * last to wait only when held up in between, here by a connection holding E's delivery row.
 */
import { newId } from '@openpipes/core';
import { firstEventHelpers } from '@openpipes/core/conformance';
import { DEFAULT_CAPS } from '@openpipes/core/identity';
import { waitFor } from '@openpipes/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { blockersOf, gatedStore, ownConnection, waitsFor } from './gated-pool.js';
import type { PostgresStore } from './index.js';
import { postgresAvailable, query, testStores } from './testing.js';

const available = await postgresAvailable();
const stores = testStores('deadlock', 2);
afterEach(stores.close);

const { EMAIL, PHONE, at, evt } = firstEventHelpers;
const OLD = evt(0);
const RESENT = evt(5000);
const pipe = { pipe_id: 'pip_1', destination_id: 'dst_1' };

/** Ingests event `id` with the sender's id `order-1` and the email, linked in its transaction. */
const ingest = (store: PostgresStore, id: string, ms: number) =>
  store.appendEvents({
    sourceId: 'src_web',
    events: [
      {
        id,
        event_id: 'order-1',
        sender_event_id: true,
        event_type: 'purchase',
        event_time: at(ms),
        event_payload: {},
      },
    ],
    pipes: [pipe],
    deliveryIds: [newId('delivery', Date.parse(at(ms)))],
    dedupSince: null,
    now: at(ms),
    identity: {
      links: [{ event_ref: id, identifiers: [identifier('email', EMAIL, ms)], seen_at: at(ms) }],
      index: [],
      caps: DEFAULT_CAPS,
      newId: () => newId('profile'),
      now: at(ms),
    },
  });

const identifier = (kind: 'email' | 'phone', key: string, ms: number) => ({
  kind,
  key,
  value: JSON.stringify({ sha256: key }),
  first_seen_at: at(ms),
});

/** A late link of the old event: the email with a phone new to the store. */
const linkOld = (store: PostgresStore) =>
  store.linkProfiles({
    links: [
      {
        event_ref: OLD,
        identifiers: [identifier('email', EMAIL, 3000), identifier('phone', PHONE, 3000)],
        seen_at: at(3000),
      },
    ],
    caps: DEFAULT_CAPS,
    newId: () => newId('profile'),
    now: at(3000),
  });

/** A store of its own on `schema`, over a gated connection whose deadlock_timeout is `timeout`. */
const timedStore = (schema: string, timeout: string) =>
  gatedStore(stores, schema, { options: `-c deadlock_timeout=${timeout}` });

/** Until the backend `pid` waits on `blocker`'s. */
const waitsOn = ({ pid }: { pid: number }, blocker: { pid: number }) =>
  waitFor(async () => ((await blockersOf(pid)).includes(blocker.pid) ? true : undefined));

type Victim = 'link' | 'ingest' | 'prune';
type Calls = { ingested: Promise<unknown>; pruned: Promise<{ events: number }> };
type Parties = Record<Victim, Awaited<ReturnType<typeof timedStore>>> & { schema: string };

/**
 * Each interleaving, from the moment the link holds the email's lock and its profile's row and is
 * about to lock OLD: the victim is the one that closes the cycle.
 */
const interleavings: Record<Victim, (parties: Parties, releaseLink: () => void) => Promise<Calls>> = {
  // The ingest upserts OLD's dedup row and waits for the email's lock; the prune locks OLD and
  // waits for the dedup row; the link, let go, waits for OLD.
  async link({ ingest: I, prune: P }, releaseLink) {
    const ingested = ingest(I.store, RESENT, 5000);
    expect(await waitFor(() => waitsFor(I.g))).toBe('identifier');
    const pruned = P.store.prune({ before: at(500), limit: 10 });
    await waitsOn(P.g, I.g);
    releaseLink();
    return { ingested, pruned };
  },
  // The ingest is held once it has upserted OLD's dedup row; the prune waits for that row, the
  // link for OLD; the ingest, let go, waits for the email's lock.
  async ingest({ ingest: I, prune: P, link: L }, releaseLink) {
    const heldIngest = I.g.holdAt(/WITH inserted AS/);
    const ingested = ingest(I.store, RESENT, 5000);
    await heldIngest.reached;
    const pruned = P.store.prune({ before: at(500), limit: 10 });
    await waitsOn(P.g, I.g);
    releaseLink();
    await waitsOn(L.g, P.g);
    heldIngest.release();
    return { ingested, pruned };
  },
  // The ingest waits for the email's lock, its dedup row upserted; the prune locks OLD and waits
  // for OLD's delivery row, which a connection of the test holds; the link, let go, waits for OLD;
  // the prune, let go, waits for the dedup row. (PostgreSQL runs the statement's deletes its result
  // reads, of events and deliveries, before the others, the dedup rows': seen waiting on the holder.)
  async prune({ ingest: I, prune: P, link: L, schema }, releaseLink) {
    const ingested = ingest(I.store, RESENT, 5000);
    expect(await waitFor(() => waitsFor(I.g))).toBe('identifier');
    const holder = await ownConnection(stores);
    await holder.client.query('BEGIN');
    await holder.client.query(`SELECT 1 FROM "${schema}".deliveries WHERE event_ref = $1 FOR UPDATE`, [OLD]);
    const pruned = P.store.prune({ before: at(500), limit: 10 });
    await waitsOn(P.g, holder);
    releaseLink();
    await waitsOn(L.g, P.g);
    await holder.client.query('COMMIT');
    return { ingested, pruned };
  },
};

describe.skipIf(!available)('retention, ingest and a late link waiting in a cycle', () => {
  for (const victim of ['link', 'ingest', 'prune'] as const) {
    it(`is broken by PostgreSQL, the ${victim} retried, nothing lost and no index row of the pruned event left`, async () => {
      const { store, schema } = await stores.open();
      await ingest(store, OLD, 0);
      const [owner] = await store.findProfiles({ identifiers: [{ kind: 'email', key: EMAIL }] });
      const timeout = (who: Victim) => (who === victim ? '50ms' : '10s');
      const parties = {
        schema,
        link: await timedStore(schema, timeout('link')),
        ingest: await timedStore(schema, timeout('ingest')),
        prune: await timedStore(schema, timeout('prune')),
      };
      const heldLink = parties.link.g.holdAt(/FOR KEY SHARE/);
      const linked = linkOld(parties.link.store);
      await heldLink.reached;
      const { ingested, pruned } = await interleavings[victim](parties, heldLink.release);

      // Every call resolves; only the victim met the deadlock.
      const [linkedTo, stored, prune] = await Promise.all([linked, ingested, pruned]);
      for (const who of ['link', 'ingest', 'prune'] as const) {
        expect(parties[who].g.errors).toEqual(who === victim ? ['40P01'] : []);
      }
      expect(linkedTo).toEqual([owner!.id]);
      expect(stored).toEqual([{ duplicate: false, id: RESENT }]);
      // OLD is pruned once with its delivery: by this pass, or (a retried prune skips OLD while
      // the link holds it) by the next.
      const next = await store.prune({ before: at(500), limit: 10 });
      expect(prune.events + next.events).toBe(1);

      // The link's effect is kept (OLD indexed only while stored), the re-sent event stored once
      // with its delivery, its dedup row naming it.
      const [profile] = await store.findProfiles({ identifiers: [{ kind: 'phone', key: PHONE }] });
      expect(profile?.id).toBe(owner!.id);
      expect(await query(`SELECT id FROM "${schema}".events`)).toEqual([{ id: RESENT }]);
      expect(await query(`SELECT event_ref FROM "${schema}".deliveries`)).toEqual([{ event_ref: RESENT }]);
      expect(await query(`SELECT event_ref FROM "${schema}".event_dedup`)).toEqual([{ event_ref: RESENT }]);
      expect(await query(`SELECT kind, event_ref FROM "${schema}".event_identifiers`)).toEqual([
        { kind: 'email', event_ref: RESENT },
      ]);
      // The email's row keeps OLD as the event that brought it (readers join events); the phone's,
      // inserted by a link of a stored event, names none (profiles.ts).
      expect(
        await query(`SELECT kind, event_ref FROM "${schema}".profile_identifiers ORDER BY kind`),
      ).toEqual([
        { kind: 'email', event_ref: OLD },
        { kind: 'phone', event_ref: null },
      ]);
      const found = await store.listPersonEvents({ identifiers: [{ kind: 'email', key: EMAIL }], limit: 10 });
      expect(found.map((e) => e.event_ref)).toEqual([RESENT]);
    });
  }
});
