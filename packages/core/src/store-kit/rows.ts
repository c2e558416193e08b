/**
 * Row mapping shared by every store: a row as a driver returns it (JSON as text, times as ISO text
 * or a `Date`, flags as booleans or 0/1) to the record the engine sees. Stores select JSON columns
 * as text so both drivers hand back the same shape; only these functions turn rows into records.
 */
import { PipesError } from '../errors.js';
import type { AuditEntry, DeliveryAttempt, DeliveryStatus, StoredEvent } from '../schemas.js';
import type {
  ClaimedDelivery,
  DeliveryDetail,
  DeliveryRow,
  EntityRecord,
  EntityVersionRecord,
  StoredRejection,
} from '../store.js';
import { type PackedValue, packJson } from './packed.js';
import { detailAndAttempts, detailOf, type ReferredAttempts } from './records.js';
import type { RowTextColumns, Selected, StoreTables } from './tables.js';

/** A time as a driver returns it: ISO text (SQLite), a `Date` or PostgreSQL's text output (`pg`). */
export type TimeValue = RowTextColumns['time'];

/** A boolean as a driver returns it: `true`/`false` (PostgreSQL) or `1`/`0` (SQLite). */
export type FlagValue = RowTextColumns['flag'];

/**
 * A stored time as the ISO string the engine wrote (the engine writes millisecond precision, so
 * nothing is lost). Accepts what either driver returns: the engine's own ISO text as is, a `Date`
 * (pg's default), or PostgreSQL's text output ("2026-05-04 10:00:00.123+00", from a pool with its
 * own type parsers).
 *
 * @example
 * ```ts
 * isoTime('2026-05-04 10:00:00.123+00'); // '2026-05-04T10:00:00.123Z'
 * ```
 */
export function isoTime(value: TimeValue): string {
  if (value instanceof Date) return value.toISOString();
  // The engine's own format, as SQLite keeps it: the common case, returned without parsing.
  if (value.length === 24 && value.charCodeAt(23) === 90 /* Z */ && value.charCodeAt(10) === 84 /* T */) {
    return value;
  }
  const normalized = value
    .replace(' ', 'T')
    .replace(/([+-]\d\d)$/, '$1:00')
    .replace(/\.(\d{3})\d+/, '.$1');
  const ms = Date.parse(normalized);
  if (Number.isNaN(ms)) throw new PipesError({ code: 'INTERNAL', message: `unreadable time "${value}"` });
  return new Date(ms).toISOString();
}

/**
 * {@link isoTime}, keeping null.
 *
 * @example
 * ```ts
 * isoTimeOrNull(null); // null
 * ```
 */
export function isoTimeOrNull(value: TimeValue | null): string | null {
  return value === null ? null : isoTime(value);
}

/**
 * Compares ids (ULIDs, ASCII) bytewise, as `ORDER BY id` does on both stores.
 *
 * @example
 * ```ts
 * ['evd_2', 'evd_1'].sort(compareIds); // ['evd_1', 'evd_2']
 * ```
 */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * JSON text for a nullable JSON column (null and undefined stay SQL NULL).
 *
 * @example
 * ```ts
 * jsonOrNull({ a: 1 }); // '{"a":1}'
 * ```
 */
export function jsonOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

/**
 * An entity as the `entities` row to insert at `version` (data as JSON text).
 *
 * @example
 * ```ts
 * qb.insertInto('entities').values(toEntityRow(entity, 1));
 * ```
 */
export function toEntityRow(entity: EntityRecord, version: number) {
  return {
    id: entity.id,
    kind: entity.kind,
    unique_key: entity.unique_key,
    version,
    data: JSON.stringify(entity.data),
    created_at: entity.created_at,
    updated_at: entity.updated_at,
  };
}

/**
 * What an update of an entity to `version` writes (its id, kind and creation time stay).
 *
 * @example
 * ```ts
 * qb.updateTable('entities').set(toEntityChanges(entity, 3)).where('id', '=', entity.id);
 * ```
 */
export function toEntityChanges(entity: EntityRecord, version: number) {
  const { id: _id, kind: _kind, created_at: _created, ...changes } = toEntityRow(entity, version);
  return changes;
}

/**
 * The `entity_versions` snapshot every entity write appends (data as JSON text).
 *
 * @example
 * ```ts
 * qb.insertInto('entity_versions').values(toEntityVersionRow(entity, 2, 'alice'));
 * ```
 */
