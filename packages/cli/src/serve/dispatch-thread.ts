/**
 * The dispatcher of `openpipes serve` on a worker thread of its own (dispatch-worker.ts), so that
 * ingest and the admin API on the main thread and delivery on the worker use two cores. The main
 * thread keeps what the user sees in one place:
 *
 * - wake-ups: destinations with new due deliveries reach the worker at once (one `wake` message
 *   per tick) when the store has no wake-ups of its own (SQLite); PostgreSQL's NOTIFY reaches the
 *   worker's LISTEN as it reaches any other process, so nothing is sent twice;
 * - configuration writes: one `config` message per tick (the worker's `pipes.configChanged()`);
 * - the worker's log lines go through the main thread's logger, its observations to the main
 *   thread's observers (`GET /metrics`), its breakers to `status()` (`/api/stats`, `/api/backlog`);
 * - a worker that dies is logged and replaced, with a growing delay (250 ms up to 30 s); what it
 *   had claimed is claimed again when the leases expire, so nothing is lost;
 * - `stop(graceMs)` lets the in-flight deliveries finish and be recorded, closes the worker's store
 *   and ends the thread.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { EngineObserver, Logger, Pipes, Role, Sandbox, SandboxStats } from '@openpipes/core';
import { releaseWriteTurnOf } from '@openpipes/store-sqlite';
import { createMainOutbox } from './dispatch-outbox.js';
import type {
  DispatchStatus,
  DispatchThreadConfig,
  FromWorker,
  ObserverMethod,
  ToWorker,
} from './dispatch-protocol.js';

export interface DispatchThread {
  /** Wakes the worker's lanes of these destinations (coalesced: one message per tick). */
  wake(destinationIds: string[]): void;
  /**
   * The main thread wrote configuration: the worker reads it again before its next batch instead of
   * within its cache's staleness allowance, and starts lanes for destinations enabled meanwhile
   * (coalesced: one message per tick however many writes, sent before that tick's wake so before
   * the wake of any event that follows the write).
   */
  configChanged(): void;
  /** Adds an observer of the worker's engine; returns the function that removes it. */
  observe(observer: EngineObserver): () => void;
  /** The worker's dispatcher: claim owner and breakers (null while none is running). */
  status(): DispatchStatus | null;
  /** The worker's sandbox pool (null while none answers). */
  sandboxStats(): Promise<SandboxStats | null>;
  /** Stops the worker: in-flight deliveries finish and are recorded within `graceMs`. */
  stop(graceMs: number): Promise<void>;
  /** The worker thread now running (tests kill it), or null. */
  current(): Worker | null;
}

const minBackoffMs = 250;
const maxBackoffMs = 30_000;
/** A worker that ran this long resets the backoff. */
const healthyAfterMs = 60_000;
/** How long a stop waits beyond the grace period for the worker to close its store and end. */
const stopSlackMs = 5_000;
/**
 * The dispatch thread's young generation (MiB; V8 sizes its semi-spaces from it). A claimed batch of
 * 500 allocates megabytes that live until it is recorded (rows, parsed payloads, the request, the
 * records and their JSON): with V8's default, scavenges come every few batches and copy what the
 * batch in flight still holds (the likely reason, not measured apart). Measured ~5 % less CPU on this thread per delivered event, peak
 * RSS +11-33 MB: docs/deployment.md, "The dispatch thread's CPU (session 16)".
 */
const dispatchYoungGenerationMb = 192;

/** Finds dist/dispatch-worker.js: beside this module when built, or the build when run from source. */
function workerFile(): string {
  const candidates = [
    new URL('./dispatch-worker.js', import.meta.url),
    new URL('../../dist/dispatch-worker.js', import.meta.url),
  ];
  for (const candidate of candidates) {
    const path = fileURLToPath(candidate);
    if (existsSync(path)) return path;
  }
  throw new Error('dispatch-worker.js not found: build @openpipes/cli first');
}

