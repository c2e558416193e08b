/**
 * Migration 11 on SQLite: details and attempts are stored packed (BLOBs, see the kit's packed.ts),
 * and records written before it, as JSON text, read back exactly as they did.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newId, type Store } from '@openpipes/core';
import { attemptToJson } from '@openpipes/core/store-kit';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { sqliteStore } from './index.js';

const at = (ms: number) => new Date(Date.parse('2026-05-04T10:00:00.000Z') + ms).toISOString();

const request = {
  url: 'https://graph.example/v19.0/[secret:PIXEL]/events',
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  payload: { data: [{ event_name: 'Purchase', value: 1e21, note: 'nul \u0000 ☃' }] },
};
const response = {
  status: 200,
  headers: { 'content-type': 'application/json' },
  body: { events_received: 1 },
};
const detail = { output: [{ event_type: 'purchase', z: 1, a: 2 }], request, response, error: null };
const attempt = {
  number: 1,
  status: 'delivered' as const,
  started_at: at(1),
  duration_ms: 5,
  pipe_version: 1,
  destination_version: 1,
  request,
  response,
  error: null,
  exchanges: [{ request, response, error: null, started_at: at(1), duration_ms: 5 }],
  logs: [],
};

/** One delivered record with its attempt, written through the store. */
async function deliverOne(store: Store): Promise<string> {
  const pipe = { pipe_id: newId('pipe'), destination_id: newId('destination') };
  await store.appendEvents({
    sourceId: newId('source'),
    events: [
      {
        id: newId('event'),
        event_id: 'ord_1',
        sender_event_id: true,
        event_type: 'purchase',
        event_time: at(0),
        event_payload: { order_id: 'ord_1' },
      },
    ],
    pipes: [pipe],
    deliveryIds: [newId('delivery')],
    dedupSince: null,
    now: at(0),
  });
  const [claimed] = await store.claimDeliveries({
    destinationId: pipe.destination_id,
    pipeIds: [pipe.pipe_id],
    owner: 'w',
    limit: 1,
    leaseMs: 1000,
    now: at(1),
  });
  await store.completeDeliveries({
    owner: 'w',
    outcomes: [
      {
        id: claimed!.id,
        status: 'delivered',
        pipe_version: 1,
        destination_version: 1,
        test_mode: false,
        filter_reason: null,
        next_attempt_at: null,
        delivered_at: at(2),
        detail,
        attempt,
      },
    ],
    now: at(2),
  });
  return claimed!.id;
}

describe('packed details and attempts (migration 11) on SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'openpipes-packed-'));
  const stores: Store[] = [];
  const open = async (file: string) => {
    const store = sqliteStore({ filename: join(dir, file) });
    stores.push(store);
    await store.migrate();
    return store;
  };
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('stores them packed, under half their JSON, and reads back the record as written', async () => {
    const store = await open('new.db');
    const id = await deliverOne(store);
    const record = await store.getDelivery({ id });
    expect(JSON.stringify(record?.row.detail)).toBe(JSON.stringify(detail));
    expect(JSON.stringify(record?.attempts)).toBe(JSON.stringify([attempt]));
    const side = new Database(join(dir, 'new.db'), { readonly: true });
    const row = side
      .prepare('SELECT d.detail, a.data FROM deliveries d JOIN delivery_attempts a ON a.delivery_id = d.id')
      .get() as { detail: Buffer; data: Buffer };
    side.close();
    expect(row.detail[0]).toBe(0x01);
    expect(row.detail.length).toBeLessThan(JSON.stringify(detail).length / 2);
    expect(row.data[0]).toBe(0x01);
  });

  it('reads a record written before migration 11 (JSON text) exactly as before', async () => {
    const store = await open('old.db');
    const id = await deliverOne(store);
    const before = await store.getDelivery({ id });
    await store.close();
    // The rows as the store wrote them before: JSON text.
    const side = new Database(join(dir, 'old.db'));
    side.prepare('DELETE FROM openpipes_migrations WHERE version = 11').run();
    side.prepare('UPDATE deliveries SET detail = ?').run(JSON.stringify(detail));
    side.prepare('UPDATE delivery_attempts SET data = ?').run(attemptToJson(attempt));
    side.close();
    const again = await open('old.db');
    const after = await again.getDelivery({ id });
    expect(JSON.stringify(after)).toBe(JSON.stringify(before));
    expect(JSON.stringify(after?.row.detail)).toBe(JSON.stringify(detail));
  });
});
