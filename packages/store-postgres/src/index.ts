/**
 * long-file: store-postgres is being split by concern (issue 13, stores); marker until then
 *
 * `@openpipes/store-postgres`: the store for many processes (or machines) on one PostgreSQL.
 *
 * PostgreSQL does the coordination, with its own mechanisms:
 * - claims are `SELECT … FOR UPDATE SKIP LOCKED` plus a lease (`due_at` = lease expiry), so
 *   concurrent dispatchers get disjoint batches and a dead one's batch is taken over when its lease
 *   runs out;
 * - outcomes are fenced by the lease owner, so a worker that lost its lease cannot overwrite the
 *   record of the one that took over;
 * - ingest deduplicates through a primary key (`event_dedup`), exact even between processes;
 * - new or re-queued work is announced with `NOTIFY`, and `subscribe()` `LISTEN`s on a dedicated
 *   connection (reconnecting if it drops), so idle dispatchers sleep instead of polling;
 * - `migrate()` applies versioned migrations under a transaction advisory lock, so any number of
 *   processes may start at once.
 *
 * kysely builds and runs the SQL (its `sql` tag: parameters, identifiers, transactions) on a
 * `pg` pool. Batches travel as one JSON parameter expanded by `json_to_recordset`, so a batch of a
 * thousand rows is one statement and one round trip.
 */
import {
  type AuditEntry,
  type ClaimedDelivery,
  type DeliveryAttempt,
  type DeliveryDetail,
  type DeliveryRow,
  type DeliveryStatus,
  type EntityRecord,
  type EntityVersionRecord,
  PipesError,
  type Store,
  type StoredEvent,
} from '@openpipes/core';
import { Kysely, PostgresDialect, type RawBuilder, sql, type Transaction } from 'kysely';
import pg from 'pg';
import { backlogMethod } from './backlog.js';
import { type PgPool, type PgPoolClient, pgErrorCodes, sqlState, unavailableReason } from './driver.js';
import { createListener, type Listener } from './listen.js';
import { migrations } from './migrations.js';
import { secretValueMethods } from './secret-values.js';

export type { PgNotification, PgPool, PgPoolClient, PgQueryResult } from './driver.js';
export { type Migration, migrations } from './migrations.js';

/**
 * Where the store connects and how.
 *
 * @example
 * ```ts
 * const options: PostgresStoreOptions = { connectionString: 'postgres://openpipes@db/app', schema: 'openpipes', poolSize: 5 };
 * ```
 */
export interface PostgresStoreOptions {
  /**
   * A `pg.Pool` (or a factory for one, called on first use). The store never ends a pool it was
   * given: `close()` only stops using it. `subscribe()` holds one of its connections for `LISTEN`.
   */
  pool?: PgPool | (() => PgPool | Promise<PgPool>);
  /** A connection string, when the store should make (and own) its pool. */
  connectionString?: string;
  /**
   * The schema that holds the tables; created by `migrate()` if missing. Default `openpipes`, so
   * the tables never collide with the host application's. Letters, digits and `_`, at most 48.
   */
  schema?: string;
  /** Connections in the pool the store makes (not counting the `LISTEN` one). Default 10. */
  poolSize?: number;
  /** `application_name` of the store's connections (shows in `pg_stat_activity`). Default `openpipes`. */
  applicationName?: string;
  /**
   * Where `subscribe()` connects for `LISTEN`, when queries go through a transaction-pooling proxy
   * (PgBouncer) that cannot keep a session: point this at PostgreSQL itself. Default: the pool (or
   * `connectionString`).
   */
  listenConnectionString?: string;
  /** Called when the `LISTEN` connection fails or reconnects (the poll tick covers the gap). */
  onListenError?: (error: Error) => void;
}

/**
 * The PostgreSQL store: a {@link Store} with `subscribe()`, plus the schema it lives in.
 *
 * @example
 * ```ts
 * const store: PostgresStore = postgresStore({ connectionString: process.env.DATABASE_URL });
 * const unsubscribe = await store.subscribe((destinationIds) => console.log('work for', destinationIds));
 * ```
 */
export interface PostgresStore extends Store {
  readonly dialect: 'postgres';
  readonly schema: string;
  subscribe(listener: (destinationIds: string[]) => void): Promise<() => Promise<void>>;
}

