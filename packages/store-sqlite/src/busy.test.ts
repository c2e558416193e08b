/**
 * A write that finds the file locked by another writer past `busy_timeout` (another process, or a
 * thread of this one without the write turn) stores nothing and says so with a retryable
 * STORE_UNAVAILABLE (HTTP 503), not an INTERNAL 500; once the lock is gone the same call succeeds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId, PipesError } from '@openpipes/core';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteStore } from './index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const t0 = Date.parse('2026-11-01T00:00:00.000Z');
const at = (ms: number) => new Date(t0 + ms).toISOString();

describe('a write while another writer holds the lock', () => {
  it('rejects with a retryable STORE_UNAVAILABLE, stores nothing, and succeeds once the lock is gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'op-busy-'));
    dirs.push(dir);
    const filename = join(dir, 'store.db');
    const store = sqliteStore({ filename, busyTimeoutMs: 20 });
    await store.migrate();
    const other = new Database(filename);
    other.pragma('busy_timeout = 0');
    const id = newId('event', t0);
    const append = () =>
      store.appendEvents({
        sourceId: 'src_web',
        events: [
          {
            id,
            event_id: 'ord_1',
            sender_event_id: true,
            event_type: 'purchase',
            event_time: at(0),
            event_payload: { order_id: 'ord_1' },
            trace_parent: null,
          },
        ],
        pipes: [],
        deliveryIds: [],
        dedupSince: null,
        now: at(0),
      });
    other.exec('BEGIN IMMEDIATE');
    const refused = await append().catch((err: unknown) => err);
    other.exec('ROLLBACK');
    expect(refused).toBeInstanceOf(PipesError);
    expect(refused).toMatchObject({ code: 'STORE_UNAVAILABLE', retryable: true });
    expect((refused as Error).message).toMatch(/nothing was stored/);
    expect(other.prepare('SELECT count(*) AS n FROM events').get()).toEqual({ n: 0 });

    await expect(append()).resolves.toEqual([expect.objectContaining({ id })]);
    expect(other.prepare('SELECT count(*) AS n FROM events').get()).toEqual({ n: 1 });
    other.close();
    await store.close();
  });
});
