/**
 * The property suite (test/property/harness.ts) on PostgreSQL. Without PostgreSQL it skips with a
 * message; under CI=true a missing PostgreSQL fails it.
 */

import { postgresAvailable } from '@openpipes/store-postgres/testing';
import { describe, it } from 'vitest';
import { localDocument } from './openapi-check.js';
import { runPropertySuite } from './property/harness.js';

if (await postgresAvailable()) {
  runPropertySuite('postgres', await localDocument());
} else {
  describe.skip('the property suite on PostgreSQL (skipped: no PostgreSQL, see the message above)', () => {
    it('needs PostgreSQL', () => {});
  });
}