/** What the main thread knows of its dispatch thread, shared by the supervisor and the handle. */
interface Supervision {
  worker: Worker | null;
  status: DispatchStatus | null;
  stopping: boolean;
  failures: number;
  restartTimer: NodeJS.Timeout | undefined;
  /** Resolves when the current worker has ended. */
  exited: Promise<void>;
  /** Settles the first start (null once it has). */
  firstStart: { resolve: () => void; reject: (err: Error) => void } | null;
  observers: Set<EngineObserver>;
  statsWaiters: Map<number, (stats: SandboxStats | null) => void>;
}

/** Handles the worker's messages, and replaces it when it ends unasked; returns `spawn`. */
function supervise(file: string, config: DispatchThreadConfig, logger: Logger, state: Supervision) {
  const deliver = (method: ObserverMethod, observation: unknown) => {
    for (const o of state.observers) {
      try {
        (o[method] as ((x: unknown) => void) | undefined)?.(observation);
      } catch {
        // As in the engine: a metrics bug never fails anything.
      }
    }
  };
  const settleFirst = (err: Error | null) => {
    if (err) state.firstStart?.reject(err);
    else state.firstStart?.resolve();
    state.firstStart = null;
  };

  const onMessage = (message: FromWorker) => {
    if (message.type === 'batch') {
      for (const { level, message: text, fields } of message.logs) logger[level](text, fields);
      for (const [method, observation] of message.observations) deliver(method, observation);
      if (message.status) state.status = message.status;
    } else if (message.type === 'ready') {
      state.status = message.status;
      settleFirst(null);
    } else if (message.type === 'failed') {
      if (state.firstStart) settleFirst(new Error(message.message));
      else logger.error('the dispatch thread could not start its engine', { error: message.message });
      void state.worker?.terminate();
    } else if (message.type === 'stats') {
      state.statsWaiters.get(message.id)?.(message.stats);
      state.statsWaiters.delete(message.id);
    } else if (message.type === 'stopped') {
      void state.worker?.terminate();
    }
  };

  const onExit = (own: Worker, startedAt: number, code: number) => {
    if (state.worker === own) state.worker = null;
    state.status = null;
    for (const waiter of state.statsWaiters.values()) waiter(null);
    state.statsWaiters.clear();
    if (state.stopping) return;
    if (state.firstStart) {
      settleFirst(new Error(`the dispatch thread ended (exit code ${code}) before it started`));
      return;
    }
    if (Date.now() - startedAt >= healthyAfterMs) state.failures = 0;
    const delay = Math.min(maxBackoffMs, minBackoffMs * 2 ** state.failures);
    state.failures++;
    logger.error('the dispatch thread stopped unexpectedly; starting a new one', {
      exit_code: code,
      restart_in_ms: delay,
    });
    state.restartTimer = setTimeout(spawn, delay);
  };

  const spawn = () => {
    state.restartTimer = undefined;
    const startedAt = Date.now();
    const own = new Worker(file, {
      workerData: config,
      name: 'openpipes-dispatch',
      resourceLimits: { maxYoungGenerationSizeMb: dispatchYoungGenerationMb },
    });
    state.worker = own;
    const ownThreadId = own.threadId;
    const releaseTurn = () => {
      if (config.database.kind === 'sqlite' && config.database.writeTurn)
        releaseWriteTurnOf(config.database.writeTurn, ownThreadId);
    };
    // Whoever ends it (a stop, a start that failed, a test) releases its write turn then, not only
    // in its exit event, which cannot run while the main thread waits for that very turn: the main
    // thread's next write would wait its whole busy_timeout (store-sqlite write-turn.ts).
    const terminate = own.terminate.bind(own);
    own.terminate = () => {
      releaseTurn();
      return terminate();
    };
    own.on('message', onMessage);
    own.on('error', (err) => {
      if (state.firstStart) settleFirst(err);
      else logger.error('the dispatch thread failed', { error: String(err) });
    });
    state.exited = new Promise((resolveExit) => {
      own.once('exit', (code) => {
        // Ended inside a write in a way nobody saw coming (a resource limit): the main thread's
        // store must not wait for its turn.
        releaseTurn();
        onExit(own, startedAt, code);
        resolveExit();
      });
    });
  };
  return spawn;
}