interface DeliveryDbRow {
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

interface EntityDbRow {
  kind: string;
  id: string;
  unique_key: string | null;
  version: number;
  data: string;
  created_at: Date | string;
  updated_at: Date | string;
}

const deliveryColumns = (alias: string) =>
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

const emptyDetail = JSON.stringify({ output: null, request: null, response: null, error: null });

/**
 * A store on PostgreSQL, for one process or many.
 *
 * @example
 * ```ts
 * import { createPipes } from '@openpipes/core';
 * import { postgresStore } from '@openpipes/store-postgres';
 * import pg from 'pg';
 *
 * // Let the store make its pool...
 * const store = postgresStore({ connectionString: process.env.DATABASE_URL });
 * // ...or share the application's.
 * const shared = postgresStore({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 20 }) });
 *
 * const pipes = createPipes({ store, secretKey: process.env.OPENPIPES_SECRET_KEY!, roles: ['dispatch'] });
 * await pipes.start();
 * ```
 */
export function postgresStore(options: PostgresStoreOptions): PostgresStore {
  const schema = options.schema ?? 'openpipes';
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,47}$/.test(schema)) {
    throw new PipesError({
      code: 'VALIDATION_FAILED',
      message: `schema "${schema}" must be letters, digits and _ (at most 48, not starting with a digit)`,
    });
  }
  if (!options.pool && !options.connectionString) {
    throw new PipesError({
      code: 'VALIDATION_FAILED',
      message: 'postgresStore needs { pool } or { connectionString }',
    });
  }
  const applicationName = options.applicationName ?? 'openpipes';
  const channel = `openpipes_${schema}`;

  // The pool: the caller's (never ended by us) or our own.
  let ownPool: pg.Pool | null = null;
  let resolvedPool: Promise<PgPool> | null = null;
  const getPool = (): Promise<PgPool> => {
    resolvedPool ??= (async () => {
      if (options.pool) return typeof options.pool === 'function' ? await options.pool() : options.pool;
      ownPool = new pg.Pool({
        connectionString: options.connectionString,
        max: options.poolSize ?? 10,
        application_name: applicationName,
        keepAlive: true,
      });
      // An idle client that errors (server restart, network) must not crash the process; the
      // pool drops it and the next query connects afresh.
      ownPool.on('error', () => {});
      return ownPool as unknown as PgPool;
    })();
    return resolvedPool;
  };

  // node-postgres emits 'error' on a client whose server went away (restart, crash); the pool
  // listens only while a client is idle. A client checked out for a query or a transaction would
  // throw it as an uncaught exception and take the process down. The query in flight is rejected
  // anyway (and mapped to STORE_UNAVAILABLE by `guard`), and the pool drops the broken client on
  // release, so the event itself needs no action: a listener that keeps it from crashing the host.
  const shielded = new WeakSet<PgPoolClient>();
  const connectShielded = async (pool: PgPool): Promise<PgPoolClient> => {
    const client = await pool.connect();
    if (!shielded.has(client)) {
      shielded.add(client);
      client.on('error', () => {});
    }
    return client;
  };

  const db = new Kysely<Record<string, never>>({
    dialect: new PostgresDialect({
      pool: async () => {
        const pool = await getPool();
        // kysely ends its pool on destroy(); only ours may be ended.
        return {
          connect: () => connectShielded(pool) as never,
          end: async () => {
            if (ownPool) await ownPool.end();
          },
        };
      },
    }),
  });

  /** A table of our schema, for the `sql` tag. */
  const T = (name: string) => sql.table(`${schema}.${name}`);

  // Wake-ups: after commit, coalesced, at most one NOTIFY query in flight per store.
  const pendingWake = new Set<string>();
  let flushing: Promise<void> | null = null;
  const wake = (destinationIds: Iterable<string>) => {
    for (const id of destinationIds) pendingWake.add(id);
    if (pendingWake.size === 0 || flushing) return;
    flushing = (async () => {
      while (pendingWake.size > 0 && !closed) {
        const ids = [...pendingWake];
        pendingWake.clear();
        try {
          // A NOTIFY payload is at most 8000 bytes; ids are short, so chunks of 100 fit.
          const chunks: string[] = [];
          for (let i = 0; i < ids.length; i += 100) chunks.push(ids.slice(i, i + 100).join(','));
          await sql`SELECT pg_notify(${channel}, c) FROM unnest(${chunks}::text[]) AS c`.execute(db);
        } catch {
          // Only a wake-up is lost: the dispatchers' poll tick finds the work anyway.
        }
      }
    })().finally(() => {
      flushing = null;
      // Ids added between the loop's last check and here would otherwise wait for the next wake.
      if (pendingWake.size > 0 && !closed) wake([]);
    });
  };

  let listener: Listener | null = null;
  let closed = false;

  /** Checks the store is open and turns driver errors into the engine's errors. */
  const guard = async <R>(fn: () => Promise<R>): Promise<R> => {
    if (closed) throw new PipesError({ code: 'ENGINE_STOPPED', message: 'the PostgreSQL store is closed' });
    try {
      return await fn();
    } catch (err) {
      const state = sqlState(err);
      if (state === pgErrorCodes.untranslatableCharacter || state === pgErrorCodes.invalidByteSequence) {
        throw new PipesError({
          code: 'VALIDATION_FAILED',
          message: 'a value contains a NUL character (\\u0000), which PostgreSQL cannot store in this field',
          cause: err,
        });
      }
      const unavailable = unavailableReason(err);
      if (unavailable !== undefined) {
        // Restarts and outages are expected: the caller gets a clear, retryable error (HTTP 503),
        // and the pool drops broken connections and connects afresh on the next call.
        throw new PipesError({
          code: 'STORE_UNAVAILABLE',
          message: `the PostgreSQL store is unavailable (${unavailable}); try again shortly`,
          retryable: true,
          cause: err,
        });
      }
      throw err;
    }
  };

  /** A transaction, retried when PostgreSQL picked it as a deadlock victim. */
  const tx = async <R>(fn: (trx: Transaction<Record<string, never>>) => Promise<R>): Promise<R> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await db.transaction().execute(fn);
      } catch (err) {
        const state = sqlState(err);
        const retryable =
          state === pgErrorCodes.deadlockDetected || state === pgErrorCodes.serializationFailure;
        if (!retryable || attempt >= 3) throw err;
      }
    }
  };

  const conflict = (err: unknown, message: string) =>
    sqlState(err) === pgErrorCodes.uniqueViolation
      ? new PipesError({ code: 'CONFLICT', message, cause: err })
      : err;

  /**
   * A CTE body that moves the running totals of final statuses by the rows of `rows` (a CTE with
   * destination_id, pipe_id and the status column), up (+1) or down (-1). Groups are written in
   * one order, so two statements never wait for each other in a cycle; the slot (backend pid % 16)
   * spreads concurrent writers over different rows.
   */
  const moveTotals = (rows: string, statusColumn: string, sign: 1 | -1) => sql`
    INSERT INTO ${T('delivery_totals')} AS t (destination_id, pipe_id, status, slot, count)
    SELECT destination_id, pipe_id, ${sql.ref(statusColumn)}, pg_backend_pid() % 16,
      ${sql.raw(sign === 1 ? '' : '-')}count(*)
    FROM ${sql.table(rows)}
    WHERE ${sql.ref(statusColumn)} IN ('delivered', 'filtered', 'failed', 'dead')
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (destination_id, pipe_id, status, slot) DO UPDATE SET count = t.count + excluded.count
  `;

  const insertAudit = async (trx: Transaction<Record<string, never>>, entry: AuditEntry | undefined) => {
    if (!entry) return;
    await sql`
      INSERT INTO ${T('audit')} (id, actor, action, entity_kind, entity_id, before, after, request_id, created_at)
      VALUES (${entry.id}, ${entry.actor}, ${entry.action}, ${entry.entity_kind}, ${entry.entity_id},
        ${jsonParam(entry.before)}::jsonb, ${jsonParam(entry.after)}::jsonb, ${entry.request_id}, ${entry.created_at})
    `.execute(trx);
  };
  const bumpRevision = (trx: Transaction<Record<string, never>>) =>
    sql`UPDATE ${T('meta')} SET value = value + 1 WHERE key = 'config_revision'`.execute(trx);

  const entityColumns = sql.raw('kind, id, unique_key, version, data::text AS data, created_at, updated_at');

  const store: PostgresStore = {
    dialect: 'postgres',
    schema,

    migrate: () => guard(() => runMigrations(db, schema, T)),

    migrationStatus: () => guard(() => readMigrationStatus(db, schema, T)),

    async close() {
      if (closed) return;
      closed = true;
      await listener?.close();
      listener = null;
      await flushing;
      await db.destroy();
    },

    insertEntity: ({ entity, actor, audit }) =>
      guard(async () => {
        try {
          await tx(async (trx) => {
            const data = JSON.stringify(entity.data);
            await sql`
              INSERT INTO ${T('entities')} (id, kind, unique_key, version, data, created_at, updated_at)
              VALUES (${entity.id}, ${entity.kind}, ${entity.unique_key}, 1, ${data}::jsonb, ${entity.created_at}, ${entity.updated_at})
            `.execute(trx);
            await sql`
              INSERT INTO ${T('entity_versions')} (id, kind, version, data, actor, created_at)
              VALUES (${entity.id}, ${entity.kind}, 1, ${data}::jsonb, ${actor}, ${entity.updated_at})
            `.execute(trx);
            await insertAudit(trx, audit);
            await bumpRevision(trx);
          });
        } catch (err) {
          throw conflict(
            err,
            `a ${entity.kind.replace('_', ' ')} with ${entity.unique_key === null ? `id ${entity.id}` : `"${entity.unique_key}"`} already exists`,
          );
        }
      }),

    updateEntity: ({ entity, expectedVersion, actor, audit }) =>
      guard(async () => {
        try {
          await tx(async (trx) => {
            const data = JSON.stringify(entity.data);
            const changed = await sql`
              UPDATE ${T('entities')}
              SET unique_key = ${entity.unique_key}, version = ${expectedVersion + 1}, data = ${data}::jsonb,
                updated_at = ${entity.updated_at}
              WHERE id = ${entity.id} AND kind = ${entity.kind} AND version = ${expectedVersion}
            `.execute(trx);
            if (Number(changed.numAffectedRows ?? 0) === 0) {
              const { rows } = await sql<{ version: number }>`
                SELECT version FROM ${T('entities')} WHERE id = ${entity.id}
              `.execute(trx);
              throw rows[0]
                ? new PipesError({
                    code: 'CONFLICT',
                    message: `${entity.kind} ${entity.id} was changed concurrently (now version ${rows[0].version}); retry`,
                  })
                : new PipesError({
                    code: 'NOT_FOUND',
                    message: `${entity.kind} ${entity.id} does not exist`,
                  });
            }
            await sql`
              INSERT INTO ${T('entity_versions')} (id, kind, version, data, actor, created_at)
              VALUES (${entity.id}, ${entity.kind}, ${expectedVersion + 1}, ${data}::jsonb, ${actor}, ${entity.updated_at})
            `.execute(trx);
            await insertAudit(trx, audit);
            await bumpRevision(trx);
          });
        } catch (err) {
          throw conflict(
            err,
            `a ${entity.kind.replace('_', ' ')} with "${entity.unique_key}" already exists`,
          );
        }
      }),

    deleteEntity: ({ kind, id, audit }) =>
      guard(() =>
        tx(async (trx) => {
          const deleted = await sql`DELETE FROM ${T('entities')} WHERE id = ${id} AND kind = ${kind}`.execute(
            trx,
          );
          if (Number(deleted.numAffectedRows ?? 0) === 0) return false;
          if (kind === 'secret') {
            await sql`DELETE FROM ${T('secret_values')} WHERE secret_id = ${id}`.execute(trx);
          }
          await insertAudit(trx, audit);
          await bumpRevision(trx);
          return true;
        }),
      ),

    getEntity: ({ kind, id }) =>
      guard(async () => {
        const { rows } = await sql<EntityDbRow>`
          SELECT ${entityColumns} FROM ${T('entities')} WHERE id = ${id} AND kind = ${kind}
        `.execute(db);
        return rows[0] ? toEntity(rows[0]) : null;
      }),

    findEntity: ({ kind, uniqueKey }) =>
      guard(async () => {
        const { rows } = await sql<EntityDbRow>`
          SELECT ${entityColumns} FROM ${T('entities')} WHERE kind = ${kind} AND unique_key = ${uniqueKey}
        `.execute(db);
        return rows[0] ? toEntity(rows[0]) : null;
      }),

    listEntities: ({ kind, after, limit }) =>
      guard(async () => {
        const { rows } = await sql<EntityDbRow>`
          SELECT ${entityColumns} FROM ${T('entities')}
          WHERE kind = ${kind} ${after ? sql`AND id > ${after}` : sql``}
          ORDER BY id LIMIT ${limit}
        `.execute(db);
        return rows.map(toEntity);
      }),

    listEntityVersions: ({ kind, id }) =>
      guard(async () => {
        const { rows } = await sql<EntityDbRow & { actor: string | null }>`
          SELECT kind, id, version, data::text AS data, actor, created_at FROM ${T('entity_versions')}
          WHERE id = ${id} AND kind = ${kind} ORDER BY version
        `.execute(db);
        return rows.map(toVersion);
      }),

    getEntityVersion: ({ kind, id, version }) =>
      guard(async () => {
        const { rows } = await sql<EntityDbRow & { actor: string | null }>`
          SELECT kind, id, version, data::text AS data, actor, created_at FROM ${T('entity_versions')}
          WHERE id = ${id} AND kind = ${kind} AND version = ${version}
        `.execute(db);
        return rows[0] ? toVersion(rows[0]) : null;
      }),

    configRevision: () =>
      guard(async () => {
        const { rows } = await sql<{ value: string }>`
          SELECT value FROM ${T('meta')} WHERE key = 'config_revision'
        `.execute(db);
        return Number(rows[0]?.value ?? 0);
      }),

    ...secretValueMethods({ db, T, guard, tx, insertAudit, iso }),
    ...backlogMethod({ db, T, guard }),

    appendEvents: ({ sourceId, events, pipes, deliveryIds, dedupSince, now }) =>
      guard(async () => {
        if (deliveryIds.length !== events.length * pipes.length) {
          throw new PipesError({
            code: 'INTERNAL',
            message: `appendEvents needs ${events.length * pipes.length} delivery ids, got ${deliveryIds.length}`,
          });
        }
        if (events.length === 0) return [];
        const results = await tx(async (trx) => {
          // Within the call: the first of several events with one sender id wins (when deduplicating).
          const duplicateOf = new Map<number, string>();
          const firstByEventId = new Map<string, string>();
          // The row each sender id leaves in event_dedup (the last stored one of this call).
          const dedupRows = new Map<string, string>();
          events.forEach((event, i) => {
            if (!event.sender_event_id) return;
            if (dedupSince !== null) {
              const first = firstByEventId.get(event.event_id);
              if (first) {
                duplicateOf.set(i, first);
                return;
              }
              firstByEventId.set(event.event_id, event.id);
            }
            dedupRows.set(event.event_id, event.id);
          });

          if (dedupRows.size > 0) {
            // Sorted, so two calls sharing ids lock the rows in one order (no deadlock). A row
            // inside the window is a duplicate: the upsert leaves it (locked) and returns nothing.
            const keys = [...dedupRows.entries()]
              .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
              .map(([event_id, event_ref]) => ({ event_id, event_ref }));
            const { rows: stored } = await sql<{ event_id: string }>`
              INSERT INTO ${T('event_dedup')} AS x (source_id, event_id, event_ref, received_at)
              SELECT ${sourceId}, k.event_id, k.event_ref, ${now}::timestamptz
              FROM json_to_recordset(${JSON.stringify(keys)}::json) AS k(event_id text, event_ref text)
              ON CONFLICT (source_id, event_id) DO UPDATE
                SET event_ref = excluded.event_ref, received_at = excluded.received_at
                WHERE ${dedupSince === null ? sql`TRUE` : sql`x.received_at < ${dedupSince}::timestamptz`}
              RETURNING x.event_id
            `.execute(trx);
            if (stored.length < keys.length) {
              const fresh = new Set(stored.map((r) => r.event_id));
              const seen = keys.filter((k) => !fresh.has(k.event_id)).map((k) => k.event_id);
              const { rows: originals } = await sql<{ event_id: string; event_ref: string }>`
                SELECT event_id, event_ref FROM ${T('event_dedup')}
                WHERE source_id = ${sourceId} AND event_id = ANY(${seen}::text[])
              `.execute(trx);
              const originalOf = new Map(originals.map((r) => [r.event_id, r.event_ref]));
              events.forEach((event, i) => {
                const original = event.sender_event_id ? originalOf.get(event.event_id) : undefined;
                if (original && !duplicateOf.has(i)) duplicateOf.set(i, original);
              });
            }
          }

          const newEvents: unknown[] = [];
          const newDeliveries: unknown[] = [];
          events.forEach((event, i) => {
            if (duplicateOf.has(i)) return;
            newEvents.push({
              id: event.id,
              event_id: event.event_id,
              sender_event_id: event.sender_event_id,
              event_type: event.event_type,
              event_time: event.event_time,
              // Text, cast to json in SQL: json_to_recordset would unescape a nested value
              // and refuse a \u0000 in it, while a json cast keeps the escape as written.
              payload: JSON.stringify(event.event_payload),
            });
            pipes.forEach((pipe, p) => {
              newDeliveries.push({
                id: deliveryIds[i * pipes.length + p],
                event_ref: event.id,
                pipe_id: pipe.pipe_id,
                destination_id: pipe.destination_id,
                event_id: event.event_id,
                event_type: event.event_type,
              });
            });
          });
          if (newEvents.length > 0) {
            await sql`
              WITH inserted AS (
                INSERT INTO ${T('events')} (id, source_id, event_id, sender_event_id, event_type, event_time, payload, received_at)
                SELECT e.id, ${sourceId}, e.event_id, e.sender_event_id, e.event_type, e.event_time, e.payload::json, ${now}::timestamptz
                FROM json_to_recordset(${JSON.stringify(newEvents)}::json)
                  AS e(id text, event_id text, sender_event_id boolean, event_type text, event_time timestamptz, payload text)
                RETURNING 1
              )
              INSERT INTO ${T('deliveries')} (id, event_ref, source_id, pipe_id, destination_id, event_id, event_type,
                status, attempt_count, test_mode, due_at, created_at, updated_at, detail)
              SELECT d.id, d.event_ref, ${sourceId}, d.pipe_id, d.destination_id, d.event_id, d.event_type,
                'pending', 0, false, ${now}::timestamptz, ${now}::timestamptz, ${now}::timestamptz, ${emptyDetail}::json
              FROM json_to_recordset(${JSON.stringify(newDeliveries)}::json)
                AS d(id text, event_ref text, pipe_id text, destination_id text, event_id text, event_type text)
            `.execute(trx);
          }
          return events.map((event, i) => {
            const original = duplicateOf.get(i);
            return original ? { duplicate: true, id: original } : { duplicate: false, id: event.id };
          });
        });
        if (pipes.length > 0 && results.some((r) => !r.duplicate)) {
          wake(pipes.map((p) => p.destination_id));
        }
        return results;
      }),

    claimDeliveries: ({ destinationId, pipeIds, owner, limit, leaseMs, now }) =>
      guard(async () => {
        if (pipeIds.length === 0 || limit <= 0) return [];
        const leaseUntil = new Date(Date.parse(now) + leaseMs).toISOString();
        // SKIP LOCKED: rows another claimer is taking right now are passed over, not waited for;
        // the lock is held until commit, when they are `sending` and no longer due.
        const { rows } = await sql<
          DeliveryDbRow & { was_due: Date | string; e_event_time: Date | string; e_payload: string }
        >`
          WITH picked AS (
            SELECT d.id, d.due_at AS was_due, e.event_time AS e_event_time, e.payload::text AS e_payload
            FROM ${T('deliveries')} d
            JOIN ${T('events')} e ON e.id = d.event_ref
            WHERE d.destination_id = ${destinationId}
              AND d.due_at IS NOT NULL AND d.due_at <= ${now}::timestamptz
              AND d.pipe_id = ANY(${pipeIds}::text[])
            ORDER BY d.due_at, d.id
            LIMIT ${limit}
            FOR UPDATE OF d SKIP LOCKED
          )
          UPDATE ${T('deliveries')} d
          SET status = 'sending', lease_owner = ${owner}, due_at = ${leaseUntil}::timestamptz, updated_at = ${now}::timestamptz
          FROM picked
          WHERE d.id = picked.id
          RETURNING ${deliveryColumns('d')}, picked.was_due, picked.e_event_time, picked.e_payload
        `.execute(db);
        return rows
          .map((row) => ({ row, due: iso(row.was_due) }))
          .sort((a, b) => compare(a.due, b.due) || compare(a.row.id, b.row.id))
          .map(
            ({ row }): ClaimedDelivery => ({
              ...toDelivery(row),
              event: {
                event_type: row.event_type,
                event_time: iso(row.e_event_time),
                event_payload: JSON.parse(row.e_payload),
              },
            }),
          );
      }),

    completeDeliveries: ({ owner, outcomes, now }) =>
      guard(async () => {
        if (outcomes.length === 0) return { applied: [], lost: [] };
        // No join for the planner to get wrong: with a young table's statistics (or few rows
        // estimated in `sending`) it nests a loop and rescans a recordset once per row, which at 500
        // rows cost 100-250 ms. Instead the small fields travel as one jsonb object keyed by id,
        // read with `o -> d.id`, and the large JSON texts as text arrays indexed by that entry's `i`:
        // an array literal is far cheaper for PostgreSQL to read than JSON into jsonb, and each
        // detail/attempt is parsed once, by its ::json cast (json, unlike jsonb, keeps \u0000).
        const byId: Record<string, unknown> = {};
        const details: string[] = [];
        const attempts: Array<string | null> = [];
        outcomes.forEach((o, i) => {
          byId[o.id] = {
            i: i + 1,
            status: o.status,
            attempted: o.attempt ? 1 : 0,
            attempt_number: o.attempt?.number ?? null,
            pipe_version: o.pipe_version,
            destination_version: o.destination_version,
            test_mode: o.test_mode,
            due_at: o.status === 'retrying' ? o.next_attempt_at : null,
            delivered_at: o.delivered_at,
          };
          details.push(JSON.stringify(o.detail));
          attempts.push(o.attempt ? JSON.stringify(o.attempt) : null);
        });
        const ids = outcomes.map((o) => o.id).sort(compare);
        // Each `(SELECT … FROM input)` is an InitPlan: evaluated once, then read per row.
        const o = sql`(SELECT o FROM input)`;
        // One statement: the update fenced by lease owner, the running totals, and the attempts of
        // the rows it really updated.
        const { rows } = await sql<{ id: string }>`
          WITH input AS (
            SELECT ${JSON.stringify(byId)}::jsonb AS o, ${details}::text[] AS details, ${attempts}::text[] AS attempts
          ), updated AS (
            UPDATE ${T('deliveries')} d
            SET status = ${o} -> d.id ->> 'status',
              attempt_count = d.attempt_count + (${o} -> d.id ->> 'attempted')::integer,
              pipe_version = (${o} -> d.id ->> 'pipe_version')::integer,
              destination_version = (${o} -> d.id ->> 'destination_version')::integer,
              test_mode = (${o} -> d.id ->> 'test_mode')::boolean,
              due_at = (${o} -> d.id ->> 'due_at')::timestamptz,
              lease_owner = NULL,
              updated_at = ${now}::timestamptz,
              delivered_at = (${o} -> d.id ->> 'delivered_at')::timestamptz,
              detail = ((SELECT details FROM input))[(${o} -> d.id ->> 'i')::integer]::json
            WHERE d.id = ANY(${ids}::text[]) AND d.status = 'sending' AND d.lease_owner = ${owner}
            RETURNING d.id, d.destination_id, d.pipe_id, d.status
          ), totals AS (
            ${moveTotals('updated', 'status', 1)}
          ), recorded AS (
            INSERT INTO ${T('delivery_attempts')} (delivery_id, number, data)
            SELECT u.id, (${o} -> u.id ->> 'attempt_number')::integer,
              ((SELECT attempts FROM input))[(${o} -> u.id ->> 'i')::integer]::json
            FROM updated u
            WHERE ${o} -> u.id ->> 'attempt_number' IS NOT NULL
            ON CONFLICT (delivery_id, number) DO UPDATE SET data = excluded.data
          )
          SELECT id FROM updated
        `.execute(db);
        const appliedSet = new Set(rows.map((r) => r.id));
        return {
          applied: outcomes.filter((o) => appliedSet.has(o.id)).map((o) => o.id),
          lost: outcomes.filter((o) => !appliedSet.has(o.id)).map((o) => o.id),
        };
      }),

    extendLeases: ({ owner, ids, until }) =>
      guard(async () => {
        if (ids.length === 0) return 0;
        const result = await sql`
          UPDATE ${T('deliveries')} SET due_at = ${until}::timestamptz
          WHERE id = ANY(${ids}::text[]) AND status = 'sending' AND lease_owner = ${owner}
        `.execute(db);
        return Number(result.numAffectedRows ?? 0);
      }),

    releaseDeliveries: ({ owner, ids, now }) =>
      guard(async () => {
        if (ids.length === 0) return;
        const { rows } = await sql<{ destination_id: string }>`
          UPDATE ${T('deliveries')}
          SET status = 'pending', lease_owner = NULL, due_at = ${now}::timestamptz, updated_at = ${now}::timestamptz
          WHERE id = ANY(${ids}::text[]) AND status = 'sending' AND lease_owner = ${owner}
          RETURNING destination_id
        `.execute(db);
        wake(new Set(rows.map((r) => r.destination_id)));
      }),

    getEvent: ({ id }) =>
      guard(async () => {
        const { rows } = await sql<{
          id: string;
          source_id: string;
          event_id: string;
          event_type: string;
          event_time: Date | string;
          payload: string;
          received_at: Date | string;
        }>`
          SELECT id, source_id, event_id, event_type, event_time, payload::text AS payload, received_at
          FROM ${T('events')} WHERE id = ${id}
        `.execute(db);
        const row = rows[0];
        if (!row) return null;
        const event: StoredEvent = {
          id: row.id,
          source_id: row.source_id,
          event_id: row.event_id,
          event_type: row.event_type,
          event_time: iso(row.event_time),
          event_payload: JSON.parse(row.payload),
          received_at: iso(row.received_at),
        };
        return event;
      }),

    listDeliveries: (query) =>
      guard(async () => {
        const filters: RawBuilder<unknown>[] = [];
        if (query.pipeId) filters.push(sql`pipe_id = ${query.pipeId}`);
        if (query.destinationId) filters.push(sql`destination_id = ${query.destinationId}`);
        if (query.eventId) filters.push(sql`event_id = ${query.eventId}`);
        if (query.since) filters.push(sql`created_at >= ${query.since}::timestamptz`);
        if (query.until) filters.push(sql`created_at < ${query.until}::timestamptz`);
        if (query.cursor) filters.push(sql`id < ${query.cursor}`);
        const statuses =
          query.status === undefined ? [] : Array.isArray(query.status) ? query.status : [query.status];
        const page = (extra: RawBuilder<unknown>[]) => {
          const all = [...filters, ...extra];
          const where = all.length > 0 ? sql.join(all, sql` AND `) : sql`TRUE`;
          if (!(query.since && query.until)) {
            return sql`
              SELECT ${deliveryColumns('d')} FROM ${T('deliveries')} d
              WHERE ${where} ORDER BY d.id DESC LIMIT ${query.limit}
            `;
          }
          // A closed time window: find it through (pipe_id, created_at), then take its newest. The
          // planner would rather walk the id index backwards from now, assuming matching rows are
          // spread evenly, and read every row newer than the window first. Sorting on an
          // expression (id || '') keeps it from doing that; the sort is bounded by the window.
          return sql`
            SELECT ${deliveryColumns('d')} FROM ${T('deliveries')} d
            WHERE d.id IN (
              SELECT id FROM ${T('deliveries')} WHERE ${where} ORDER BY id || '' DESC LIMIT ${query.limit}
            )
            ORDER BY d.id DESC
          `;
        };
        // Several statuses: one newest-first index scan per status, merged. A single
        // `status IN (...)` would sort every matching row of the pipe to find the newest 50.
        const statement =
          statuses.length <= 1
            ? page(statuses.length === 1 ? [sql`status = ${statuses[0]}`] : [])
            : sql`
                SELECT * FROM (${sql.join(
                  statuses.map((s) => sql`(${page([sql`status = ${s}`])})`),
                  sql` UNION ALL `,
                )}) AS d ORDER BY d.id DESC LIMIT ${query.limit}
              `;
        const { rows } = await statement.execute(db);
        return (rows as DeliveryDbRow[]).map(toDelivery);
      }),

    getDelivery: ({ id }) =>
      guard(async () => {
        const { rows } = await sql<DeliveryDbRow>`
          SELECT ${deliveryColumns('d')} FROM ${T('deliveries')} d WHERE d.id = ${id}
        `.execute(db);
        const row = rows[0];
        if (!row) return null;
        const { rows: attempts } = await sql<{ data: string }>`
          SELECT data::text AS data FROM ${T('delivery_attempts')} WHERE delivery_id = ${id} ORDER BY number
        `.execute(db);
        return { row: toDelivery(row), attempts: attempts.map((a) => JSON.parse(a.data) as DeliveryAttempt) };
      }),

    requeueDeliveries: ({ pipeId, ids, statuses, since, until, pinnedPipeVersion, now, limit }) =>
      guard(async () => {
        const allowed = statuses ?? ['failed', 'dead'];
        if ((ids && ids.length === 0) || allowed.length === 0 || limit <= 0) return [];
        // FOR UPDATE (waiting): two replays of the same rows at once re-queue them once; the
        // second re-checks the status after the first commits and finds them pending.
        const { rows } = await sql<{ id: string; destination_id: string }>`
          WITH found AS (
            SELECT id, status AS was FROM ${T('deliveries')}
            WHERE pipe_id = ${pipeId} AND status = ANY(${allowed}::text[])
              ${ids ? sql`AND id = ANY(${ids}::text[])` : sql``}
              ${since ? sql`AND created_at >= ${since}::timestamptz` : sql``}
              ${until ? sql`AND created_at < ${until}::timestamptz` : sql``}
            ORDER BY id
            LIMIT ${limit}
            FOR UPDATE
          ), requeued AS (
            UPDATE ${T('deliveries')} d
            SET status = 'pending', due_at = ${now}::timestamptz, lease_owner = NULL,
              pinned_pipe_version = ${pinnedPipeVersion ?? null}::integer, replayed_at = ${now}::timestamptz,
              attempts_before_replay = d.attempt_count, updated_at = ${now}::timestamptz
            FROM found
            WHERE d.id = found.id
            RETURNING d.id, d.destination_id, d.pipe_id, found.was
          ), totals AS (
            ${moveTotals('requeued', 'was', -1)}
          )
          SELECT id, destination_id FROM requeued
        `.execute(db);
        wake(new Set(rows.map((r) => r.destination_id)));
        return rows.map((r) => r.id).sort(compare);
      }),

    expediteRetries: ({ destinationId, now }) =>
      guard(async () => {
        const result = await sql`
          UPDATE ${T('deliveries')} SET due_at = ${now}::timestamptz
          WHERE destination_id = ${destinationId} AND status = 'retrying'
            AND due_at IS NOT NULL AND due_at > ${now}::timestamptz
        `.execute(db);
        const moved = Number(result.numAffectedRows ?? 0);
        if (moved > 0) wake([destinationId]);
        return moved;
      }),

    nextRetryAt: ({ destinationId }) =>
      guard(async () => {
        const { rows } = await sql<{ due: Date | string | null }>`
          SELECT min(due_at) AS due FROM ${T('deliveries')}
          WHERE destination_id = ${destinationId} AND due_at IS NOT NULL AND status = 'retrying'
        `.execute(db);
        return isoOrNull(rows[0]?.due ?? null);
      }),

    deliveryStats: () =>
      guard(async () => {
        // Live statuses (pending, sending, retrying) are exactly the rows with due_at set: counted
        // through the partial index, so the cost follows the backlog, not the history. Final
        // statuses come from the running totals, each with its oldest row found through the
        // (pipe_id, status, id) index: milliseconds at any history size.
        const { rows } = await sql<{
          destination_id: string;
          pipe_id: string;
          status: DeliveryStatus;
          count: string;
          oldest_created_at: Date | string | null;
        }>`
          SELECT destination_id, pipe_id, status, count, oldest_created_at FROM (
            SELECT destination_id, pipe_id, status, count(*) AS count, min(created_at) AS oldest_created_at
            FROM ${T('deliveries')}
            WHERE due_at IS NOT NULL
            GROUP BY destination_id, pipe_id, status
            UNION ALL
            SELECT g.destination_id, g.pipe_id, g.status, g.count,
              (SELECT d.created_at FROM ${T('deliveries')} d
               WHERE d.pipe_id = g.pipe_id AND d.status = g.status AND d.destination_id = g.destination_id
               ORDER BY d.id LIMIT 1)
            FROM (
              SELECT destination_id, pipe_id, status, sum(count) AS count FROM ${T('delivery_totals')}
              GROUP BY destination_id, pipe_id, status
              HAVING sum(count) > 0
            ) g
          ) stats
          ORDER BY destination_id, pipe_id, status
        `.execute(db);
        return rows.map((r) => ({
          destination_id: r.destination_id,
          pipe_id: r.pipe_id,
          status: r.status,
          count: Number(r.count),
          oldest_created_at: isoOrNull(r.oldest_created_at),
        }));
      }),

    prune: ({ before, limit }) =>
      guard(async () => {
        if (limit <= 0) return { events: 0, deliveries: 0 };
        // One statement: pick the oldest events (SKIP LOCKED, so two pruners share the work), then
        // delete their attempts, deliveries, dedup rows and the events themselves, and take the
        // deleted deliveries off the running totals.
        const { rows } = await sql<{ events: string; deliveries: string }>`
          WITH ev AS (
            SELECT id, source_id, event_id FROM ${T('events')}
            WHERE received_at < ${before}::timestamptz
            ORDER BY received_at, id
            LIMIT ${limit}
            FOR UPDATE SKIP LOCKED
          ), dl AS (
            DELETE FROM ${T('deliveries')} d USING ev WHERE d.event_ref = ev.id
            RETURNING d.id, d.destination_id, d.pipe_id, d.status
          ), totals AS (
            ${moveTotals('dl', 'status', -1)}
          ), da AS (
            DELETE FROM ${T('delivery_attempts')} a USING dl WHERE a.delivery_id = dl.id
          ), dd AS (
            DELETE FROM ${T('event_dedup')} x USING ev
            WHERE x.source_id = ev.source_id AND x.event_id = ev.event_id AND x.event_ref = ev.id
          ), de AS (
            DELETE FROM ${T('events')} e USING ev WHERE e.id = ev.id RETURNING e.id
          )
          SELECT (SELECT count(*) FROM de) AS events, (SELECT count(*) FROM dl) AS deliveries
        `.execute(db);
        return { events: Number(rows[0]?.events ?? 0), deliveries: Number(rows[0]?.deliveries ?? 0) };
      }),

    appendAudit: ({ entry }) =>
      guard(async () => {
        await tx((trx) => insertAudit(trx, entry));
      }),

    listAudit: (query) =>
      guard(async () => {
        const filters: RawBuilder<unknown>[] = [];
        if (query.entityKind) filters.push(sql`entity_kind = ${query.entityKind}`);
        if (query.entityId) filters.push(sql`entity_id = ${query.entityId}`);
        if (query.actor) filters.push(sql`actor = ${query.actor}`);
        if (query.since) filters.push(sql`created_at >= ${query.since}::timestamptz`);
        if (query.until) filters.push(sql`created_at < ${query.until}::timestamptz`);
        if (query.cursor) filters.push(sql`id < ${query.cursor}`);
        const { rows } = await sql<{
          id: string;
          actor: string | null;
          action: string;
          entity_kind: string;
          entity_id: string;
          before: string | null;
          after: string | null;
          request_id: string | null;
          created_at: Date | string;
        }>`
          SELECT id, actor, action, entity_kind, entity_id, before::text AS before, after::text AS after,
            request_id, created_at
          FROM ${T('audit')}
          WHERE ${filters.length > 0 ? sql.join(filters, sql` AND `) : sql`TRUE`}
          ORDER BY id DESC LIMIT ${query.limit}
        `.execute(db);
        return rows.map(
          (row): AuditEntry => ({
            id: row.id,
            actor: row.actor,
            action: row.action as AuditEntry['action'],
            entity_kind: row.entity_kind,
            entity_id: row.entity_id,
            before: row.before === null ? null : JSON.parse(row.before),
            after: row.after === null ? null : JSON.parse(row.after),
            request_id: row.request_id,
            created_at: iso(row.created_at),
          }),
        );
      }),

    getState: ({ key }) =>
      guard(async () => {
        const { rows } = await sql<{ value: string }>`
          SELECT value::text AS value FROM ${T('state')} WHERE key = ${key}
        `.execute(db);
        return rows[0] ? JSON.parse(rows[0].value) : null;
      }),

    setState: ({ key, value, now }) =>
      guard(async () => {
        if (value === null) {
          await sql`DELETE FROM ${T('state')} WHERE key = ${key}`.execute(db);
          return;
        }
        await sql`
          INSERT INTO ${T('state')} (key, value, updated_at) VALUES (${key}, ${JSON.stringify(value)}::jsonb, ${now}::timestamptz)
          ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
        `.execute(db);
      }),

    subscribe: (onWake) =>
      guard(async () => {
        listener ??= createListener({
          channel,
          connect: async () => {
            if (options.pool && !options.listenConnectionString) return connectShielded(await getPool());
            // Our own pool stays whole for queries: LISTEN gets a connection of its own.
            const client = new pg.Client({
              connectionString: options.listenConnectionString ?? options.connectionString,
              application_name: `${applicationName}-listen`,
              keepAlive: true,
            });
            await client.connect();
            return asPoolClient(client);
          },
          onError: options.onListenError,
        });
        return listener.add(onWake);
      }),
  };
  return store;
}

