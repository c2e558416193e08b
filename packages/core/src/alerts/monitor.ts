/**
 * Watches what the dispatcher reports and decides what to tell each channel. This file only wires
 * the parts: the counting (`tally.ts`), the rules (`rules.ts`), the noise reducer (`noise.ts`), the
 * messages (`message.ts`), one evaluation pass (`evaluate.ts`), and the pass runner and volume buffer
 * (`passes.ts`).
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
import type { Store } from '../store.js';
import {
  createEvaluator,
  type DestinationSignal,
  type EvaluateDeps,
  type MonitorMemory,
} from './evaluate.js';
import { createPassRunner, createVolumeBuffer } from './passes.js';
import { addRate, type PipeTally, tallyDeliveries } from './tally.js';

export { incidentKey } from './rules.js';

export interface AlertMonitorDeps extends EvaluateDeps {
  store: EvaluateDeps['store'] & Pick<Store, 'addVolume'>;
  now: () => number;
  /** How often folded counts whose cooldown ended are looked at, ms. */
  flushIntervalMs: number;
  /** How often accepted-event counts are written to the store and volumes checked, ms. Default 60000. */
  volumeIntervalMs?: number;
  /**
   * Whether the ticker checks volumes (default true). An engine that does not ingest counts no
   * events and would read the counts of the engines that do before they write their last minute
   * (a falsely low volume): only engines with the ingest role check.
   */
  checksVolume?: boolean;
}

export interface AlertMonitor {
  onDeliveries(payload: EngineEventMap['deliveries']): void;
  onPaused(payload: EngineEventMap['destination-paused']): void;
  onResumed(payload: EngineEventMap['destination-resumed']): void;
  /** Accepted events of one ingest call, per event type (counted for volume alerts). */
  onAccepted(sourceId: string, perType: ReadonlyMap<string, number>): void;
  /** Writes the counted volumes to the store and checks volumes now (the ticker does it every minute). */
  checkVolume(): Promise<void>;
  start(): void;
  /** Stops the flush timer and waits for the pass in progress. */
  stop(): Promise<void>;
  /** Resolves when nothing is waiting to be evaluated. */
  idle(): Promise<void>;
}

/** Destination signals kept while a pass runs; a flood of pauses beyond this is dropped. */
const maxDestinationSignals = 1000;

/** What the monitor remembers between passes (rates, last failures, folded counts, quiet periods). */
const newMemory = (): MonitorMemory => ({
  rates: new Map(),
  lastFailures: new Map(),
  due: new Map(),
  quietUntil: new Map(),
  destinationRates: new Map(),
  lastVolume: new Map(),
});

export function createAlertMonitor(deps: AlertMonitorDeps): AlertMonitor {
  let tallies = new Map<string, PipeTally>();
  const destinationSignals: DestinationSignal[] = [];
  const memory = newMemory();
  let rated = new Set<string>();
  let volumeDue = false;
  const volume = createVolumeBuffer(deps);
  const volumeIntervalMs = deps.volumeIntervalMs ?? 60_000;
  let nextVolumeAt = deps.now() + volumeIntervalMs;
  const evaluator = createEvaluator(deps, memory);
  let ticker: NodeJS.Timeout | null = null;

  const hasWork = () =>
    tallies.size > 0 ||
    rated.size > 0 ||
    volumeDue ||
    destinationSignals.length > 0 ||
    [...memory.due.values()].some((d) => d.at <= deps.now());

  /** Takes what is waiting and evaluates it. */
  const runPass = () => {
    const now = deps.now();
    const pipes = tallies;
    tallies = new Map();
    const destinations = destinationSignals.splice(0);
    const flushes = [...memory.due].filter(([, d]) => d.at <= now);
    for (const [key] of flushes) memory.due.delete(key);
    const ratedNow = rated;
    rated = new Set();
    const volumeNow = volumeDue;
    volumeDue = false;
    return evaluator.runPass({ pipes, destinations, flushes, rated: ratedNow, volume: volumeNow }, now);
  };
  const passes = createPassRunner(runPass, deps.logger);
  const { schedule, idle } = passes;

  let volumeRun: Promise<void> | null = null;
  const checkVolume = () => {
    volumeRun ??= (async () => {
      await volume.flush();
      volumeDue = true;
      schedule();
      await idle();
    })().finally(() => {
      volumeRun = null;
    });
    return volumeRun;
  };

  const pushSignal = (signal: DestinationSignal) => {
    if (destinationSignals.length >= maxDestinationSignals) return;
    destinationSignals.push(signal);
    schedule();
  };

  /** Counts one recorded batch per pipe and into the failure rates; the pass does the rest. */
  const countDeliveries = (payload: EngineEventMap['deliveries']) => {
    const second = Math.floor(deps.now() / 1000);
    const perPipe = tallyDeliveries(tallies, memory.lastFailures, payload);
    let total = 0;
    let failed = 0;
    for (const [pipeId, counts] of perPipe) {
      addRate(memory.rates, pipeId, second, counts.total, counts.failed);
      total += counts.total;
      failed += counts.failed;
    }
    if (total > 0) {
      addRate(memory.destinationRates, payload.destination_id, second, total, failed);
      rated.add(payload.destination_id);
    }
    if (perPipe.size > 0) schedule();
  };

  return {
    onDeliveries(payload) {
      // The engine's listeners must never slow delivery: only count here.
      try {
        countDeliveries(payload);
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
    onAccepted(sourceId, perType) {
      try {
        volume.count(deps.now(), sourceId, perType);
      } catch (err) {
        deps.logger.error('alert bookkeeping failed', { error: String(err) });
      }
    },
    checkVolume,
    start() {
      if (ticker) return;
      nextVolumeAt = deps.now() + volumeIntervalMs;
      ticker = setInterval(() => {
        if (deps.checksVolume !== false && deps.now() >= nextVolumeAt) {
          nextVolumeAt = deps.now() + volumeIntervalMs;
          void checkVolume();
        }
        if (hasWork()) schedule();
      }, deps.flushIntervalMs);
      ticker.unref();
    },
    async stop() {
      if (ticker) clearInterval(ticker);
      ticker = null;
      // One last look at what the final batches reported, and the last counts written.
      if (tallies.size > 0 || destinationSignals.length > 0) schedule();
      await idle();
      if (volume.pending()) await volume.flush();
    },
    idle,
  };
}