/**
 * Starts the worker and resolves once its engine runs; rejects when the first one does not start
 * (a wrong secret key, a store it cannot open), so `openpipes serve` fails as before.
 */
export function startDispatchThread(config: DispatchThreadConfig, logger: Logger): Promise<DispatchThread> {
  const state: Supervision = {
    worker: null,
    status: null,
    stopping: false,
    failures: 0,
    restartTimer: undefined,
    exited: Promise.resolve(),
    firstStart: null,
    observers: new Set(),
    statsWaiters: new Map(),
  };
  const spawn = supervise(workerFile(), config, logger, state);
  let nextStatsId = 1;
  const send = (message: ToWorker) => {
    try {
      state.worker?.postMessage(message);
    } catch {
      // The worker is ending; a new one claims whatever is due when it starts.
    }
  };
  const outbox = createMainOutbox(send);

  const handle: DispatchThread = {
    wake(destinationIds) {
      if (config.wakeFromMain && !state.stopping) outbox.wake(destinationIds);
    },
    configChanged() {
      if (!state.stopping) outbox.configChanged();
    },
    observe(observer) {
      state.observers.add(observer);
      return () => {
        state.observers.delete(observer);
      };
    },
    status: () => state.status,
    sandboxStats() {
      if (!state.worker || !state.status) return Promise.resolve(null);
      const id = nextStatsId++;
      return new Promise((resolveStats) => {
        state.statsWaiters.set(id, resolveStats);
        send({ type: 'stats', id });
      });
    },
    async stop(graceMs) {
      if (state.stopping) return state.exited;
      state.stopping = true;
      clearTimeout(state.restartTimer);
      const running = state.worker;
      if (!running) return;
      send({ type: 'stop', graceMs });
      let timer: NodeJS.Timeout | undefined;
      const ended = await Promise.race([
        state.exited.then(() => true),
        new Promise<boolean>((resolveTimeout) => {
          timer = setTimeout(() => resolveTimeout(false), graceMs + stopSlackMs);
        }),
      ]);
      clearTimeout(timer);
      if (!ended) {
        logger.warn('the dispatch thread did not stop in time; ending it', { grace_ms: graceMs });
        await running.terminate();
      }
    },
    current: () => state.worker,
  };

  return new Promise((resolveStart, rejectStart) => {
    state.firstStart = {
      resolve: () => resolveStart(handle),
      reject: (err) => {
        state.stopping = true;
        void state.worker?.terminate();
        rejectStart(err);
      },
    };
    spawn();
  });
}

/**
 * The engine the HTTP handler is given: the main thread's (ingest, the admin API, send tests,
 * previews), with the dispatch thread's observations, breakers, claim owner and sandbox pool
 * statistics joined in, so that `/metrics`, `/api/stats` and `/api/backlog` read as they did in one thread.
 */
export function joinDispatchThread(pipes: Pipes, thread: DispatchThread, roles: Role[]): Pipes {
  return {
    ...pipes,
    observe(observer) {
      const own = pipes.observe(observer);
      const theirs = thread.observe(observer);
      return () => {
        own();
        theirs();
      };
    },
    status() {
      const own = pipes.status();
      const dispatch = thread.status();
      // `running` only while both run: a dispatch thread that died (and is being replaced, or
      // keeps dying) shows as not running in `/healthz` and `/api/stats`, not only in the log.
      return {
        ...own,
        running: own.running && dispatch !== null,
        roles,
        owner: dispatch?.owner ?? own.owner,
        breakers: dispatch?.breakers ?? {},
      };
    },
    // `openpipes_sandbox_*` describe the pool `--workers` sizes: the dispatcher's. (The main
    // thread's one worker runs only send tests and previews.)
    sandbox: Object.assign(Object.create(pipes.sandbox) as Sandbox, {
      async stats(): Promise<SandboxStats> {
        const stats = await thread.sandboxStats();
        if (!stats) throw new Error('the dispatch thread is not running');
        return stats;
      },
    }),
  };
}
