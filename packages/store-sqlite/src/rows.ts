/** Row mapping on SQLite: the rows as stored, and the records the engine sees. */
import type {
  DeliveryDetail,
  DeliveryRow,
  DeliveryStatus,
  EntityRecord,
  EntityVersionRecord,
} from '@openpipes/core';
import type { DB } from './tables.js';

export const toEntity = (row: DB['entities']): EntityRecord => ({
  kind: row.kind as EntityRecord['kind'],
  id: row.id,
  unique_key: row.unique_key,
  version: row.version,
  data: JSON.parse(row.data),
  created_at: row.created_at,
  updated_at: row.updated_at,
});

export const toDelivery = (row: DB['deliveries']): DeliveryRow => ({
  id: row.id,
  event_ref: row.event_ref,
  source_id: row.source_id,
  pipe_id: row.pipe_id,
  destination_id: row.destination_id,
  event_id: row.event_id,
  event_type: row.event_type,
  status: row.status as DeliveryStatus,
  attempt_count: row.attempt_count,
  pipe_version: row.pipe_version,
  destination_version: row.destination_version,
  pinned_pipe_version: row.pinned_pipe_version,
  replayed_at: row.replayed_at,
  attempts_before_replay: row.attempts_before_replay,
  test_mode: row.test_mode === 1,
  next_attempt_at: row.status === 'retrying' ? row.due_at : null,
  lease_owner: row.lease_owner,
  lease_expires_at: row.status === 'sending' ? row.due_at : null,
  created_at: row.created_at,
  updated_at: row.updated_at,
  delivered_at: row.delivered_at,
  detail: JSON.parse(row.detail) as DeliveryDetail,
});

export const emptyDetail = JSON.stringify({ output: null, request: null, response: null, error: null });

export function toVersion(row: DB['entity_versions']): EntityVersionRecord {
  return {
    kind: row.kind as EntityVersionRecord['kind'],
    id: row.id,
    version: row.version,
    data: JSON.parse(row.data),
    actor: row.actor,
    created_at: row.created_at,
  };
}
