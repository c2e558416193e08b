/**
 * What the engine tells listeners about: recorded delivery outcomes and circuit-breaker changes.
 * Alerts and metrics hang off these. Listeners run synchronously after the store write; a listener
 * that throws is logged and does not affect delivery.
 */
import type { DeliveryStatus } from './schemas.js';

export interface EngineEventMap {
  /** Outcomes of one batch, after they were written to the store. */
  deliveries: {
    destination_id: string;
    destination: string;
    outcomes: Array<{
      id: string;
      pipe_id: string;
      event_id: string;
      status: DeliveryStatus;
      error: { code: string; message: string } | null;
    }>;
  };
  /** A destination's circuit breaker opened: its lane pauses until `paused_until`. */
  'destination-paused': {
    destination_id: string;
    destination: string;
    consecutive_failures: number;
    paused_until: string;
    reason: string;
    /** True when a probe after a pause failed again. */
    reopened: boolean;
  };
  /** A paused destination delivered again. */
  'destination-resumed': { destination_id: string; destination: string };
}

export type EngineEventName = keyof EngineEventMap;

export interface EngineEvents {
  /**
   * Subscribes; returns the unsubscribe function.
   *
   * @example
   * ```ts
   * pipes.on('destination-paused', (e) => console.warn(`${e.destination} paused: ${e.reason}`));
   * ```
   */
  on<K extends EngineEventName>(event: K, listener: (payload: EngineEventMap[K]) => void): () => void;
  emit<K extends EngineEventName>(event: K, payload: EngineEventMap[K]): void;
}

export function createEngineEvents(onListenerError: (error: unknown) => void): EngineEvents {
  const listeners = new Map<EngineEventName, Set<(payload: never) => void>>();
  return {
    on(event, listener) {
      const set = listeners.get(event) ?? new Set();
      set.add(listener as (payload: never) => void);
      listeners.set(event, set);
      return () => set.delete(listener as (payload: never) => void);
    },
    emit(event, payload) {
      for (const listener of listeners.get(event) ?? []) {
        try {
          (listener as (p: typeof payload) => void)(payload);
        } catch (err) {
          onListenerError(err);
        }
      }
    },
  };
}
