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
 * thread that cannot get the turn within its wait (a holder that hangs, or that died mid-transaction
 * before its owner called {@link releaseWriteTurnOf}) goes on without it, to `BEGIN IMMEDIATE` and
 * SQLite's own wait, as it did before the turn existed. Other processes on the same file never see
 * the turn.
 *
 * The shared words (Int32Array over a SharedArrayBuffer):
 * - `state`: 0 free; a positive number `n`: taken by the thread numbered `n` (one word, so that its
 *   owner can free a turn held by a thread that ended, wherever that thread was stopped); a
 *   negative number `-n`: handed over by the thread numbered `n`, to be
 *   taken by any thread that waited except `n` itself (unless no other thread waits any more, or
 *   none took it within a slice: the one it was for has ended);
 * - one slot per waiting thread, holding its number (0 when free), so that a turn is handed only to
 *   a thread that waits, and a thread that ended while it waited stops counting as one.
 *
 * A thread's number is its `worker_threads` threadId + 1 (the main thread's threadId is 0).
 */
import { threadId } from 'node:worker_threads';

const stateWord = 0;
/**
 * Word 1 is unused (it held the holder's number before the state word did). Then one word per
 * waiting thread (its number), so that its owner can clear it if it ends.
 */
const firstSlot = 2;
const slots = 14;
const words = firstSlot + slots;

/**
 * Longest single wait before a waiter looks at the turn again (a handover nobody took, say); and how
 * long a thread's handover may stand untaken before it takes the turn back itself.
 */
const sliceMs = 20;

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
  const othersWait = () => {
    for (let i = firstSlot; i < words; i++) {
      const waiter = Atomics.load(shared, i);
      if (waiter !== 0 && waiter !== thread) return true;
    }
    return false;
  };
  // More waiting threads than slots: the rest wait unlisted (they still take a free turn).
  const enlist = () => {
    for (let i = firstSlot; i < words; i++) if (Atomics.compareExchange(shared, i, 0, thread) === 0) return i;
    return -1;
  };
  return {
    take(waitMs) {
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
    },
    give() {
      Atomics.store(shared, stateWord, othersWait() ? -thread : 0);
      Atomics.notify(shared, stateWord);
    },
  };
}

/**
 * Frees the turn if the thread with this `worker_threads` threadId holds it, and its place among
 * the waiters: for the owner of a worker that ended (its `exit` event), which may have been stopped
 * inside a transaction or while it waited. True when it held the turn.
 *
 * Read `worker.threadId` when the worker starts: in its `exit` event it is -1, which is refused
 * (a TypeError) rather than taken for thread number 0, the free turn's.
 *
 * @example
 * ```ts
 * const worker = new Worker(file, { workerData: { filename, writeTurn } });
 * const id = worker.threadId;
 * worker.once('exit', () => releaseWriteTurnOf(writeTurn, id));
 * ```
 */
export function releaseWriteTurnOf(buffer: SharedArrayBuffer, workerThreadId: number): boolean {
  if (!Number.isInteger(workerThreadId) || workerThreadId < 1)
    throw new TypeError(
      `releaseWriteTurnOf: threadId ${workerThreadId} is not a worker's (read worker.threadId when it starts: it is -1 once it has exited)`,
    );
  const shared = new Int32Array(buffer, 0, words);
  const thread = workerThreadId + 1;
  // Ended while waiting: it must not look like a waiter to hand the turn to.
  for (let i = firstSlot; i < words; i++) Atomics.compareExchange(shared, i, thread, 0);
  if (Atomics.compareExchange(shared, stateWord, thread, 0) !== thread) return false;
  Atomics.notify(shared, stateWord);
  return true;
}
