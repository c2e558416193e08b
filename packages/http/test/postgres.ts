/**
 * Where the test PostgreSQL is, and a schema of its own per fixture (as in
 * @openpipes/store-postgres's tests). Without PostgreSQL the PostgreSQL suites skip with a message
 * saying so; under `CI=true` a missing PostgreSQL is an error, never a skip.
 */
import pg from 'pg';

/** `OPENPIPES_TEST_POSTGRES_URL`, default the local trust-auth `test` database. */
export const postgresUrl =
  process.env.OPENPIPES_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const inCi = () => !['', '0', 'false', undefined].includes(process.env.CI);

let probe: Promise<boolean> | undefined;

/** True when PostgreSQL answers; says why the suites skip when it does not; throws under CI. */
export function postgresAvailable(): Promise<boolean> {
  probe ??= (async () => {
    const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch (err) {
      const why = `${postgresUrl.replace(/\/\/[^@/]*@/, '//…@')} does not answer (${(err as Error).message})`;
      if (inCi()) throw new Error(`PostgreSQL is required when CI is set, but ${why}`);
      console.warn(`\n[@openpipes/http] SKIPPING the PostgreSQL suites: ${why}.\n`);
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return probe;
}

let counter = 0;

/** A fresh schema name, unique across processes and runs (at most 48 characters). */
export function testSchema(tag: string): string {
  const rand = Math.random().toString(36).slice(2, 6);
  return `oph_${tag}_${process.pid}_${Date.now().toString(36)}_${rand}${counter++}`.slice(0, 48);
}

/** Runs one query on a short-lived connection. */
export async function query<R = Record<string, unknown>>(text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: postgresUrl });
  client.on('error', () => {});
  await client.connect();
  try {
    return (await client.query(text, values)).rows as R[];
  } finally {
    await client.end();
  }
}
