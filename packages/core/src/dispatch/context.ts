/**
 * What the parts of the dispatcher share: its dependencies, its settings with defaults applied,
 * and the count of work in flight behind `idle()`.
 */
import type { ConfigCache } from '../config.js';
import type { DeliverDeps } from '../deliver.js';
import type { EngineEvents } from '../events.js';
import type { Logger } from '../logger.js';
import type { SecretResolver } from '../registries/secrets.js';
import type { Pipe } from '../schemas.js';
import type { Redactor } from '../secrets/redact.js';
import type { Store } from '../store.js';
import type { Breaker, BreakerSettings } from './breaker.js';
import type { PinnedPipes } from './pinned-pipes.js';

export interface DispatcherOptions {
  /**
   * How long a claim is held before another worker may take it over, ms. A worker renews the
   * leases of a batch it is still working on every third of this, so it only bounds how soon a
   * DEAD worker's batch is picked up again. Default 30 000.
   */
  leaseMs?: number;
  /** Longest sleep of an idle lane, ms. Default 1000. */
  pollIntervalMs?: number;
  /** Most deliveries claimed at once per lane (also bounded by `max_batch_size`). Default 2000 (Google Ads batches). */
  maxClaim?: number;
  /** Consecutive failed batches that open a destination's circuit breaker. Default 5. */
  breakerThreshold?: number;
  /** First pause when the breaker opens, ms; doubles per failed probe. Default 5000. */
  breakerInitialPauseMs?: number;
  /**
   * Longest breaker pause, ms: after an outage the destination is found healthy again within this
   * (a probe is one batch, so probing often costs the destination next to nothing). Default 30 000.
   */
  breakerMaxPauseMs?: number;
}

export interface DispatcherDeps extends DeliverDeps {
  store: Store;
  config: ConfigCache;
  resolveSecrets: SecretResolver;
  /** A pipe as it was at one version (the pipe registry's `getVersion`), for pinned deliveries. */
  getPipeVersion: (id: string, version: number) => Promise<Pipe>;
  /** The redactor for a destination's current secret values (cached, with retired values); default createRedactor. */
  redactorFor?: (current: Record<string, string>) => Promise<Redactor>;
  events: EngineEvents;
  logger: Logger;
  options: DispatcherOptions;
}

export interface DispatcherSettings {
  leaseMs: number;
  pollIntervalMs: number;
  maxClaim: number;
  breaker: BreakerSettings;
}

export function dispatcherSettings(options: DispatcherOptions): DispatcherSettings {
  return {
    leaseMs: options.leaseMs ?? 30_000,
    pollIntervalMs: options.pollIntervalMs ?? 1000,
    maxClaim: options.maxClaim ?? 2000,
    breaker: {
      threshold: options.breakerThreshold ?? 5,
      initialPauseMs: options.breakerInitialPauseMs ?? 5000,
      maxPauseMs: options.breakerMaxPauseMs ?? 30_000,
    },
  };
}

/** Counts claims and batches in flight; `idle()` resolves when there are none. */
export interface Activity {
  /** Counts one piece of work as in flight until the returned function is called (once). */
  begin(): () => void;
  idle(): Promise<void>;
}

export function createActivity(): Activity {
  let busy = 0;
  let waiters: Array<() => void> = [];
  return {
    begin() {
      busy++;
      let ended = false;
      return () => {
        if (ended) return;
        ended = true;
        busy--;
        if (busy > 0) return;
        const resolve = waiters;
        waiters = [];
        for (const fn of resolve) fn();
      };
    },
    idle() {
      if (busy === 0) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}

/** One lane's state that its batches update. */
export interface LaneState {
  readonly destinationId: string;
  breaker: Breaker;
  wake(): void;
}

export interface DispatchContext {
  deps: DispatcherDeps;
  settings: DispatcherSettings;
  owner: string;
  activity: Activity;
  pinned: PinnedPipes;
  isRunning(): boolean;
}
