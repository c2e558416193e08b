/**
 * Migration 11 on PostgreSQL: details and attempts are stored packed (bytea, see the kit's
 * packed.ts), a detail that is its attempt's as a reference to it, and records written before (as
 * json, or a detail packed whole), read back exactly as they did.
 */
import {
  recordAttempt as attempt,
  deliverOneRecord,
  recordDetail as detail,
  expectRecordReads,
  expectRecordReadsAsBefore,
  expectRetriedRecordReads,
} from '@openpipes/core/conformance';
import { attemptToJson, packAttempt, packJson } from '@openpipes/core/store-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { postgresAvailable, query, testStores } from './testing.js';

const available = await postgresAvailable();
const stores = testStores('packed', 2);
afterEach(stores.close);

describe.skipIf(!available)('packed details and attempts (migration 11) on PostgreSQL', () => {
  it('stores them packed, the detail as a reference to its attempt, and reads back the record as written', async () => {
    const { store, schema } = await stores.open();
    await expectRecordReads(store);
    const [row] = await query<{ detail: Buffer; data: Buffer }>(
      `SELECT d.detail, a.data FROM "${schema}".deliveries d JOIN "${schema}".delivery_attempts a ON a.delivery_id = d.id`,
    );
    expect([...row!.detail]).toEqual([0x02, 0x31]); // attempt "1"
    expect(row!.data[0]).toBe(0x01);
    // The attempt with the detail's output, packed: under half the JSON of the two.
    expect(row!.data.length).toBeLessThan(
      (JSON.stringify(detail).length + attemptToJson(attempt).length) / 2,
    );
  });

  it("reads a retried record through every read path: each detail its own attempt's", async () => {
    const { store, schema } = await stores.open();
    await expectRetriedRecordReads(store);
    const [row] = await query<{ detail: Buffer }>(`SELECT detail FROM "${schema}".deliveries`);
    expect([...row!.detail]).toEqual([0x02, 0x32]); // attempt "2"
  });

  it('reads a record written before references (detail and attempt packed whole) exactly as before', async () => {
    const { store, schema } = await stores.open();
    const id = await deliverOneRecord(store);
    const before = await store.getDelivery({ id });
    await query(`UPDATE "${schema}".deliveries SET detail = $1`, [packJson(JSON.stringify(detail))]);
    await query(`UPDATE "${schema}".delivery_attempts SET data = $1`, [packAttempt(attempt)]);
    await expectRecordReadsAsBefore(store, id, before);
  });

  it('reads a record written before migration 11 (json columns) exactly as before, once migrated', async () => {
    const { store, schema } = await stores.open();
    const id = await deliverOneRecord(store);
    const before = await store.getDelivery({ id });
    // The schema as migration 10 left it, holding the JSON text the store wrote then.
    await query(`DELETE FROM "${schema}".openpipes_migrations WHERE version >= 11`);
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
    const { store: again } = await stores.open({ schema });
    const [type] = await query<{ t: string }>(
      `SELECT data_type AS t FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'deliveries' AND column_name = 'detail'`,
      [schema],
    );
    expect(type?.t).toBe('bytea');
    await expectRecordReadsAsBefore(again, id, before);
  });
});
