/**
 * Memory a sandbox worker shares with the pool, so the pool can see what a worker is doing even
 * while guest code keeps it from answering messages:
 *
 * - which call is running guest code right now, and since when (attribution: when a worker is
 *   stuck or dies, the pool knows whose code it was running, and the other calls on it are
 *   bystanders, re-run elsewhere and never charged);
 * - per call, whether the worker has started it, and whether it has reached outside (a fetch):
 *   the pool can take back a call that has not (it is re-run on another worker; this one skips
 *   it, or drops it before its first fetch), race-free, with one compare-and-swap on each side.
 *   A call that has fetched is never run twice by the pool: when its worker dies, it ends
 *   `WORKER_CRASHED` (retryable; its request may have arrived), and whoever retries it records
 *   the retry as a second attempt.
 *
 * Plain `SharedArrayBuffer`s: they cross to the worker in `workerData` and stay shared.
 */

/** Call slots per worker; a call's slot is its id modulo this (ids grow, in-flight calls are few). */
export const CALL_SLOTS = 4096;

/** A call's state in its slot. */
export const CallState = { free: 0, queued: 1, started: 2, withdrawn: 3, io: 4 } as const;

export interface ActivityBuffers {
  /** Int32: [0] id of the call running guest code now (0: none). */
  current: SharedArrayBuffer;
  /**
   * Float64: [0] when that guest code started running, [1] the worker's last heartbeat (its event
   * loop turns); epoch ms, `performance` clock.
   */
  since: SharedArrayBuffer;
  /** Int32 × CALL_SLOTS: {@link CallState} of each call handed to the worker. */
  calls: SharedArrayBuffer;
}

export function newActivityBuffers(): ActivityBuffers {
  return {
    current: new SharedArrayBuffer(4),
    since: new SharedArrayBuffer(16),
    calls: new SharedArrayBuffer(4 * CALL_SLOTS),
  };
}

/** A clock both threads read the same way (`performance.now()` is relative to each thread's start). */
export const sharedNow = (): number => performance.timeOrigin + performance.now();

/** The two sides' views of the buffers. */
export function activityViews(buffers: ActivityBuffers) {
  const current = new Int32Array(buffers.current);
  const since = new Float64Array(buffers.since);
  const calls = new Int32Array(buffers.calls);
  const slot = (id: number) => id % CALL_SLOTS;
  return {
    /** Worker: guest code of call `id` starts running. */
    enter(id: number): void {
      since[0] = sharedNow();
      Atomics.store(current, 0, id);
    },
    /** Worker: its event loop turns (called on a timer). */
    beat(): void {
      since[1] = sharedNow();
    },
    /** Pool: how long ago the worker's event loop last turned. */
    silentForMs(): number {
      return sharedNow() - since[1]!;
    },
    /** Worker: guest code stopped running (returned, awaits, or was interrupted). */
    leave(): void {
      Atomics.store(current, 0, 0);
    },
    /** Pool: the call running guest code now and for how long, or undefined. */
    running(): { id: number; forMs: number } | undefined {
      const id = Atomics.load(current, 0);
      if (id === 0) return undefined;
      return { id, forMs: sharedNow() - since[0]! };
    },
    /** Pool: a call is handed to the worker. */
    queue(id: number): void {
      Atomics.store(calls, slot(id), CallState.queued);
    },
    /** Worker: starts call `id` unless the pool took it back. Returns whether to run it. */
    start(id: number): boolean {
      return (
        Atomics.compareExchange(calls, slot(id), CallState.queued, CallState.started) === CallState.queued
      );
    },
    /** Pool: whether the worker has not started the call yet. */
    waiting(id: number): boolean {
      return Atomics.load(calls, slot(id)) === CallState.queued;
    },
    /** Pool: takes back a call that has not reached outside yet. Returns whether it did. */
    withdraw(id: number): boolean {
      for (const from of [CallState.queued, CallState.started]) {
        if (Atomics.compareExchange(calls, slot(id), from, CallState.withdrawn) === from) return true;
      }
      return false;
    },
    /** Pool: whether call `id`'s slot is free (no call handed to the worker holds it). */
    free(id: number): boolean {
      return Atomics.load(calls, slot(id)) === CallState.free;
    },
    /** Pool: whether call `id` has reached outside (a request of its may have left). */
    reachedOutside(id: number): boolean {
      return Atomics.load(calls, slot(id)) === CallState.io;
    },
    /** Worker: call `id` is about to reach outside. False when the pool took it back. */
    reachOut(id: number): boolean {
      const state = Atomics.compareExchange(calls, slot(id), CallState.started, CallState.io);
      return state === CallState.started || state === CallState.io;
    },
    /** Pool: the call is settled; its slot can be reused. */
    release(id: number): void {
      Atomics.store(calls, slot(id), CallState.free);
    },
  };
}

export type ActivityViews = ReturnType<typeof activityViews>;
