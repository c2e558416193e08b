/**
 * Watches what the dispatcher reports and decides what to tell each channel. This file only wires
 * the parts: the counting (`tally.ts`), the rules (`rules.ts`), the noise reducer (`noise.ts`), the
 * messages (`message.ts`) and one evaluation pass (`evaluate.ts`).
 *
 * The engine's listeners must never slow delivery, so they only count: per pipe, the failures,
 * dead deliveries and successes of each recorded batch (and one example of each), plus a per-second
 * tally for failure rates. Everything else happens later, in one pass at a time, off the
 * dispatcher's path: read each affected (channel, pipe or destination) state from the store, run
 * the noise reducer, write the state back, and queue the messages on the sender.
 *
 * Multi-process: the incident and cooldown state is in the store, so processes sharing a store
 * share incidents. Updates are read-modify-write without a lock: two processes that see a pipe's
 * first failure within the same few milliseconds may both announce it, and concurrent folds may
 * undercount. Failure rates are computed per process over the deliveries that process recorded.
 */
import type { EngineEventMap } from '../events.js';
import {
  createEvaluator,
  type DestinationSignal,
  type EvaluateDeps,
  type MonitorMemory,
} from './evaluate.js';
import { addRate, type PipeTally, tallyDeliveries } from './tally.js';

export { incidentKey } from './rules.js';

export interface AlertMonitorDeps extends EvaluateDeps {
  now: () => number;
  /** How often folded counts whose cooldown ended are looked at, ms. */
  flushIntervalMs: number;
}

export interface AlertMonitor {
  onDeliveries(payload: EngineEventMap['deliveries']): void;
  onPaused(payload: EngineEventMap['destination-paused']): void;
  onResumed(payload: EngineEventMap['destination-resumed']): void;
  start(): void;
  /** Stops the flush timer and waits for the pass in progress. */
  stop(): Promise<void>;
  /** Resolves when nothing is waiting to be evaluated. */
  idle(): Promise<void>;
}

/** Destination signals kept while a pass runs; a flood of pauses beyond this is dropped. */
const maxDestinationSignals = 1000;

export function createAlertMonitor(deps: AlertMonitorDeps): AlertMonitor {
  let tallies = new Map<string, PipeTally>();
  const destinationSignals: DestinationSignal[] = [];
  const memory: MonitorMemory = {
    rates: new Map(),
    lastFailures: new Map(),
    due: new Map(),
    quietUntil: new Map(),
  };
  const evaluator = createEvaluator(deps, memory);

  let scheduled = false;
  let pass: Promise<void> | null = null;
  let again = false;
  let ticker: NodeJS.Timeout | null = null;
  let idleWaiters: Array<() => void> = [];

  const hasWork = () =>
    tallies.size > 0 ||
    destinationSignals.length > 0 ||
    [...memory.due.values()].some((d) => d.at <= deps.now());

  const settleIdle = () => {
    if (pass || scheduled) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  };

  /** Takes what is waiting and evaluates it. */
  const runPass = () => {
    const now = deps.now();
    const pipes = tallies;
    tallies = new Map();
    const destinations = destinationSignals.splice(0);
    const flushes = [...memory.due].filter(([, d]) => d.at <= now);
    for (const [key] of flushes) memory.due.delete(key);
    return evaluator.runPass({ pipes, destinations, flushes }, now);
  };

  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    // After the current synchronous emit chain: a breaker's `destination-paused` is emitted just
    // before the `deliveries` of the batch that tripped it, and the pass should see both.
    setImmediate(() => {
      scheduled = false;
      if (pass) {
        again = true;
        return;
      }
      pass = (async () => {
        do {
          again = false;
          await runPass();
        } while (again);
      })()
        .catch((err) => deps.logger.error('evaluating alerts failed', { error: String(err) }))
        .finally(() => {
          pass = null;
          settleIdle();
        });
    });
  };

  const pushSignal = (signal: DestinationSignal) => {
    if (destinationSignals.length >= maxDestinationSignals) return;
    destinationSignals.push(signal);
    schedule();
  };

  const idle = (): Promise<void> => {
    if (!pass && !scheduled) return Promise.resolve();
    return new Promise((resolve) => idleWaiters.push(resolve));
  };

  return {
    onDeliveries(payload) {
      // The engine's listeners must never slow delivery: only count here.
      try {
        const second = Math.floor(deps.now() / 1000);
        const perPipe = tallyDeliveries(tallies, memory.lastFailures, payload);
        for (const [pipeId, counts] of perPipe)
          addRate(memory.rates, pipeId, second, counts.total, counts.failed);
        if (perPipe.size > 0) schedule();
      } catch (err) {
        deps.logger.error('alert bookkeeping failed', { error: String(err) });
      }
    },
    onPaused(payload) {
      pushSignal({ type: 'paused', payload });
    },
    onResumed(payload) {
      pushSignal({ type: 'resumed', payload });
    },
    start() {
      if (ticker) return;
      ticker = setInterval(() => {
        if (hasWork()) schedule();
      }, deps.flushIntervalMs);
      ticker.unref();
    },
    async stop() {
      if (ticker) clearInterval(ticker);
      ticker = null;
      // One last look at what the final batches reported.
      if (tallies.size > 0 || destinationSignals.length > 0) schedule();
      await idle();
    },
    idle,
  };
}
