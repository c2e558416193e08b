/**
 * The tables of both stores, declared once, for kysely's `Kysely<DB>`: a renamed or mistyped
 * column in a store's query is a compile error, not a failing test.
 *
 * Why one generic declaration: the two schemas hold the same tables and columns (the migrations of
 * each store create them), but the values a driver hands back differ by dialect — a time is ISO
 * text on SQLite and a `Date` from `pg`; a boolean is 0/1 on SQLite; a JSON column is text on
 * SQLite and a value `pg` parses unless selected `::text`; a generated id is a number on SQLite
 * and a bigint (text) from `pg`. Those five differences are the parameters ({@link DialectColumns});
 * everything else is written once. PostgreSQL adds two tables of its own (`event_dedup`,
 * `delivery_totals`), declared beside it in {@link PostgresTables}.
 *
 * Core does not depend on kysely: {@link Column} has the structure of kysely's `ColumnType` (the
 * three `__select__` / `__insert__` / `__update__` members kysely reads), so kysely understands
 * these declarations without core importing it.
 */

/**
 * A column whose selected, inserted and updated types differ (kysely's `ColumnType`, structurally).
 *
 * @example
 * ```ts
 * type CreatedAt = Column<Date | string, string, string>;
 * ```
 */
export interface Column<SelectType, InsertType = SelectType, UpdateType = SelectType> {
  readonly __select__: SelectType;
  readonly __insert__: InsertType;
  readonly __update__: UpdateType;
}

/**
 * The column types that differ by dialect.
 *
 * @example
 * ```ts
 * type Tables = StoreTables<SqliteColumns>;
 * ```
 */
export interface DialectColumns {
  /** A time (the engine writes ISO 8601 strings). */
  time: unknown;
  /** A boolean. */
  flag: unknown;
  /** A JSON document (the store writes JSON text). */
  json: unknown;
  /** A JSON document packed by the record codec (`packed.ts`, migration 11): bytes, or older JSON text. */
  packed: unknown;
  /** An integer the database generates on insert. */
  generatedId: unknown;
  /** A counter the database adds to (`meta.value`). */
  counter: unknown;
}

/** SQLite: times and JSON are TEXT, booleans INTEGER 0/1, generated ids INTEGER. */
export interface SqliteColumns extends DialectColumns {
  time: string;
  flag: number;
  json: string;
  packed: Column<string | Uint8Array, Uint8Array, Uint8Array>;
  generatedId: Column<number, never, never>;
  counter: string;
}

/**
 * PostgreSQL: `timestamptz` (read as a `Date`, or text from a pool with its own type parsers),
 * `boolean`, `json`/`jsonb` (written as JSON text; read as text by selecting `::text`), `bigserial`
 * ids and a `bigint` counter (both read as text by `pg`).
 */
export interface PostgresColumns extends DialectColumns {
  time: Column<Date | string, string, string>;
  flag: boolean;
  json: Column<unknown, string, string>;
  packed: Column<Uint8Array, Uint8Array, Uint8Array>;
  generatedId: Column<string, never, never>;
  counter: Column<string, number | string, number | string>;
}

/**
 * The columns as the kit's row mappers read them (`rows.ts`): JSON selected as text, and a time or
 * a flag as either driver returns it.
 */
export interface RowTextColumns extends DialectColumns {
  time: Date | string;
  flag: boolean | number;
  json: string;
  packed: string | Uint8Array;
  generatedId: string | number;
  counter: string;
}

/**
 * A column the database fills with its default when an insert leaves it out.
 *
 * @example
 * ```ts
 * type AttemptCount = Defaulted<number>;
 * ```
 */
export type Defaulted<T> = Column<T, T | undefined, T>;

/**
 * A row as selected: each column's select type (what kysely's `Selectable` gives).
 *
 * @example
 * ```ts
 * type DeliveryRow = Selected<SqliteTables['deliveries']>;
 * ```
 */
export type Selected<R> = { [K in keyof R]: R[K] extends Column<infer S, unknown, unknown> ? S : R[K] };

type Nullable<C> =
  C extends Column<infer S, infer I, infer U> ? Column<S | null, I | null, U | null> : C | null;

/**
 * Every table both stores keep, with the dialect's column types.
 *
 * @example
 * ```ts
 * const qb = new Kysely<StoreTables<SqliteColumns>>({ dialect });
 * ```
 */
