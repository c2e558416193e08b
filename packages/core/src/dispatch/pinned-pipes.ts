/**
 * The pipe versions that claimed deliveries are pinned to (a replay through a chosen version), read
 * through the pipe registry's `getVersion` and kept in a bounded least-recently-used cache: a
 * version never changes, so a cached one is never stale, and the bound keeps a long-running worker
 * that replays through many versions from growing without end.
 */
import type { ConfigSnapshot } from '../config.js';
import { PipesError } from '../errors.js';
import type { Pipe } from '../schemas.js';
import type { ClaimedDelivery } from '../store.js';

/** Pinned pipe versions kept by default. */
export const defaultPinnedPipesBound = 500;

export interface PinnedPipes {
  /** Loads the versions these deliveries are pinned to, and returns the pipe each runs through. */
  resolver(config: ConfigSnapshot, claimed: ClaimedDelivery[]): Promise<(delivery: ClaimedDelivery) => Pipe>;
  /** Versions cached now (at most the bound). */
  size(): number;
}

/**
 * @example
 * ```ts
 * const pinned = createPinnedPipes({ getVersion: pipes.getVersion, bound: 500 });
 * const pipeFor = await pinned.resolver(config, claimed);
 * ```
 */
export function createPinnedPipes(options: {
  getVersion: (id: string, version: number) => Promise<Pipe>;
  bound?: number;
}): PinnedPipes {
  const bound = Math.max(1, options.bound ?? defaultPinnedPipesBound);
  // A Map iterates in insertion order: re-inserting on use makes its first key the least recent.
  const cache = new Map<string, Pipe>();
  const keyOf = (pipeId: string, version: number) => `${pipeId}@${version}`;
  const use = (key: string) => {
    const pipe = cache.get(key);
    if (pipe) {
      cache.delete(key);
      cache.set(key, pipe);
    }
    return pipe;
  };
  const put = (key: string, pipe: Pipe) => {
    cache.set(key, pipe);
    while (cache.size > bound) cache.delete(cache.keys().next().value as string);
  };

  return {
    async resolver(config, claimed) {
      // The versions of this batch, held here so that the bound cannot evict one before use.
      const batch = new Map<string, Pipe>();
      for (const delivery of claimed) {
        if (delivery.pinned_pipe_version === null) continue;
        const key = keyOf(delivery.pipe_id, delivery.pinned_pipe_version);
        if (batch.has(key)) continue;
        let pipe = use(key);
        if (!pipe) {
          try {
            pipe = await options.getVersion(delivery.pipe_id, delivery.pinned_pipe_version);
          } catch (err) {
            // A version that is gone runs through the current pipe, as it always has.
            if (err instanceof PipesError && err.code === 'NOT_FOUND') continue;
            throw err;
          }
          put(key, pipe);
        }
        batch.set(key, pipe);
      }
      return (delivery) => {
        const pinned =
          delivery.pinned_pipe_version === null
            ? undefined
            : batch.get(keyOf(delivery.pipe_id, delivery.pinned_pipe_version));
        // Claims only cover enabled pipes of this snapshot, so the pipe is there.
        return pinned ?? config.pipes.get(delivery.pipe_id)!;
      };
    },
    size: () => cache.size,
  };
}
