/**
 * Links run at once on PostgreSQL (identity-lock.ts) and still end where one process linking them in
 * turn would. Each race is set up, not hoped for: one store's transaction is held before its COMMIT
 * (a gate in its pool), the other is seen waiting in pg_locks on the lock that must stop it, then the
 * first is let go.
 */
import { newId, type Store } from '@openpipes/core';
import { DEFAULT_CAPS, type IdentifierKind } from '@openpipes/core/identity';
import { erasureAudit, seededRandom, waitFor } from '@openpipes/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { blockersOf, gatedStore, ownConnection, waitsFor } from './gated-pool.js';
import { identifierLockKey } from './identity-lock.js';
import { postgresAvailable, query, testStores } from './testing.js';

const available = await postgresAvailable();
const stores = testStores('idconc', 1);
afterEach(stores.close);
const at = (minute: number) => new Date(Date.UTC(2026, 4, 4, 10, minute)).toISOString();

/** Two stores on one fresh schema, each on a gated one-connection pool, as two processes would be. */
async function twoStores() {
  const { schema } = await stores.open();
  const [a, b] = [await gatedStore(stores, schema), await gatedStore(stores, schema)];
  return { schema, a: a.store, b: b.store, ga: a.g, gb: b.g };
}

/** Links one event's anonymous ids at `minute`; the profile id. */
const link = async (store: Store, keys: string[], minute = 0) => {
  const seen = at(minute);
  const [id] = await store.linkProfiles({
    links: [
      {
        identifiers: keys.map((key) => ({
          kind: 'anonymous_id' as IdentifierKind,
          key,
          value: JSON.stringify(key),
          first_seen_at: seen,
        })),
        seen_at: seen,
      },
    ],
    caps: DEFAULT_CAPS,
    newId: () => newId('profile'),
    now: seen,
  });
  return id!;
};

/** Every profile: id, where it points, its anonymous ids sorted. */
const graph = async (schema: string) => {
  const rows = await query<{ id: string; merged_into: string | null; keys: string[] }>(
    `SELECT p.id, p.merged_into,
       coalesce(array_agg(i.key ORDER BY i.key) FILTER (WHERE i.key IS NOT NULL), '{}') AS keys
     FROM "${schema}".profiles p LEFT JOIN "${schema}".profile_identifiers i ON i.profile_id = p.id
     GROUP BY p.id, p.merged_into ORDER BY p.id`,
  );
  return rows;
};

