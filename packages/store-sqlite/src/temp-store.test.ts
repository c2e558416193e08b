/**
 * `temp_store` (connection.ts `tx`): MEMORY for the length of a write transaction, so its statement
 * journals stay in memory; afterwards what the connection had before, whatever that was: a host
 * that passes its own database with `temp_store = MEMORY` (a read-only root file system, no usable
 * temporary directory) must not find it set back to the compiled-in default after the first write.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId } from '@openpipes/core';
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

const t0 = Date.parse('2026-11-01T00:00:00.000Z');
const at = (ms: number) => new Date(t0 + ms).toISOString();

/** A database with `temp_store` set by its host, and what it was while each transaction body ran. */
function hostDatabase(tempStore: 'MEMORY' | 'FILE' | 'DEFAULT') {
  const dir = mkdtempSync(join(tmpdir(), 'op-temp-store-'));
  dirs.push(dir);
  const database = new Database(join(dir, 'store.db'));
  database.pragma(`temp_store = ${tempStore}`);
  const during: number[] = [];
  const tempStoreNow = () => database.pragma('temp_store', { simple: true }) as number;
  // The store calls transaction(fn) once and reuses it: record the setting as each body starts.
  const wrapped = new Proxy(database, {
    get(target, property) {
      if (property === 'transaction')
        return (fn: (...args: never[]) => unknown) =>
          target.transaction((...args: never[]) => {
            during.push(tempStoreNow());
            return fn(...args);
          });
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as unknown as SqliteDatabase;
  const store = sqliteStore({ database: wrapped });
  cleanups.push(() => store.close());
  return { store, during, tempStoreNow };
}

const event = (id: string) => ({
  id,
  event_id: `e_${id}`,
  sender_event_id: false,
  event_type: 'purchase',
  event_time: at(0),
  event_payload: {},
  trace_parent: null,
});
const append = (store: ReturnType<typeof sqliteStore>, ids: string[]) =>
  store.appendEvents({
    sourceId: 'src_web',
    events: ids.map(event),
    pipes: [],
    deliveryIds: [],
    dedupSince: null,
    now: at(0),
  });

describe('temp_store around write transactions', () => {
  it.each([
    ['MEMORY', 2],
    ['FILE', 1],
    ['DEFAULT', 0],
  ] as const)('is MEMORY inside a write transaction and %s again after it', async (setting, code) => {
    const { store, during, tempStoreNow } = hostDatabase(setting);
    await store.migrate();
    during.length = 0;
    await append(store, [newId('event', t0)]);
    expect(during.length).toBeGreaterThan(0);
    expect(new Set(during)).toEqual(new Set([2]));
    expect(tempStoreNow()).toBe(code);
  });

  it('stays what the connection has while migrations run (a migration may sort a whole table)', async () => {
    const { store, during } = hostDatabase('FILE');
    await store.migrate();
    expect(during.length).toBeGreaterThan(10);
    expect(new Set(during)).toEqual(new Set([1]));
    during.length = 0;
    await append(store, [newId('event', t0)]);
    expect(new Set(during)).toEqual(new Set([2]));
  });

  it('is put back when the transaction throws', async () => {
    const { store, tempStoreNow } = hostDatabase('FILE');
    await store.migrate();
    const id = newId('event', t0);
    await append(store, [id]);
    // The same event id twice: the primary key refuses it and the transaction rolls back.
    await expect(append(store, [id])).rejects.toThrow();
    expect(tempStoreNow()).toBe(1);
    // And the store still writes.
    await append(store, [newId('event', t0 + 1)]);
    expect(tempStoreNow()).toBe(1);
  });
});
