/**
 * The PostgreSQL connection: the pool (the caller's, never ended by the store, or its own), the
 * kysely instance on it, and the helpers every module of the store shares through {@link PgContext}:
 * `guard` (open check and error mapping), `tx` (deadlock-retrying transactions) and `T` (a table
 * of the store's schema).
 */
import { type AuditEntry, PipesError } from '@openpipes/core';
import type { PostgresTables } from '@openpipes/core/store-kit';
import { Kysely, PostgresDialect, type QueryCreator, type RawBuilder, sql, type Transaction } from 'kysely';
import pg from 'pg';
import { type PgPool, type PgPoolClient, pgErrorCodes, sqlState, unavailableReason } from './driver.js';
import { namingStatements } from './named-statements.js';
import { storeTypes } from './times.js';

type Db = Kysely<PostgresTables>;
type Trx = Transaction<PostgresTables>;

/** A table of the store's schema (only declared ones: a misspelt table is a compile error). */
export type TableName = keyof PostgresTables & string;

/** What the store's assembly lends each of its modules. */
export interface PgContext {
  db: Db;
  /** The query builder on the store's schema: on the pool, or inside `trx`. */
  q: (trx?: Trx | Db) => QueryCreator<PostgresTables>;
  /** A table of the store's schema, for the `sql` tag. */
  T: (name: TableName) => RawBuilder<unknown>;
  /** The schema's name (advisory lock keys). */
  schema: string;
  /** Checks the store is open and turns driver errors into the engine's errors. */
  guard: <R>(fn: () => Promise<R>) => Promise<R>;
  /** A transaction, retried when PostgreSQL picked it as a deadlock victim. */
  tx: <R>(fn: (trx: Trx) => Promise<R>) => Promise<R>;
  /**
   * {@link PgContext.tx} whose `BEGIN` and `prelude` (parameterless statements such as `SET LOCAL`)
   * go to PostgreSQL as one simple-protocol query: one round trip instead of two.
   */
  txWith: <R>(prelude: string, fn: (trx: Db) => Promise<R>) => Promise<R>;
  /** Writes an audit entry inside a transaction. */
  insertAudit: (trx: Trx, entry: AuditEntry | undefined) => Promise<void>;
  /** Announces work for these destinations after commit (see `wake-ups.ts`). */
  wake: (destinationIds: Iterable<string>) => void;
}

/** How the store reaches PostgreSQL. */
export interface ConnectionOptions {
  pool?: PgPool | (() => PgPool | Promise<PgPool>);
  connectionString?: string;
  poolSize?: number;
  applicationName: string;
  /** Hot statements named on the store's own pool (named-statements.ts). Default true. */
  namedStatements?: boolean;
}

/** The pool, kysely on it, and the open/closed state every method checks. */
export interface Connection {
  db: Db;
  getPool: () => Promise<PgPool>;
  /** A pool client that cannot crash the process with an 'error' event. */
  connectShielded: (pool: PgPool) => Promise<PgPoolClient>;
  guard: PgContext['guard'];
  tx: PgContext['tx'];
  txWith: PgContext['txWith'];
  isClosed: () => boolean;
  /** Refuses every later call; the caller then drains its work and calls `db.destroy()`. */
  markClosed: () => void;
}

/**
 * Runs a store call: refused once the store is closed; PostgreSQL's refusal of a NUL character
 * and an unreachable server become the engine's errors (VALIDATION_FAILED, STORE_UNAVAILABLE).
 */
async function guarded<R>(closed: boolean, fn: () => Promise<R>): Promise<R> {
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
}

/** Runs `run` again when PostgreSQL picked it as a deadlock victim or a serialization failure, up to 3 times. */
async function retried<R>(run: () => Promise<R>): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      const state = sqlState(err);
      const retryable =
        state === pgErrorCodes.deadlockDetected || state === pgErrorCodes.serializationFailure;
      if (!retryable || attempt >= 3) throw err;
    }
  }
}

/** Opens (lazily) the store's connection to PostgreSQL. */
export function createConnection(options: ConnectionOptions): Connection {
  // The pool: the caller's (never ended by us) or our own.
  let ownPool: pg.Pool | null = null;
  let resolvedPool: Promise<PgPool> | null = null;
  const getPool = (): Promise<PgPool> => {
    resolvedPool ??= (async () => {
      if (options.pool) return typeof options.pool === 'function' ? await options.pool() : options.pool;
      ownPool = new pg.Pool({
        connectionString: options.connectionString,
        max: options.poolSize ?? 10,
        application_name: options.applicationName,
        keepAlive: true,
        // Times arrive as the engine's ISO strings where PostgreSQL sends them in UTC (times.ts).
        types: storeTypes as never,
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

  const naming = new WeakMap<PgPoolClient, PgPoolClient>();
  const db = new Kysely<PostgresTables>({
    dialect: new PostgresDialect({
      pool: async () => {
        const pool = await getPool();
        // kysely ends its pool on destroy(); only ours may be ended.
        return {
          connect: async () => {
            const client = await connectShielded(pool);
            // Hot statements named on the store's own pool only (named-statements.ts).
            if (!ownPool || options.namedStatements === false) return client as never;
            let wrapped = naming.get(client);
            if (!wrapped) {
              wrapped = namingStatements(client);
              naming.set(client, wrapped);
            }
            return wrapped as never;
          },
          end: async () => {
            if (ownPool) await ownPool.end();
          },
        };
      },
    }),
  });

  let closed = false;

  const guard = <R>(fn: () => Promise<R>): Promise<R> => guarded(closed, fn);

  /** Retried when PostgreSQL picks it as a deadlock victim or a serialization failure, up to 3 times. */
  const tx = <R>(fn: (trx: Trx) => Promise<R>): Promise<R> => retried(() => db.transaction().execute(fn));

  // kysely's transactions send BEGIN alone. Without parameters, node-postgres sends a query by the
  // simple protocol, which takes several statements at once: BEGIN and the prelude share a round
  // trip. Committed, or rolled back when the prelude or `fn` throws (a ROLLBACK outside a
  // transaction only warns), on the same connection, as kysely does.
  const txWith = <R>(prelude: string, fn: (trx: Db) => Promise<R>): Promise<R> =>
    retried(() =>
      db.connection().execute(async (conn) => {
        let result: R;
        try {
          await sql.raw(`BEGIN; ${prelude}`).execute(conn);
          result = await fn(conn);
        } catch (err) {
          await sql
            .raw('ROLLBACK')
            .execute(conn)
            .catch(() => undefined);
          throw err;
        }
        await sql.raw('COMMIT').execute(conn);
        return result;
      }),
    );

  return {
    db,
    getPool,
    connectShielded,
    guard,
    tx,
    txWith,
    isClosed: () => closed,
    markClosed: () => {
      closed = true;
    },
  };
}

/** A table of `schema`, for the `sql` tag. */
export const schemaTable =
  (schema: string) =>
  (name: TableName): RawBuilder<unknown> =>
    sql.table(`${schema}.${name}`);
