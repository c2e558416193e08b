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
 * same file never see the turn. `take` says how it came out ({@link Took}): handed over (or free),
 * handed over by a thread whose transaction could not begin (another process holds the file),
 * after waiting for a holder that ended, or not at all; all but the first shorten SQLite's wait.
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
 *   none took it within a slice: the one it was for has ended); `-(n + lateHandover)`: the same,
 *   after a transaction that could not begin (see `give`); {@link freedState}: freed for a
 *   thread that ended, by its owner or its own `exit` event (not 0: so the thread that takes it
 *   knows that it waited for a holder that was gone, not for a transaction);
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
/** Added to a thread's number in a late handover (thread numbers stay far below it). */
const lateHandover = 0x4000_0000;
/** The state of a turn freed for a thread that ended: no thread's number or handover. */
const freedState = -0x8000_0000;

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

/**
 * How {@link WriteTurnHandle.take} came out: a number, not an object, as it runs before every write
 * transaction; positive when the thread has the turn (and gives it back). What a write waited for
 * the turn comes off SQLite's own wait after `freed`, `handedLate` and `timedOut`, not after
 * `handed`: a wait for the transaction of another thread of this process, however long, not for a
 * holder that was gone or a lock held elsewhere (connection.ts).
 */
export const Took = {
  /** Has the turn: it was free, or handed over by the thread that had it (a transaction ended). */
  handed: 1,
  /**
   * Has the turn, handed over by a thread whose transaction could not begin: the file stayed locked
   * by another process past its busy_timeout, so this thread waited for that lock too.
   */
  handedLate: 3,
  /**
   * Has the turn, after waiting for a thread that ended: freed by that thread's owner or its `exit`
   * event, held by a thread recorded as ended, or this thread's own handover, left untaken for a
   * slice by the waiter it was for (which ended while it waited).
   */
  freed: 2,
  /** Has not: its wait ran out (a holder that hangs); it goes on without the turn. */
  timedOut: 0,
  /** Has not: this thread has it already (a second store of the same file on one thread). */
  heldHere: -1,
} as const;
export type Took = (typeof Took)[keyof typeof Took];

/** Takes and gives back the turn for this thread. */
export interface WriteTurnHandle {
  /** Waits for the turn up to `waitMs`, and says how that came out (see {@link Took}). */
  take(waitMs: number): Took;
  /**
   * Gives the turn back, to a thread that waits if one does; nothing if this thread no longer has
   * it (its owner freed it as it ended this thread, which ran on, and another thread may have it).
   * `late`: this thread's transaction could not begin, the file locked by another process past
   * busy_timeout; the thread it is handed to takes it as {@link Took}`.handedLate`.
   */
  give(late?: boolean): void;
  /**
   * For a thread with an event loop (the main thread's ingest): false when the turn is free (or
   * this thread's, or handed over by another thread), and the caller writes now. Otherwise true:
   * `run` is called once the holder gives the turn back, or after `waitMs`, without blocking the
   * thread meanwhile (`Atomics.waitAsync`), so that it can go on taking requests, whose writes join
   * the group `run` will write. Listed as waiting meanwhile, it is handed the turn as a blocked
   * waiter would be (`run` then takes it at once). Its own `take` still decides, and waits if the
   * turn is taken again before it. False where the runtime has no `Atomics.waitAsync`.
   */
  afterTurn(run: () => void, waitMs: number): boolean;
}

type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
  timeoutMs: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };
/** `Atomics.waitAsync` (ES2024, Node 16+), typed here: the packages' lib is ES2023. */
const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;

/**
 * This thread's handle on a turn made by {@link createWriteTurn}.
 *
 * @example
 * ```ts
 * const turn = writeTurnOf(buffer);
 * const took = turn.take(5000);
 * try { write(); } finally { if (took > 0) turn.give(); }
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
  const take = (waitMs: number): Took => {
    if (claim(0)) return Took.handed;
    // This thread has it already (a second store of the same file on one thread): waiting would
    // only end at the deadline.
    if (Atomics.load(shared, stateWord) === thread) return Took.heldHere;
    // A monotonic clock: a wall clock set back while it waits would lengthen the wait as much.
    const deadline = performance.now() + waitMs;
    const slot = enlist();
    // This thread's own handover stood untaken for a whole slice: see below.
    let untaken = false;
    try {
      for (;;) {
        const seen = Atomics.load(shared, stateWord);
        if (seen === 0 && claim(0)) return Took.handed;
        if (seen === freedState && claim(seen)) return Took.freed;
        // Held by a thread its owner ended: it will never give it back.
        if (seen > 0 && hasEnded(shared, seen) && claim(seen)) return Took.freed;
        // A handover (plain or late) is for a thread that waited; the thread that made it takes
        // it back only when no other thread waits any more (the one it was for gave up or ended
        // meanwhile), or when none took it within a slice: a waiter is woken at once, so one that
        // has not taken it by then has ended (stopped while it waited, its owner yet to clear its
        // place; the owner may be this very thread, which cannot while it waits here). Taken
        // back, even a late one, it was no wait for a lock held elsewhere.
        const giver = seen < 0 ? -seen % lateHandover : 0;
        if (giver === thread && untaken && claim(seen)) return Took.freed;
        if (giver > 0 && (giver !== thread || !othersWait()) && claim(seen))
          return giver !== thread && -seen > lateHandover ? Took.handedLate : Took.handed;
        const left = deadline - performance.now();
        if (left <= 0) return Took.timedOut;
        if (seen !== 0)
          untaken =
            Atomics.wait(shared, stateWord, seen, Math.min(left, sliceMs)) === 'timed-out' &&
            giver === thread &&
            left >= sliceMs;
      }
    } finally {
      if (slot >= 0) Atomics.store(shared, slot, 0);
    }
  };
  /** Whether this thread writes at once: the turn free, its own, or handed over by another. */
  const ready = (seen: number) =>
    seen === 0 || seen === thread || seen === freedState || (seen < 0 && -seen % lateHandover !== thread);
  return {
    afterTurn(run, waitMs) {
      const seen = Atomics.load(shared, stateWord);
      if (!waitAsync || ready(seen)) return false;
      const slot = enlist();
      const waited = waitAsync(shared, stateWord, seen, waitMs);
      const then = () => {
        try {
          run();
        } finally {
          // Off the list only after `run` took the turn (or waited for it in a slot of its own):
          // a holder giving it back meanwhile hands it over to this thread, not to itself.
          if (slot >= 0) Atomics.store(shared, slot, 0);
        }
      };
      if (waited.async) void waited.value.then(then);
      else queueMicrotask(then);
      return true;
    },
    take(waitMs) {
      const took = take(waitMs);
      if (took > 0) heldHere.add(release);
      return took;
    },
    give(late = false) {
      heldHere.delete(release);
      const handover = late ? -(thread + lateHandover) : -thread;
      // Only from this thread's own number: once its owner has freed the turn (ending this thread,
      // which runs on until the termination reaches it), another thread may hold it, and a plain
      // store would hand it on, or free it, under that thread: two threads in the turn at once.
      if (Atomics.compareExchange(shared, stateWord, thread, othersWait() ? handover : 0) === thread)
        Atomics.notify(shared, stateWord);
    },
  };
}

/** Frees the turn if `thread` (which ended) holds it, and wakes its waiters; true when it held it. */
function free(shared: Int32Array, thread: number): boolean {
  if (Atomics.compareExchange(shared, stateWord, thread, freedState) !== thread) return false;
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
