/**
 * The monitor's two small engines, apart from what it decides: the pass runner (one evaluation at a
 * time, requests made during a pass folded into one more) and the volume buffer (accepted-event
 * counts kept in memory until written to the store).
 */
import type { Logger } from '../logger.js';
import type { Store } from '../store.js';
import { countVolume, type VolumeCounter, volumeRetentionMs } from './volume.js';

export interface PassRunner {
  /** Asks for a pass: it starts after the current synchronous work, or again after the running one. */
  schedule(): void;
  /** Resolves when no pass runs and none is asked for. */
  idle(): Promise<void>;
}

/**
 * Runs `pass` one at a time. Any number of `schedule()` calls before it starts make one pass; calls
 * while it runs make one more after it. A pass that throws is logged and the next still runs.
 */
export function createPassRunner(pass: () => Promise<void>, logger: Logger): PassRunner {
  let scheduled = false;
  let running: Promise<void> | null = null;
  let again = false;
  let idleWaiters: Array<() => void> = [];

  const settleIdle = () => {
    if (running || scheduled) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  };

  return {
    schedule() {
      if (scheduled) return;
      scheduled = true;
      // After the current synchronous emit chain: a breaker's `destination-paused` is emitted just
      // before the `deliveries` of the batch that tripped it, and the pass should see both.
      setImmediate(() => {
        scheduled = false;
        if (running) {
          again = true;
          return;
        }
        running = (async () => {
          do {
            again = false;
            await pass();
          } while (again);
        })()
          .catch((err) => logger.error('evaluating alerts failed', { error: String(err) }))
          .finally(() => {
            running = null;
            settleIdle();
          });
      });
    },
    idle() {
      if (!running && !scheduled) return Promise.resolve();
      return new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
}

export interface VolumeBuffer {
  /** Counts one ingest call's accepted events, per event type. */
  count(now: number, sourceId: string, perType: ReadonlyMap<string, number>): void;
  /** Whether anything waits to be written. */
  pending(): boolean;
  /** Writes what was counted; on a store failure, keeps it for the next try and logs a warning. */
  flush(): Promise<void>;
}

export function createVolumeBuffer(deps: {
  store: Pick<Store, 'addVolume'>;
  now: () => number;
  logger: Logger;
}): VolumeBuffer {
  let pending: VolumeCounter = new Map();
  return {
    count(now, sourceId, perType) {
      for (const [eventType, count] of perType) countVolume(pending, now, sourceId, eventType, count);
    },
    pending: () => pending.size > 0,
    async flush() {
      const counts = [...pending.values()];
      pending = new Map();
      try {
        await deps.store.addVolume({
          counts,
          pruneBefore: new Date(deps.now() - volumeRetentionMs).toISOString(),
        });
      } catch (err) {
        for (const c of counts)
          countVolume(pending, Date.parse(c.minute), c.source_id, c.event_type, c.count);
        deps.logger.warn('could not record event volume', { error: String(err) });
      }
    },
  };
}
