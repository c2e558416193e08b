/**
 * What the engine reports about its own work, for metrics: events accepted and refused, transform
 * and send durations, recorded delivery outcomes, breaker changes. One small interface so that the
 * engine knows nothing about Prometheus; `@openpipes/http`'s `createMetrics()` implements it.
 *
 * Observers are called synchronously on the hot path: they MUST be cheap (increment a counter) and
 * MUST NOT throw (a throw is caught and dropped, so that a metrics bug never loses a delivery).
 * Names in observations are the operator's names (source slug, pipe and destination names), never
 * ids or anything a sender chose, so metric labels stay few.
 */
import type { DeliveryStatus } from './schemas.js';

/**
 * Why one event of an ingest call was refused (lowercase error codes).
 *
 * @example
 * ```ts
 * const reason: EventRejectReason = 'validation_failed';
 * ```
 */
export type EventRejectReason = 'validation_failed' | 'unknown_event_type';

/**
 * Receives the engine's observations. Every method is optional.
 *
 * @example
 * ```ts
 * const stop = pipes.observe({
 *   ingested: ({ source, accepted }) => console.log(`${accepted} events for ${source}`),
 * });
 * ```
 */
export interface EngineObserver {
  /** One ingest call finished: its events accepted, duplicate, or refused (by reason). */
  ingested?(observation: {
    source: string;
    accepted: number;
    duplicates: number;
    rejected: Partial<Record<EventRejectReason, number>>;
  }): void;
  /** One transform call over a group of deliveries of a pipe ran (`ok: false` when the whole call failed). */
  transformed?(observation: { pipe: string; seconds: number; ok: boolean }): void;
  /** One `send()` call of a destination ran, network included (`ok: false` when it threw or timed out). */
  sent?(observation: { destination: string; seconds: number; ok: boolean }): void;
  /**
   * The outcomes of one batch were written to the store. `attempted` is false for outcomes no
   * attempt was made for (`filtered`).
   */
  recorded?(observation: {
    destination: string;
    /** `match`: a delivered event's identifiers before and after stitching, when measured. */
    outcomes: Array<{
      pipe: string;
      status: DeliveryStatus;
      attempted: boolean;
      match?: { raw: string[]; stitched: string[] };
    }>;
  }): void;
  /** A destination's circuit breaker opened (`paused: true`) or closed again. */
  breaker?(observation: { destination: string; paused: boolean }): void;
}

/** Every method present; what the engine calls. */
export type FullObserver = Required<EngineObserver>;

const methods = ['ingested', 'transformed', 'sent', 'recorded', 'breaker'] as const;

/**
 * A fan-out over the observers added with `add`; with none it does nothing. A throwing observer is
 * skipped (see the contract above).
 */
export function createObservers(): { observer: FullObserver; add(o: EngineObserver): () => void } {
  const observers = new Set<EngineObserver>();
  const observer = {} as Record<(typeof methods)[number], (o: never) => void>;
  for (const method of methods) {
    observer[method] = (observation: never) => {
      for (const o of observers) {
        try {
          (o[method] as ((x: never) => void) | undefined)?.(observation);
        } catch {
          // A metrics bug must never fail a delivery or an ingest.
        }
      }
    };
  }
  return {
    observer: observer as unknown as FullObserver,
    add(o) {
      observers.add(o);
      return () => observers.delete(o);
    },
  };
}
