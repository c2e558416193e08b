/**
 * Fair share of the sandbox's workers among code owners: the pipe for a transform, the destination
 * for `send()` (docs/sandbox.md, "Sharing the pool"). Pure: the pool tells it which workers can
 * take work and where each owner's calls run; it says which queued call goes to which worker next.
 *
 * - Calls wait in one queue per owner; owners with queued calls take turns: the owner on the
 *   fewest workers first, then the one that used the least worker time lately (so a pipe whose
 *   calls take milliseconds goes ahead of one whose calls run into their limits), then the one
 *   served longest ago.
 * - An owner may run on at most max(1, floor(workers / active owners)) workers at once (an active
 *   owner has calls queued or running). A hostile or slow owner thus holds its share, no more.
 * - An idle pool may be borrowed: an owner at its share takes another worker when no other owner
 *   has calls waiting.
 */

/** What the scheduler needs to know about one worker. */
export interface ShareWorker {
  /** Takes a new call now. */
  accepting: boolean;
  /** Counts towards the pool's size (alive, started, not quarantined), accepting now or not. */
  serving: boolean;
  /** Calls in flight on it. */
  inflight: number;
  /** Code owners whose code this worker has warm (preferred when it is as free as another). */
  warm: ReadonlySet<string>;
}

export interface FairQueue<C extends { owner: string }> {
  /** Queues a call at the back of its owner's queue (`front`: a call taken back from a worker). */
  push(call: C, front?: boolean): void;
  /** Removes a queued call (it was settled while waiting). Returns whether it was queued. */
  remove(call: C): boolean;
  /** Calls waiting. */
  readonly size: number;
  /**
   * The next call to start and the worker (index into `workers`) to start it on, or undefined when
   * nothing can start now. `placement(owner)` gives the indices of the workers (accepting or not)
   * where the owner has calls in flight; `active` counts owners with calls in flight.
   */
  next(
    workers: readonly ShareWorker[],
    placement: (owner: string) => ReadonlySet<number>,
    runningOwners: ReadonlySet<string>,
    /** Worker time the owner used lately (ms, decaying); 0 when not given. */
    usage?: (owner: string) => number,
    /** Whether worker `i` may take this owner's call (isolation of suspect code); default yes. */
    fits?: (worker: number, owner: string) => boolean,
  ): { call: C; worker: number } | undefined;
  /** Every waiting call, removing them (the pool is closing). */
  drain(): C[];
}

/** Calls a worker may have in flight before it counts as full. */
export const CALLS_PER_WORKER = 16;

export function createFairQueue<C extends { owner: string }>(): FairQueue<C> {
  const queues = new Map<string, C[]>();
  const lastServed = new Map<string, number>();
  let size = 0;
  let tick = 0;

  function leastBusy(
    workers: readonly ShareWorker[],
    among: Iterable<number>,
    owner: string,
    fits: (worker: number, owner: string) => boolean,
  ): number {
    let best = -1;
    for (const i of among) {
      const w = workers[i]!;
      if (!w.accepting || !fits(i, owner)) continue;
      const b = best < 0 ? undefined : workers[best]!;
      // The least busy; among equals, one that has this owner's code warm.
      if (
        !b ||
        w.inflight < b.inflight ||
        (w.inflight === b.inflight && w.warm.has(owner) && !b.warm.has(owner))
      ) {
        best = i;
      }
    }
    return best;
  }

  return {
    push(call, front = false) {
      const q = queues.get(call.owner) ?? [];
      if (front) q.unshift(call);
      else q.push(call);
      queues.set(call.owner, q);
      size++;
    },
    remove(call) {
      const q = queues.get(call.owner);
      const at = q ? q.indexOf(call) : -1;
      if (!q || at < 0) return false;
      q.splice(at, 1);
      if (q.length === 0) queues.delete(call.owner);
      size--;
      return true;
    },
    get size() {
      return size;
    },
    next(workers, placement, runningOwners, usage = () => 0, fits = () => true) {
      if (size === 0) return undefined;
      if (!workers.some((w) => w.accepting)) return undefined;
      const active = new Set(runningOwners);
      for (const owner of queues.keys()) active.add(owner);
      const share = Math.max(1, Math.floor(workers.filter((w) => w.serving).length / active.size));
      const waiting = [...queues.keys()]
        .map((owner) => ({ owner, on: placement(owner), used: usage(owner) }))
        .sort(
          (a, b) =>
            a.on.size - b.on.size ||
            a.used - b.used ||
            (lastServed.get(a.owner) ?? 0) - (lastServed.get(b.owner) ?? 0),
        );
      const all = workers.map((_, i) => i);
      for (const { owner, on } of waiting) {
        // Within its share: any worker (one it already uses does not add to its count).
        // At its share: only workers it already uses, unless nobody else waits (borrowing).
        const alone = waiting.length === 1;
        const candidates = on.size < share || alone ? all : on;
        const worker = leastBusy(workers, candidates, owner, fits);
        if (worker < 0) continue;
        const q = queues.get(owner)!;
        const call = q.shift()!;
        if (q.length === 0) queues.delete(owner);
        size--;
        lastServed.set(owner, ++tick);
        if (lastServed.size > 10_000) lastServed.delete(lastServed.keys().next().value!);
        return { call, worker };
      }
      return undefined;
    },
    drain() {
      const out = [...queues.values()].flat();
      queues.clear();
      size = 0;
      return out;
    },
  };
}
