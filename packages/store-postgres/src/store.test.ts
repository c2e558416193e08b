import {
  runIdentifierStorageConformance,
  runProfileConformance,
  runStoreConformance,
  runStoreDeliveryCounts,
  runStoreIdentifierFirstEvent,
  runStoreObservability,
} from '@openpipes/core/conformance';
import { describe, it } from 'vitest';
import { postgresStore } from './index.js';
import { dropSchemas, postgresAvailable, postgresUrl, query, testSchema } from './testing.js';

let schema: string | undefined;

if (await postgresAvailable()) {
  const options = {
    name: 'postgres (a schema of its own per case)',
    createStore: async () => {
      schema = testSchema('store');
      return postgresStore({ connectionString: postgresUrl, schema, poolSize: 4 });
    },
    cleanup: async () => {
      if (schema) await dropSchemas([schema]);
    },
  };
  runStoreConformance(options);
  runStoreObservability(options);
  runStoreDeliveryCounts(options);
  runProfileConformance(options);
  runStoreIdentifierFirstEvent(options);
  runIdentifierStorageConformance({
    ...options,
    storedRows: async () => {
      const rows = await query<{
        kind: string;
        key: string;
        value: string | null;
        last_seen_at: string | null;
      }>(
        `SELECT kind, key, value::text AS value, last_seen_at::text AS last_seen_at FROM "${schema}".profile_identifiers`,
      );
      return new Map(
        rows.map((r) => [`${r.kind}:${r.key}`, { value: r.value, last_seen_at: r.last_seen_at }]),
      );
    },
    setStored: async (kind, key, column, stored) => {
      const type = column === 'value' ? 'jsonb' : 'timestamptz';
      await query(
        `UPDATE "${schema}".profile_identifiers SET ${column} = $1::${type} WHERE kind = $2 AND key = $3`,
        [stored, kind, key],
      );
    },
  });
} else {
  describe.skip('store conformance: postgres (skipped: no PostgreSQL, see the message above)', () => {
    it('needs PostgreSQL', () => {});
  });
}
