/**
 * Group commit under a lock held by another connection (another process, in production): a group
 * whose transaction cannot begin fails for a reason none of its calls caused, so writing each call
 * again alone only waits out busy_timeout once per call, with the event loop blocked each time. And
 * a call that fails for itself inside a group (its events, or identity's writes beside them): the
 * group is written again with each call in a savepoint, only the failing one's rolled back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId, type Store } from '@openpipes/core';
import { DEFAULT_CAPS } from '@openpipes/core/identity';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { SqliteDatabase } from './connection.js';
import { groupCommit } from './group-commit.js';
import { sqliteStore } from './index.js';
import { createWriteTurn, writeTurnOf } from './write-turn.js';

const dirs: string[] = [];
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A store on a fresh file whose database counts the transactions it begins. */
async function countingStore(busyTimeoutMs: number, writeTurn?: SharedArrayBuffer) {
  const dir = mkdtempSync(join(tmpdir(), 'openpipes-group-'));
  dirs.push(dir);
  const filename = join(dir, 'pipes.db');
  const counter = { transactions: 0 };
  const database = () => {
    const real = new Database(filename) as unknown as SqliteDatabase;
    return new Proxy(real, {
      get(target, key) {
        if (key === 'transaction') {
          // Each call of a transaction function begins one (the store may reuse the function).
          return (fn: (...args: never[]) => unknown) => {
            const wrapped = target.transaction(fn);
            const counted =
              (run: (...args: never[]) => unknown) =>
              (...args: never[]) => {
                // Called inside a transaction it is a savepoint of it, not a transaction begun.
                if (!target.inTransaction) counter.transactions++;
                return run(...args);
              };
            return Object.assign(counted(wrapped), { immediate: counted(wrapped.immediate) });
          };
        }
        const value = Reflect.get(target, key, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  };
  const store = sqliteStore({ database, busyTimeoutMs, ...(writeTurn ? { writeTurn } : {}) });
  await store.migrate();
  cleanups.push(() => store.close());
  return { store, filename, counter };
}

type Identity = NonNullable<Parameters<Store['appendEvents']>[0]['identity']>;

/** One event's call; with `anonymousId`, identity links it (whose profile ids come from `makeId`). */
const append = (store: Store, n: number, anonymousId?: string, makeId = () => newId('profile')) => {
  const now = Date.now();
  const id = newId('event', now);
  const seenAt = new Date(now).toISOString();
  const identity: Identity | undefined = anonymousId
    ? {
        links: [
          {
            event_ref: id,
            identifiers: [
              {
                kind: 'anonymous_id',
                key: anonymousId,
                value: JSON.stringify(anonymousId),
                first_seen_at: seenAt,
              },
            ],
            seen_at: seenAt,
          },
        ],
        index: [{ kind: 'gclid', key: `withheld-${anonymousId}`, event_ref: id }],
        caps: DEFAULT_CAPS,
        newId: makeId,
        now: seenAt,
      }
    : undefined;
  return store.appendEvents({
    sourceId: 'src_group',
    events: [
      {
        id,
        event_id: `e${n}`,
        sender_event_id: true,
        event_type: 'purchase',
        event_time: new Date(now).toISOString(),
        event_payload: { n },
        trace_parent: null,
      },
    ],
    pipes: [],
    deliveryIds: [],
    dedupSince: null,
    now: new Date(now).toISOString(),
    ...(identity ? { identity } : {}),
  });
};

describe('SQLite group commit', () => {
  it('fails a whole group at once when another connection holds the write lock, without retrying each call', async () => {
    const { store, filename, counter } = await countingStore(100);
    await append(store, 0);

    const holder = new Database(filename);
    cleanups.push(() => {
      if (holder.inTransaction) holder.exec('ROLLBACK');
      holder.close();
    });
    holder.exec('BEGIN IMMEDIATE');
    counter.transactions = 0;

    const calls = Array.from({ length: 5 }, (_, i) => append(store, i + 1));
    const outcomes = await Promise.allSettled(calls);
    expect(outcomes.map((o) => o.status)).toEqual(Array(5).fill('rejected'));
    for (const o of outcomes) {
      // The store's answer for a lock held past busy_timeout: retryable, nothing stored.
      expect((o as PromiseRejectedResult).reason).toMatchObject({
        code: 'STORE_UNAVAILABLE',
        retryable: true,
      });
    }
    // One attempt for the group: the lock is nobody's fault inside it.
    expect(counter.transactions).toBe(1);

    holder.exec('ROLLBACK');
    // The store works again once the lock is gone, and every call still stands alone.
    const after = await Promise.all([append(store, 10), append(store, 11)]);
    expect(after.map((r) => r[0]!.duplicate)).toEqual([false, false]);
  });

  it('keeps a group open while another thread holds the write turn: calls made meanwhile share its transaction', async () => {
    const turn = createWriteTurn();
    const { store, counter } = await countingStore(1000, turn);
    await append(store, 0);
    counter.transactions = 0;
    // Another thread of the process (the dispatch thread, in `openpipes serve`) in its transaction.
    const other = writeTurnOf(turn, 99);
    expect(other.take(0)).toBeGreaterThan(0);
    const first = append(store, 1);
    // The first call's group is due (setImmediate) and finds the turn taken; a second call comes
    // in a later turn of the event loop, which a write blocked on the turn would not have run.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    const second = append(store, 2);
    other.give();
    const results = await Promise.all([first, second]);
    expect(results.map((r) => r[0]!.duplicate)).toEqual([false, false]);
    expect(counter.transactions).toBe(1);
    // The turn is free again, and a lone call is written without waiting for anything.
    await append(store, 3);
    expect(counter.transactions).toBe(2);
  });

  it('still writes a group whose write turn another thread never gives back', async () => {
    const turn = createWriteTurn();
    const { store } = await countingStore(200, turn);
    await append(store, 0);
    // A holder that hangs: it takes the turn and never gives it back while the group waits.
    const other = writeTurnOf(turn, 98);
    expect(other.take(0)).toBeGreaterThan(0);
    cleanups.push(() => other.give());
    const results = await Promise.all([append(store, 1), append(store, 2)]);
    expect(results.map((r) => r[0]!.duplicate)).toEqual([false, false]);
  });

  it('rejects a group waiting for the write turn with ENGINE_STOPPED when the store closes meanwhile', async () => {
    const turn = createWriteTurn();
    const { store, counter } = await countingStore(1000, turn);
    await append(store, 0);
    counter.transactions = 0;
    const other = writeTurnOf(turn, 97);
    expect(other.take(0)).toBeGreaterThan(0);
    const pending = append(store, 1);
    // Its group is due and waits for the turn (afterWriteTurn).
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    await store.close();
    other.give();
    await expect(pending).rejects.toMatchObject({ code: 'ENGINE_STOPPED' });
    expect(counter.transactions).toBe(0);
  });

  it('rejects calls still waiting for their group with ENGINE_STOPPED when the store closes', async () => {
    const { store, counter } = await countingStore(100);
    await append(store, 0);
    counter.transactions = 0;
    const pending = [append(store, 1), append(store, 2)];
    await store.close();
    const outcomes = await Promise.allSettled(pending);
    for (const o of outcomes) {
      expect(o.status).toBe('rejected');
      expect((o as PromiseRejectedResult).reason).toMatchObject({ code: 'ENGINE_STOPPED' });
    }
    // Nothing was begun on the closed database, and nothing retried call by call.
    expect(counter.transactions).toBe(0);
  });

  it('fails only the call whose own event writes fail; the rest of its group commits together', async () => {
    const { store, counter } = await countingStore(100);
    await append(store, 0);
    counter.transactions = 0;
    const good = append(store, 1);
    // Same primary key twice in one call: its own failure.
    const now = Date.now();
    const id = newId('event', now);
    const event = {
      id,
      event_id: 'dup',
      sender_event_id: false,
      event_type: 'purchase',
      event_time: new Date(now).toISOString(),
      event_payload: {},
      trace_parent: null,
    };
    const bad = store.appendEvents({
      sourceId: 'src_group',
      events: [event, event],
      pipes: [],
      deliveryIds: [],
      dedupSince: null,
      now: new Date(now).toISOString(),
    });
    const other = append(store, 2);
    const [g, b, o] = await Promise.allSettled([good, bad, other]);
    expect(g.status).toBe('fulfilled');
    expect(o.status).toBe('fulfilled');
    expect(b.status).toBe('rejected');
    expect((b as PromiseRejectedResult).reason).toMatchObject({
      code: expect.stringMatching(/^SQLITE_CONSTRAINT/),
    });
    // The group, then the group again with each call in a savepoint (the failing one's rolled back):
    // two transactions, not each call again alone (1 + 3).
    expect(counter.transactions).toBe(2);
    const events = await store.listEvents({ sourceId: 'src_group', limit: 10 });
    expect(events.map((e) => e.event_id).sort()).toEqual(['e0', 'e1', 'e2']);
  });

  it('fails only the call whose identity writes fail; its neighbours in the group commit with theirs', async () => {
    const { store, counter } = await countingStore(100);
    await append(store, 0);
    counter.transactions = 0;
    const noProfileId = () => {
      throw new Error('no profile id today');
    };
    // Issued in one turn of the event loop: one group.
    const calls = [
      append(store, 1, 'anon-good-1'),
      append(store, 2, 'anon-bad', noProfileId),
      append(store, 3, 'anon-good-2'),
    ];
    type Settled = PromiseSettledResult<Array<{ duplicate: boolean; id: string }>>;
    const [g1, b, g2] = (await Promise.allSettled(calls)) as [Settled, Settled, Settled];
    // The group, then the group again with each call in a savepoint: two transactions, not 1 + 3.
    expect(counter.transactions).toBe(2);
    expect(b.status).toBe('rejected');
    expect((b as PromiseRejectedResult).reason).toMatchObject({ message: 'no profile id today' });
    for (const [g, anon] of [
      [g1, 'anon-good-1'],
      [g2, 'anon-good-2'],
    ] as const) {
      expect(g.status).toBe('fulfilled');
      const [stored] = (g as PromiseFulfilledResult<Array<{ duplicate: boolean; id: string }>>).value;
      expect(stored!.duplicate).toBe(false);
      expect(await store.getEvent({ id: stored!.id })).not.toBeNull();
      const [profile] = await store.findProfiles({ identifiers: [{ kind: 'anonymous_id', key: anon }] });
      expect(profile).toBeDefined();
      const index = await store.listPersonEvents({
        identifiers: [{ kind: 'gclid', key: `withheld-${anon}` }],
        limit: 10,
      });
      expect(index.map((e) => e.event_ref)).toEqual([stored!.id]);
    }
    // Nothing of the bad call: neither its event nor its identity.
    expect(await store.findProfiles({ identifiers: [{ kind: 'anonymous_id', key: 'anon-bad' }] })).toEqual(
      [],
    );
    expect(
      await store.listPersonEvents({ identifiers: [{ kind: 'gclid', key: 'withheld-anon-bad' }], limit: 10 }),
    ).toEqual([]);
    const events = await store.listEvents({ sourceId: 'src_group', limit: 10 });
    expect(events.map((e) => e.event_id).sort()).toEqual(['e0', 'e1', 'e3']);
  });

  it('writes each call again alone when a call took the whole transaction with it', async () => {
    // SQLite itself ends the transaction after some failures (a full disk, an I/O error); a call
    // that ends it here stands in for those. The calls after it in the savepoint pass must not run
    // outside a transaction.
    const dir = mkdtempSync(join(tmpdir(), 'openpipes-group-'));
    dirs.push(dir);
    const db = new Database(join(dir, 'plain.db'));
    cleanups.push(() => {
      db.close();
    });
    db.exec('CREATE TABLE t (n INTEGER PRIMARY KEY)');
    const runner = db.transaction((fn: () => unknown) => fn());
    let ends = 2; // in the group, and in the group again with savepoints; alone, the call succeeds
    const write = groupCommit(
      { tx: <T>(fn: () => T) => runner.immediate(fn) as T, inTransaction: () => db.inTransaction },
      (n: number) => {
        db.prepare('INSERT INTO t (n) VALUES (?)').run(n);
        if (n === 2 && ends-- > 0) {
          db.exec('ROLLBACK');
          throw new Error('the transaction is gone');
        }
        return n;
      },
    );
    const outcomes = await Promise.allSettled([write(1), write(2), write(3)]);
    expect(outcomes).toEqual([
      { status: 'fulfilled', value: 1 },
      { status: 'fulfilled', value: 2 },
      { status: 'fulfilled', value: 3 },
    ]);
    expect(db.prepare('SELECT n FROM t ORDER BY n').all()).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  });
});
