import { runEngineSuites } from '@openpipes/core/conformance';
import { unpackJson } from '@openpipes/core/store-kit';
import { describe, it } from 'vitest';
import { postgresStore } from './index.js';
import { dropSchemas, postgresAvailable, postgresUrl, query } from './testing.js';

// Each engine database is a schema of its own; the same name opens the same data again.
const created = new Set<string>();
const schemaOf = (db: string) => `opt_${db}`.slice(0, 48);
const openStore = async (db: string) => {
  created.add(schemaOf(db));
  return postgresStore({ connectionString: postgresUrl, schema: schemaOf(db), poolSize: 4 });
};
const cleanup = async () => {
  await dropSchemas(created);
  created.clear();
};

// Every row of every table of the schema, as PostgreSQL prints it, and the packed columns
// (migration 11) as the text they hold: compressed, a needle would not show in the bytes.
const rawDump = async (db: string) => {
  const packed = [
    ...(await query<{ v: Buffer }>(`SELECT detail AS v FROM "${schemaOf(db)}".deliveries`)),
    ...(await query<{ v: Buffer }>(`SELECT data AS v FROM "${schemaOf(db)}".delivery_attempts`)),
  ].map((r) => unpackJson(r.v));
  const tables = await query<{ table_name: string }>(
    'SELECT table_name FROM information_schema.tables WHERE table_schema = $1',
    [schemaOf(db)],
  );
  const parts = await Promise.all(
    tables.map(async ({ table_name }) => {
      const rows = await query<{ row: string }>(
        `SELECT t::text AS row FROM "${schemaOf(db)}"."${table_name}" t`,
      );
      return rows.map((r) => r.row).join('\n');
    }),
  );
  return [...parts, ...packed].join('\n');
};

// As a newer OpenPipes would: its migration recorded as applied.
const recordMigration = async (db: string, version: number) => {
  await query(
    `INSERT INTO "${schemaOf(db)}".openpipes_migrations (version, name, applied_by) VALUES ($1, 'from_a_newer_version', 'test')`,
    [version],
  );
};

const countRows = async (db: string, table: string) =>
  (await query<{ n: number }>(`SELECT count(*)::int AS n FROM "${schemaOf(db)}"."${table}"`))[0]!.n;

if (await postgresAvailable()) {
  runEngineSuites({ name: 'PostgreSQL', openStore, cleanup, rawDump, recordMigration, countRows });
} else {
  describe.skip('engine on PostgreSQL (skipped: no PostgreSQL, see the message above)', () => {
    it('needs PostgreSQL', () => {});
  });
}