export interface StoreTables<C extends DialectColumns> {
  /** The migrations applied, by version (`migrate()` keeps it). */
  openpipes_migrations: { version: number; name: string; applied_at: C['time'] };
  /** `config_revision`: bumped by every entity write. */
  meta: { key: string; value: C['counter'] };
  entities: {
    id: string;
    kind: string;
    unique_key: string | null;
    version: number;
    data: C['json'];
    created_at: C['time'];
    updated_at: C['time'];
  };
  entity_versions: {
    id: string;
    kind: string;
    version: number;
    data: C['json'];
    actor: string | null;
    created_at: C['time'];
  };
  secret_values: { secret_id: string; ciphertext: string; updated_at: C['time'] };
  retired_secret_values: {
    id: C['generatedId'];
    secret_id: string;
    key: string;
    ciphertext: string;
    retired_at: C['time'];
  };
  events: {
    id: string;
    source_id: string;
    event_id: string;
    sender_event_id: C['flag'];
    event_type: string;
    event_time: C['time'];
    payload: C['json'];
    received_at: C['time'];
    trace_parent: Defaulted<string | null>;
  };
  /** Events refused at collect, the newest few per source (migration 6). */
  event_rejections: {
    id: string;
    source_id: string;
    received_at: C['time'];
    error: C['json'];
    /** The event as sent, JSON text cut to the log's size limit. */
    event: string;
    truncated: C['flag'];
  };
  /** Accepted events per minute, source and event type (migration 3). */
  event_volume: { minute: C['time']; source_id: string; event_type: string; count: C['counter'] };
  deliveries: {
    id: string;
    event_ref: string;
    source_id: string;
    pipe_id: string;
    destination_id: string;
    event_id: string;
    event_type: string;
    status: string;
    attempt_count: Defaulted<number>;
    pipe_version: number | null;
    destination_version: number | null;
    pinned_pipe_version: number | null;
    replayed_at: Nullable<C['time']>;
    attempts_before_replay: Defaulted<number>;
    test_mode: Defaulted<C['flag']>;
    /** Pending: when created; retrying: the next attempt; sending: the lease expiry; final: null. */
    due_at: Nullable<C['time']>;
    lease_owner: string | null;
    created_at: C['time'];
    updated_at: C['time'];
    delivered_at: Nullable<C['time']>;
    detail: C['packed'];
    trace_parent: Defaulted<string | null>;
    /** Why a `filtered` delivery was not sent (migration 7); null otherwise. */
    filter_reason: Defaulted<string | null>;
  };
  delivery_attempts: { delivery_id: string; number: number; data: C['packed'] };
  audit: {
    id: string;
    actor: string | null;
    action: string;
    entity_kind: string;
    entity_id: string;
    before: Nullable<C['json']>;
    after: Nullable<C['json']>;
    request_id: string | null;
    created_at: C['time'];
  };
  state: { key: string; value: C['json']; updated_at: C['time'] };
  /** Identity (docs/identifiers.md): a merged profile points at its survivor. */
  profiles: {
    id: string;
    merged_into: string | null;
    created_at: C['time'];
    last_seen_at: C['time'];
    ip: string | null;
    user_agent: string | null;
  };
  /** One row per identifier: `key` is the value, or its `sha256` digest for personal kinds. */
  profile_identifiers: {
    kind: string;
    key: string;
    profile_id: string;
    value: C['json'];
    first_seen_at: C['time'];
    last_seen_at: C['time'];
  };
  profile_merges: { merged_id: string; survivor_id: string; merged_at: C['time'] };
  /** Which events carried which identifier, written by `linkProfiles` (migration 8; docs/erasure.md). */
  event_identifiers: { kind: string; key: string; event_ref: string };
}

/**
 * The SQLite store's tables.
 *
 * @example
 * ```ts
 * const qb = new Kysely<SqliteTables>({ dialect });
 * ```
 */
export type SqliteTables = StoreTables<SqliteColumns>;

/**
 * The PostgreSQL store's tables: the shared ones plus the sender-id index that makes ingest
 * deduplication exact between processes, and the running totals of final delivery statuses.
 *
 * @example
 * ```ts
 * const db = new Kysely<PostgresTables>({ dialect: new PostgresDialect({ pool }) });
 * ```
 */
export interface PostgresTables extends StoreTables<PostgresColumns> {
  openpipes_migrations: {
    version: number;
    name: string;
    applied_at: PostgresColumns['time'];
    /** `application_name` and backend pid of the process that applied it. */
    applied_by: string;
  };
  event_dedup: {
    source_id: string;
    event_id: string;
    event_ref: string;
    received_at: PostgresColumns['time'];
  };
  delivery_totals: {
    destination_id: string;
    pipe_id: string;
    status: string;
    /** Spreads concurrent writers over rows: backend pid % 16. */
    slot: number;
    /** bigint, read as text by `pg`. */
    count: Column<string, number | string, number | string>;
  };
}
