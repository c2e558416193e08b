/**
 * Checkpoints on a thread of their own. In WAL mode SQLite copies the log back into the database
 * file (a checkpoint) on the connection whose commit took the log past `wal_autocheckpoint` pages
 * (1,000 by default): that thread, ingest's or dispatch's, stops for the copy and two fsyncs, ~20 ms
 * per 1,000 pages here, as long as the transactions that wrote them (docs/deployment.md,
 * "Checkpoints on a thread of their own"). With checkpoints in the background a thread copies the
 * log every {@link checkpointIntervalMs} with PASSIVE checkpoints, which wait for no writer and
 * block none, while the writers' own threshold rises to {@link backgroundWalLimitPages}. The writers still
 * checkpoint there: what the thread has not copied yet, usually a few pages, and the log can start
 * again from its beginning only after a checkpoint that copied all of it, which a thread that
 * copies while others write rarely makes. If the thread cannot start or dies, the writers'
 * threshold still bounds the log.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * The writers' `wal_autocheckpoint` while a checkpoint thread copies the log: 32 MiB of 4 KiB
 * pages, which bounds the log (it starts again from its beginning after the writer's checkpoint).
 */
export const backgroundWalLimitPages = 8192;
/** How often the checkpoint thread copies the log. */
export const checkpointIntervalMs = 50;

/** Words of the control buffer shared with the checkpoint thread. */
export const controlWord = { paused: 0, running: 1 } as const;

/** What the checkpoint thread is started with. */
export interface CheckpointWorkerData {
  filename: string;
  synchronous: 'NORMAL' | 'FULL';
  intervalMs: number;
  control: SharedArrayBuffer;
}

/** A running checkpoint thread. */
export interface Checkpointer {
  /**
   * Runs `fn` with no checkpoint of the thread's running (one running is waited for first, up to
   * `waitMs`): for a checkpoint of the caller's own that must not find the log's lock taken
   * (erasure's TRUNCATE).
   */
  paused<T>(fn: () => T, waitMs?: number): T;
  /** Stops the thread; resolves once it has closed its connection and ended. */
  stop(): Promise<void>;
}

/**
 * Starts the checkpoint thread for `filename` (which exists, in WAL mode), or returns null when its
 * module is not there (a bundle without it): the writers' threshold then does the work inline.
 */
export function startCheckpointer(
  filename: string,
  synchronous: 'NORMAL' | 'FULL',
  options: { intervalMs?: number; onFailure?: (error: unknown) => void } = {},
): Checkpointer | null {
  const file = workerFile();
  if (!file) return null;
  const control = new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
  const workerData: CheckpointWorkerData = {
    filename,
    synchronous,
    intervalMs: options.intervalMs ?? checkpointIntervalMs,
    control: control.buffer as SharedArrayBuffer,
  };
  // No flags of the host's (`--input-type` would stop the worker's module from loading).
  const worker = new Worker(file, { workerData, execArgv: [], name: 'openpipes-checkpoint' });
  worker.unref();
  let failure: unknown = null;
  worker.on('error', (error) => {
    failure = error;
  });
  const ended = new Promise<void>((resolve) => {
    worker.once('exit', (code) => {
      if (code !== 0 || failure) (options.onFailure ?? warn)(failure ?? new Error(`exited with ${code}`));
      resolve();
    });
  });
  let stopping: Promise<void> | null = null;
  return {
    paused(fn, waitMs = 2_000) {
      Atomics.add(control, controlWord.paused, 1);
      try {
        const deadline = performance.now() + waitMs;
        for (;;) {
          const left = deadline - performance.now();
          if (Atomics.load(control, controlWord.running) === 0 || left <= 0) break;
          Atomics.wait(control, controlWord.running, 1, left);
        }
        return fn();
      } finally {
        Atomics.sub(control, controlWord.paused, 1);
      }
    },
    stop() {
      if (!stopping) {
        // Referenced again while it stops: a program whose last await is the store's close() would
        // otherwise end there, its event loop empty, with that promise unsettled.
        worker.ref();
        worker.postMessage('stop');
        // A thread stuck in a call (a checkpoint on a hung disk) is stopped, not waited for.
        const hung = setTimeout(() => void worker.terminate(), 2_000);
        hung.unref();
        stopping = ended.finally(() => clearTimeout(hung));
      }
      return stopping;
    },
  };
}

/** The built checkpoint-worker.js: beside this module in dist, or dist's from src (tests). */
function workerFile(): string | null {
  for (const candidate of ['./checkpoint-worker.js', '../dist/checkpoint-worker.js']) {
    const file = fileURLToPath(new URL(candidate, import.meta.url));
    if (existsSync(file)) return file;
  }
  return null;
}

function warn(error: unknown) {
  process.emitWarning(`the SQLite checkpoint thread stopped: ${String(error)}`, {
    code: 'OPENPIPES_CHECKPOINT_THREAD',
  });
}
