// long-file: the Store contract is one interface every adapter implements, documented method by method
/**
 * The storage contract. Core never imports a database driver: `@openpipes/store-sqlite` and
 * `@openpipes/store-postgres` implement this interface, and both run the same conformance suite
 * (`runStoreConformance` in `@openpipes/core/conformance`).
 *
 * Conventions for every method:
 * - One object argument; times are passed in (`now`) so the engine's clock is the only clock.
 * - Times are ISO 8601 strings in UTC (`new Date().toISOString()`), which sort as text.
 * - Each method is atomic: it either applies whole or not at all.
 * - JSON columns round-trip exactly (`JSON.parse(JSON.stringify(x))`).
 * - Event and delivery ids are ULIDs the engine makes at receipt (`newId('event', now)`), so the
 *   time in an id is its `received_at` / `created_at`: stores may answer time ranges with id
 *   ranges (`idAtTime`) instead of keeping a time index.
 * - What every store decides alike is written once in `@openpipes/core/store-kit`: row mapping,
 *   the errors named below (with the same messages) and the argument checks.
 */

import type { MatchObservation } from './match-quality.js';
import type { AuditEntry, DeliveryAttempt, DeliveryStatus, StoredEvent } from './schemas.js';
import type { ErasureStore } from './store/erasure.js';
import type { AppendIdentity, IdentityStore } from './store/identity.js';
import type { MatchQualityStore } from './store/match-quality.js';
import type { ReconciliationStore } from './store/reconciliation.js';
import type { RejectionLogStore } from './store/rejections.js';

// The contract's parts that belong to one feature each live in `./store/`; their types are
// re-exported here so `./store.js` stays the one place to import the contract from.
export type * from './store/erasure.js';
export type * from './store/identity.js';
export type * from './store/match-quality.js';
export type * from './store/reconciliation.js';
export type * from './store/rejections.js';

/** Kinds of configuration entity the store keeps as versioned JSON documents. */
export type EntityKind =
  | 'source'
  | 'event_type'
  | 'secret'
  | 'destination'
  | 'pipe'
  | 'api_key'
  | 'write_key'
  | 'alert_channel';

/**
 * A configuration entity: a JSON document with a version. `unique_key` (slug, name, key...) is
 * unique per kind when not null.
 */