describe.skipIf(!available)('identity on PostgreSQL: links racing', () => {
  it('runs a link of other identifiers, the index backfill and an idle prune while a link holds its locks, and serialises two links sharing one', async () => {
    const { schema, a, b, ga, gb } = await twoStores();
    const { store: third } = await stores.open({ schema });
    const held = ga.holdAt(/^commit$/i);
    const first = link(a, ['x', 'y']);
    await held.reached;
    // Unrelated identifiers: committed while the first link holds its locks. So are the event
    // index backfill and a profile prune that finds nothing to prune (both keep erasure out).
    await link(third, ['u']);
    await third.indexEventIdentifiers({
      entries: [{ kind: 'anonymous_id', key: 'u', event_ref: 'evt_gone' }],
    });
    expect(await third.pruneProfiles({ before: at(-60), limit: 10 })).toBe(0);
    const second = link(b, ['y', 'z']);
    expect(await waitFor(() => waitsFor(gb))).toBe('identifier');
    held.release();
    const [p, q] = await Promise.all([first, second]);
    expect(q).toBe(p);
    expect((await graph(schema)).map((r) => r.keys).sort()).toEqual([['u'], ['x', 'y', 'z']]);
  });

  it('moves an identifier a merge takes to the survivor before a racing link of it adds to its profile', async () => {
    for (const heldFirst of ['merge', 'link'] as const) {
      const { schema, a, b, ga, gb } = await twoStores();
      const p1 = await link(a, ['x'], 0);
      const p2 = await link(a, ['y', 'z'], 1);
      // a merges p2 into p1 (x and y in one event); b links z, which p2 holds, with w.
      const [holder, waiter] = heldFirst === 'merge' ? [ga, gb] : [gb, ga];
      const held = holder.holdAt(/^commit$/i);
      const merge =
        heldFirst === 'merge' ? link(a, ['x', 'y'], 2) : held.reached.then(() => link(a, ['x', 'y'], 2));
      const other =
        heldFirst === 'link' ? link(b, ['z', 'w'], 3) : held.reached.then(() => link(b, ['z', 'w'], 3));
      await held.reached;
      // Past the identifier locks (they share none): waiting for a profile's row.
      expect(await waitFor(() => waitsFor(waiter))).toBe('row');
      held.release();
      // As linked in turn: the link returns the profile z belonged to when it ran.
      expect(await Promise.all([merge, other])).toEqual([p1, heldFirst === 'merge' ? p1 : p2]);
      expect(await graph(schema)).toEqual(
        [
          { id: p1, merged_into: null, keys: ['w', 'x', 'y', 'z'] },
          { id: p2, merged_into: p1, keys: [] },
        ].sort((l, r) => (l.id < r.id ? -1 : 1)),
      );
      if (heldFirst === 'merge') {
        // The link read p2 as z's owner, found it merged once its row lock was granted, and read again.
        expect(gb.statements.filter((s) => s.startsWith('ROLLBACK TO SAVEPOINT'))).toHaveLength(1);
      }
    }
  });

  it('erases what a link committed before it, and a link after an erasure starts a new profile', async () => {
    const erase = (store: Store, key: string) =>
      store.eraseProfiles({
        identifiers: [{ kind: 'anonymous_id', key }],
        given: [],
        eventIdDigest: (id) => `digest:${id}`,
        now: at(9),
        audit: erasureAudit(newId('audit'), at(9)),
      });
    const { schema, a, b, ga, gb } = await twoStores();
    await link(a, ['x'], 0);
    // The link first: the erasure waits for it, then takes the identifier it added too.
    const heldLink = ga.holdAt(/^commit$/i);
    const linked = link(a, ['x', 'y'], 1);
    await heldLink.reached;
    const erased = erase(b, 'x');
    expect(await waitFor(() => waitsFor(gb))).toBe('identity');
    heldLink.release();
    await linked;
    expect((await erased).identifiers).toBe(2);
    expect(await graph(schema)).toEqual([]);
    // The erasure first: the link waits, then finds nothing of the erased profile.
    const before = await link(a, ['x', 'y'], 2);
    const heldErasure = gb.holdAt(/^commit$/i);
    const erasing = erase(b, 'y');
    await heldErasure.reached;
    const after = link(a, ['y', 'z'], 3);
    expect(await waitFor(() => waitsFor(ga))).toBe('identity');
    heldErasure.release();
    await erasing;
    const id = await after;
    expect(id).not.toBe(before);
    expect(await graph(schema)).toEqual([{ id, merged_into: null, keys: ['y', 'z'] }]);
  });

  it('retries a link PostgreSQL picked as a deadlock victim', async () => {
    const { schema } = await stores.open();
    // The link's backend looks for deadlocks after 50 ms, the other's after 10 s: the link, which
    // closes the cycle, is the victim.
    const { g, store } = await gatedStore(stores, schema, { options: '-c deadlock_timeout=50' });
    const { client: other, pid: otherPid } = await ownConnection(stores);
    const p = await link(store, ['x'], 0);
    // The link holds x's lock and is about to lock its owner's row, which the other holds.
    const held = g.holdAt(/FOR UPDATE/);
    const linked = link(store, ['x', 'v'], 1);
    await held.reached;
    await other.query("BEGIN; SET LOCAL deadlock_timeout = '10s'");
    await other.query(`SELECT 1 FROM "${schema}".profiles WHERE id = $1 FOR UPDATE`, [p]);
    const otherLocks = other.query('SELECT pg_advisory_xact_lock(hashtext($1), $2::int)', [
      `openpipes:identifier:${schema}`,
      identifierLockKey('anonymous_id', 'x'),
    ]);
    expect(await waitFor(() => waitsFor({ pid: otherPid }))).toBe('identifier');
    held.release();
    // Granted once PostgreSQL has rolled the link back.
    await otherLocks;
    expect(g.errors).toEqual(['40P01']);
    await other.query('COMMIT');
    expect(await linked).toBe(p);
    expect(await graph(schema)).toEqual([{ id: p, merged_into: null, keys: ['v', 'x'] }]);
  });

  it('gives up after 20 rounds of owners merged while it waited for their rows, and links when retried', async () => {
    const { schema } = await stores.open();
    const { g, store } = await gatedStore(stores, schema);
    // Two connections take turns merging x's owner while the link waits for its row: each locks the
    // next survivor before the other commits the merge into it, so the link's next round waits again.
    const own = [await ownConnection(stores), await ownConnection(stores)];
    const holders = own.map((o) => o.client);
    const pids = own.map((o) => o.pid);
    const hold = async (turn: number, id: string) => {
      await holders[turn % 2]!.query('BEGIN');
      await holders[turn % 2]!.query(`SELECT 1 FROM "${schema}".profiles WHERE id = $1 FOR UPDATE`, [id]);
    };
    const waitsOn = (turn: number) =>
      waitFor(async () => ((await blockersOf(g.pid)).includes(pids[turn % 2]!) ? true : undefined));
    let owner = await link(store, ['x'], 0);
    const survivors = Array.from({ length: 20 }, (_, i) => `prf_round_${String(i + 1).padStart(2, '0')}`);
    await query(
      `INSERT INTO "${schema}".profiles (id, created_at, last_seen_at) SELECT id, $2, $2 FROM unnest($1::text[]) AS id`,
      [survivors, at(0)],
    );
    await hold(0, owner);
    const from = g.statements.length;
    const linked = link(store, ['x', 'v'], 1);
    for (const [round, next] of survivors.entries()) {
      await waitsOn(round);
      await hold(round + 1, next);
      // As a link merging x's owner into `next` writes it, under the owner's row lock.
      const merger = holders[round % 2]!;
      await merger.query(`UPDATE "${schema}".profile_identifiers SET profile_id = $2 WHERE profile_id = $1`, [
        owner,
        next,
      ]);
      await merger.query(
        `UPDATE "${schema}".profiles SET merged_into = $2 WHERE id = $1 OR merged_into = $1`,
        [owner, next],
      );
      await merger.query('COMMIT');
      owner = next;
    }
    // The 20th round found its owner merged too: the transaction was rolled back and runs again,
    // waiting for the last survivor's row; let go unchanged, it links there.
    await waitsOn(20);
    const sent = g.statements.slice(from);
    expect(sent.filter((s) => s.startsWith('ROLLBACK TO SAVEPOINT'))).toHaveLength(20);
    expect(sent.filter((s) => /^rollback$/i.test(s))).toHaveLength(1);
    await holders[0]!.query('COMMIT');
    expect(await linked).toBe(owner);
    const live = (await graph(schema)).filter((r) => r.merged_into === null);
    expect(live).toEqual([{ id: owner, merged_into: null, keys: ['v', 'x'] }]);
  });

  it('ends in one profile per connected group of identifiers however 400 links of them race', async () => {
    const { schema, store } = await stores.open({ poolSize: 6 });
    const racers = [store, (await stores.open({ schema, poolSize: 6 })).store];
    // 400 links of 2 anonymous ids out of 30 clusters of 10 (one link in 20 joins two clusters):
    // many merges of the same few profiles at once. Far below a profile's cap of 200, they merge
    // whatever the order, so the answer is the groups the links connect.
    const { random, pick } = seededRandom(7);
    const pool = Array.from({ length: 300 }, (_, i) => `a${i}`);
    const inCluster = (c: number) => `a${c * 10 + Math.floor(random() * 10)}`;
    const links = Array.from({ length: 400 }, () => {
      const c = Math.floor(random() * 30);
      return [...new Set([inCluster(c), random() < 0.05 ? pick(pool) : inCluster(c)])];
    });
    const group = new Map(pool.map((k) => [k, k]));
    const root = (k: string): string => (group.get(k) === k ? k : root(group.get(k)!));
    for (const keys of links) for (const k of keys.slice(1)) group.set(root(k), root(keys[0]!));
    const expected = new Map<string, string[]>();
    for (const k of new Set(links.flat())) expected.set(root(k), [...(expected.get(root(k)) ?? []), k]);
    await Promise.all(links.map((keys, i) => link(racers[i % 2]!, keys, i % 50)));
    const rows = await graph(schema);
    expect(rows.filter((r) => r.merged_into !== null && r.keys.length > 0)).toEqual([]);
    const live = rows.filter((r) => r.merged_into === null).map((r) => r.keys.join(' '));
    expect(live.sort()).toEqual([...expected.values()].map((keys) => keys.sort().join(' ')).sort());
  });
});
