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

/** SQLSTATEs that mean "the server is not (yet, or any more) there", not "this query is wrong". */
const unavailableStates: Record<string, string> = {
  '57P01': 'the server is shutting down',
  '57P02': 'the server crashed',
  '57P03': 'the server is starting up or shutting down',
  '53300': 'too many connections',
};

/** Node socket errors of a connection that could not be made or was lost. */
const socketCodes: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
};

/**
 * Why the database is unreachable, in words without host names or ports (the reason may reach a
 * public client in a 503), or undefined when `error` is not about reaching the database. Class 08
 * SQLSTATEs are connection exceptions; node-postgres reports a dropped socket only in words.
 */
export function unavailableReason(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  for (
    let cur = error;
    cur && typeof cur === 'object' && !seen.has(cur);
    cur = (cur as { cause?: unknown }).cause
  ) {
    seen.add(cur);
    const code = sqlState(cur);
    if (code && unavailableStates[code]) return unavailableStates[code];
    if (code?.startsWith('08')) return 'connection failure';
    if (code && socketCodes[code]) return socketCodes[code];
    const message = (cur as Error).message ?? '';
    if (/Connection terminated|connection error and is not queryable|Client was closed/i.test(message)) {
      return 'connection lost';
    }
    if (/timeout exceeded when trying to connect/i.test(message)) return 'connection timed out';
  }
  return undefined;
}
