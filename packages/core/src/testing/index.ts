/**
 * `@openpipes/core/testing`: helpers for testing user code and stores.
 */

export { type RunSendInput, type RunSendResult, runSend } from './run-send.js';
export { closeTestSandbox, type RunTransformInput, runTransform, type TestEvent } from './run-transform.js';
export { type StoreConformanceOptions, runStoreConformance } from './store-conformance.js';
export { type RecordedTestRequest, startTestServer, type TestResponse, type TestServer } from './test-server.js';
