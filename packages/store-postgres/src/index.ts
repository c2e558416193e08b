/**
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
 * - `migrate()` applies versioned migrations under an advisory lock, so any number of processes
 *   may start at once (one applies what is pending, the others wait and find it applied).
 *
 * kysely builds and runs the SQL on a `pg` pool, typed by the table declaration both stores share
 * (`PostgresTables` in `@openpipes/core/store-kit`): a misspelt table or column, or a value of the
 * wrong type, is a compile error. The set-based statements the benchmarks tuned (ingest, outcomes,
 * the history listing, replays, stats, pruning) stay `sql` text, because they are written around
 * PostgreSQL itself (`json_to_recordset`, InitPlans, a UNION of per-status index scans); there only
 * the table names (`T`) and the row types are checked, and the conformance suite covers the rest.
 * Batches travel as one JSON parameter expanded by `json_to_recordset`, so a batch of a thousand
 * rows is one statement and one round trip.
 *
 * One module per concern: `connection.ts` (pool, kysely, error mapping), `entities.ts`,
 * `secret-values.ts`, `events.ts` (ingest), `claims.ts` (claims, outcomes, leases),
 * `deliveries.ts` (history, replays, stats), `backlog.ts` (metrics), `volume.ts` (volume alerts), `delivery-totals.ts`,
 * `rejections.ts` (the rejection log), `prune.ts`, `audit.ts`, `state.ts`, `profiles.ts` (identity), `erasure.ts` (erasure and export), `wake-ups.ts` + `listen.ts` (NOTIFY/LISTEN), `migrations.ts`
 * + `migrate.ts`, and `rows.ts` (columns as the kit's row mappers read them). This file only
 * assembles them.
 */
import { PipesError, type Store } from '@openpipes/core';
import { createOutcomePacker } from '@openpipes/core/store-kit';
import { auditMethods, insertAudit } from './audit.js';
import { backlogMethod } from './backlog.js';
import { claimMethods } from './claims.js';
import { createConnection, type PgContext, schemaTable } from './connection.js';
import { deliveryMethods } from './deliveries.js';
import { deliveryCountMethods } from './delivery-counts.js';
import type { PgPool } from './driver.js';
import { entityMethods } from './entities.js';
import { erasureMethods } from './erasure.js';
import { eventMethods } from './events.js';
import { matchCountMethods } from './match-counts.js';
import { readMigrationStatus, runMigrations } from './migrate.js';
import { newestDeliveriesMethod } from './newest-deliveries.js';
import { profileMethods } from './profiles.js';
import { pruneMethods } from './prune.js';
import { reconciliationMethods } from './reconciliation.js';
import { rejectionMethods } from './rejections.js';
import { secretValueMethods } from './secret-values.js';
import { stateMethods } from './state.js';
import { volumeMethods } from './volume.js';
import { createNotifier, createSubscriptions } from './wake-ups.js';

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
  /**
   * Whether the pool the store makes (from `connectionString`) sends ingest's hot statements as
   * named (server-side prepared) statements, parsed once per connection. Default true. Set false
   * behind a transaction-pooling proxy that cannot keep them (PgBouncer before 1.21, or with
   * `max_prepared_statements = 0`, its default before 1.24). A caller's `pool` never gets them.
   */
  namedStatements?: boolean;
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
  const connection = createConnection({
    pool: options.pool,
    connectionString: options.connectionString,
    poolSize: options.poolSize,
    applicationName,
    namedStatements: options.namedStatements,
  });
  const { db, guard, tx, txWith } = connection;
  const T = schemaTable(schema);
  const notifier = createNotifier(connection, channel);
  const subscriptions = createSubscriptions(connection, {
    channel,
    applicationName,
    callerPool: options.pool !== undefined,
    connectionString: options.connectionString,
    listenConnectionString: options.listenConnectionString,
    onListenError: options.onListenError,
  });
  const packer = createOutcomePacker();
  const onSchema = db.withSchema(schema);
  const q: PgContext['q'] = (trx) => (trx ? trx.withSchema(schema) : onSchema);
  const context: PgContext = {
    db,
    q,
    T,
    schema,
    guard,
    tx,
    txWith,
    insertAudit: (trx, entry) => insertAudit(q, trx, entry),
    wake: notifier.wake,
  };

  return {
    dialect: 'postgres',
    schema,
    migrate: () => guard(() => runMigrations(db, schema, T)),
    migrationStatus: () => guard(() => readMigrationStatus(db, schema, T)),
    async close() {
      if (connection.isClosed()) return;
      connection.markClosed();
      await packer.close();
      await subscriptions.close();
      await notifier.flushed();
      await db.destroy();
    },
    ...entityMethods(context),
    ...secretValueMethods(context),
    ...eventMethods(context),
    ...claimMethods(context, packer),
    ...deliveryMethods(context),
    ...deliveryCountMethods(context),
    ...matchCountMethods(context),
    ...reconciliationMethods(context),
    ...pruneMethods(context),
    ...rejectionMethods(context),
    ...auditMethods(context),
    ...stateMethods(context),
    ...profileMethods(context),
    ...erasureMethods(context),
    ...backlogMethod(context),
    ...newestDeliveriesMethod(context),
    ...volumeMethods(context),
    subscribe: subscriptions.subscribe,
  };
}
