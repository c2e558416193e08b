/**
 * Every engine scenario suite a store must pass, in one call: reliability, alerts and the audit
 * trail, the engine scenarios, config transfer, configuration changed elsewhere, the configuration
 * reads ingest costs, destination faults, hostile neighbours, volume/success-rate alerts,
 * identity, the rejection log, consent and erasure.
 * (`runEngineSecrets` takes options of its own and is called beside it.)
 */
import { runEngineAlerts } from './alerts/index.js';
import { runEngineConfigElsewhere } from './config-elsewhere.js';
import { runEngineConfigReads } from './config-reads.js';
import { runEngineConfigTransfer } from './config-transfer.js';
import { runEngineConsent } from './consent.js';
import { runEngineDestinationFaults } from './destination-faults.js';
import { type EngineConformanceOptions, runEngineConformance } from './engine.js';
import { runEngineErasure } from './erasure.js';
import { runEngineIdentity } from './identity.js';
import { runEngineNeighbours } from './neighbours.js';
import { runEngineLevelAlerts } from './observability.js';
import { runEngineRejections } from './rejections.js';
import { runEngineReliability } from './reliability.js';

export function runEngineSuites(options: EngineConformanceOptions): void {
  runEngineReliability(options);
  runEngineAlerts(options);
  runEngineConformance(options);
  runEngineConfigTransfer(options);
  runEngineConfigElsewhere(options);
  runEngineConfigReads(options);
  runEngineDestinationFaults(options);
  runEngineNeighbours(options);
  runEngineLevelAlerts(options);
  runEngineIdentity(options);
  runEngineRejections(options);
  runEngineConsent(options);
  runEngineErasure(options);
}
