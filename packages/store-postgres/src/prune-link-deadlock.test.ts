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
 * 50 ms, the others 10 s. (The prune is never the last to wait: it locks E and waits on the dedup
 * row in one statement, so a link cannot be waiting on E before the prune waits.)
 */
import { newId } from '@openpipes/core';
import { firstEventHelpers } from '@openpipes/core/conformance';
import { DEFAULT_CAPS } from '@openpipes/core/identity';
import { waitFor } from '@openpipes/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { blockersOf, type GatedPool, gatedStore, waitsFor } from './gated-pool.js';
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

/** Until `g`'s backend waits on `blocker`'s. */
const waitsOn = (g: GatedPool, blocker: GatedPool) =>
  waitFor(async () => ((await blockersOf(g.pid)).includes(blocker.pid) ? true : undefined));

describe.skipIf(!available)('retention, ingest and a late link waiting in a cycle', () => {
  for (const victim of ['link', 'ingest'] as const) {
    it(`is broken by PostgreSQL, the ${victim} retried, nothing lost and no index row of the pruned event left`, async () => {
      const { store, schema } = await stores.open();
      await ingest(store, OLD, 0);
      const [owner] = await store.findProfiles({ identifiers: [{ kind: 'email', key: EMAIL }] });
      const timeout = (who: string) => (who === victim ? '50ms' : '10s');
      const L = await timedStore(schema, timeout('link'));
      const I = await timedStore(schema, timeout('ingest'));
      const P = await timedStore(schema, timeout('prune'));

      // The link holds the email's lock and its profile's row, and is about to lock OLD.
      const heldLink = L.g.holdAt(/FOR KEY SHARE/);
      const linked = linkOld(L.store);
      await heldLink.reached;
      if (victim === 'link') {
        // The ingest upserts OLD's dedup row and waits for the email's lock; the prune locks OLD
        // and waits for the dedup row; the link, let go, waits for OLD and closes the cycle.
        const ingested = ingest(I.store, RESENT, 5000);
        expect(await waitFor(() => waitsFor(I.g))).toBe('identifier');
        const pruned = P.store.prune({ before: at(500), limit: 10 });
        await waitsOn(P.g, I.g);
        heldLink.release();
        await settlesWell(linked, ingested, pruned);
        expect(L.g.errors).toEqual(['40P01']);
      } else {
        // The ingest is held once it has upserted OLD's dedup row; the prune waits for that row,
        // the link for OLD; the ingest, let go, waits for the email's lock and closes the cycle.
        const heldIngest = I.g.holdAt(/WITH inserted AS/);
        const ingested = ingest(I.store, RESENT, 5000);
        await heldIngest.reached;
        const pruned = P.store.prune({ before: at(500), limit: 10 });
        await waitsOn(P.g, I.g);
        heldLink.release();
        await waitsOn(L.g, P.g);
        heldIngest.release();
        await settlesWell(linked, ingested, pruned);
        expect(I.g.errors).toEqual(['40P01']);
      }
      expect(P.g.errors).toEqual([]);

      // Every call's effect is kept. The link's (OLD was gone once it could lock it: the link is
      // applied, OLD not indexed), the re-sent event stored once with its delivery, its dedup row
      // naming it.
      expect(await linked).toEqual([owner!.id]);
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
      expect(
        (await store.listPersonEvents({ identifiers: [{ kind: 'email', key: EMAIL }], limit: 10 })).map(
          (e) => e.event_ref,
        ),
      ).toEqual([RESENT]);
    });
  }
});

/** Each call resolves: the ingest stores the re-sent event, the prune deletes OLD and its delivery. */
async function settlesWell(
  linked: Promise<unknown>,
  ingested: ReturnType<typeof ingest>,
  pruned: Promise<unknown>,
) {
  const [, stored, prune] = await Promise.all([linked, ingested, pruned]);
  expect(stored).toEqual([{ duplicate: false, id: RESENT }]);
  expect(prune).toEqual({ events: 1, deliveries: 1, rejections: 0 });
}