export function toEntityVersionRow(entity: EntityRecord, version: number, actor: string | null) {
  return {
    id: entity.id,
    kind: entity.kind,
    version,
    data: JSON.stringify(entity.data),
    actor,
    created_at: entity.updated_at,
  };
}

/**
 * An audit entry as the `audit` row to insert (before/after as JSON text).
 *
 * @example
 * ```ts
 * qb.insertInto('audit').values(toAuditRow(entry));
 * ```
 */
export function toAuditRow(entry: AuditEntry) {
  return {
    id: entry.id,
    actor: entry.actor,
    action: entry.action,
    entity_kind: entry.entity_kind,
    entity_id: entry.entity_id,
    before: jsonOrNull(entry.before),
    after: jsonOrNull(entry.after),
    request_id: entry.request_id,
    created_at: entry.created_at,
  };
}

/**
 * The `detail` of a delivery that has had no attempt yet, as stored.
 *
 * @example
 * ```ts
 * JSON.parse(emptyDetailJson); // { output: null, request: null, response: null, error: null }
 * ```
 */
export const emptyDetailJson = JSON.stringify({ output: null, request: null, response: null, error: null });

/** {@link emptyDetailJson} as a packed column stores it. */
export const emptyDetailPacked: Buffer = packJson(emptyDetailJson);

/** An `entities` row, JSON as text. */
export type EntityRowText = Selected<StoreTables<RowTextColumns>['entities']>;

/**
 * An `entities` row as an {@link EntityRecord}.
 *
 * @example
 * ```ts
 * const entity = toEntityRecord(row);
 * ```
 */
export function toEntityRecord(row: EntityRowText): EntityRecord {
  return {
    kind: row.kind as EntityRecord['kind'],
    id: row.id,
    unique_key: row.unique_key,
    version: row.version,
    data: JSON.parse(row.data),
    created_at: isoTime(row.created_at),
    updated_at: isoTime(row.updated_at),
  };
}

/** An `entity_versions` row, JSON as text. */
export type EntityVersionRowText = Selected<StoreTables<RowTextColumns>['entity_versions']>;

/**
 * An `entity_versions` row as an {@link EntityVersionRecord}.
 *
 * @example
 * ```ts
 * const versions = rows.map(toEntityVersionRecord);
 * ```
 */
export function toEntityVersionRecord(row: EntityVersionRowText): EntityVersionRecord {
  return {
    kind: row.kind as EntityVersionRecord['kind'],
    id: row.id,
    version: row.version,
    data: JSON.parse(row.data),
    actor: row.actor,
    created_at: isoTime(row.created_at),
  };
}

/**
 * A `deliveries` row, JSON as text. `due_at` is the one column claims read: the creation time
 * while pending, the next attempt while retrying, the lease expiry while sending, null once final.
 */
export type DeliveryRowText = Selected<StoreTables<RowTextColumns>['deliveries']>;

/** The columns of {@link DeliveryRowText}, in table order (for stores that name them in SQL). */
export const deliveryColumnNames = [
  'id',
  'event_ref',
  'source_id',
  'pipe_id',
  'destination_id',
  'event_id',
  'event_type',
  'status',
  'attempt_count',
  'pipe_version',
  'destination_version',
  'pinned_pipe_version',
  'replayed_at',
  'attempts_before_replay',
  'test_mode',
  'due_at',
  'lease_owner',
  'created_at',
  'updated_at',
  'delivered_at',
  'detail',
  'trace_parent',
  'filter_reason',
] as const satisfies ReadonlyArray<keyof DeliveryRowText>;

/**
 * A `deliveries` row as a {@link DeliveryRow}: `due_at` becomes `next_attempt_at` (retrying) or
 * `lease_expires_at` (sending). A detail stored as a reference needs its attempt in `referred`.
 *
 * @example
 * ```ts
 * const deliveries = rows.map((row) => toDeliveryRow(row, referred));
 * ```
 */
export function toDeliveryRow(row: DeliveryRowText, referred?: ReferredAttempts): DeliveryRow {
  return deliveryRowWith(row, detailOf(row, referred));
}

