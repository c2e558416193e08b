/**
 * Statements marked `prepared` go named on the store's own pool: parsed once per connection (one
 * row in pg_prepared_statements, executed every time), while unmarked ones stay unnamed, and a
 * caller's pool (which may sit behind a proxy that cannot keep them) gets none, nor the store's
 * own with `namedStatements: false`.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createConnection } from './connection.js';
import { prepared, statementName } from './named-statements.js';
import { postgresAvailable, postgresUrl, testStores } from './testing.js';

const available = await postgresAvailable();
const stores = testStores('named', 1);
afterEach(stores.close);

type Prepared = { name: string; statement: string; runs: number };

/** The statements prepared on the connection `db` runs on (a pool of one), with their runs. */
const preparedOn = (db: ReturnType<typeof createConnection>['db']) =>
  sql<Prepared>`SELECT name, statement, (generic_plans + custom_plans)::int AS runs
    FROM pg_prepared_statements WHERE NOT from_sql`.execute(db);

describe.skipIf(!available)('named statements', () => {
  it('prepares a marked statement once per connection and runs it by name', async () => {
    const { db } = createConnection({ connectionString: postgresUrl, poolSize: 1, applicationName: 'named' });
    stores.closing(() => db.destroy());
    const marked = (n: number) => sql<{ n: number }>`${prepared} SELECT ${n}::int + 1 AS n`;
    for (let n = 0; n < 7; n++) expect((await marked(n).execute(db)).rows).toEqual([{ n: n + 1 }]);
    await sql`SELECT ${1}::int AS unmarked`.execute(db);

    const { rows } = await preparedOn(db);
    const text = marked(0).compile(db).sql;
    expect(rows).toEqual([{ name: statementName(text), statement: text, runs: 7 }]);
  });

  it('names none when turned off', async () => {
    const { db } = createConnection({
      connectionString: postgresUrl,
      poolSize: 1,
      applicationName: 'named',
      namedStatements: false,
    });
    stores.closing(() => db.destroy());
    for (let n = 0; n < 3; n++) await sql`${prepared} SELECT ${n}::int AS n`.execute(db);
    expect((await preparedOn(db)).rows).toEqual([]);
  });

  it('leaves a caller’s pool unnamed', async () => {
    const pool = new pg.Pool({ connectionString: postgresUrl, max: 1 });
    stores.closing(() => pool.end());
    const { db } = createConnection({ pool, applicationName: 'named' });
    stores.closing(() => db.destroy());
    for (let n = 0; n < 3; n++) await sql`${prepared} SELECT ${n}::int AS n`.execute(db);
    expect((await preparedOn(db)).rows).toEqual([]);
  });
});
