/**
 * The dispatcher: one lane per enabled destination (`lane.ts`), so a destination that hangs,
 * answers slowly or is down never delays any other. Each lane claims deliveries under a lease,
 * runs them through `deliverBatch` on its own queue (the destination's concurrency and rate
 * limit), writes the outcomes back (`batch.ts`), and trips a circuit breaker (`breaker.ts`) after
 * consecutive failures: the lane pauses, probes with backoff, and resumes by itself so the backlog
 * drains. What a lane does next (`lane-step.ts`) and how long it waits (`backoff.ts`) are pure.
 *
 * Lanes sleep when there is nothing to do and wake on: new deliveries (this process's ingest, or
 * another process's through `store.subscribe`), the next due retry, or a poll tick (which also
 * catches leases that expired when another process died). Lanes start at `start()`, on each poll
 * tick, and at once when the configuration changed elsewhere (`configChanged()`, or a wake for a
 * destination without a lane that the configuration does not know yet) or a wake finds one enabled
 * without a lane.
 */
import { hostname } from 'node:os';
import type { ConfigSnapshot } from '../config.js';
import { createActivity, type DispatchContext, type DispatcherDeps, dispatcherSettings } from './context.js';
import { type Lane, startLane } from './lane.js';
import { lanelessWakes } from './laneless-wakes.js';
import { createPinnedPipes } from './pinned-pipes.js';

export type { DispatcherDeps, DispatcherOptions } from './context.js';

/** Circuit breaker state of one destination, as `stats()` shows it. */
export interface BreakerState {
  state: 'closed' | 'open' | 'half-open';
  consecutive_failures: number;
  paused_until: string | null;
}

export interface Dispatcher {
  start(): void;
  /** Stops claiming; waits up to `graceMs` for in-flight batches to finish and be recorded. */
  stop(graceMs: number): Promise<void>;
  /**
   * Wakes the lanes of these destinations (new or re-queued deliveries). A destination without a
   * lane here that the configuration shows enabled gets its lane now, on that configuration (no
   * re-read); one it does not know (made elsewhere moments ago) is
   * {@link Dispatcher.configChanged}; one still unknown after that read was deleted, and later
   * wakes for it cost nothing. One it shows disabled is looked at once more when that
   * configuration may be stale (enabled elsewhere meanwhile), not at every wake.
   */
  notify(destinationIds: string[]): void;
  /**
   * The configuration changed elsewhere (another process or thread wrote it): the next read skips
   * the cache's staleness allowance, and the lanes are synced now (a lane starts for every enabled
   * destination without one) rather than at the next poll tick.
   */
  configChanged(): void;
  breakers(): Record<string, BreakerState>;
  /**
   * Resolves when no claim or batch is in flight: every batch claimed so far is recorded and its
   * `deliveries` event emitted. It does not wait for retries that are due later.
   */
  idle(): Promise<void>;
  /** This process's claim owner id. */
  readonly owner: string;
}

export function createDispatcher(deps: DispatcherDeps): Dispatcher {
  const lanes = new Map<string, Lane>();
  let running = false;
  let ticker: NodeJS.Timeout | null = null;
  let syncing: Promise<void> | null = null;
  const ctx: DispatchContext = {
    deps,
    settings: dispatcherSettings(deps.options),
    owner: `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 10)}`,
    activity: createActivity(),
    pinned: createPinnedPipes({ getVersion: deps.getPipeVersion }),
    isRunning: () => running,
  };

  const sync = async () => {
    if (!running) return;
    let config: ConfigSnapshot;
    try {
      config = await deps.config.current();
    } catch (err) {
      deps.logger.error('dispatcher could not load configuration', { error: String(err) });
      return;
    }
    for (const destination of config.destinations.values()) {
      if (destination.enabled && !lanes.has(destination.id)) {
        const id = destination.id;
        lanes.set(
          id,
          startLane(ctx, id, () => lanes.delete(id)),
        );
      }
    }
  };
  const scheduleSync = () => {
    if (!syncing) {
      syncing = sync().finally(() => {
        syncing = null;
      });
    }
    return syncing;
  };
  // A sync already under way may have read the configuration before what the caller saw: one more
  // after it.
  const syncAfterCurrent = () => {
    if (running) void (syncing ? syncing.then(scheduleSync) : scheduleSync());
  };
  const configChanged = () => {
    deps.config.invalidate();
    if (!running) return;
    syncAfterCurrent();
    // A running lane may be asleep because of what changed (its only pipe was disabled, its breaker
    // paused it): it looks again now instead of at the next poll or event.
    for (const lane of lanes.values()) lane.wake();
  };

  const laneless = lanelessWakes({
    config: deps.config,
    configChanged,
    startLanes: syncAfterCurrent,
    isRunning: () => running,
  });

  return {
    owner: ctx.owner,
    start() {
      if (running) return;
      running = true;
      void scheduleSync();
      ticker = setInterval(() => void scheduleSync(), ctx.settings.pollIntervalMs);
      ticker.unref();
    },
    async stop(graceMs) {
      if (!running) return;
      running = false;
      if (ticker) clearInterval(ticker);
      laneless.stop();
      for (const lane of lanes.values()) lane.wake();
      const all = Promise.all([...lanes.values()].map((lane) => lane.done));
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([
        all.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), graceMs);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        deps.logger.warn(
          'stopped before in-flight deliveries finished; their leases will expire and they will be retried',
          { grace_ms: graceMs },
        );
      }
    },
    notify(destinationIds) {
      if (!running) return;
      const missing: string[] = [];
      for (const id of destinationIds) {
        const lane = lanes.get(id);
        if (lane) lane.wake();
        else missing.push(id);
      }
      if (missing.length > 0) void laneless.wake(missing);
    },
    configChanged,
    breakers() {
      const out: Record<string, BreakerState> = {};
      for (const [id, { breaker }] of lanes) {
        out[id] = {
          state: breaker.state,
          consecutive_failures: breaker.failures,
          paused_until: breaker.state === 'open' ? new Date(breaker.pausedUntil).toISOString() : null,
        };
      }
      return out;
    },
    idle: () => ctx.activity.idle(),
  };
}
