/** Table types for kysely's query builder. */
export interface DB {
  meta: { key: string; value: string };
  entities: {
    id: string;
    kind: string;
    unique_key: string | null;
    version: number;
    data: string;
    created_at: string;
    updated_at: string;
  };
  entity_versions: {
    id: string;
    kind: string;
    version: number;
    data: string;
    actor: string | null;
    created_at: string;
  };
  secret_values: { secret_id: string; ciphertext: string; updated_at: string };
  retired_secret_values: {
    id: number;
    secret_id: string;
    key: string;
    ciphertext: string;
    retired_at: string;
  };
  events: {
    id: string;
    source_id: string;
    event_id: string;
    sender_event_id: number;
    event_type: string;
    event_time: string;
    payload: string;
    received_at: string;
  };
  deliveries: {
    id: string;
    event_ref: string;
    source_id: string;
    pipe_id: string;
    destination_id: string;
    event_id: string;
    event_type: string;
    status: string;
    attempt_count: number;
    pipe_version: number | null;
    destination_version: number | null;
    pinned_pipe_version: number | null;
    replayed_at: string | null;
    attempts_before_replay: number;
    test_mode: number;
    due_at: string | null;
    lease_owner: string | null;
    created_at: string;
    updated_at: string;
    delivered_at: string | null;
    detail: string;
  };
  delivery_attempts: { delivery_id: string; number: number; data: string };
  audit: {
    id: string;
    actor: string | null;
    action: string;
    entity_kind: string;
    entity_id: string;
    before: string | null;
    after: string | null;
    request_id: string | null;
    created_at: string;
  };
  state: { key: string; value: string; updated_at: string };
}
