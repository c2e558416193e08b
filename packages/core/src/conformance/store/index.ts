/**
 * The store conformance suite: every `Store` implementation runs these cases. A store's own test
 * file wires it up in a few lines:
 *
 * ```ts
 * import { runStoreConformance } from '@openpipes/core/conformance';
 * runStoreConformance({ name: 'sqlite', createStore: async () => sqliteStore({ filename: tmpFile() }) });
 * ```
 *
 * Each case gets a fresh, migrated store and closes it afterwards. The cases live one module per
 * concern beside this file.
 */
import { afterEach, beforeEach, describe } from 'vitest';
import type { Store } from '../../store.js';
import { auditCases } from './audit.js';
import { claimCases } from './claims.js';
import { deliveriesByEventIdCases } from './deliveries-by-event-id.js';
import { deliveryQueryCases } from './delivery-queries.js';
import { entityCases } from './entities.js';
import { erasureCases } from './erasure.js';
import { storeCases } from './fixtures.js';
import { ingestCases } from './ingest.js';
import { ingestIdentityCases } from './ingest-identity.js';
import { ingestIdentityFlushCases } from './ingest-identity-flush.js';
import { matchCountCases } from './match-counts.js';
import { rejectionCases } from './rejections.js';
import { secretValueCases } from './secret-values.js';
import { stateCases } from './state.js';

export interface StoreConformanceOptions {
  name: string;
  /** A new, empty store (not yet migrated). */
  createStore: () => Promise<Store>;
  /** Called after each case, after the store was closed (drop the schema, delete the file). */
  cleanup?: () => Promise<void>;
}

export function runStoreConformance(options: StoreConformanceOptions): void {
  describe(`store conformance: ${options.name}`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await options.createStore();
      await store.migrate();
    });
    afterEach(async () => {
      await store.close();
      await options.cleanup?.();
    });

    const t = storeCases(() => store);
    entityCases(t);
    secretValueCases(t);
    ingestCases(t);
    ingestIdentityCases(t);
    ingestIdentityFlushCases(t);
    rejectionCases(t);
    claimCases(t);
    deliveryQueryCases(t);
    deliveriesByEventIdCases(t);
    matchCountCases(t);
    auditCases(t);
    stateCases(t);
    erasureCases(t);
  });
}
