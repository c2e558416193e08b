/**
 * The write turn: the threads of one process that write the same SQLite file (in `openpipes serve`,
 * ingest on the main thread and delivery on the dispatch thread) take turns here before `BEGIN
 * IMMEDIATE`, instead of inside SQLite.
 *
 * SQLite lets one connection write at a time. A connection that finds the lock taken sleeps in its
 * busy handler (1, 2, 5, 10, 15, 20, 25 ms ... up to `busy_timeout`) and looks again, so the lock
 * mostly stays idle after it is released while the waiter sleeps on. Under the pipeline bench the
 * dispatch thread spent longer in `BEGIN IMMEDIATE` than in its transactions (1.9 s against 2.2 s
 * of 9.7 s), and the main thread 1.0 s. Here a waiter blocks on the turn with `Atomics.wait` and the
 * thread that ends its transaction wakes it at once (`Atomics.notify`), handing the turn to a thread
 * that waited rather than taking it back for its own next transaction.
 *
 * The turn only orders the process's own threads; SQLite's lock still decides who writes. So a
 * thread that cannot get the turn within its wait (a holder that hangs) goes on without it, to
 * `BEGIN IMMEDIATE` and what is left of SQLite's own wait (connection.ts). Other processes on the
 * same file never see the turn.
 *
 * A thread that ends inside a transaction does not give the turn back (a terminated thread runs no
 * more code, not even `finally`), and its owner's `exit` event, which frees it
 * ({@link releaseWriteTurnOf}), cannot run while the owner's own thread is blocked waiting for that
 * turn: it would wait its whole deadline (busy_timeout, 5 s) for a thread that is gone. So:
 * - a thread that exits by itself (`process.exit` in a worker) frees the turn it holds in its own
 *   `exit` event, which runs before it ends;
 * - an owner that ends a worker calls {@link releaseWriteTurnOf} as it calls `terminate()`, not
 *   only in the `exit` event: the thread is recorded as ended, and a turn it still takes before
 *   the termination reaches it counts as free to the others.
 * Only a thread that ends in another way (a resource limit) still costs one such wait.
 *
 * The shared words (Int32Array over a SharedArrayBuffer):
 * - `state`: 0 free; a positive number `n`: taken by the thread numbered `n` (one word, so that its
 *   owner can free a turn held by a thread that ended, wherever that thread was stopped); a
 *   negative number `-n`: handed over by the thread numbered `n`, to be
 *   taken by any thread that waited except `n` itself (unless no other thread waits any more, or
 *   none took it within a slice: the one it was for has ended);
 * - one slot per waiting thread, holding its number (0 when free), so that a turn is handed only to
 *   a thread that waits, and a thread that ended while it waited stops counting as one;
 * - the numbers of the last threads their owners ended (a ring; word 1 counts them): a turn held by
 *   one of them is free.
 *
 * A thread's number is its `worker_threads` threadId + 1 (the main thread's threadId is 0).
 */
import { threadId } from 'node:worker_threads';

const stateWord = 0;
/** How many threads were recorded as ended: the next one goes to `firstEnded + count % ended`. */
const endedCount = 1;
/** One word per waiting thread (its number), so that its owner can clear it if it ends. */
const firstSlot = 2;
const slots = 14;
/**
 * The ring of threads recorded as ended. A thread needs its place only from its owner's
 * `terminate()` to its `exit` event (it runs no code after that), so four outlast any owner's
 * restarts (`openpipes serve` runs one worker at a time).
 */
const firstEnded = firstSlot + slots;
const ended = 4;
const words = firstEnded + ended;

/**
 * Longest single wait before a waiter looks at the turn again (a handover nobody took, say); and how
 * long a thread's handover may stand untaken before it takes the turn back itself.
 */
const sliceMs = 20;

/**
 * The turns this thread holds now (their release), freed if it exits inside a transaction: by
 * `process.exit` in a worker, whose `exit` event runs here before the thread ends, and whose
 * termination then skips every `finally` that would have given them back.
 */
const heldHere = new Set<() => void>();
process.once('exit', () => {
  for (const release of heldHere) release();
  heldHere.clear();
});

/**
 * A new write turn, to pass as `writeTurn` to every `sqliteStore` of this process that opens the
 * same file (across worker threads: through `workerData`, which shares it).
 *
 * @example
 * ```ts
 * const writeTurn = createWriteTurn();
 * const store = sqliteStore({ filename, writeTurn });
 * new Worker(file, { workerData: { filename, writeTurn } });
 * ```
 */
export function createWriteTurn(): SharedArrayBuffer {
  return new SharedArrayBuffer(words * Int32Array.BYTES_PER_ELEMENT);
}

/** Takes and gives back the turn for this thread. */
export interface WriteTurnHandle {
  /** Waits for the turn up to `waitMs`; false when it went on without it (see the module's note). */
  take(waitMs: number): boolean;
  /** Gives the turn back, to a thread that waits if one does. */
  give(): void;
}

/**
 * This thread's handle on a turn made by {@link createWriteTurn}.
 *
 * @example
 * ```ts
 * const turn = writeTurnOf(buffer);
 * const had = turn.take(5000);
 * try { write(); } finally { if (had) turn.give(); }
 * ```
 */
