/**
 * The SQLite connection: the database handle (opened on first use), kysely as a query compiler
 * only, the prepared-statement cache, and the runners every module of the store shares through
 * {@link SqliteContext}.
 */
import { type AuditEntry, PipesError } from '@openpipes/core';
import type { SqliteTables } from '@openpipes/core/store-kit';
import Database from 'better-sqlite3';
import {
  type CompiledQuery,
  DummyDriver,
  Kysely,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import { backgroundWalLimitPages, type Checkpointer, startCheckpointer } from './checkpointer.js';
import { Took, type WriteTurnHandle, writeTurnOf } from './write-turn.js';

/** The part of a better-sqlite3 `Database` the store uses (so callers may pass their own). */
export interface SqliteDatabase {
  prepare(source: string): {
    run(...params: unknown[]): { changes: number };
    all(...params: unknown[]): unknown[];
    get(...params: unknown[]): unknown;
    /**
     * better-sqlite3's raw mode: rows as arrays of column values, not objects. Optional (a
     * database without it gets objects, which the store reads by column order).
     */
    raw?(toggle?: boolean): unknown;
  };
  exec(source: string): unknown;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  transaction<F extends (...args: never[]) => unknown>(fn: F): F & { immediate: F };
  close(): unknown;
  readonly open: boolean;
  readonly inTransaction: boolean;
}

/** How the store opens its database. */
export interface ConnectionOptions {
  filename?: string;
  database?: SqliteDatabase | (() => SqliteDatabase);
  synchronous?: 'NORMAL' | 'FULL';
  busyTimeoutMs?: number;
  /** The process's write turn (write-turn.ts), shared by its threads that write this file. */
  writeTurn?: SharedArrayBuffer;
  /** Who checkpoints the write-ahead log (checkpointer.ts); see `SqliteStoreOptions`. */
  checkpoints?: 'inline' | 'background' | 'background-elsewhere';
  /** The writers' `wal_autocheckpoint` with background checkpoints (tests make it small). */
  backgroundWalLimitPages?: number;
}

type Statement = ReturnType<SqliteDatabase['prepare']>;

/** What the store's assembly lends each of its modules: its query builder and statement runners. */
export interface SqliteContext {
  /** The open database (throws ENGINE_STOPPED once the store is closed). */
  db: () => SqliteDatabase;
  /** kysely, as a query compiler only: it never holds a connection. */
  qb: Kysely<SqliteTables>;
  /** A prepared statement for `text`, cached (the cache is bounded). */
  prepare: (text: string) => Statement;
  all<R>(query: { compile(): CompiledQuery<R> }): R[];
  first<R>(query: { compile(): CompiledQuery<R> }): R | undefined;
  run(query: { compile(): CompiledQuery<unknown> }): number;
  /**
   * Runs `fn` in a BEGIN IMMEDIATE transaction; called inside one, in a SAVEPOINT of it (released
   * when `fn` returns, rolled back to when it throws: better-sqlite3's nesting). Statement journals
   * and temporary b-trees stay in memory for its length (`temp_store = MEMORY`) unless `spill` is
   * true: a transaction whose statements may sort or rewrite a whole table (a migration) keeps the
   * connection's own setting, so that they can go to a temporary file.
   */
  tx<T>(fn: () => T, options?: { spill?: boolean }): T;
  /**
   * For a write the event loop may put off (a group commit's): false when it can begin now;
   * otherwise true, and `run` is called once the process's other thread gives the write turn back
   * (write-turn.ts, `afterTurn`), or after {@link turnWaitMs}, the thread free meanwhile.
   */
  afterWriteTurn(run: () => void): boolean;
  /** Writes an audit entry (inside the caller's transaction). */
  insertAudit(entry: AuditEntry | undefined): void;
  /**
   * Runs `fn` while the checkpoint thread (checkpointer.ts) holds off, for a checkpoint of the
   * caller's own that must find the log free (erasure's TRUNCATE); with none, just runs it.
   */
  withoutCheckpoints<T>(fn: () => T): T;
}

/** The connection, and its `close()` (resolved once the checkpoint thread, if any, has ended). */
export type Connection = Omit<SqliteContext, 'insertAudit'> & { close: () => Promise<void> };

/** The store's database, opened and set up as every connection of the store's is. */
function openDatabase(options: ConnectionOptions, busyTimeoutMs: number): SqliteDatabase {
  const opened =
    typeof options.database === 'function'
      ? options.database()
      : (options.database ??
        (new Database(options.filename ?? './openpipes.db') as unknown as SqliteDatabase));
  opened.pragma('journal_mode = WAL');
  opened.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
  opened.pragma(`busy_timeout = ${busyTimeoutMs}`);
  // Freed space inside pages written anyway is zeroed (no extra I/O), so an old copy of a row
  // does not linger beside the new one; erasure turns it fully on (docs/erasure.md).
  opened.pragma('secure_delete = FAST');
  return opened;
}

/**
 * How long a group commit's write is put off at most while the other thread holds the turn (its
 * transactions take milliseconds): then it waits blocked, as any write, with the turn's own
 * deadline. So a holder that hangs delays ingest by this much more, no longer.
 */
export const turnWaitMs = 100;

/** Opens (lazily) the store's database. */
export function createConnection(options: ConnectionOptions): Connection {
  const turn = options.writeTurn ? writeTurnOf(options.writeTurn) : null;
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  let handle: SqliteDatabase | null = null;
  let closed = false;
  // The connection's own temp_store (0 DEFAULT, 1 FILE, 2 MEMORY), which a write transaction
  // restores after it (see inTransaction): a host's database may come with its own setting.
  let tempStore = 0;
  let checkpointer: Checkpointer | null = null;
  const checkpoints = options.checkpoints ?? 'inline';
  const db = (): SqliteDatabase => {
    if (closed) throw new PipesError({ code: 'ENGINE_STOPPED', message: 'the SQLite store is closed' });
    if (handle) return handle;
    const opened = openDatabase(options, busyTimeoutMs);
    tempStore = Number(opened.pragma('temp_store', { simple: true })) || 0;
    // Only for a file of the store's own opening: another thread cannot open a handle it was given.
    if (checkpoints === 'background' && options.filename && !options.database && !checkpointer)
      checkpointer = startCheckpointer(options.filename, options.synchronous ?? 'NORMAL');
    // The writers' threshold rises only where a thread copies the log: with none (a handle of the
    // host's, the thread's module missing) they checkpoint as SQLite would, not 8x as much at once.
    if (checkpoints === 'background-elsewhere' || checkpointer)
      opened.pragma(`wal_autocheckpoint = ${options.backgroundWalLimitPages ?? backgroundWalLimitPages}`);
    handle = opened;
    return opened;
  };

  // kysely compiles queries; better-sqlite3 runs them.
  const qb = new Kysely<SqliteTables>({
    dialect: {
      createAdapter: () => new SqliteAdapter(),
      createDriver: () => new DummyDriver(),
      createIntrospector: (k) => new SqliteIntrospector(k),
      createQueryCompiler: () => new SqliteQueryCompiler(),
    },
  });
  const statements = new Map<string, Statement>();
  const prepare = (text: string) => {
    let statement = statements.get(text);
    if (!statement) {
      // IN (...) lists of every length make distinct statements; keep the cache bounded.
      if (statements.size >= 1000) statements.clear();
      statement = db().prepare(text);
      statements.set(text, statement);
    }
    return statement;
  };
  // One transaction function per database, reused: better-sqlite3 builds four wrappers for each
  // `transaction(fn)`, which was a measurable part of a single-event collect request.
  let runner: { database: SqliteDatabase; immediate: (fn: () => unknown) => unknown } | null = null;
  const inTransaction = <T>(fn: () => T, options?: { spill?: boolean }): T => {
    const database = db();
    if (runner?.database !== database) {
      runner = { database, immediate: database.transaction((body: () => unknown) => body()).immediate };
    }
    if (database.inTransaction) return runner.immediate(fn) as T;
    if (!turn) return outermost(database, fn, options);
    return inWriteTurn(turn, database, busyTimeoutMs, () => outermost(database, fn, options));
  };
  const outermost = <T>(database: SqliteDatabase, fn: () => T, options?: { spill?: boolean }): T => {
    const immediate = (runner as NonNullable<typeof runner>).immediate;
    // A write transaction keeps its statement journals in memory, not in a temporary file. Inside a
    // transaction SQLite journals each page a statement changes, so that the statement alone can
    // be undone, whenever the statement may abort after writing more than one b-tree: every insert
    // or update of a delivery (its triggers keep the rollups and totals), and every call of a group
    // commit's second pass (a savepoint each). Past 64 KiB such a journal spills to a file, and
    // under the pipeline bench that was ~36 KB written per ingested event, ~70 % of all the process
    // wrote (docs/deployment.md, "Identity's writes"). In memory it holds what one statement or
    // savepoint changed (for ingest, pages the transaction holds in the page cache anyway; not for
    // a statement that rewrites a whole table, hence `spill`). SQLite reads the
    // setting when the transaction begins. Outside write transactions it is the default again: with
    // MEMORY, a read's large sort or DISTINCT, and VACUUM's copy of the whole file, would be in RAM
    // too (measured: a 111 MB file's VACUUM took 204 MB of RSS against 101 MB). "Outside" means
    // what the connection was opened with: a host may have chosen MEMORY (no usable temporary
    // directory) or FILE, and a write must not set that back to the compiled-in default.
    if (tempStore === 2 || options?.spill) return immediate(fn) as T;
    prepare('PRAGMA temp_store = MEMORY').run();
    try {
      return immediate(fn) as T;
    } finally {
      if (database.open) prepare(`PRAGMA temp_store = ${tempStore}`).run();
    }
  };
  return {
    db,
    qb,
    prepare,
    all: <R>(query: { compile(): CompiledQuery<R> }): R[] => {
      const compiled = query.compile();
      return prepare(compiled.sql).all(...compiled.parameters) as R[];
    },
    first: <R>(query: { compile(): CompiledQuery<R> }): R | undefined => {
      const compiled = query.compile();
      return prepare(compiled.sql).get(...compiled.parameters) as R | undefined;
    },
    run: (query: { compile(): CompiledQuery<unknown> }): number => {
      const compiled = query.compile();
      return prepare(compiled.sql).run(...compiled.parameters).changes;
    },
    tx: inTransaction,
    afterWriteTurn: (run) => (turn ? turn.afterTurn(run, turnWaitMs) : false),
    withoutCheckpoints: (fn) => (checkpointer ? checkpointer.paused(fn) : fn()),
    close: async () => {
      if (!closed) {
        closed = true;
        statements.clear();
        runner = null;
        if (handle?.open) handle.close();
        handle = null;
      }
      await checkpointer?.stop();
    },
  };
}

/**
 * Runs `write` (an outermost transaction) in this thread's write turn. One write waits busy_timeout
 * in all, as it did before the turn: first for the turn, then in SQLite for what is left of it
 * (another process may hold the file), not up to busy_timeout twice. So SQLite's timeout is
 * shortened for this transaction by what the turn took when `take` says that wait was in vain
 * ({@link Took}): for a holder that ended or hangs, or behind a transaction that could not begin
 * (the file locked elsewhere past busy_timeout, which this write would wait for again). All three
 * are rare. A plain handover waited for the other thread's transaction, however long that took,
 * and leaves SQLite's wait whole: most transactions take one, and two PRAGMAs around each cost the
 * pipeline 3-5 % of its events/s (paired bench rounds, docs/deployment.md). What that leaves open:
 * behind a transaction that waited for another process's lock and then began, a write may wait that
 * long for the turn and then SQLite's whole wait, if the other process locks the file again at once.
 */
function inWriteTurn<T>(
  turn: WriteTurnHandle,
  database: SqliteDatabase,
  busyTimeoutMs: number,
  write: () => T,
): T {
  const started = performance.now();
  const took = turn.take(busyTimeoutMs);
  const waitedInVain = took === Took.freed || took === Took.timedOut || took === Took.handedLate;
  const waited = waitedInVain ? Math.floor(performance.now() - started) : 0;
  let late = false;
  try {
    // Inside the try: a throw here (a database closed under the store) must still give the turn.
    if (waited > 0) database.pragma(`busy_timeout = ${Math.max(0, busyTimeoutMs - waited)}`);
    return write();
  } catch (err) {
    // It could not begin: another process held the file past busy_timeout, and a thread that
    // waited for this turn meanwhile waited for that lock as well.
    late = isLockedElsewhere(err);
    throw err;
  } finally {
    if (took > 0) turn.give(late);
    if (waited > 0 && database.open) database.pragma(`busy_timeout = ${busyTimeoutMs}`);
  }
}

/**
 * The file's lock held by another connection past busy_timeout, as better-sqlite3 reports it (its
 * `code`, extended codes included: `SQLITE_BUSY_SNAPSHOT`).
 */
export function isLockedElsewhere(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_(BUSY|LOCKED)(_\w+)?$/.test(code);
}
