/**
 * The event index is written only for events still stored, whoever deletes them at the same time:
 * `linkProfiles` called on its own (not through ingest) names events an erasure may have deleted
 * since, and retention prunes events without the identity lock while a link or the backfill indexes
 * them. Each interleaving is made deterministic by a second connection holding a row lock the
 * first transaction needs, and by waiting on PostgreSQL's own signal that the other one waits.
 */

import { firstEventHelpers } from '@openpipes/core/conformance';
import { DEFAULT_CAPS } from '@openpipes/core/identity';
import { afterEach, describe, expect, it } from 'vitest';
import { gatedStore, ownConnection } from './gated-pool.js';
import { postgresAvailable, query, testStores } from './testing.js';

const available = await postgresAvailable();
const stores = testStores('races', 3);
afterEach(stores.close);

type Store = Awaited<ReturnType<ReturnType<typeof testStores>['open']>>['store'];

const open = () => stores.open();

/** A connection of the test's own, in a transaction, with its backend pid. */
async function holder() {
  const own = await ownConnection(stores);
  await own.client.query('BEGIN');
  return own;
}

/** Watches a promise, to tell whether it has settled. */
function watch<T>(promise: Promise<T>) {
  const state = { settled: false, promise };
  promise.then(
    () => {
      state.settled = true;
    },
    () => {
      state.settled = true;
    },
  );
  return state;
}

/** The pid of a backend that waits on `pid`, once one does (or null once `call` has settled). */
async function waiterOn(pid: number, call: { settled: boolean }): Promise<number | null> {
  for (;;) {
    if (call.settled) return null;
    const [waiting] = await query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)) LIMIT 1',
      [pid],
    );
    if (waiting) return waiting.pid;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const { EMAIL, PHONE, E1, at, ingest } = firstEventHelpers;
const KEY = 'k'.repeat(64);

const identifier = (kind: 'email' | 'phone', key: string, ms: number) => ({
  kind,
  key,
  value: JSON.stringify({ sha256: key }),
  first_seen_at: at(ms),
});

/** A link of E1 naming the email (held already: a row of event_identifiers) and a new phone. */
const linkE1 = (store: Store, ms: number) =>
  store.linkProfiles({
    links: [
      {
        event_ref: E1,
        identifiers: [identifier('email', EMAIL, ms), identifier('phone', PHONE, ms)],
        seen_at: at(ms),
      },
    ],
    caps: DEFAULT_CAPS,
    newId: () => 'prf_late',
    now: at(ms),
  });

/** Every reference to E1 the index keeps: rows of event_identifiers, identifiers' first events. */
const refsToE1 = async (schema: string) => [
  ...(await query<{ key: string }>(`SELECT key FROM "${schema}".event_identifiers WHERE event_ref = $1`, [
    E1,
  ])),
  ...(await query<{ key: string }>(`SELECT key FROM "${schema}".profile_identifiers WHERE event_ref = $1`, [
    E1,
  ])),
];

const danglingRows = (schema: string) =>
  query<{ event_ref: string }>(
    `SELECT x.event_ref FROM "${schema}".event_identifiers x
     WHERE NOT EXISTS (SELECT 1 FROM "${schema}".events e WHERE e.id = x.event_ref)`,
  );

describe.skipIf(!available)('linkProfiles on its own, after an erasure', () => {
  it('links, and indexes nothing of an event erased before', async () => {
    const { store, schema } = await open();
    await ingest(store, E1, 0, [{ kind: 'user_id', key: 'U1' }]);
    await ingest(store, firstEventHelpers.E2, 1000, [{ kind: 'email', key: EMAIL }]);
    expect((await firstEventHelpers.erase(store, 'user_id', 'U1', 2000)).events).toBe(1);

    const [profileId] = await linkE1(store, 3000);
    expect(profileId).toBeTruthy();
    expect(await refsToE1(schema)).toEqual([]);
    expect(await store.findProfiles({ identifiers: [{ kind: 'phone', key: PHONE }] })).toHaveLength(1);
  });

  it('waits for an erasure in progress and indexes nothing of the event it deleted', async () => {
    const { store, schema } = await open();
    await ingest(store, E1, 0, [{ kind: 'email', key: EMAIL }]);
    // As an erasure does: the identity lock, then its deletes, not committed yet.
    const erasure = await holder();
    await erasure.client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
      `openpipes:identity:${schema}`,
    ]);
    await erasure.client.query(
      `UPDATE "${schema}".profile_identifiers SET event_ref = NULL WHERE event_ref = $1`,
      [E1],
    );
    await erasure.client.query(`DELETE FROM "${schema}".events WHERE id = $1`, [E1]);

    const link = watch(linkE1(store, 3000));
    await waiterOn(erasure.pid, link);
    await erasure.client.query('COMMIT');
    await link.promise;
    expect(await refsToE1(schema)).toEqual([]);
  });
});

