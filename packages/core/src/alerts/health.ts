/**
 * An alert channel's health, kept in the store's shared state: its last delivery, its failures in a
 * row and in all, and the messages dropped because its queue was full.
 */
import type { Logger } from '../logger.js';
import type { AlertChannelHealth, AlertSendResult } from './schemas.js';

/** Small shared JSON state (the store's `getState` / `setState`). */
export interface AlertStateStore {
  get(key: string): Promise<unknown | null>;
  set(key: string, value: unknown | null): Promise<void>;
}

/** Where a channel's health lives in the store's state. */
export const channelHealthKey = (channelId: string) => `alerts:channel:${channelId}:health`;

export const emptyHealth = (): AlertChannelHealth => ({
  last_delivery: null,
  consecutive_failures: 0,
  failure_count: 0,
  dropped_count: 0,
});

/** Reads a stored health value defensively. */
export function toHealth(value: unknown): AlertChannelHealth {
  const raw = (value ?? {}) as Partial<AlertChannelHealth>;
  const count = (n: unknown) => (typeof n === 'number' && Number.isFinite(n) && n >= 0 ? Math.floor(n) : 0);
  return {
    last_delivery: raw.last_delivery ?? null,
    consecutive_failures: count(raw.consecutive_failures),
    failure_count: count(raw.failure_count),
    dropped_count: count(raw.dropped_count),
  };
}

/** Counts one delivery's outcome into `health`: a success ends a run of failures. */
export function recordOutcome(health: AlertChannelHealth, result: AlertSendResult): void {
  health.last_delivery = result;
  if (result.ok) health.consecutive_failures = 0;
  else {
    health.consecutive_failures++;
    health.failure_count++;
  }
}

export interface HealthUpdates {
  /** Reads, changes and writes a channel's health after this process's earlier updates of it. */
  update(channelId: string, change: (health: AlertChannelHealth) => void): Promise<void>;
  /** Resolves when every update started so far has been written (or failed and been logged). */
  settled(): Promise<void>;
}

/**
 * Health updates are read-modify-write; one chain per channel keeps this process's own updates from
 * overwriting each other. A failed write is logged as a warning and never rejects.
 */
export function createHealthUpdates(state: AlertStateStore, logger: Logger): HealthUpdates {
  const chains = new Map<string, Promise<void>>();
  return {
    update(channelId, change) {
      const previous = chains.get(channelId) ?? Promise.resolve();
      const next = previous
        .then(async () => {
          const key = channelHealthKey(channelId);
          const health = toHealth(await state.get(key));
          change(health);
          await state.set(key, health);
        })
        .catch((err) =>
          logger.warn('could not record an alert channel health', {
            channel_id: channelId,
            error: String(err),
          }),
        );
      chains.set(channelId, next);
      void next.finally(() => {
        if (chains.get(channelId) === next) chains.delete(channelId);
      });
      return next;
    },
    async settled() {
      await Promise.all([...chains.values()]);
    },
  };
}