export interface EntityRecord {
  kind: EntityKind;
  id: string;
  unique_key: string | null;
  version: number;
  data: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

/** An immutable snapshot written with every entity write. */
export interface EntityVersionRecord {
  kind: EntityKind;
  id: string;
  version: number;
  data: Record<string, unknown>;
  actor: string | null;
  created_at: string;
}

/** A secret value that was replaced or whose secret was deleted, kept (encrypted) only to redact. */
export interface RetiredSecretValue {
  /** Opaque, assigned by the store. */
  id: string;
  secret_id: string;
  /** The secret's key when the value was retired. */
  key: string;
  /** As the vault wrote it (bound to `secret_id`). */
  ciphertext: string;
  retired_at: string;
}

/** A new event to append. */
export interface NewEvent {
  id: string;
  /**
   * The sender's event id; without one (`sender_event_id` false), the event's own `id`, as ingest
   * makes it. Stores rely on that: they keep no index of deliveries by event id, and find the
   * deliveries of an event sent without an id by `event_ref` (`listDeliveries`' `eventId`).
   */
  event_id: string;
  /** True when `event_id` came from the sender (only those are deduplicated). */
  sender_event_id: boolean;
  event_type: string;
  event_time: string;
  event_payload: Record<string, unknown>;
  /** The W3C `traceparent` of the ingest span, copied to the event's deliveries (null or absent: none). */
  trace_parent?: string | null;
}

/** Accepted events of one source and event type in one minute (volume alerts' history). */
export interface VolumeCount {
  /** The minute's start, ISO 8601 (seconds and milliseconds zero). */
  minute: string;
  source_id: string;
  event_type: string;
  count: number;
}

/** The row behind a delivery record. `detail` holds the latest attempt's request/response/error. */
export interface DeliveryRow {
  id: string;
  event_ref: string;
  source_id: string;
  pipe_id: string;
  destination_id: string;
  /** The sender's event id; on a tombstone, its keyed digest (`eraseProfiles`' `eventIdDigest`). */
  event_id: string;
  event_type: string;
  status: DeliveryStatus;
  /** Why a `filtered` delivery was not sent (`consent`, the transform's reason, `transform`); else null. */
  filter_reason: string | null;
  attempt_count: number;
  pipe_version: number | null;
  destination_version: number | null;
  /** The W3C `traceparent` of the request that ingested the event; null when none was active. */
  trace_parent: string | null;
  /** Replay through a chosen pipe version: run this version instead of the current one. */
  pinned_pipe_version: number | null;
  /** When the delivery was last re-queued by a replay; retry budgets count from here. */
  replayed_at: string | null;
  /** `attempt_count` when the delivery was last re-queued (0 if never). */
  attempts_before_replay: number;
  test_mode: boolean;
  next_attempt_at: string | null;
  lease_owner: string | null;
  lease_expires_at: string | null;
  created_at: string;
  updated_at: string;
  delivered_at: string | null;
  /** `{ output, request, response, error }` of the latest attempt (already redacted). */
  detail: DeliveryDetail;
}

export interface DeliveryDetail {
  output: unknown[] | null;
  request: unknown | null;
  response: unknown | null;
  error: unknown | null;
  /** Set when the data subject's data was erased (`eraseProfiles`): the record is a tombstone. */
  erased_at?: string;
}

/** A claimed delivery with the event it carries. */
export interface ClaimedDelivery extends DeliveryRow {
  event: { event_type: string; event_time: string; event_payload: Record<string, unknown> };
}

/** What the dispatcher writes back for one claimed delivery. */
export interface DeliveryOutcome {
  id: string;
  status: Exclude<DeliveryStatus, 'pending' | 'sending'>;
  pipe_version: number | null;
  destination_version: number | null;
  test_mode: boolean;
  /** `filtered` only: why (`consent`, the transform's own reason, or `transform`); null otherwise. */
  filter_reason: string | null;
  /** When to try again (`retrying` only). */
  next_attempt_at: string | null;
  delivered_at: string | null;
  detail: DeliveryDetail;
  /** The attempt to append to the record; null when nothing was attempted (e.g. `filtered`). */
  attempt: DeliveryAttempt | null;
  /**
   * `delivered` only, when the destination declares its identifiers: which ones the event carried
   * before stitching and which the request that left carried. Absent or null: not measured.
   */
  match?: MatchObservation | null;
}

export interface ListDeliveriesQuery {
  pipeId?: string;
  destinationId?: string;
  status?: DeliveryStatus | DeliveryStatus[];
  /** Only rows with this `event_id`: a sender's event id, an event's own id, or a tombstone's digest. */
  eventId?: string;
  /** Only rows with this `filter_reason` (so only `filtered` ones). */
  filterReason?: string;
  /**
   * Created at or after `since` and before `until`. A delivery's id is a ULID made at its
   * creation, so a store may (both do) compare ids: `id >= idAtTime(since)`, `id < idAtTime(until)`.
   */
  since?: string;
  until?: string;
  /** Return rows with id < cursor (ids sort by creation time). */
  cursor?: string;
  /** 1..1000 */
  limit: number;
}

export interface RequeueQuery {
  pipeId: string;
  /** Only these deliveries (still subject to `statuses`). */
  ids?: string[];
  /** Which statuses may be re-queued; defaults to `['failed', 'dead']`. */
  statuses?: DeliveryStatus[];
  since?: string;
  until?: string;
  /** Run this pipe version instead of the current one. */
  pinnedPipeVersion?: number | null;
  now: string;
  /** Most rows to re-queue in this call. */
  limit: number;
}

/** Backlog per destination and status, for the buffer-depth view. */
export interface DeliveryStatsRow {
  destination_id: string;
  pipe_id: string;
  status: DeliveryStatus;
  count: number;
  oldest_created_at: string | null;
}

/**
 * One cell of the per-minute delivery rollup: how many deliveries of a pipe (to its destination)
 * entered `status` during the minute starting at `minute`.
 */
export interface DeliveryCountRow {
  /** The minute's start, ISO 8601 (`2026-05-04T10:00:00.000Z`). */
  minute: string;
  pipe_id: string;
  destination_id: string;
  status: DeliveryStatus;
  count: number;
}

/** Which rollup cells to read: minutes in `[since, until)`, optionally of one pipe or destination. */
export interface DeliveryCountsQuery {
  since: string;
  until: string;
  pipeId?: string;
  destinationId?: string;
}

export interface ListAuditQuery {
  entityKind?: string;
  entityId?: string;
  actor?: string;
  since?: string;
  until?: string;
  /** Return entries with id < cursor (newest first). */
  cursor?: string;
  limit: number;
}

/** An audit entry to write in the same transaction as an entity change. */
export type NewAuditEntry = AuditEntry;

/**
 * Storage for OpenPipes. Implementations: `sqliteStore()`, `postgresStore()`.
 *
 * Concurrency: any number of engines (processes) may share one store. Methods MUST be safe to
 * call concurrently; `claimDeliveries` MUST NOT hand the same delivery to two owners while a lease
 * is live (PostgreSQL: `FOR UPDATE SKIP LOCKED`).
 *
 * The parts that belong to one feature each are declared in `./store/`: the rejection log
 * ({@link RejectionLogStore}), match quality ({@link MatchQualityStore}), reconciliation
 * ({@link ReconciliationStore}), identity ({@link IdentityStore}) and erasure ({@link ErasureStore}).
 */
export interface Store
  extends RejectionLogStore,
    MatchQualityStore,
    ReconciliationStore,
    IdentityStore,
    ErasureStore {
  /** A short name for logs and benchmarks, e.g. `sqlite` or `postgres`. */
  readonly dialect: string;

  /**
   * Creates or upgrades the schema. MUST be idempotent and safe when several processes call it at
   * once (only one applies each migration).
   */
  migrate(): Promise<void>;

  /**
   * How far the schema is migrated: `applied` is the highest migration applied (0 on an empty
   * database), `latest` the highest this store's code knows. MUST NOT change anything (no schema,
   * no table is created), so an engine with `autoMigrate: false` can check without migrating.
   */
  migrationStatus(): Promise<{ applied: number; latest: number }>;

  /** Releases connections. Further calls reject. Idempotent. */
  close(): Promise<void>;

  // --- configuration entities ----------------------------------------------------------------

  /**
   * Inserts an entity at version 1 and its first version snapshot, plus `audit` if given, in one
   * transaction. MUST throw `PipesError('CONFLICT')` when `(kind, unique_key)` is taken.
   */
  insertEntity(input: { entity: EntityRecord; actor: string | null; audit?: NewAuditEntry }): Promise<void>;

  /**
   * Replaces an entity's data and unique key, sets `version = expectedVersion + 1`, and appends a
   * version snapshot (and `audit`), in one transaction. MUST throw `PipesError('CONFLICT')` when the
   * stored version is not `expectedVersion` (a concurrent write won) or the new unique key is taken,
   * and `PipesError('NOT_FOUND')` when the entity does not exist (`staleEntityError` and
   * `entityTakenError` in the store kit).
   */
  updateEntity(input: {
    entity: EntityRecord;
    expectedVersion: number;
    actor: string | null;
    audit?: NewAuditEntry;
  }): Promise<void>;

  /**
   * Deletes an entity (its version history stays), appends `audit` and changes the config revision,
   * in one transaction. Deleting a `secret` MUST also delete its current value in that transaction
   * (`getSecretValues` no longer returns it), so no value outlives its secret; its retired values
   * stay until `destroyRetiredSecretValue`. Returns false, and writes nothing, when it did not exist.
   */
  deleteEntity(input: { kind: EntityKind; id: string; audit?: NewAuditEntry }): Promise<boolean>;

  /** Null when absent. */
  getEntity(input: { kind: EntityKind; id: string }): Promise<EntityRecord | null>;

  /** Finds by unique key. Null when absent. */
  findEntity(input: { kind: EntityKind; uniqueKey: string }): Promise<EntityRecord | null>;

  /** All entities of a kind, oldest first, `limit` after the id `after`. */
  listEntities(input: { kind: EntityKind; after?: string; limit: number }): Promise<EntityRecord[]>;

  /** Version snapshots of one entity, oldest first. */
  listEntityVersions(input: { kind: EntityKind; id: string }): Promise<EntityVersionRecord[]>;

  /** One snapshot; null when absent. */
  getEntityVersion(input: {
    kind: EntityKind;
    id: string;
    version: number;
  }): Promise<EntityVersionRecord | null>;

  /**
   * A number that changes whenever any entity is inserted, updated or deleted (by any process).
   * Engines use it to know when their cached configuration is stale.
   */
  configRevision(): Promise<number>;

  // --- secret values ---------------------------------------------------------------------------

  /** Stores (or replaces) the encrypted value of a secret. */
  putSecretValue(input: { secretId: string; ciphertext: string; now: string }): Promise<void>;

  /** Encrypted values by secret id; ids without a value are absent from the map. */
  getSecretValues(input: { secretIds: string[] }): Promise<Map<string, string>>;

  /**
   * Copies the secret's current encrypted value into the retired values, retired at `now`, under
   * `key` (the secret's key, so that a retired value is still shown as `[secret:KEY]` once the
   * secret is gone). The current value stays in place. Called before a value is replaced and before
   * a secret is deleted: retired values are only used to redact, until retention destroys them.
   * Returns false (and retires nothing) when the secret has no value. Two calls retire two rows.
   */
  retireSecretValue(input: { secretId: string; key: string; now: string }): Promise<boolean>;

  /** Retired values, oldest first; with `retiredBefore`, only those retired before that time. */
  listRetiredSecretValues(input: { retiredBefore?: string }): Promise<RetiredSecretValue[]>;

  /**
   * Deletes one retired value and appends `audit`, in one transaction. Returns false, and appends
   * nothing, when it was already gone (another process destroyed it first) or `id` is not one the
   * store could have made.
   */
  destroyRetiredSecretValue(input: { id: string; audit: NewAuditEntry }): Promise<boolean>;

  // --- events and deliveries -------------------------------------------------------------------

  /**
   * Appends events and, for each event that is not a duplicate, one `pending` delivery per pipe in
   * `pipes`, in ONE transaction: when it resolves, the events are durable.
   *
   * MUST reject with `PipesError('INTERNAL')`, storing nothing, when `deliveryIds` does not hold
   * exactly `events.length * pipes.length` ids (`checkDeliveryIds` in the store kit).
   *
   * Deduplication: an event whose `sender_event_id` is true and whose `event_id` was already
   * received on this source at or after `dedupSince` (or earlier in the same call) is not stored;
   * its result is `{ duplicate: true, id: <the original's id> }`. `dedupSince` null disables it.
   *
   * @returns one result per input event, in order.
   */
  appendEvents(input: {
    sourceId: string;
    events: NewEvent[];
    pipes: Array<{ pipe_id: string; destination_id: string }>;
    /** Delivery ids to use, `events.length * pipes.length`, event-major. */
    deliveryIds: string[];
    dedupSince: string | null;
    now: string;
    /** Identity's writes for the stored events, in the same transaction ({@link AppendIdentity}). */
    identity?: AppendIdentity;
  }): Promise<Array<{ duplicate: boolean; id: string }>>;

  /**
   * Claims up to `limit` deliveries for one destination and marks them `sending` with a lease:
   * `pending` ones, `retrying` ones whose `next_attempt_at <= now`, and `sending` ones whose lease
   * expired (their owner died). Only deliveries of `pipeIds` are claimed. Oldest first.
   * Concurrent callers MUST get disjoint sets. Returns `[]` when `pipeIds` is empty or `limit < 1`.
   */
  claimDeliveries(input: {
    destinationId: string;
    pipeIds: string[];
    owner: string;
    limit: number;
    leaseMs: number;
    now: string;
  }): Promise<ClaimedDelivery[]>;

  /**
   * Writes outcomes for deliveries this owner holds, appending each attempt to the record, and
   * clears their leases. An outcome for a delivery whose lease this owner no longer holds is NOT
   * applied (another worker has it) and its id is returned in `lost`.
   */
  completeDeliveries(input: { owner: string; outcomes: DeliveryOutcome[]; now: string }): Promise<{
    applied: string[];
    lost: string[];
  }>;

  /**
   * Extends the leases this owner holds on `ids` to `until` (a worker still busy with a long batch
   * keeps it). Leases this owner no longer holds are not touched. Returns how many were extended.
   */
  extendLeases(input: { owner: string; ids: string[]; until: string }): Promise<number>;

  /** Gives claimed deliveries back (`pending`, lease cleared) without an attempt. */
  releaseDeliveries(input: { owner: string; ids: string[]; now: string }): Promise<void>;

  /** One stored event by our id (`evt_`); null when absent (or pruned). */
  getEvent(input: { id: string }): Promise<StoredEvent | null>;

  /**
   * A source's stored events, newest first (by id), those with `id < cursor` when given. MUST use
   * an index on (source, id): it answers in proportion to `limit`, not the history. `limit` 1..1001.
   */
  listEvents(input: { sourceId: string; cursor?: string; limit: number }): Promise<StoredEvent[]>;

  /**
   * Every stored event of every source, oldest first (by id), those with `id > after` when given,
   * at most `limit` (1..1000). For background passes over the history (the event-index backfill,
   * docs/erasure.md): MUST walk the primary key, answering in proportion to `limit`.
   */
  scanEvents(input: { after?: string; limit: number }): Promise<StoredEvent[]>;

  /** Delivery rows, newest first. A `status` list that is empty matches no row. */
  listDeliveries(input: ListDeliveriesQuery): Promise<DeliveryRow[]>;

  /** One delivery with all its attempts (oldest first); null when absent. */
  getDelivery(input: { id: string }): Promise<{ row: DeliveryRow; attempts: DeliveryAttempt[] } | null>;

  /**
   * Re-queues matching deliveries as `pending` (for replay), setting `replayed_at = now` and
   * `attempts_before_replay = attempt_count` so they get a fresh retry budget. Returns the ids, in
   * id order. Re-queues nothing when `ids` or `statuses` is an empty list or `limit < 1`
   * (`requeuesNothing` in the store kit).
   */
  requeueDeliveries(input: RequeueQuery): Promise<string[]>;

  /**
   * Makes every `retrying` delivery of a destination due now (its `next_attempt_at = now`). Called
   * when a destination's circuit breaker closes after an outage, so the backlog drains at once
   * instead of waiting out each delivery's backoff. Returns how many were moved.
   */
  expediteRetries(input: { destinationId: string; now: string }): Promise<number>;

  /** The earliest `next_attempt_at` among `retrying` deliveries of a destination; null if none. */
  nextRetryAt(input: { destinationId: string }): Promise<string | null>;

  /** Counts by destination, pipe and status (all statuses). */
  deliveryStats(): Promise<DeliveryStatsRow[]>;

  /**
   * The per-minute rollup of status changes: for each minute, pipe, destination and status, how
   * many deliveries entered that status (created `pending`, claimed `sending`, completed
   * `delivered`/`failed`/..., re-queued by a replay). The store keeps it in the same statements
   * that change statuses (SQLite and PostgreSQL: triggers on `deliveries`), so reading it costs in
   * proportion to the minutes asked for, never the history. Pruning deliveries leaves it as it is
   * (it has its own, longer retention: {@link Store.pruneDeliveryCounts}).
   * Ordered by minute, then pipe, destination and status.
   */
  deliveryCounts(input: DeliveryCountsQuery): Promise<DeliveryCountRow[]>;

  /**
   * Deletes up to `limit` rows of the per-minute delivery rollup whose minute is before `before`
   * (oldest first) and returns how many went; the retention pass calls it until it comes back
   * short. Cells of later minutes, and the deliveries themselves, MUST NOT be touched. Several
   * pruners at once share the work (PostgreSQL: `SKIP LOCKED`) and MUST NOT hold up the status
   * changes that add to current minutes. `limit < 1` deletes nothing.
   */
  pruneDeliveryCounts(input: { before: string; limit: number }): Promise<number>;

  /**
   * The live backlog per destination: deliveries not final yet (`pending`, `retrying`, and
   * `sending`, claimed and in flight). Destinations with none are absent. Metrics scrapes call it:
   * it MUST cost in proportion to the backlog, not the history (a count over the index of live
   * rows, the one claims use), and MUST NOT take locks that hold up claims or ingest.
   */
  backlog(): Promise<Array<{ destination_id: string; count: number }>>;

  /**
   * For each pipe of `pipeIds`, its newest delivery (by id, so by creation) whose status is one of
   * `statuses`: at most one row per pipe, newest first; pipes with none are left out, and an empty
   * `pipeIds` or `statuses` answers `[]`. The console's "last error" per pipe (`failed`, `dead`,
   * `retrying`), polled every few seconds: it MUST cost in proportion to `pipeIds.length *
   * statuses.length`, never the history (one newest-first read of the `(pipe_id, status, id)`
   * index per pipe and status, limit 1).
   */
  newestDeliveries(input: { pipeIds: string[]; statuses: DeliveryStatus[] }): Promise<DeliveryRow[]>;

  // --- event volume (volume alerts) ------------------------------------------------------------

  /**
   * Adds per-minute counts of accepted events (to what is stored for the same minute, source and
   * event type: several processes add theirs), and deletes counts older than `pruneBefore`.
   */
  addVolume(input: { counts: VolumeCount[]; pruneBefore?: string }): Promise<void>;

  /** Accepted events per source and event type with `since <= minute < until`, summed. */
  volumeTotals(input: {
    since: string;
    until: string;
  }): Promise<Array<{ source_id: string; event_type: string; count: number }>>;

  /**
   * Deletes up to `limit` events received before `before`, with their deliveries and attempts, and
   * deliveries created before `before`, and up to `limit` rejections refused before `before`.
   * Returns how many rows of each went. `limit < 1` deletes nothing.
   */
  prune(input: {
    before: string;
    limit: number;
  }): Promise<{ events: number; deliveries: number; rejections: number }>;

  // --- audit -----------------------------------------------------------------------------------

  /** Appends an audit entry on its own (entity writes take theirs as an argument). */
  appendAudit(input: { entry: NewAuditEntry }): Promise<void>;

  /** Audit entries, newest first. */
  listAudit(input: ListAuditQuery): Promise<AuditEntry[]>;

  // --- small shared state (circuit breakers, alert incidents) --------------------------------

  /** A JSON value by key; null when absent. */
  getState(input: { key: string }): Promise<unknown | null>;
  /** Sets a JSON value by key (null deletes it). */
  setState(input: { key: string; value: unknown | null; now: string }): Promise<void>;

  // --- wake-ups ------------------------------------------------------------------------------

  /**
   * Optional: subscribe to "deliveries are ready for this destination" signals from other
   * processes (PostgreSQL `LISTEN/NOTIFY`). Sent after commit by every call that makes deliveries
   * due: `appendEvents`, `requeueDeliveries`, `releaseDeliveries` and `expediteRetries`.
   * Returns an unsubscribe function. Stores without cross-process signals omit it.
   */
  subscribe?(listener: (destinationIds: string[]) => void): Promise<() => Promise<void>>;
}