/** The highest applied migration (0 when the schema or its migrations table is missing); reads only. */
async function readMigrationStatus(
  db: Kysely<Record<string, never>>,
  schema: string,
  T: (name: string) => RawBuilder<unknown>,
): Promise<{ applied: number; latest: number }> {
  const latest = migrations[migrations.length - 1]!.version;
  const { rows: exists } = await sql<{ table: string | null }>`
    SELECT to_regclass(${`${schema}.openpipes_migrations`})::text AS table
  `.execute(db);
  if (!exists[0]?.table) return { applied: 0, latest };
  const { rows } = await sql<{ version: number | null }>`
    SELECT max(version) AS version FROM ${T('openpipes_migrations')}
  `.execute(db);
  return { applied: rows[0]?.version ?? 0, latest };
}

/** Runs pending migrations, each in a transaction holding the schema's advisory lock. */
async function runMigrations(
  db: Kysely<Record<string, never>>,
  schema: string,
  T: (name: string) => RawBuilder<unknown>,
): Promise<void> {
  // Fast path, no lock: every process calls migrate() at start, and usually nothing is pending.
  const { applied, latest } = await readMigrationStatus(db, schema, T);
  if (applied >= latest) return;
  for (const migration of migrations) {
    await db.transaction().execute(async (trx) => {
      // Held until commit: a second process waits here, then finds the migration applied.
      await sql`SELECT pg_advisory_xact_lock(hashtext(${`openpipes:migrate:${schema}`}))`.execute(trx);
      await sql`CREATE SCHEMA IF NOT EXISTS ${sql.id(schema)}`.execute(trx);
      await sql`
        CREATE TABLE IF NOT EXISTS ${T('openpipes_migrations')} (
          version integer PRIMARY KEY,
          name text NOT NULL,
          applied_at timestamptz NOT NULL DEFAULT now(),
          applied_by text NOT NULL
        )
      `.execute(trx);
      const { rows } = await sql`
        SELECT 1 FROM ${T('openpipes_migrations')} WHERE version = ${migration.version}
      `.execute(trx);
      if (rows.length > 0) return;
      await sql`SELECT set_config('search_path', ${schema}, true)`.execute(trx);
      await sql.raw(migration.sql).execute(trx);
      await sql`
        INSERT INTO ${T('openpipes_migrations')} (version, name, applied_by)
        VALUES (${migration.version}, ${migration.name},
          current_setting('application_name') || ' pid ' || pg_backend_pid())
      `.execute(trx);
    });
  }
}