describe.skipIf(!available)('retention pruning an event while it is indexed', () => {
  /** E1 with the email (its first event) and a row of event_identifiers for KEY. */
  async function withE1() {
    const opened = await open();
    await ingest(opened.store, E1, 0, [{ kind: 'email', key: EMAIL }]);
    await opened.store.indexEventIdentifiers({ entries: [{ kind: 'email', key: KEY, event_ref: E1 }] });
    return opened;
  }

  const writers: Record<string, (store: Store) => Promise<unknown>> = {
    linkProfiles: (store: Store) => linkE1(store, 3000),
    indexEventIdentifiers: (store: Store) =>
      store.indexEventIdentifiers({ entries: [{ kind: 'phone', key: PHONE, event_ref: E1 }] }),
  };

  for (const [name, write] of Object.entries(writers)) {
    it(`${name} waits for a prune that deleted the event, then indexes nothing of it`, async () => {
      const { store, schema } = await withE1();
      // The prune deletes E1 and then waits on the index row this connection holds.
      const blocker = await holder();
      await blocker.client.query(
        `SELECT 1 FROM "${schema}".event_identifiers WHERE event_ref = $1 FOR UPDATE`,
        [E1],
      );
      const prune = watch(store.prune({ before: at(500), limit: 10 }));
      const prunePid = await waiterOn(blocker.pid, prune);
      expect(prunePid).not.toBeNull();

      const writing = watch(write(store));
      await waiterOn(prunePid!, writing);
      await blocker.client.query('COMMIT');
      expect((await prune.promise).events).toBe(1);
      await writing.promise;
      expect(await danglingRows(schema)).toEqual([]);
      expect((await refsToE1(schema)).filter((r) => r.key !== EMAIL)).toEqual([]);
    });
  }

  it('skips an event a link in progress has indexed, and prunes it with its rows afterwards', async () => {
    const { store, schema } = await withE1();
    // The link waits on the email's profile, which this connection holds, after its reads.
    const blocker = await holder();
    await blocker.client.query(
      `SELECT 1 FROM "${schema}".profiles WHERE id = (SELECT profile_id FROM "${schema}".profile_identifiers WHERE key = $1) FOR UPDATE`,
      [EMAIL],
    );
    const link = watch(linkE1(store, 3000));
    expect(await waiterOn(blocker.pid, link)).not.toBeNull();

    const during = await store.prune({ before: at(500), limit: 10 });
    await blocker.client.query('COMMIT');
    await link.promise;
    expect(await danglingRows(schema)).toEqual([]);
    expect(during.events + (await store.prune({ before: at(500), limit: 10 })).events).toBe(1);
    expect(await danglingRows(schema)).toEqual([]);
    expect(await query(`SELECT 1 FROM "${schema}".event_identifiers`)).toEqual([]);
  });
});

describe.skipIf(!available)('a late link and the index backfill naming one event', () => {
  /** Where the index keeps that `kind` came with E1: rows of event_identifiers, identifiers' own rows. */
  const indexedWithE1 = (schema: string, kind: string) =>
    query<{ at: string }>(
      `SELECT 'event_identifiers' AS at FROM "${schema}".event_identifiers WHERE kind = $1 AND event_ref = $2
       UNION ALL
       SELECT 'profile_identifiers' FROM "${schema}".profile_identifiers WHERE kind = $1 AND event_ref = $2`,
      [kind, E1],
    );

  for (const first of ['link', 'backfill'] as const) {
    it(`index each identifier E1 carried once when the ${first} commits last`, async () => {
      const { store, schema } = await open();
      await ingest(store, E1, 0, [{ kind: 'email', key: EMAIL }]);
      const [linker, backfiller] = [await gatedStore(stores, schema), await gatedStore(stores, schema)];
      const backfill = () =>
        backfiller.store.indexEventIdentifiers({
          entries: [
            { kind: 'email', key: EMAIL, event_ref: E1 },
            { kind: 'phone', key: PHONE, event_ref: E1 },
          ],
        });
      // The first is held before its COMMIT; the other runs until it settles or waits for it.
      const held = first === 'link' ? linker : backfiller;
      const commit = held.g.holdAt(/^commit$/i);
      const heldCall = first === 'link' ? linkE1(linker.store, 3000) : backfill();
      await commit.reached;
      const otherCall = watch<unknown>(first === 'link' ? backfill() : linkE1(linker.store, 3000));
      // The second insert of (phone, E1) in event_identifiers waits for the first's commit.
      expect(await waiterOn(held.g.pid, otherCall)).not.toBeNull();
      commit.release();
      await Promise.all([heldCall, otherCall.promise]);
      expect(await indexedWithE1(schema, 'phone')).toHaveLength(1);
      expect(await indexedWithE1(schema, 'email')).toEqual([{ at: 'profile_identifiers' }]);
      expect(await firstEventHelpers.eventsOf(store, PHONE, 'phone')).toEqual([E1]);
    });
  }
});
