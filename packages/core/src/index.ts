/**
 * `@openpipes/core`: the OpenPipes engine.
 *
 * @example
 * ```ts
 * import { createPipes } from '@openpipes/core';
 * import { sqliteStore } from '@openpipes/store-sqlite';
 *
 * const pipes = createPipes({ store: sqliteStore({ filename: './openpipes.db' }), secretKey });
 * await pipes.start();
 * ```
 *
 * One barrel: what an embedder, a store or an HTTP layer uses. Helpers only the engine itself
 * uses (the send classifier, the retry schedule, the record codec, the vault, the schema compiler,
 * the config import planner, id parsing) are not exported; see CHANGELOG.md.
 */
export {
  type AlertChannelsApi,
  type AlertsApi,
  type AlertsOptions,
  formatAlert,
  toSlack,
  toTeams,
  toWebhook,
  type WebhookAlertBody,
} from './alerts/index.js';
export * from './alerts/schemas.js';
export { type AuditApi, type AuditQuery, auditQuerySchema } from './audit.js';
export type { CollectCredentials } from './collect-auth.js';
export {
  type ConfigAction,
  type ConfigChange,
  type ConfigDocument,
  type ConfigDocumentInput,
  type ConfigEntityKind,
  type ConfigImportOptions,
  type ConfigImportResult,
  type ConfigProgress,
  type ConfigSnapshot,
  type ConfigTransferApi,
  configActions,
  configAlertChannelSchema,
  configChangeSchema,
  configDestinationSchema,
  configDocumentSchema,
  configDocumentVersion,
  configEntityKinds,
  configImportResultSchema,
  configPipeSchema,
  configSecretSchema,
  configSourceSchema,
  type MissingSecret,
  missingSecretSchema,
} from './config-transfer/index.js';
export * from './consent/index.js';
export type { ProfilesResolver } from './deliver.js';
export {
  type DeliveriesApi,
  type ListDeliveriesOptions,
  listDeliveriesOptionsSchema,
  type ReplayOptions,
  type ReplayResult,
  replayOptionsSchema,
} from './deliveries.js';
export {
  type DeliveryCounts,
  type DeliveryCountsQuery,
  deliveryCountsMaxWindowMs,
  deliveryCountsQuerySchema,
  deliveryCountsSchema,
} from './delivery-counts.js';
export type { BreakerState, DispatcherOptions } from './dispatch/dispatcher.js';
export { createPipes, type Pipes, type PipesOptions, type PipesStatus, type Role } from './engine.js';
export {
  errorCodes,
  httpStatusByCode,
  httpStatusForCode,
  isPipesError,
  PipesError,
  type PipesErrorCode,
  type PipesErrorOptions,
  toPipesError,
} from './errors.js';
export type { EngineEventMap, EngineEventName } from './events.js';
export type { Profile, ProfilesApi } from './identity/api.js';
export type { IdentityOptions, TransformProfile } from './identity/stitch.js';
export { cursorSchema, type IdKind, idAtTime, newId } from './ids.js';
export type { IngestEventResult, IngestResult } from './ingest.js';
export { findUnstorableJson, vouchStorableList } from './json-value.js';
export { errorStatuses, type LastErrors, lastErrorsSchema } from './last-errors.js';
export { adaptLogger, type LogFields, type Logger, silentLogger } from './logger.js';
export * from './match-quality.js';
export type { EngineObserver, EventRejectReason } from './observer.js';
export {
  type Reconciliation,
  type ReconciliationApi,
  type ReconciliationQuery,
  reconciliationQuerySchema,
  reconciliationSchema,
} from './reconciliation.js';
export {
  type ApiKey,
  type ApiKeyInput,
  type ApiKeyScope,
  type ApiKeysApi,
  apiKeyInputSchema,
  apiKeySchema,
  apiKeyScopes,
  type CreatedApiKey,
  type VerifiedApiKey,
} from './registries/api-keys.js';
export type { DestinationsRegistry } from './registries/destinations.js';
export type { EventTypesRegistry } from './registries/event-types.js';
export type { PipesRegistry } from './registries/pipes.js';
export type { ActorContext, ListOptions, Registry, Versioned } from './registries/registry.js';
export type { SecretsRegistry } from './registries/secrets.js';
export type { ActivityQuery, SourcesRegistry } from './registries/sources.js';
export {
  type CreatedWriteKey,
  type VerifiedWriteKey,
  type WriteKey,
  type WriteKeysApi,
  writeKeyPrefix,
  writeKeySchema,
} from './registries/write-keys.js';
export type { RejectionLogOptions } from './rejections.js';
export type { PruneResult, RetentionOptions } from './retention.js';
export * from './sandbox/index.js';
export * from './schemas.js';
export { type SecretForm, secretForms } from './secrets/forms.js';
export { CUT_FLOOR, createRedactor, type Redactor, type RedactorSecrets } from './secrets/redact.js';
export {
  dryRunNote,
  type SendTestApi,
  type SendTestInput,
  type SendTestResult,
  sendTestInputSchema,
  sendTestResultSchema,
} from './send-test.js';
export type * from './store.js';
export type { DestinationDefinition, DestinationTemplate } from './templates.js';
export { type HeaderGetter, type TracingOptions, traceIdOf } from './tracing/index.js';
export {
  type TransformTestApi,
  type TransformTestInput,
  type TransformTestResult,
  transformTestInputSchema,
  transformTestResultSchema,
} from './transform-test.js';
export { type FieldIssue, formatPath, parseOrThrow } from './validation.js';
