/**
 * `@openpipes/store-postgres/testing`: where the test PostgreSQL is, whether it is up, and a schema
 * of its own for every test so concurrent runs (and concurrent test files) cannot collide. This
 * package's tests and the HTTP and CLI packages' PostgreSQL tests use it.
 *
 * Without PostgreSQL the suites skip with a message saying so; under `CI=true` a missing
 * PostgreSQL is an error, never a skip.
 */
import pg from 'pg';
import { postgresStore } from './index.js';

/** `OPENPIPES_TEST_POSTGRES_URL`, default the local trust-auth `test` database. */
export const postgresUrl =
  process.env.OPENPIPES_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export const inCi = (): boolean => {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
};

let probe: Promise<boolean> | undefined;

/**
 * True when PostgreSQL answers. Prints why the suites skip when it does not; throws under CI.
 */
export function postgresAvailable(): Promise<boolean> {
  probe ??= (async () => {
    const client = new pg.Client({ connectionString: postgresUrl, connectionTimeoutMillis: 3000 });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch (err) {
      const where = postgresUrl.replace(/\/\/[^@/]*@/, '//…@');
      const why = err instanceof Error ? err.message : String(err);
      if (inCi()) {
        throw new Error(
          `PostgreSQL is required when CI is set, but ${where} does not answer (${why}). Start it: pg_ctlcluster <version> main start`,
        );
      }
      console.warn(
        `\n[${process.env.npm_package_name ?? '@openpipes'}] SKIPPING the PostgreSQL tests: no PostgreSQL at ${where} (${why}).\n` +
          'Start one, or point OPENPIPES_TEST_POSTGRES_URL at a database you may create schemas in.\n',
      );
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
  return `opt_${tag}_${process.pid}_${Date.now().toString(36)}_${rand}${counter++}`.slice(0, 48);
}

/** Drops test schemas with everything in them. */
export async function dropSchemas(names: Iterable<string>): Promise<void> {
  const list = [...names];
  if (list.length === 0) return;
  const client = new pg.Client({ connectionString: postgresUrl });
  client.on('error', () => {});
  await client.connect();
  try {
    for (const name of list) await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
  } finally {
    await client.end();
  }
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

/**
 * Stores in schemas of their own for one test file: `open()` makes and migrates one (`open({ schema })`
 * another on a schema opened before, as a second process or a restart would, migrated again;
 * `poolSize` overrides the file's);
 * `closing()` registers something else the test opened (a connection of its own); `close()`, the
 * file's `afterEach`, ends them all and drops the schemas.
 *
 * @example
 * const stores = testStores('races', 3);
 * afterEach(stores.close);
 * const { store, schema } = await stores.open();
 */
export function testStores(tag: string, poolSize: number) {
  const schemas: string[] = [];
  const closers: Array<() => Promise<void>> = [];
  return {
    async open(on: { schema?: string; poolSize?: number } = {}) {
      const schema = on.schema ?? testSchema(tag);
      if (!on.schema) schemas.push(schema);
      const store = postgresStore({
        connectionString: postgresUrl,
        schema,
        poolSize: on.poolSize ?? poolSize,
      });
      closers.push(() => store.close());
      await store.migrate();
      return { store, schema };
    },
    closing(close: () => Promise<void>): void {
      closers.push(close);
    },
    async close(): Promise<void> {
      // Last opened first: a connection of the test's own may hold a lock a store's query waits for.
      for (const close of closers.splice(0).reverse()) await close();
      await dropSchemas(schemas.splice(0));
    },
  };
}