/** A `deliveries` row as the contract's `DeliveryRow`, with its detail already read. */
function deliveryRowWith(row: DeliveryRowText, detail: DeliveryDetail): DeliveryRow {
  const due = isoTimeOrNull(row.due_at);
  return {
    id: row.id,
    event_ref: row.event_ref,
    source_id: row.source_id,
    pipe_id: row.pipe_id,
    destination_id: row.destination_id,
    event_id: row.event_id,
    event_type: row.event_type,
    status: row.status as DeliveryStatus,
    filter_reason: row.filter_reason ?? null,
    attempt_count: row.attempt_count,
    pipe_version: row.pipe_version,
    destination_version: row.destination_version,
    pinned_pipe_version: row.pinned_pipe_version,
    replayed_at: isoTimeOrNull(row.replayed_at),
    attempts_before_replay: row.attempts_before_replay,
    test_mode: row.test_mode === true || row.test_mode === 1,
    next_attempt_at: row.status === 'retrying' ? due : null,
    lease_owner: row.lease_owner,
    lease_expires_at: row.status === 'sending' ? due : null,
    created_at: isoTime(row.created_at),
    updated_at: isoTime(row.updated_at),
    delivered_at: isoTimeOrNull(row.delivered_at),
    detail,
    trace_parent: row.trace_parent ?? null,
  };
}

/**
 * A claimed `deliveries` row with its event's type, time and payload (JSON text) as a
 * {@link ClaimedDelivery}.
 *
 * @example
 * ```ts
 * const claimed = rows.map((row) => toClaimedDelivery(row, { event_time: row.event_time, payload: row.payload }));
 * ```
 */
export function toClaimedDelivery(
  row: DeliveryRowText,
  event: { event_time: TimeValue; payload: string },
  referred?: ReferredAttempts,
): ClaimedDelivery {
  // The fresh row gets its event added (last, as a spread would place it) instead of being copied.
  const claimed = toDeliveryRow(row, referred) as ClaimedDelivery;
  claimed.event = {
    event_type: row.event_type,
    event_time: isoTime(event.event_time),
    event_payload: JSON.parse(event.payload),
  };
  return claimed;
}

/** An `events` row, payload as text. */
export type EventRowText = Omit<
  Selected<StoreTables<RowTextColumns>['events']>,
  'sender_event_id' | 'trace_parent'
>;

/**
 * An `events` row as a {@link StoredEvent}.
 *
 * @example
 * ```ts
 * const event = row ? toStoredEvent(row) : null;
 * ```
 */
export function toStoredEvent(row: EventRowText): StoredEvent {
  return {
    id: row.id,
    source_id: row.source_id,
    event_id: row.event_id,
    event_type: row.event_type,
    event_time: isoTime(row.event_time),
    event_payload: JSON.parse(row.payload),
    received_at: isoTime(row.received_at),
  };
}

/** An `event_rejections` row, JSON as text. */
export type RejectionRowText = Selected<StoreTables<RowTextColumns>['event_rejections']>;

/**
 * An `event_rejections` row as a {@link StoredRejection}.
 *
 * @example
 * ```ts
 * const rejections = rows.map(toStoredRejection);
 * ```
 */
export function toStoredRejection(row: RejectionRowText): StoredRejection {
  return {
    id: row.id,
    source_id: row.source_id,
    received_at: isoTime(row.received_at),
    error: JSON.parse(row.error),
    event: row.event,
    truncated: row.truncated === true || row.truncated === 1,
  };
}

/** An `audit` row, JSON as text. */
export type AuditRowText = Selected<StoreTables<RowTextColumns>['audit']>;

/**
 * An `audit` row as an {@link AuditEntry}.
 *
 * @example
 * ```ts
 * const entries = rows.map(toAuditEntry);
 * ```
 */
export function toAuditEntry(row: AuditRowText): AuditEntry {
  return {
    id: row.id,
    actor: row.actor,
    action: row.action as AuditEntry['action'],
    entity_kind: row.entity_kind,
    entity_id: row.entity_id,
    before: row.before === null ? null : JSON.parse(row.before),
    after: row.after === null ? null : JSON.parse(row.after),
    request_id: row.request_id,
    created_at: isoTime(row.created_at),
  };
}

/**
 * One delivery's record as `getDelivery` answers it: its row (its detail resolved against the
 * attempt it may name) and every attempt, from the attempt rows read in order of number, each
 * unpacked once ({@link detailAndAttempts}).
 *
 * @example
 * ```ts
 * return recordOf(row, all(selectAttempts(id)));
 * ```
 */
export function recordOf(
  row: DeliveryRowText,
  attempts: ReadonlyArray<{ number: number; data: PackedValue }>,
): { row: DeliveryRow; attempts: DeliveryAttempt[] } {
  const read = detailAndAttempts(row, attempts);
  return { row: deliveryRowWith(row, read.detail), attempts: read.attempts };
}