export function writeTurnOf(buffer: SharedArrayBuffer, thread = threadId + 1): WriteTurnHandle {
  const shared = new Int32Array(buffer, 0, words);
  const claim = (seen: number) => Atomics.compareExchange(shared, stateWord, seen, thread) === seen;
  const release = () => free(shared, thread);
  const othersWait = () => {
    for (let i = firstSlot; i < firstEnded; i++) {
      const waiter = Atomics.load(shared, i);
      if (waiter !== 0 && waiter !== thread) return true;
    }
    return false;
  };
  // More waiting threads than slots: the rest wait unlisted (they still take a free turn).
  const enlist = () => {
    for (let i = firstSlot; i < firstEnded; i++)
      if (Atomics.compareExchange(shared, i, 0, thread) === 0) return i;
    return -1;
  };
  const take = (waitMs: number): boolean => {
    if (claim(0)) return true;
    // This thread has it already (a second store of the same file on one thread): waiting would
    // only end at the deadline.
    if (Atomics.load(shared, stateWord) === thread) return false;
    // A monotonic clock: a wall clock set back while it waits would lengthen the wait as much.
    const deadline = performance.now() + waitMs;
    const slot = enlist();
    // This thread's own handover stood untaken for a whole slice: see below.
    let untaken = false;
    try {
      for (;;) {
        const seen = Atomics.load(shared, stateWord);
        if (seen === 0 && claim(0)) return true;
        // Held by a thread its owner ended: it will never give it back.
        if (seen > 0 && hasEnded(shared, seen) && claim(seen)) return true;
        // A handover is for a thread that waited; the thread that made it takes it back only
        // when no other thread waits any more (the one it was for gave up or ended meanwhile),
        // or when none took it within a slice: a waiter is woken at once, so one that has not
        // taken it by then has ended (stopped while it waited, its owner yet to clear its
        // place; the owner may be this very thread, which cannot while it waits here).
        if (seen < 0 && (seen !== -thread || untaken || !othersWait()) && claim(seen)) return true;
        const left = deadline - performance.now();
        if (left <= 0) return false;
        if (seen !== 0)
          untaken =
            Atomics.wait(shared, stateWord, seen, Math.min(left, sliceMs)) === 'timed-out' &&
            seen === -thread &&
            left >= sliceMs;
      }
    } finally {
      if (slot >= 0) Atomics.store(shared, slot, 0);
    }
  };
  return {
    take(waitMs) {
      const had = take(waitMs);
      if (had) heldHere.add(release);
      return had;
    },
    give() {
      heldHere.delete(release);
      Atomics.store(shared, stateWord, othersWait() ? -thread : 0);
      Atomics.notify(shared, stateWord);
    },
  };
}

/** Frees the turn if `thread` holds it, and wakes its waiters; true when it held it. */
function free(shared: Int32Array, thread: number): boolean {
  if (Atomics.compareExchange(shared, stateWord, thread, 0) !== thread) return false;
  Atomics.notify(shared, stateWord);
  return true;
}

function hasEnded(shared: Int32Array, thread: number): boolean {
  for (let i = firstEnded; i < words; i++) if (Atomics.load(shared, i) === thread) return true;
  return false;
}

/**
 * Records the thread with this `worker_threads` threadId as ended, frees the turn if it holds it, and
 * its place among the waiters: for the owner of a worker that ended (its `exit` event), which may
 * have been stopped inside a transaction or while it waited, and of a worker it ends, as it calls
 * `terminate()`: the thread runs on until the termination reaches it, and a turn it takes
 * meanwhile counts as free to the others (see the module's note). True when it held the turn.
 *
 * Read `worker.threadId` when the worker starts: in its `exit` event it is -1, which is refused
 * (a TypeError) rather than taken for thread number 0, the free turn's.
 *
 * @example
 * ```ts
 * const worker = new Worker(file, { workerData: { filename, writeTurn } });
 * const id = worker.threadId;
 * worker.once('exit', () => releaseWriteTurnOf(writeTurn, id));
 * // Ending it: at once, not only in its exit event, which cannot run while this thread waits.
 * releaseWriteTurnOf(writeTurn, id);
 * void worker.terminate();
 * ```
 */
export function releaseWriteTurnOf(buffer: SharedArrayBuffer, workerThreadId: number): boolean {
  if (!Number.isInteger(workerThreadId) || workerThreadId < 1)
    throw new TypeError(
      `releaseWriteTurnOf: threadId ${workerThreadId} is not a worker's (read worker.threadId when it starts: it is -1 once it has exited)`,
    );
  const shared = new Int32Array(buffer, 0, words);
  const thread = workerThreadId + 1;
  if (!hasEnded(shared, thread))
    Atomics.store(shared, firstEnded + ((Atomics.add(shared, endedCount, 1) >>> 0) % ended), thread);
  // Ended while waiting: it must not look like a waiter to hand the turn to.
  for (let i = firstSlot; i < firstEnded; i++) Atomics.compareExchange(shared, i, thread, 0);
  return free(shared, thread);
}
