/**
 * What the monitor's listeners count, as pure bookkeeping: per pipe, the failures, dead deliveries
 * and successes of the batches recorded since the last pass (and one example of each), and per
 * second, the outcomes behind failure rates. Times are passed in (the engine's clock).
 */
import type { EngineEventMap } from '../events.js';
import type { AlertExample } from './noise.js';
import type { Alert, FailureRate } from './schemas.js';

export interface PipeTally {
  destination_id: string;
  destination: string;
  failures: number;
  dead: number;
  delivered: number;
  firstFailure: AlertExample | null;
  lastFailure: AlertExample | null;
  firstDead: AlertExample | null;
  firstDelivered: string | null;
}

/** Per-second outcome counts of one pipe, oldest first. */
export interface RateBucket {
  second: number;
  total: number;
  failed: number;
}

/** Longest failure-rate window a channel may set (see `failureRateSchema`). */
export const maxWindowSeconds = 3600;

/** The last failure seen per destination (a pause alert's example). */
export type LastFailures = Map<string, { pipe_id: string; example: AlertExample }>;

/**
 * Counts one `deliveries` event into `tallies` and `lastFailures`; returns the counts per pipe
 * (for the rate windows). Filtered and still-sending outcomes are not counted.
 *
 * @example
 * ```ts
 * const perPipe = tallyDeliveries(tallies, lastFailures, payload);
 * for (const [pipeId, c] of perPipe) addRate(rates, pipeId, second, c.total, c.failed);
 * ```
 */
export function tallyDeliveries(
  tallies: Map<string, PipeTally>,
  lastFailures: LastFailures,
  payload: EngineEventMap['deliveries'],
): Map<string, { total: number; failed: number }> {
  const perPipe = new Map<string, { total: number; failed: number }>();
  for (const outcome of payload.outcomes) {
    const failed = outcome.status === 'failed' || outcome.status === 'retrying' || outcome.status === 'dead';
    if (!failed && outcome.status !== 'delivered') continue;
    let tally = tallies.get(outcome.pipe_id);
    if (!tally) {
      tally = emptyTally(payload.destination_id, payload.destination);
      tallies.set(outcome.pipe_id, tally);
    }
    const counts = perPipe.get(outcome.pipe_id) ?? { total: 0, failed: 0 };
    counts.total++;
    if (failed) {
      counts.failed++;
      const example: AlertExample = {
        delivery_id: outcome.id,
        error: outcome.error
          ? { code: String(outcome.error.code), message: String(outcome.error.message) }
          : null,
      };
      tally.failures++;
      tally.firstFailure ??= example;
      tally.lastFailure = example;
      if (outcome.status === 'dead') {
        tally.dead++;
        tally.firstDead ??= example;
      }
      lastFailures.set(payload.destination_id, { pipe_id: outcome.pipe_id, example });
    } else {
      tally.delivered++;
      tally.firstDelivered ??= outcome.id;
    }
    perPipe.set(outcome.pipe_id, counts);
  }
  return perPipe;
}

function emptyTally(destinationId: string, destination: string): PipeTally {
  return {
    destination_id: destinationId,
    destination,
    failures: 0,
    dead: 0,
    delivered: 0,
    firstFailure: null,
    lastFailure: null,
    firstDead: null,
    firstDelivered: null,
  };
}

/**
 * Adds outcomes of one second to a pipe's buckets, dropping those older than the longest window.
 *
 * @example
 * ```ts
 * addRate(rates, 'pip_1', Math.floor(clock() / 1000), 10, 3);
 * ```
 */
export function addRate(
  rates: Map<string, RateBucket[]>,
  pipeId: string,
  second: number,
  total: number,
  failed: number,
): void {
  let buckets = rates.get(pipeId);
  if (!buckets) {
    buckets = [];
    rates.set(pipeId, buckets);
  }
  const last = buckets[buckets.length - 1];
  if (last && last.second === second) {
    last.total += total;
    last.failed += failed;
  } else {
    buckets.push({ second, total, failed });
  }
  while (buckets.length > 0 && buckets[0]!.second <= second - maxWindowSeconds) buckets.shift();
}

/**
 * A pipe's failure rate over a channel's window (the seconds after `now - window`).
 *
 * @example
 * ```ts
 * const rate = rateOf(rates.get('pip_1'), channel.failure_rate, clock());
 * ```
 */
export function rateOf(
  buckets: readonly RateBucket[] | undefined,
  settings: FailureRate,
  now: number,
): NonNullable<Alert['failure_rate']> {
  const from = Math.floor(now / 1000) - settings.window_seconds;
  let total = 0;
  let failed = 0;
  for (const bucket of buckets ?? []) {
    if (bucket.second <= from) continue;
    total += bucket.total;
    failed += bucket.failed;
  }
  return {
    failed,
    total,
    rate: total === 0 ? 0 : failed / total,
    threshold: settings.threshold,
    window_seconds: settings.window_seconds,
  };
}
