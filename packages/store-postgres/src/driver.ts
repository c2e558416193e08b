/**
 * The small part of `pg` (node-postgres) the store uses, declared structurally so callers may pass
 * their own `pg.Pool` (or anything shaped like it) and core never sees a driver type.
 */

/** What a query answers. */
export interface PgQueryResult {
  rows: unknown[];
  rowCount: number | null;
}

/** A notification received by a client that ran `LISTEN`. */
export interface PgNotification {
  channel: string;
  payload?: string;
}

/** A client checked out of a pool (`pg.PoolClient`). */
export interface PgPoolClient {
  query(text: string, values?: unknown[]): Promise<PgQueryResult>;
  /** Returns the client to its pool; `true` or an error destroys it instead. */
  release(destroy?: boolean | Error): void;
  on(event: 'notification', listener: (message: PgNotification) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  removeAllListeners(event?: string): unknown;
}

/**
 * A connection pool (`pg.Pool`, or anything shaped like it).
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * const pool: PgPool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 20 });
 * const store = postgresStore({ pool });
 * ```
 */
export interface PgPool {
  connect(): Promise<PgPoolClient>;
  end(): Promise<void>;
}

/** PostgreSQL error codes the store reacts to. */
export const pgErrorCodes = {
  uniqueViolation: '23505',
  /** `\u0000` in a jsonb or text value. */
  untranslatableCharacter: '22P05',
  /** A NUL byte in a text value. */
  invalidByteSequence: '22021',
  deadlockDetected: '40P01',
  serializationFailure: '40001',
} as const;

/** The SQLSTATE of a driver error, if it has one. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
