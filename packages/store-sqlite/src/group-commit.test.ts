/**
 * Group commit under a lock held by another connection (another process, in production): a group
 * whose transaction cannot begin fails for a reason none of its calls caused, so writing each call
 * again alone only waits out busy_timeout once per call, with the event loop blocked each time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId, type Store } from '@openpipes/core';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { SqliteDatabase } from './connection.js';
import { sqliteStore } from './index.js';

const dirs: string[] = [];
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A store on a fresh file whose database counts the transactions it begins. */
async function countingStore(busyTimeoutMs: number) {
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
                counter.transactions++;
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
  const store = sqliteStore({ database, busyTimeoutMs });
  await store.migrate();
  cleanups.push(() => store.close());
  return { store, filename, counter };
}

const append = (store: Store, n: number) => {
  const now = Date.now();
  const id = newId('event', now);
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
      expect((o as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_BUSY' });
    }
    // One attempt for the group: the lock is nobody's fault inside it.
    expect(counter.transactions).toBe(1);

    holder.exec('ROLLBACK');
    // The store works again once the lock is gone, and every call still stands alone.
    const after = await Promise.all([append(store, 10), append(store, 11)]);
    expect(after.map((r) => r[0]!.duplicate)).toEqual([false, false]);
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

  it('still writes each call alone when one call of a group fails for itself', async () => {
    const { store } = await countingStore(100);
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
  });
});
