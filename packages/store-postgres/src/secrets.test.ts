import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { runEngineSecrets } from '@openpipes/core/conformance';
import { unpackJson } from '@openpipes/core/store-kit';
import { describe, it } from 'vitest';
import { postgresStore } from './index.js';
import { dropSchemas, postgresAvailable, postgresUrl, query } from './testing.js';

const run = promisify(execFile);
const created = new Set<string>();
const schemaOf = (db: string) => `opt_${db}`.slice(0, 48);

// What PostgreSQL holds for the schema, as pg_dump (installed with the server) writes it out.
const storedBytes = async (db: string) => {
  const { stdout } = await run(
    'pg_dump',
    [`--dbname=${postgresUrl}`, `--schema=${schemaOf(db)}`, '--no-owner'],
    {
      maxBuffer: 512 * 1024 * 1024,
    },
  );
  // The packed columns (migration 11) as the text they hold: compressed, a piece would not show.
  const packed = [
    ...(await query<{ v: Buffer }>(`SELECT detail AS v FROM "${schemaOf(db)}".deliveries`)),
    ...(await query<{ v: Buffer }>(`SELECT data AS v FROM "${schemaOf(db)}".delivery_attempts`)),
  ].map((r) => unpackJson(r.v));
  return [
    { name: `pg_dump --schema=${schemaOf(db)}`, text: stdout },
    { name: 'packed details and attempts', text: packed.join('\n') },
  ];
};

if (await postgresAvailable()) {
  runEngineSecrets({
    name: 'PostgreSQL',
    openStore: async (db) => {
      created.add(schemaOf(db));
      return postgresStore({ connectionString: postgresUrl, schema: schemaOf(db), poolSize: 4 });
    },
    storedBytes,
    cleanup: async () => {
      await dropSchemas(created);
      created.clear();
    },
  });
} else {
  describe.skip('secrets on PostgreSQL (skipped: no PostgreSQL, see the message above)', () => {
    it('needs PostgreSQL', () => {});
  });
}
