/** SQLite's full disk and its lock held too long, as the engine's retryable errors. */
import { PipesError, type Store } from '@openpipes/core';
import { isLockedElsewhere } from './connection.js';

/**
 * A full disk (and a lock another writer held past `busy_timeout`) is a condition of the machine, not a bug: every store method that hits SQLITE_FULL
 * rejects with STORAGE_FULL (HTTP 507, retryable). The failing transaction was rolled back, so
 * nothing of the call was stored; the engine works again as soon as space is freed.
 */
export function withStorageErrors(store: Store): Store {
  const wrapped: Record<string, unknown> = { ...store };
  for (const [name, method] of Object.entries(store)) {
    if (typeof method !== 'function') continue;
    wrapped[name] = async (...args: unknown[]) => {
      try {
        return await (method as (...a: unknown[]) => Promise<unknown>).apply(store, args);
      } catch (err) {
        const code = (err as { code?: unknown } | null)?.code;
        // Another process (or a thread without the write turn) held the file's lock past
        // busy_timeout: the call's transaction never began or was rolled back, so nothing of it
        // was stored and it may be sent again (HTTP 503, not a 500 that reads as a bug).
        if (isLockedElsewhere(err)) {
          throw new PipesError({
            code: 'STORE_UNAVAILABLE',
            message: `the SQLite file stayed locked by another writer past busy_timeout (${(err as Error).message}); nothing was stored: try again`,
            retryable: true,
            cause: err,
          });
        }
        if (code === 'SQLITE_FULL') {
          throw new PipesError({
            code: 'STORAGE_FULL',
            message: `the SQLite store's disk is full (${(err as Error).message}); nothing was stored: free space and try again`,
            retryable: true,
            cause: err,
          });
        }
        throw err;
      }
    };
  }
  return wrapped as unknown as Store;
}
