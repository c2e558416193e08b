/**
 * `txWith`: BEGIN and a prelude in one round trip, committed or rolled back like kysely's own
 * transactions, never leaving a pooled connection inside a transaction.
 */
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { createConnection } from './connection.js';
import { dropSchemas, postgresAvailable, postgresUrl, testSchema } from './testing.js';

const available = await postgresAvailable();

describe.skipIf(!available)('txWith', () => {
  const schema = testSchema('txwith');
  // One connection: every call below runs on the connection the one before it used.
  const connection = createConnection({
    connectionString: postgresUrl,
    poolSize: 1,
    applicationName: 'txwith',
  });
  const { db, txWith } = connection;
  const bitmapScan = async (on = db) =>
    (await sql<{ enable_bitmapscan: string }>`SHOW enable_bitmapscan`.execute(on)).rows[0]?.enable_bitmapscan;
  const rows = async () =>
    (await sql<{ n: number }>`SELECT n FROM ${sql.table(`${schema}.t`)} ORDER BY n`.execute(db)).rows.map(
      (r) => r.n,
    );

  afterAll(async () => {
    await db.destroy();
    await dropSchemas([schema]);
  });

  it('runs the prelude inside the transaction and commits what the body wrote', async () => {
    await sql.raw(`CREATE SCHEMA "${schema}"; CREATE TABLE "${schema}".t (n int)`).execute(db);
    const inside = await txWith('SET LOCAL enable_bitmapscan = off', async (trx) => {
      await sql`INSERT INTO ${sql.table(`${schema}.t`)} (n) VALUES (1)`.execute(trx);
      return bitmapScan(trx);
    });
    expect(inside).toBe('off');
    // SET LOCAL ended with the transaction, on the same pooled connection.
    expect(await bitmapScan()).toBe('on');
    expect(await rows()).toEqual([1]);
  });

  it('rolls back when the body throws, and when the prelude fails', async () => {
    await expect(
      txWith('SET LOCAL enable_bitmapscan = off', async (trx) => {
        await sql`INSERT INTO ${sql.table(`${schema}.t`)} (n) VALUES (2)`.execute(trx);
        throw new Error('body failed');
      }),
    ).rejects.toThrow('body failed');
    await expect(txWith('SET LOCAL no_such_setting_at_all = 1', async () => 'ran')).rejects.toThrow(
      /no_such_setting_at_all/,
    );
    // The connection is usable and outside any transaction: what follows commits on its own.
    await sql`INSERT INTO ${sql.table(`${schema}.t`)} (n) VALUES (3)`.execute(db);
    expect(
      (await sql<{ xact: boolean }>`SELECT now() = statement_timestamp() AS xact`.execute(db)).rows[0]?.xact,
    ).toBe(true);
    expect(await rows()).toEqual([1, 3]);
    expect(await bitmapScan()).toBe('on');
  });
});
