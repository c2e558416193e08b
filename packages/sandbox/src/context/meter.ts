/**
 * Time in guest code: which call's code runs now (reported to the worker's {@link GuestMeter}, which
 * shares it with the pool, see activity.ts) and this worker's total time in guest code, so a
 * send() call's wall-clock limit can leave out the time other calls' code kept the thread busy.
 */

/** Where guest code running is reported. */
export interface GuestMeter {
  enter(callId: number): void;
  leave(): void;
}

let meter: GuestMeter = { enter() {}, leave() {} };
let workerGuestMs = 0;

/** Installs the worker's {@link GuestMeter}. */
export function setGuestMeter(m: GuestMeter): void {
  meter = m;
}

/** Guest code of call `callId` starts running on this thread. */
export function enterGuest(callId: number): void {
  meter.enter(callId);
}

/** Guest code stopped running after `spentMs`. */
export function leaveGuest(spentMs: number): void {
  workerGuestMs += spentMs;
  meter.leave();
}

/** This worker's total time in guest code so far, ms (finished stretches). */
export function guestMsOfWorker(): number {
  return workerGuestMs;
}

export const now = () => performance.now();
