/**
 * `@openpipes/store-sqlite`: the embedded default store, one SQLite file in WAL mode.
 *
 * better-sqlite3 is synchronous, so every store method runs its statements in one synchronous
 * `BEGIN IMMEDIATE` transaction: nothing else in the process can interleave, and another process
 * on the same file waits on the lock (`busy_timeout`). kysely builds the SQL, typed by the table
 * declaration both stores share (`SqliteTables` in `@openpipes/core/store-kit`), and better-sqlite3
 * runs it as cached prepared statements; kysely never holds a connection of its own. Ingest,
 * claims and outcomes keep positional SQL text for speed, its columns checked by `columnsOf`
 * (`prepared.ts`) or the kit's column list.
 *
 * One module per concern: `connection.ts` (handle, statement cache, transactions), `entities.ts`,
 * `secret-values.ts`, `events.ts` (ingest), `claims.ts` (claims, outcomes, leases) + `claim-rows.ts` (the claim's read),
 * `deliveries.ts` (history, replays, stats), `backlog.ts` (metrics), `volume.ts` (volume alerts), `rejections.ts` (the rejection log), `prune.ts`, `audit.ts`,
 * `state.ts`, `profiles.ts` (identity), `erasure.ts` (erasure and export), `migrations.ts` + `migrate.ts`, `prepared.ts` (checked SQL text for the hot paths)
 * and `storage-errors.ts` (a full disk); row mapping is the store kit's. This file only assembles
 * them.
 */
import type { Store } from '@openpipes/core';
import { createOutcomePacker } from '@openpipes/core/store-kit';
import { auditMethods, auditWriter } from './audit.js';
import { backlogMethod } from './backlog.js';
import { claimMethods } from './claims.js';
import { createConnection, type SqliteContext, type SqliteDatabase } from './connection.js';
import { deliveryMethods } from './deliveries.js';
import { deliveryCountMethods } from './delivery-counts.js';
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
import { withStorageErrors } from './storage-errors.js';
import { volumeMethods } from './volume.js';

export type { SqliteDatabase } from './connection.js';
export { createWriteTurn, releaseWriteTurnOf } from './write-turn.js';

export interface SqliteStoreOptions {
  /** Path of the database file (created if missing), or `:memory:`. */
  filename?: string;
  /** An open better-sqlite3 database (instead of `filename`), or a factory for one. */
  database?: SqliteDatabase | (() => SqliteDatabase);
  /**
   * `NORMAL` (default) survives a crash of the process, which is what "an accepted event is
   * durable" promises; `FULL` also survives power loss at the cost of an fsync per write.
   */
  synchronous?: 'NORMAL' | 'FULL';
  /** How long a writer waits for another process's lock, ms. Default 5000. */
  busyTimeoutMs?: number;
  /**
   * The write turn ({@link createWriteTurn}) shared by this process's threads that write the same
   * file: a thread that waits to write is woken as soon as the other's transaction ends, instead of
   * sleeping in SQLite's busy handler (1, 2, 5, 10 ms ...). Pass the same one to each thread's store
   * (through `workerData`). Correctness never depends on it: SQLite's lock still orders writers.
   */
  writeTurn?: SharedArrayBuffer;
  /**
   * Who copies the write-ahead log into the file (a checkpoint). `inline` (default): SQLite's own
   * way, the thread whose commit took the log past 1,000 pages, which stops for the copy and its
   * fsyncs. `background`: a thread of the store's own does it every 50 ms without blocking writers,
   * and the writers only past 8,192 pages (checkpointer.ts); for a store opened by `filename` (with
   * a `database` of the host's it stays `inline`: another thread cannot share that handle).
   * `background-elsewhere`: another store of this process on the same file has that thread (as
   * `openpipes serve`'s dispatch thread's store: the main thread's runs it); this one's writers
   * only take the higher threshold.
   */
  checkpoints?: 'inline' | 'background' | 'background-elsewhere';
}

/**
 * A store on one SQLite file.
 *
 * @example
 * ```ts
 * import { createPipes } from '@openpipes/core';
 * import { sqliteStore } from '@openpipes/store-sqlite';
 *
 * const pipes = createPipes({ store: sqliteStore({ filename: './openpipes.db' }), secretKey });
 * ```
 */
export function sqliteStore(options: SqliteStoreOptions = {}): Store {
  const connection = createConnection(options);
  const context: SqliteContext = { ...connection, insertAudit: auditWriter(connection.qb, connection.run) };
  const packer = createOutcomePacker();
  const store: Store = {
    dialect: 'sqlite',
    migrate: () => runMigrations(context),
    migrationStatus: () => readMigrationStatus(context),
    async close() {
      await Promise.all([connection.close(), packer.close()]);
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
  };
  return withStorageErrors(store);
}
