/**
 * How long a lane waits, as pure functions of the time (the engine's clock) and its settings, so
 * every wait is unit-tested without sleeping.
 */

/** Longest retry delay after an engine fault (store, secrets), ms. */
export const maxEngineFaultDelayMs = 60_000;
/** Shortest sleep before a due retry, ms: a retry due "now" does not make a lane spin. */
export const minRetryWaitMs = 5;

/**
 * When deliveries of a batch the engine itself failed on (not the destination) are tried again:
 * 1 s, doubling per consecutive failure of the destination's breaker, at most a minute.
 *
 * @example
 * ```ts
 * engineFaultDelayMs(0); // 1000
 * engineFaultDelayMs(10); // 60_000
 * ```
 */
export function engineFaultDelayMs(consecutiveFailures: number): number {
  return Math.min(maxEngineFaultDelayMs, 1000 * 2 ** consecutiveFailures);
}

/**
 * How long a lane that claimed nothing sleeps: until the next retry is due (`nextRetryAt`, ms, or
 * null when none waits), at least `minRetryWaitMs` and at most one poll interval (which also finds
 * deliveries whose lease expired when another process died). A retry that was due by `claimedAt`
 * (the time the empty claim asked with) is not the lane's to take (its pipe was disabled since, or
 * another worker holds it): it counts as none, or the lane would claim every `minRetryWaitMs`.
 *
 * @example
 * ```ts
 * idleWaitMs(null, now, 1000); // 1000
 * idleWaitMs(now + 200, now, 1000); // 200
 * idleWaitMs(now - 200, now, 1000, now); // 1000: the empty claim at `now` left it
 * ```
 */
export function idleWaitMs(
  nextRetryAt: number | null,
  now: number,
  pollIntervalMs: number,
  claimedAt?: number,
): number {
  const untaken = nextRetryAt !== null && claimedAt !== undefined && nextRetryAt <= claimedAt;
  const untilRetry =
    nextRetryAt === null || Number.isNaN(nextRetryAt) || untaken ? pollIntervalMs : nextRetryAt - now;
  return Math.min(Math.max(untilRetry, minRetryWaitMs), pollIntervalMs);
}

/**
 * How long a lane whose breaker is open sleeps before looking again: the rest of the pause, but
 * at most ten poll intervals, so a stop or a disabled destination is noticed.
 *
 * @example
 * ```ts
 * pausedWaitMs(60_000, 1000); // 10_000
 * ```
 */
export function pausedWaitMs(remainingPauseMs: number, pollIntervalMs: number): number {
  return Math.min(remainingPauseMs, pollIntervalMs * 10);
}

/**
 * How often the leases of a batch in progress are renewed: three times per lease, at most every
 * 100 ms.
 *
 * @example
 * ```ts
 * leaseRenewalMs(30_000); // 10_000
 * ```
 */
export function leaseRenewalMs(leaseMs: number): number {
  return Math.max(100, Math.floor(leaseMs / 3));
}
