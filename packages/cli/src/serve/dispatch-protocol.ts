/**
 * What `openpipes serve`'s main thread and its dispatch thread (dispatch-thread.ts,
 * dispatch-worker.ts) say to each other. Every message is a plain object (structured clone).
 *
 * Main → worker: `wake` (destinations with new due deliveries, coalesced per tick; SQLite only:
 * PostgreSQL's LISTEN/NOTIFY wakes the worker's own store), `config` (the main thread wrote
 * configuration, coalesced per tick and sent before that tick's `wake`: the worker calls
 * `pipes.configChanged()`), `stop`, `stats` (the sandbox pool's).
 * Worker → main: `ready`, `failed` (the engine did not start), `batch` (the log lines, engine
 * observations and breaker states of one tick), `stats`, `stopped`.
 */
import type { BreakerState, EngineObserver, SandboxStats } from '@openpipes/core';
import type { LogLevel } from './logger.js';
import type { ServePostgres } from './postgres-options.js';

/** Everything the worker needs to build its engine (its `workerData`). */
export interface DispatchThreadConfig {
  database: /** `writeTurn`: the main thread's store's (store-sqlite write-turn.ts), shared with the worker's. */
  { kind: 'sqlite'; filename: string; writeTurn?: SharedArrayBuffer } | ServePostgres;
  secretKey: string;
  egressAllow: string[];
  publicBaseUrl?: string;
  identity: boolean | { respectConsent: false };
  /** Sandbox worker threads of the dispatcher (default one per core). */
  workers?: number;
  pollIntervalMs?: number;
  logLevel: LogLevel;
  /** The main thread sends `wake` messages (a store without `subscribe()`: SQLite). */
  wakeFromMain: boolean;
}

export type ObserverMethod = keyof Required<EngineObserver>;
export const observerMethods: readonly ObserverMethod[] = [
  'ingested',
  'transformed',
  'sent',
  'recorded',
  'breaker',
];

export interface LogEntry {
  level: LogLevel;
  message: string;
  fields: Record<string, unknown>;
}

export interface DispatchStatus {
  owner: string;
  breakers: Record<string, BreakerState>;
}

export type ToWorker =
  | { type: 'wake'; ids: string[] }
  | { type: 'config' }
  | { type: 'stop'; graceMs: number }
  | { type: 'stats'; id: number };

export type FromWorker =
  | { type: 'ready'; status: DispatchStatus }
  | { type: 'failed'; message: string }
  | {
      type: 'batch';
      logs: LogEntry[];
      observations: Array<[ObserverMethod, unknown]>;
      status?: DispatchStatus;
    }
  | { type: 'stats'; id: number; stats: SandboxStats | null }
  | { type: 'stopped' };
