/** Row mapping on PostgreSQL: the rows as the driver returns them, and the records the engine sees. */
import {
  type DeliveryDetail,
  type DeliveryRow,
  type DeliveryStatus,
  type EntityRecord,
  type EntityVersionRecord,
  PipesError,
} from '@openpipes/core';
import { sql } from 'kysely';

export interface DeliveryDbRow {
  id: string;
  event_ref: string;
  source_id: string;
  pipe_id: string;
  destination_id: string;
  event_id: string;
  event_type: string;
  status: DeliveryStatus;
  attempt_count: number;
  pipe_version: number | null;
  destination_version: number | null;
  pinned_pipe_version: number | null;
  replayed_at: Date | string | null;
  attempts_before_replay: number;
  test_mode: boolean;
  due_at: Date | string | null;
  lease_owner: string | null;
  created_at: Date | string;
  updated_at: Date | string;
  delivered_at: Date | string | null;
  detail: string;
}

export interface EntityDbRow {
  kind: string;
  id: string;
  unique_key: string | null;
  version: number;
  data: string;
  created_at: Date | string;
  updated_at: Date | string;
}

export const deliveryColumns = (alias: string) =>
  sql.raw(
    [
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
    ]
      .map((c) => `${alias}.${c}`)
      .concat(`${alias}.detail::text AS detail`)
      .join(', '),
  );

export const emptyDetail = JSON.stringify({ output: null, request: null, response: null, error: null });

/**
 * A `timestamptz` as the ISO string the engine wrote. pg parses it to a Date by default (ms
 * precision, which is all the engine writes); a pool with its own type parsers may hand back text.
 */
export function iso(value: Date | string): string {
  if (value instanceof Date) return value.toISOString();
  // PostgreSQL text output: "2026-05-04 10:00:00.123+00" (or another offset, "+05:30").
  const normalized = value
    .replace(' ', 'T')
    .replace(/([+-]\d\d)$/, '$1:00')
    .replace(/\.(\d{3})\d+/, '.$1');
  const ms = Date.parse(normalized);
  if (Number.isNaN(ms)) throw new PipesError({ code: 'INTERNAL', message: `unreadable time "${value}"` });
  return new Date(ms).toISOString();
}

export function isoOrNull(value: Date | string | null): string | null {
  return value === null ? null : iso(value);
}

export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function toEntity(row: EntityDbRow): EntityRecord {
  return {
    kind: row.kind as EntityRecord['kind'],
    id: row.id,
    unique_key: row.unique_key,
    version: row.version,
    data: JSON.parse(row.data),
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
  };
}

export function toVersion(row: EntityDbRow & { actor: string | null }): EntityVersionRecord {
  return {
    kind: row.kind as EntityVersionRecord['kind'],
    id: row.id,
    version: row.version,
    data: JSON.parse(row.data),
    actor: row.actor,
    created_at: iso(row.created_at),
  };
}

export function toDelivery(row: DeliveryDbRow): DeliveryRow {
  const due = isoOrNull(row.due_at);
  return {
    id: row.id,
    event_ref: row.event_ref,
    source_id: row.source_id,
    pipe_id: row.pipe_id,
    destination_id: row.destination_id,
    event_id: row.event_id,
    event_type: row.event_type,
    status: row.status,
    attempt_count: row.attempt_count,
    pipe_version: row.pipe_version,
    destination_version: row.destination_version,
    pinned_pipe_version: row.pinned_pipe_version,
    replayed_at: isoOrNull(row.replayed_at),
    attempts_before_replay: row.attempts_before_replay,
    test_mode: row.test_mode,
    next_attempt_at: row.status === 'retrying' ? due : null,
    lease_owner: row.lease_owner,
    lease_expires_at: row.status === 'sending' ? due : null,
    created_at: iso(row.created_at),
    updated_at: iso(row.updated_at),
    delivered_at: isoOrNull(row.delivered_at),
    detail: JSON.parse(row.detail) as DeliveryDetail,
  };
}
