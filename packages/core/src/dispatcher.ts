/**
 * The dispatcher: one lane per enabled destination, so a destination that hangs, answers slowly or
 * is down never delays any other. Each lane claims deliveries under a lease, runs them through
 * `deliverBatch` on its own queue (the destination's concurrency and rate limit), writes the
 * outcomes back, and trips a circuit breaker after consecutive failures: the lane pauses, probes
 * with backoff, and resumes by itself so the backlog drains.
 *
 * Lanes sleep when there is nothing to do and wake on: new deliveries (this process's ingest, or
 * another process's through `store.subscribe`), the next due retry, or a poll tick (which also
 * catches leases that expired when another process died).
 */
import { hostname } from 'node:os';
import PQueue from 'p-queue';
import type { ConfigCache, ConfigSnapshot } from './config.js';
import { type DeliverDeps, deliverBatch } from './deliver.js';
import type { EngineEvents } from './events.js';
import type { Logger } from './logger.js';
import { presentPipe } from './registries/pipes.js';
import type { SecretResolver } from './registries/secrets.js';
import type { Destination, Pipe } from './schemas.js';
import { createRedactor, type Redactor } from './secrets/redact.js';
import type { ClaimedDelivery, DeliveryOutcome, Store } from './store.js';

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
  /** The redactor for a destination's current secret values (cached, with retired values); default createRedactor. */
  redactorFor?: (current: Record<string, string>) => Promise<Redactor>;
  events: EngineEvents;
  logger: Logger;
  options: DispatcherOptions;
}

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
  /** Wakes the lanes of these destinations (new or re-queued deliveries). */
  notify(destinationIds: string[]): void;
  breakers(): Record<string, BreakerState>;
  /** This process's claim owner id. */
  readonly owner: string;
}

interface Lane {
  destinationId: string;
  queue: PQueue;
  wake: () => void;
  done: Promise<void>;
  breaker: {
    state: 'closed' | 'open' | 'half-open';
    failures: number;
    pauseMs: number;
    pausedUntil: number;
  };
}

