/**
 * What a lane does next, as a pure function of the configuration, its breaker, how busy its queue
 * is and the time: stop, sleep, wait for room in its queue, or claim. `lane.ts` carries it out.
 */
import type { ConfigSnapshot } from '../config.js';
import type { Destination } from '../schemas.js';
import type { ClaimedDelivery } from '../store.js';
import { pausedWaitMs } from './backoff.js';
import { admit, type Breaker } from './breaker.js';

export type LaneStep =
  /** The destination was disabled or deleted: the lane ends (a new one starts if it comes back). */
  | { kind: 'stop' }
  | { kind: 'sleep'; ms: number }
  /** As many batches as may run are running: wait until one finishes (or a poll interval). */
  | { kind: 'wait-for-room' }
  /** Claim up to `limit` deliveries of these pipes. */
  | { kind: 'claim'; limit: number; pipeIds: string[] };

export interface LaneStepInput {
  config: ConfigSnapshot;
  destinationId: string;
  breaker: Breaker;
  now: number;
  /** Batches running or queued on the lane's queue. */
  inFlight: number;
  pollIntervalMs: number;
  /** Most deliveries claimed at once (also bounded by the destination's `max_batch_size`). */
  maxClaim: number;
}

/**
 * The enabled pipes that deliver to a destination.
 *
 * @example
 * ```ts
 * const ids = pipesOfDestination(config, 'dst_1');
 * ```
 */
export function pipesOfDestination(config: ConfigSnapshot, destinationId: string): string[] {
  return [...config.pipes.values()]
    .filter((p) => p.enabled && p.destination_id === destinationId)
    .map((p) => p.id);
}

/**
 * The lane's next step, and its breaker (an open breaker whose pause is over turns half-open).
 *
 * @example
 * ```ts
 * const { step, breaker } = nextLaneStep({ config, destinationId, breaker, now: clock(), inFlight: 0, pollIntervalMs: 1000, maxClaim: 2000 });
 * ```
 */
export function nextLaneStep(input: LaneStepInput): { step: LaneStep; breaker: Breaker } {
  const destination = input.config.destinations.get(input.destinationId);
  if (!destination?.enabled) return { step: { kind: 'stop' }, breaker: input.breaker };
  const pipeIds = pipesOfDestination(input.config, destination.id);
  if (pipeIds.length === 0)
    return { step: { kind: 'sleep', ms: input.pollIntervalMs }, breaker: input.breaker };
  const gate = admit(input.breaker, input.now);
  if (gate.waitMs > 0) {
    return {
      step: { kind: 'sleep', ms: pausedWaitMs(gate.waitMs, input.pollIntervalMs) },
      breaker: gate.breaker,
    };
  }
  // Claim only what can start now: the lease must not tick while a batch waits in a queue. A
  // half-open breaker probes with one batch at a time.
  const running = gate.breaker.state === 'half-open' ? 1 : destination.concurrency;
  if (input.inFlight >= running) return { step: { kind: 'wait-for-room' }, breaker: gate.breaker };
  return {
    step: { kind: 'claim', limit: claimLimit(destination, input.maxClaim), pipeIds },
    breaker: gate.breaker,
  };
}

/**
 * A claimed batch sorted against a configuration newer than the one it was claimed under: what the
 * lane may still deliver (`destination` enabled, each kept delivery's pipe enabled and still going
 * to it), and what a claim made under this configuration would not have taken — every delivery
 * when the destination is disabled or deleted (`destination` null), else those whose pipe is
 * disabled, deleted or now goes to another destination.
 *
 * @example
 * ```ts
 * const { destination, keep, release } = claimableUnder(config, 'dst_1', claimed);
 * ```
 */
export function claimableUnder(
  config: ConfigSnapshot,
  destinationId: string,
  claimed: ClaimedDelivery[],
): { destination: Destination | null; keep: ClaimedDelivery[]; release: ClaimedDelivery[] } {
  const destination = config.destinations.get(destinationId);
  if (!destination?.enabled) return { destination: null, keep: [], release: claimed };
  const keep: ClaimedDelivery[] = [];
  const release: ClaimedDelivery[] = [];
  for (const delivery of claimed) {
    const pipe = config.pipes.get(delivery.pipe_id);
    (pipe?.enabled && pipe.destination_id === destinationId ? keep : release).push(delivery);
  }
  return { destination, keep, release };
}

/** Deliveries per claim: one batch of the destination, within the engine's bound. */
export function claimLimit(destination: Pick<Destination, 'max_batch_size'>, maxClaim: number): number {
  return Math.min(destination.max_batch_size, maxClaim);
}

/**
 * A p-queue interval window for a rate in calls per second (fractional rates included).
 *
 * @example
 * ```ts
 * rateWindow(0.5); // { intervalCap: 1, interval: 2000 }
 * ```
 */
export function rateWindow(perSecond: number): { intervalCap: number; interval: number } {
  if (perSecond >= 1) return { intervalCap: Math.round(perSecond), interval: 1000 };
  return { intervalCap: 1, interval: Math.round(1000 / perSecond) };
}
