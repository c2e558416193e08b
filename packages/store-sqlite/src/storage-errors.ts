/** SQLite's full disk, as the engine's retryable STORAGE_FULL. */
import { PipesError, type Store } from '@openpipes/core';

/**
 * A full disk is a condition of the machine, not a bug: every store method that hits SQLITE_FULL
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
        if ((err as { code?: unknown } | null)?.code === 'SQLITE_FULL') {
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
