/**
 * A destination's circuit breaker as a pure state machine: every function takes the state and the
 * time (the engine's clock) and returns the next state, so it is tested without a lane, a store
 * or a real clock.
 *
 * closed ──(threshold consecutive destination failures)──▶ open ──(pause over)──▶ half-open
 *   ▲                                                                                 │
 *   └──────────────── a delivered batch, or a probe the destination did not fail ─────┘
 * A failed probe opens it again with twice the pause (up to `maxPauseMs`).
 */
import type { DeliveryOutcome } from '../store.js';

export interface BreakerSettings {
  /** Consecutive failed batches that open the breaker. */
  threshold: number;
  /** First pause when it opens, ms; doubles per failed probe. */
  initialPauseMs: number;
  /** Longest pause, ms. */
  maxPauseMs: number;
}

export interface Breaker {
  state: 'closed' | 'open' | 'half-open';
  /** Consecutive batches the destination failed. */
  failures: number;
  /** The pause the next opening uses, ms. */
  pauseMs: number;
  /** While open: when probing may start (engine clock, ms). */
  pausedUntil: number;
}

/** What a batch told the breaker (see `judgeBatch`). */
export interface BatchVerdict {
  /** At least one delivery of the batch was delivered. */
  delivered: boolean;
  /** At least one delivery failed because of the destination (5xx, 429, timeout, network). */
  destinationFailed: boolean;
}

/** What changed, for the lane to announce (`destination-paused` / `destination-resumed`). */
export type BreakerTransition =
  | { kind: 'none' }
  | { kind: 'resumed' }
  | { kind: 'paused'; reopened: boolean; failures: number; pausedUntil: number };

/**
 * A closed breaker.
 *
 * @example
 * ```ts
 * let breaker = closedBreaker({ threshold: 5, initialPauseMs: 5000, maxPauseMs: 30_000 });
 * ```
 */
export function closedBreaker(settings: BreakerSettings): Breaker {
  return { state: 'closed', failures: 0, pauseMs: settings.initialPauseMs, pausedUntil: 0 };
}

/**
 * Whether the lane may claim now. An open breaker whose pause is over turns half-open (one probe
 * batch at a time); one still paused says for how long.
 *
 * @example
 * ```ts
 * const gate = admit(breaker, clock());
 * if (gate.waitMs > 0) await sleep(gate.waitMs); else claim(gate.breaker.state === 'half-open' ? 1 : concurrency);
 * ```
 */
export function admit(breaker: Breaker, now: number): { breaker: Breaker; waitMs: number } {
  if (breaker.state !== 'open') return { breaker, waitMs: 0 };
  if (now < breaker.pausedUntil) return { breaker, waitMs: breaker.pausedUntil - now };
  return { breaker: { ...breaker, state: 'half-open' }, waitMs: 0 };
}

/**
 * Only failures of the destination count (stage `send` or `response`), not bad events or code.
 *
 * @example
 * ```ts
 * const verdict = judgeBatch(outcomes);
 * ```
 */
export function judgeBatch(
  outcomes: ReadonlyArray<{ status: DeliveryOutcome['status']; detail: { error?: unknown } }>,
): BatchVerdict {
  return {
    delivered: outcomes.some((o) => o.status === 'delivered'),
    destinationFailed: outcomes.some(
      (o) =>
        (o.status === 'retrying' || o.status === 'dead') &&
        ['send', 'response'].includes((o.detail.error as { stage?: string } | null)?.stage ?? ''),
    ),
  };
}

/**
 * The breaker after a recorded batch, and what to announce.
 *
 * @example
 * ```ts
 * const { breaker: next, transition } = recordBatch(breaker, judgeBatch(outcomes), clock(), settings);
 * ```
 */
export function recordBatch(
  breaker: Breaker,
  verdict: BatchVerdict,
  now: number,
  settings: BreakerSettings,
): { breaker: Breaker; transition: BreakerTransition } {
  const { delivered, destinationFailed } = verdict;
  if (delivered || !destinationFailed) {
    // A batch of bad events says nothing about the destination: a closed breaker keeps its count,
    // an open one (a batch that was in flight when it opened) stays open.
    if (!delivered && breaker.state !== 'half-open') return { breaker, transition: { kind: 'none' } };
    const transition: BreakerTransition = breaker.state === 'closed' ? { kind: 'none' } : { kind: 'resumed' };
    return { breaker: closedBreaker(settings), transition };
  }
  const failures = breaker.failures + 1;
  if (breaker.state !== 'half-open' && failures < settings.threshold) {
    return { breaker: { ...breaker, failures }, transition: { kind: 'none' } };
  }
  const pausedUntil = now + breaker.pauseMs;
  return {
    breaker: {
      state: 'open',
      failures,
      pausedUntil,
      pauseMs: Math.min(breaker.pauseMs * 2, settings.maxPauseMs),
    },
    transition: { kind: 'paused', reopened: breaker.state === 'half-open', failures, pausedUntil },
  };
}