/** A `pg.Client` made for LISTEN, shaped like a pool client (release = end). */
function asPoolClient(client: pg.Client): PgPoolClient {
  return {
    query: (text, values) => client.query(text, values),
    release: () => {
      client.end().catch(() => {});
    },
    on: ((event: 'error', fn: (error: Error) => void) => client.on(event, fn)) as PgPoolClient['on'],
    removeAllListeners: (event) => client.removeAllListeners(event),
  };
}

/** JSON for a nullable jsonb parameter. */
function jsonParam(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

/**
 * A `timestamptz` as the ISO string the engine wrote. pg parses it to a Date by default (ms
 * precision, which is all the engine writes); a pool with its own type parsers may hand back text.
 */
function iso(value: Date | string): string {
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

function isoOrNull(value: Date | string | null): string | null {
  return value === null ? null : iso(value);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function toEntity(row: EntityDbRow): EntityRecord {
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

function toVersion(row: EntityDbRow & { actor: string | null }): EntityVersionRecord {
  return {
    kind: row.kind as EntityVersionRecord['kind'],
    id: row.id,
    version: row.version,
    data: JSON.parse(row.data),
    actor: row.actor,
    created_at: iso(row.created_at),
  };
}

function toDelivery(row: DeliveryDbRow): DeliveryRow {
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
