import {
  runProfileConformance,
  runStoreConformance,
  runStoreDeliveryCounts,
  runStoreObservability,
} from '@openpipes/core/conformance';
import { describe, it } from 'vitest';
import { postgresStore } from './index.js';
import { dropSchemas, postgresAvailable, postgresUrl, testSchema } from './testing.js';

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
} else {
  describe.skip('store conformance: postgres (skipped: no PostgreSQL, see the message above)', () => {
    it('needs PostgreSQL', () => {});
  });
}
