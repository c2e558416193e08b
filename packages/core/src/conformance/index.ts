/**
 * `@openpipes/core/conformance`: the suites every store runs (vitest), so that SQLite, PostgreSQL
 * and any store you write behave the same. Each store's test file wires them up in a few lines:
 *
 * @example
 * ```ts
 * import { runEngineSuites, runStoreConformance } from '@openpipes/core/conformance';
 * runStoreConformance({ name: 'my-store', createStore: async () => myStore() });
 * runEngineSuites({ name: 'my-store', openStore: async (db) => myStore({ database: db }) });
 * ```
 */
export { runEngineAlerts } from './alerts/index.js';
export { runEngineConfigElsewhere } from './config-elsewhere.js';
export { runEngineConfigTransfer } from './config-transfer.js';
export { runEngineConsent } from './consent.js';
export { runStoreDeliveryCounts } from './delivery-counts.js';
export { runEngineDestinationFaults } from './destination-faults.js';
export { type EngineConformanceOptions, runEngineConformance } from './engine.js';
export { runEngineErasure } from './erasure.js';
export {
  type IdentifierStorageOptions,
  runIdentifierStorageConformance,
  type StoredIdentifierRow,
} from './identifier-storage.js';
export { runEngineIdentity } from './identity.js';
export { runEngineNeighbours } from './neighbours.js';
export { runEngineLevelAlerts, runStoreObservability } from './observability.js';
export { runProfileConformance } from './profiles.js';
export { runEngineReliability } from './reliability.js';
export { type EngineSecretsOptions, runEngineSecrets } from './secrets.js';
export { expectedListing, fillEventIdHistory } from './store/deliveries-by-event-id.js';
export {
  firstEventHelpers,
  firstEventSteps,
  runStoreIdentifierFirstEvent,
} from './store/identifier-first-event.js';
export { runStoreConformance, type StoreConformanceOptions } from './store/index.js';
export {
  deliverOneRecord,
  expectRecordReads,
  expectRecordReadsAsBefore,
  expectRetriedRecordReads,
  recordAttempt,
  recordDetail,
  retriedAttempt,
  retriedDetail,
  retryOneRecord,
} from './store/record.js';
export { runEngineSuites } from './suites.js';
