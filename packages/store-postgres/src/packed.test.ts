/**
 * Migration 11 on PostgreSQL: details and attempts are stored packed (bytea, see the kit's
 * packed.ts), and records written before it, as json, read back exactly as they did.
 */
import { newId, type Store } from '@openpipes/core';
import { attemptToJson } from '@openpipes/core/store-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { postgresStore } from './index.js';
import { dropSchemas, postgresAvailable, postgresUrl, query, testSchema } from './testing.js';

const available = await postgresAvailable();
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

describe.skipIf(!available)('packed details and attempts (migration 11) on PostgreSQL', () => {
  const schemas: string[] = [];
  const stores: Store[] = [];
  const open = async (schema: string) => {
    const store = postgresStore({ connectionString: postgresUrl, schema, poolSize: 2 });
    stores.push(store);
    await store.migrate();
    return store;
  };
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await dropSchemas(schemas.splice(0));
  });

  it('stores them packed, under half their JSON, and reads back the record as written', async () => {
    const schema = testSchema('packed');
    schemas.push(schema);
    const store = await open(schema);
    const id = await deliverOne(store);
    const record = await store.getDelivery({ id });
    expect(JSON.stringify(record?.row.detail)).toBe(JSON.stringify(detail));
    expect(JSON.stringify(record?.attempts)).toBe(JSON.stringify([attempt]));
    const [row] = await query<{ detail: Buffer; data: Buffer }>(
      `SELECT d.detail, a.data FROM "${schema}".deliveries d JOIN "${schema}".delivery_attempts a ON a.delivery_id = d.id`,
    );
    expect(row!.detail[0]).toBe(0x01);
    expect(row!.detail.length).toBeLessThan(JSON.stringify(detail).length / 2);
    expect(row!.data[0]).toBe(0x01);
  });

  it('reads a record written before migration 11 (json columns) exactly as before, once migrated', async () => {
    const schema = testSchema('packed');
    schemas.push(schema);
    const store = await open(schema);
    const id = await deliverOne(store);
    const before = await store.getDelivery({ id });
    // The schema as migration 10 left it, holding the JSON text the store wrote then.
    await query(`DELETE FROM "${schema}".openpipes_migrations WHERE version = 11`);
    await query(
      `ALTER TABLE "${schema}".deliveries ALTER COLUMN detail TYPE json USING $1::json`.replace(
        '$1',
        `'${JSON.stringify(detail).replace(/'/g, "''")}'`,
      ),
    );
    await query(
      `ALTER TABLE "${schema}".delivery_attempts ALTER COLUMN data TYPE json USING $1::json`.replace(
        '$1',
        `'${attemptToJson(attempt).replace(/'/g, "''")}'`,
      ),
    );
    const again = await open(schema);
    const [type] = await query<{ t: string }>(
      `SELECT data_type AS t FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'deliveries' AND column_name = 'detail'`,
      [schema],
    );
    expect(type?.t).toBe('bytea');
    const after = await again.getDelivery({ id });
    expect(JSON.stringify(after)).toBe(JSON.stringify(before));
    expect(JSON.stringify(after?.row.detail)).toBe(JSON.stringify(detail));
  });
});
