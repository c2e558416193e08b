/**
 * The `Store` contract's methods grouped by concern, one group per module of a store (a store's
 * `entities.ts` returns {@link EntityMethods}, and so on), so the groups are named once.
 */
import type { Store } from '../store.js';

/** Configuration entities, their versions and the config revision (`entities.ts`). */
export type EntityMethods = Pick<
  Store,
  | 'insertEntity'
  | 'updateEntity'
  | 'deleteEntity'
  | 'getEntity'
  | 'findEntity'
  | 'listEntities'
  | 'listEntityVersions'
  | 'getEntityVersion'
  | 'configRevision'
>;

/** Current and retired secret values (`secret-values.ts`). */
export type SecretValueMethods = Pick<
  Store,
  | 'putSecretValue'
  | 'getSecretValues'
  | 'retireSecretValue'
  | 'listRetiredSecretValues'
  | 'destroyRetiredSecretValue'
>;

/** Ingest and reading an event back (`events.ts`). */
export type EventMethods = Pick<Store, 'appendEvents' | 'getEvent' | 'listEvents' | 'scanEvents'>;

/** The rejection log: events refused at collect (`rejections.ts`). */
export type RejectionMethods = Pick<Store, 'appendRejections' | 'listRejections'>;

/** Claims, outcomes, leases and retries (`claims.ts`). */
export type ClaimMethods = Pick<
  Store,
  | 'claimDeliveries'
  | 'completeDeliveries'
  | 'extendLeases'
  | 'releaseDeliveries'
  | 'expediteRetries'
  | 'nextRetryAt'
>;

/** The delivery history: listing, reading, replays and stats (`deliveries.ts`). */
export type DeliveryMethods = Pick<
  Store,
  'listDeliveries' | 'getDelivery' | 'requeueDeliveries' | 'deliveryStats'
>;

/** The per-minute delivery rollup (`delivery-counts.ts`). */
export type DeliveryCountMethods = Pick<Store, 'deliveryCounts'>;

/** The per-minute match-quality rollup (`match-counts.ts`). */
export type MatchCountMethods = Pick<Store, 'matchCounts'>;

/** Reconciliation of an event type over a period (`reconciliation.ts`). */
export type ReconciliationMethods = Pick<Store, 'reconciliation'>;

/** Retention (`prune.ts`). */
export type PruneMethods = Pick<Store, 'prune' | 'pruneDeliveryCounts'>;

/** The audit log (`audit.ts`). */
export type AuditMethods = Pick<Store, 'appendAudit' | 'listAudit'>;

/** Per-minute event counts for volume alerts (`volume.ts`). */
export type VolumeMethods = Pick<Store, 'addVolume' | 'volumeTotals'>;

/** Small shared state documents (`state.ts`). */
export type StateMethods = Pick<Store, 'getState' | 'setState'>;

/** Identity: profiles and their identifiers (`profiles.ts`). */
export type ProfileMethods = Pick<Store, 'linkProfiles' | 'findProfiles' | 'getProfile' | 'pruneProfiles'>;

/** Erasure and export: a data subject's rights (`erasure.ts`). */
export type ErasureMethods = Pick<Store, 'indexEventIdentifiers' | 'listPersonEvents' | 'eraseProfiles'>;