export function createDispatcher(deps: DispatcherDeps): Dispatcher {
  const leaseMs = deps.options.leaseMs ?? 30_000;
  const pollIntervalMs = deps.options.pollIntervalMs ?? 1000;
  const maxClaim = deps.options.maxClaim ?? 2000;
  const breakerThreshold = deps.options.breakerThreshold ?? 5;
  const breakerInitialPauseMs = deps.options.breakerInitialPauseMs ?? 5000;
  const breakerMaxPauseMs = deps.options.breakerMaxPauseMs ?? 30_000;
  const owner = `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 10)}`;

  const lanes = new Map<string, Lane>();
  let running = false;
  let ticker: NodeJS.Timeout | null = null;
  let syncing: Promise<void> | null = null;
  const pinnedPipes = new Map<string, Pipe>();

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
      if (destination.enabled && !lanes.has(destination.id)) startLane(destination.id);
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

  const startLane = (destinationId: string) => {
    let wakeUp: (() => void) | null = null;
    const lane: Lane = {
      destinationId,
      queue: new PQueue({ concurrency: 1 }),
      wake: () => wakeUp?.(),
      done: Promise.resolve(),
      breaker: { state: 'closed', failures: 0, pauseMs: breakerInitialPauseMs, pausedUntil: 0 },
    };
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(0, ms));
        function done() {
          clearTimeout(timer);
          if (wakeUp === done) wakeUp = null;
          resolve();
        }
        wakeUp = done;
      });
    lanes.set(destinationId, lane);
    lane.done = runLane(lane, sleep)
      .catch((err) =>
        deps.logger.error('dispatcher lane crashed', { destination_id: destinationId, error: String(err) }),
      )
      .finally(() => {
        lanes.delete(destinationId);
      });
  };

  const runLane = async (lane: Lane, sleep: (ms: number) => Promise<void>) => {
    let appliedConcurrency = 0;
    let appliedRate = -1;
    while (running) {
      let config: ConfigSnapshot;
      try {
        config = await deps.config.current();
      } catch (err) {
        // The store is down or restarting: the lane waits and tries again; it must not end.
        deps.logger.error('dispatcher could not load configuration', {
          destination_id: lane.destinationId,
          error: String(err),
        });
        await sleep(pollIntervalMs);
        continue;
      }
      const destination = config.destinations.get(lane.destinationId);
      if (!destination?.enabled) break;
      // Settings may change while the lane runs: apply the current ones.
      if (destination.concurrency !== appliedConcurrency) {
        lane.queue.concurrency = destination.concurrency;
        appliedConcurrency = destination.concurrency;
      }
      if (destination.rate_limit_per_second !== appliedRate) {
        await lane.queue.onIdle();
        lane.queue = makeQueue(destination);
        appliedConcurrency = destination.concurrency;
        appliedRate = destination.rate_limit_per_second;
      }
      const pipeIds = [...config.pipes.values()]
        .filter((p) => p.enabled && p.destination_id === destination.id)
        .map((p) => p.id);
      if (pipeIds.length === 0) {
        await sleep(pollIntervalMs);
        continue;
      }
      const now = deps.now();
      const breaker = lane.breaker;
      if (breaker.state === 'open') {
        if (now < breaker.pausedUntil) {
          await sleep(Math.min(breaker.pausedUntil - now, pollIntervalMs * 10));
          continue;
        }
        breaker.state = 'half-open';
      }
      // Claim only what can start now: the lease must not tick while a batch waits in a queue.
      const limit = breaker.state === 'half-open' ? 1 : destination.concurrency;
      if (lane.queue.pending + lane.queue.size >= limit) {
        await Promise.race([once(lane.queue, 'next'), sleep(pollIntervalMs)]);
        continue;
      }
      let claimed: ClaimedDelivery[];
      try {
        claimed = await deps.store.claimDeliveries({
          destinationId: destination.id,
          pipeIds,
          owner,
          limit: Math.min(destination.max_batch_size, maxClaim),
          leaseMs,
          now: new Date(now).toISOString(),
        });
      } catch (err) {
        deps.logger.error('claiming deliveries failed', {
          destination_id: destination.id,
          error: String(err),
        });
        await sleep(pollIntervalMs);
        continue;
      }
      if (claimed.length === 0) {
        const nextRetry = await deps.store.nextRetryAt({ destinationId: destination.id }).catch(() => null);
        const untilRetry = nextRetry ? Date.parse(nextRetry) - deps.now() : pollIntervalMs;
        await sleep(Math.min(Math.max(untilRetry, 5), pollIntervalMs));
        continue;
      }
      void lane.queue.add(() => processClaimed(lane, destination, config, claimed));
    }
    await lane.queue.onIdle();
  };

  const makeQueue = (destination: Destination) =>
    destination.rate_limit_per_second > 0
      ? new PQueue({
          concurrency: destination.concurrency,
          ...rateWindow(destination.rate_limit_per_second),
          // A sliding window: never more than the rate in ANY one-second span, not just per
          // fixed second (which lets twice the rate through across a boundary).
          strict: true,
        })
      : new PQueue({ concurrency: destination.concurrency });

  const pipeFor = async (config: ConfigSnapshot, claimed: ClaimedDelivery[]) => {
    for (const delivery of claimed) {
      if (delivery.pinned_pipe_version === null) continue;
      const key = `${delivery.pipe_id}@${delivery.pinned_pipe_version}`;
      if (pinnedPipes.has(key)) continue;
      const snapshot = await deps.store.getEntityVersion({
        kind: 'pipe',
        id: delivery.pipe_id,
        version: delivery.pinned_pipe_version,
      });
      if (snapshot) {
        pinnedPipes.set(
          key,
          presentPipe({
            kind: 'pipe',
            id: delivery.pipe_id,
            unique_key: null,
            version: snapshot.version,
            data: snapshot.data,
            created_at: snapshot.created_at,
            updated_at: snapshot.created_at,
          }),
        );
      }
    }
    return (delivery: ClaimedDelivery): Pipe => {
      const pinned =
        delivery.pinned_pipe_version === null
          ? undefined
          : pinnedPipes.get(`${delivery.pipe_id}@${delivery.pinned_pipe_version}`);
      // Claims only cover enabled pipes of this snapshot, so the pipe is there.
      return pinned ?? config.pipes.get(delivery.pipe_id)!;
    };
  };

  const processClaimed = async (
    lane: Lane,
    destination: Destination,
    config: ConfigSnapshot,
    claimed: ClaimedDelivery[],
  ) => {
    let outcomes: DeliveryOutcome[];
    // Keep the leases while this batch is worked on (a slow transform or send), so that no other
    // worker takes it over and sends it twice; a dead worker stops renewing and loses them.
    const ids = claimed.map((c) => c.id);
    const renew = setInterval(
      () => {
        deps.store
          .extendLeases({ owner, ids, until: new Date(deps.now() + leaseMs).toISOString() })
          .catch((err) =>
            deps.logger.warn('could not renew leases', {
              destination_id: destination.id,
              error: String(err),
            }),
          );
      },
      Math.max(100, Math.floor(leaseMs / 3)),
    );
    renew.unref();
    let redact: Redactor | null = null;
    try {
      const secrets = await deps.resolveSecrets(destination.secret_ids);
      redact = deps.redactorFor ? await deps.redactorFor(secrets) : createRedactor(secrets);
      outcomes = await deliverBatch(deps, {
        destination,
        pipeFor: await pipeFor(config, claimed),
        secrets,
        redact,
        claimed,
      });
    } catch (err) {
      // An engine fault (store, secrets): keep the deliveries, try again after a backoff.
      const raw = err instanceof Error ? err.message : String(err);
      const message = redact ? redact.text(raw) : raw;
      deps.logger.error('delivering a batch failed', { destination_id: destination.id, error: message });
      const retryAt = new Date(
        deps.now() + Math.min(60_000, 1000 * 2 ** lane.breaker.failures),
      ).toISOString();
      outcomes = claimed.map((delivery) => ({
        id: delivery.id,
        status: 'retrying',
        pipe_version: delivery.pipe_version,
        destination_version: destination.version,
        test_mode: false,
        next_attempt_at: retryAt,
        delivered_at: null,
        detail: {
          ...delivery.detail,
          error: { code: 'INTERNAL', message, retryable: true, stage: 'engine' },
        },
        attempt: null,
      }));
    }
    clearInterval(renew);
    try {
      const { lost } = await deps.store.completeDeliveries({
        owner,
        outcomes,
        now: new Date(deps.now()).toISOString(),
      });
      if (lost.length > 0) {
        deps.logger.warn('lost leases before recording; another worker will deliver these again', {
          destination_id: destination.id,
          count: lost.length,
        });
      }
    } catch (err) {
      // The leases will expire and the deliveries will be claimed again (at-least-once).
      deps.logger.error('recording outcomes failed', { destination_id: destination.id, error: String(err) });
      return;
    }
    updateBreaker(lane, destination, outcomes);
    const byId = new Map(claimed.map((c) => [c.id, c]));
    deps.events.emit('deliveries', {
      destination_id: destination.id,
      destination: destination.name,
      outcomes: outcomes.map((o) => {
        const delivery = byId.get(o.id)!;
        return {
          id: o.id,
          pipe_id: delivery.pipe_id,
          event_id: delivery.event_id,
          status: o.status,
          error: (o.detail.error as { code: string; message: string } | null) ?? null,
        };
      }),
    });
  };

  const updateBreaker = (lane: Lane, destination: Destination, outcomes: DeliveryOutcome[]) => {
    const breaker = lane.breaker;
    const delivered = outcomes.some((o) => o.status === 'delivered');
    // Only failures of the destination count (5xx, 429, timeouts, network), not bad events or code.
    const destinationFailed = outcomes.some(
      (o) =>
        (o.status === 'retrying' || o.status === 'dead') &&
        ['send', 'response'].includes((o.detail.error as { stage?: string } | null)?.stage ?? ''),
    );
    if (delivered || !destinationFailed) {
      if (breaker.state !== 'closed' && (delivered || breaker.state === 'half-open')) {
        deps.events.emit('destination-resumed', {
          destination_id: destination.id,
          destination: destination.name,
        });
        // The outage is over: what waits on backoff goes now, so the backlog drains at once.
        void deps.store
          .expediteRetries({ destinationId: destination.id, now: new Date(deps.now()).toISOString() })
          .then(() => lane.wake())
          .catch((err) =>
            deps.logger.warn('could not expedite retries', {
              destination_id: destination.id,
              error: String(err),
            }),
          );
      }
      if (delivered || breaker.state === 'half-open') {
        breaker.state = 'closed';
        breaker.failures = 0;
        breaker.pauseMs = breakerInitialPauseMs;
      }
      return;
    }
    breaker.failures++;
    if (breaker.state === 'half-open' || breaker.failures >= breakerThreshold) {
      const reopened = breaker.state === 'half-open';
      breaker.state = 'open';
      breaker.pausedUntil = deps.now() + breaker.pauseMs;
      const error = outcomes.find((o) => o.detail.error)?.detail.error as { message?: string } | undefined;
      deps.events.emit('destination-paused', {
        destination_id: destination.id,
        destination: destination.name,
        consecutive_failures: breaker.failures,
        paused_until: new Date(breaker.pausedUntil).toISOString(),
        reason: error?.message ?? 'consecutive failures',
        reopened,
      });
      breaker.pauseMs = Math.min(breaker.pauseMs * 2, breakerMaxPauseMs);
    }
  };

  return {
    owner,
    start() {
      if (running) return;
      running = true;
      void scheduleSync();
      ticker = setInterval(() => void scheduleSync(), pollIntervalMs);
      ticker.unref();
    },
    async stop(graceMs) {
      if (!running) return;
      running = false;
      if (ticker) clearInterval(ticker);
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
          {
            grace_ms: graceMs,
          },
        );
      }
    },
    notify(destinationIds) {
      if (!running) return;
      let missing = false;
      for (const id of destinationIds) {
        const lane = lanes.get(id);
        if (lane) lane.wake();
        else missing = true;
      }
      if (missing) void scheduleSync();
    },
    breakers() {
      const out: Record<string, BreakerState> = {};
      for (const [id, lane] of lanes) {
        out[id] = {
          state: lane.breaker.state,
          consecutive_failures: lane.breaker.failures,
          paused_until:
            lane.breaker.state === 'open' ? new Date(lane.breaker.pausedUntil).toISOString() : null,
        };
      }
      return out;
    },
  };
}

/** A p-queue interval window for a rate in calls per second (fractional rates included). */
function rateWindow(perSecond: number): { intervalCap: number; interval: number } {
  if (perSecond >= 1) return { intervalCap: Math.round(perSecond), interval: 1000 };
  return { intervalCap: 1, interval: Math.round(1000 / perSecond) };
}

function once(queue: PQueue, event: 'next'): Promise<void> {
  return new Promise((resolve) => queue.once(event, () => resolve()));
}
