/**
 * `@openpipes/core/testing`: helpers for testing user code and stores.
 */

export {
  briefGoogleTransform,
  briefMetaSend,
  briefMetaTransform,
  briefTikTokTransform,
  purchaseEvent,
  purchaseSchema,
} from './brief.js';
export {
  checkSlackMessage,
  checkTeamsMessage,
  runEngineAlerts,
  slackStandIn,
  teamsStandIn,
} from './engine-alerts.js';
export { runEngineConfigTransfer } from './engine-config-transfer.js';
export {
  type EngineConformanceOptions,
  metaLikeAnswer,
  runEngineConformance,
  settled,
  setupBriefFlow,
  testSecretKey,
  waitFor,
} from './engine-conformance.js';
export { runEngineReliability } from './engine-reliability.js';
export { type RunSendInput, type RunSendResult, runSend } from './run-send.js';
export { closeTestSandbox, type RunTransformInput, runTransform, type TestEvent } from './run-transform.js';
export { runStoreConformance, type StoreConformanceOptions } from './store-conformance.js';
export {
  type RecordedTestRequest,
  startTestServer,
  type TestResponse,
  type TestServer,
} from './test-server.js';
