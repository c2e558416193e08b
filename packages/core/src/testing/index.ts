/**
 * `@openpipes/core/testing`: helpers for testing transforms, `send()` functions and apps that embed
 * OpenPipes. Nothing here imports a test framework, so it loads in any process. The store and engine
 * conformance suites (vitest) are in `@openpipes/core/conformance`.
 *
 * @example
 * ```ts
 * import { runTransform } from '@openpipes/core/testing';
 * const out = await runTransform(transformSource, { events: [purchase] });
 * ```
 */

export {
  bareOutcome,
  type DeliveredOutcomeInput,
  deliveredOutcome,
  erasureAudit,
  exampleAccessToken,
  examplePixelId,
  metaLikeAnswer,
  seededRandom,
  settled,
  setupMetaExample,
  stopAndClose,
  testSecretKey,
  waitFor,
} from './helpers.js';
export {
  googleExampleTransform,
  metaExampleSend,
  metaExampleTransform,
  purchaseEvent,
  purchaseSchema,
  tiktokExampleTransform,
} from './meta-example.js';
export { type RunSendInput, type RunSendResult, runSend } from './run-send.js';
export { closeTestSandbox, type RunTransformInput, runTransform, type TestEvent } from './run-transform.js';
export { checkSlackMessage, checkTeamsMessage, slackStandIn, teamsStandIn } from './stand-ins.js';
export { type TcFields, tcBits, tcString, toBase64Url } from './tc-string.js';
export {
  type RecordedTestRequest,
  startTestServer,
  type TestResponse,
  type TestServer,
  type TestServerOptions,
} from './test-server.js';
export { expiredTls, selfSignedTls } from './tls.js';
