/**
 * long-file: the queue, the workers and the watchdog's attribution change the same state together
 * (which call runs where, since when); split apart, each part would reach into the others.
 *
 * The worker threads behind the sandbox, and how calls reach them (docs/sandbox.md, "Sharing the
 * pool"): calls wait in a fair queue per code owner; a watchdog reads from shared memory which
 * call's code each worker is running, so a stuck or dead worker is blamed on that call only, and
 * the other calls on it (bystanders) run again elsewhere without being charged (or, when their
 * request had already left, end `WORKER_CRASHED` for their caller to retry). A worker stuck in
 * one call's code is quarantined — it takes no new work, its not yet started calls move, and a
 * hot spare takes its place — and terminated if the code runs past its limit.
 */
import { Worker } from 'node:worker_threads';
import { type ActivityViews, activityViews, newActivityBuffers } from './activity.js';
import { SandboxError } from './errors.js';
import { CALLS_PER_WORKER, createFairQueue, type ShareWorker } from './fair-share.js';
import { encodeInput } from './input.js';
import type { SandboxLogger } from './pool.js';
import type { FromWorker, ToWorker, WorkerConfig } from './protocol.js';
import { answerFetch } from './proxy-fetch.js';
import type { FetchLike, SandboxEvent, SandboxFailure, SandboxLimits } from './types.js';

export type CallKind = 'transform' | 'send' | 'compile';

interface PendingCall {
  kind: CallKind;
  /** Whose code it is: `transform:<pipe>`, `send:<destination>`, or `compile`. */
  owner: string;
  message: ToWorker & { id: number };
  /** Worker deaths blamed on this call so far (a second one ends it as WORKER_CRASHED). */
  strikes: number;
  /** Times it was moved off a worker it merely shared with a stuck or dead call. */
  moves: number;
  fetch?: FetchLike;
  /** A transform's input, to encode it again for a retry (the first encoding is transferred). */
  events?: SandboxEvent[];
  settle: (msg: FromWorker) => void;
  timer?: NodeJS.Timeout;
  slot?: WorkerSlot;
  /** When it was handed to its current worker. */
  sentAt?: number;
}

interface WorkerSlot {
  worker: Worker;
  index: number;
  activity: ActivityViews;
  inflight: Map<number, PendingCall>;
  /** Owners whose code is warm here. */
  warm: Set<string>;
  dead: boolean;
  /** Started up: calls wait in the queue until then, so start-up time is nobody's limit. */
  ready: boolean;
  /**
   * Some call's code held it past stallMs: it takes no new call until its calls are done (one
   * awaiting a fetch cannot move; it must get its turn between stuck stretches).
   */
  sheltered: boolean;
  /** Stuck in one call's code: no new work; terminated once its calls are done. */
  quarantined: boolean;
  /** Calls a pool-internal message (stats, retire) waits on. */
  internal: Map<number, (msg: FromWorker | undefined) => void>;
}

export interface WorkerPoolOptions {
  size: number;
  workerFile: string;
  config: Omit<WorkerConfig, 'activity'>;
  limits: SandboxLimits;
  /** How long one call's code may hold a worker before the worker is quarantined. */
  stallMs: number;
  logger?: SandboxLogger;
}

/** A bystander moved more often than this is presumed to be the cause after all. */
const MAX_MOVES = 5;
/** Failures that make an owner's code suspect for {@link SUSPECT_MS}. */
const SEVERE = new Set<SandboxFailure['code']>([
  'TIMEOUT',
  'OUT_OF_MEMORY',
  'STACK_OVERFLOW',
  'WORKER_CRASHED',
]);
const SUSPECT_MS = 60_000;
/** How fast an owner's past worker time stops counting against it. */
const USAGE_HALF_LIFE_MS = 30_000;
/** How often the watchdog looks at busy workers. */
const WATCH_MS = 50;
/** A worker whose event loop has not turned for this long, running nobody's code, is hung. */
const HUNG_MS = 5_000;
/** A worker whose current call's code has run this long gets no new call until it stops. */
const BUSY_MS = 50;

/**
 * Why a call whose worker died after its request left is not run again: the platform may have
 * received that request, and a silent re-run would send it twice under one attempt. It ends
 * `WORKER_CRASHED` (retryable), so a retry is a second attempt on the record.
 */
const LEFT_BEFORE_CRASH =
  'its sandbox worker died after this call’s request had left, so the request may have arrived; it was not run again unseen';

const crashFailure = (message: string, code: SandboxFailure['code'] = 'WORKER_CRASHED'): SandboxFailure => ({
  code,
  message,
});

// long-function: the pool's one mutable state (slots, fair queue, watchdog, suspects, usage) shared by ~25 short named functions; its pure parts are in fair-share.ts
export function createWorkerPool(options: WorkerPoolOptions) {
  const { size, limits, logger } = options;
  // A worker's WASM heaps live outside V8's heap; these limits bound the JS side of the worker.
  const resourceLimits = { maxOldGenerationSizeMb: 512, maxYoungGenerationSizeMb: 64, stackSizeMb: 4 };
  const slots: WorkerSlot[] = [];
  const queue = createFairQueue<PendingCall>();
  let nextId = 1;
  let nextIndex = 0;
  let closed = false;
  let restarts = 0;
  let watchdog: NodeJS.Timeout | undefined;

  const live = () => slots.filter((s) => !s.dead);
  const serving = () => live().filter((s) => !s.quarantined);

  function spawn(): WorkerSlot {
    const buffers = newActivityBuffers();
    const worker = new Worker(options.workerFile, {
      workerData: { ...options.config, activity: buffers } satisfies WorkerConfig,
      resourceLimits,
    });
    worker.unref();
    const slot: WorkerSlot = {
      worker,
      index: nextIndex++,
      activity: activityViews(buffers),
      inflight: new Map(),
      warm: new Set(),
      dead: false,
      ready: false,
      sheltered: false,
      quarantined: false,
      internal: new Map(),
    };
    worker.on('message', (msg: FromWorker) => onMessage(slot, msg));
    worker.on('error', (err) => {
      logger?.warn({ worker: slot.index, error: err.message }, 'sandbox worker failed');
    });
    worker.on('exit', (code) => onExit(slot, code));
    slots.push(slot);
    return slot;
  }

  function onMessage(slot: WorkerSlot, msg: FromWorker): void {
    if (msg.type === 'ready' || msg.type === 'started') {
      slot.ready = true;
      pump();
      return;
    }
    if (msg.type === 'fetch') {
      void proxyFetch(slot, msg);
      return;
    }
    const internal = slot.internal.get(msg.id);
    if (internal) {
      slot.internal.delete(msg.id);
      internal(msg);
      return;
    }
    const call = slot.inflight.get(msg.id);
    if (!call) return;
    finish(slot, call);
    noteAnswer(call, msg);
    call.settle(msg);
    afterChange(slot);
  }

  // Owners whose code lately ran into a limit, held a worker or died with it, until when. Their
  // calls run on workers of their own, and together they leave one serving worker to the others:
  // a call awaiting a fetch cannot move, so it must not share a worker with code that may spin.
  const suspects = new Map<string, number>();
  const isSuspect = (owner: string, now: number) => (suspects.get(owner) ?? 0) > now;
  function suspect(owner: string): void {
    if (suspects.size > 10_000 && !suspects.has(owner)) suspects.delete(suspects.keys().next().value!);
    suspects.set(owner, performance.now() + SUSPECT_MS);
  }
  function noteAnswer(call: PendingCall, msg: FromWorker): void {
    let codes: Array<SandboxFailure['code'] | undefined> = [];
    if (msg.type === 'send-result') codes = [msg.run.error?.code];
    else if (msg.type === 'transform-result') {
      codes = [msg.failure?.code, ...(msg.payload?.failures ?? []).map(([, f]) => f.code)];
    }
    if (codes.some((c) => c !== undefined && SEVERE.has(c))) suspect(call.owner);
  }

  // Worker time each owner used lately, halving every USAGE_HALF_LIFE_MS: who goes first.
  const usage = new Map<string, { ms: number; at: number }>();
  function used(owner: string, now: number): number {
    const u = usage.get(owner);
    return u ? u.ms * 2 ** (-(now - u.at) / USAGE_HALF_LIFE_MS) : 0;
  }
  function charge(owner: string, ms: number): void {
    const now = performance.now();
    if (usage.size > 10_000 && !usage.has(owner)) usage.delete(usage.keys().next().value!);
    usage.set(owner, { ms: used(owner, now) + ms, at: now });
  }

  /** Takes a call off its worker (it answered, failed, or moves elsewhere). */
  function finish(slot: WorkerSlot, call: PendingCall): void {
    if (call.sentAt !== undefined) charge(call.owner, performance.now() - call.sentAt);
    call.sentAt = undefined;
    slot.inflight.delete(call.message.id);
    slot.activity.release(call.message.id);
    if (call.timer) clearTimeout(call.timer);
    call.timer = undefined;
    call.slot = undefined;
  }

  function afterChange(slot: WorkerSlot): void {
    if (slot.quarantined && !slot.dead && slot.inflight.size === 0) {
      // Its spare took its place; a thread that ran hostile code is not trusted with more.
      slot.dead = true;
      void slot.worker.terminate();
    }
    pump();
  }

  function onExit(slot: WorkerSlot, code: number): void {
    const culprit = guiltyCall(slot);
    slot.dead = true;
    const at = slots.indexOf(slot);
    if (at >= 0) slots.splice(at, 1);
    for (const done of slot.internal.values()) done(undefined);
    slot.internal.clear();
    if (closed) return;
    const victims = [...slot.inflight.values()];
    // A call the worker never started ran no code there: it cannot be what killed it. (Say a call
    // was handed to a worker already being terminated: it moves on uncharged.)
    const unstarted = new Set(victims.filter((call) => slot.activity.waiting(call.message.id)));
    const reachedOutside = new Set(victims.filter((call) => slot.activity.reachedOutside(call.message.id)));
    for (const call of victims) finish(slot, call);
    if (victims.length > 0 || !slot.quarantined) {
      restarts++;
      logger?.warn({ worker: slot.index, code }, 'sandbox worker exited; replacing it');
    }
    while (serving().length < size) spawn();
    for (const call of victims) {
      // The call whose code was running when the worker died is charged; the others only shared
      // the worker with it, unless nobody's code was running (then the started ones cannot be
      // told apart).
      const charged = !unstarted.has(call) && (culprit === undefined || call.message.id === culprit);
      if (charged) suspect(call.owner);
      if (reachedOutside.has(call)) endLeft(call, !charged);
      else if (!charged) moveElsewhere(call);
      else if (call.strikes++ === 0) queue.push(call, true);
      else call.settle(crashResult(call, 'the sandbox worker crashed twice while running this call'));
    }
    pump();
  }

  /** The call whose guest code the worker is (or was, when it died) running. */
  function guiltyCall(slot: WorkerSlot): number | undefined {
    return slot.activity.running()?.id;
  }

  /** Ends a call whose request had left when its worker died ({@link LEFT_BEFORE_CRASH}). */
  function endLeft(call: PendingCall, bystander: boolean): void {
    const result = crashResult(call, LEFT_BEFORE_CRASH);
    if (bystander && result.type === 'send-result' && result.run.error) result.run.error.bystander = true;
    call.settle(result);
  }

  function moveElsewhere(call: PendingCall): void {
    if (++call.moves > MAX_MOVES) {
      call.settle(crashResult(call, 'the sandbox worker running this call kept failing'));
      return;
    }
    queue.push(call, true);
  }

  function crashResult(
    call: PendingCall,
    message: string,
    code: SandboxFailure['code'] = 'WORKER_CRASHED',
  ): FromWorker {
    const failure = crashFailure(message, code);
    if (call.kind === 'transform') return { type: 'transform-result', id: call.message.id, failure };
    if (call.kind === 'compile') return { type: 'compile-result', id: call.message.id, failure };
    return {
      type: 'send-result',
      id: call.message.id,
      run: { error: failure, exchanges: [], logs: [], durationMs: 0 },
    };
  }

  /** How long one call's code may run in one go before the worker is presumed stuck. */
  function codeLimitMs(call: PendingCall): number {
    const m = call.message;
    if (m.type === 'send') return Math.min(limits.sendCpuMs, limits.sendWallMs) + 5_000;
    // A per-event run is one stretch of guest code over the whole batch, each event its own budget.
    if (m.type === 'transform') return limits.transformCpuMs * (m.count + 2) + 5_000;
    return limits.transformCpuMs * 2 + 5_000;
  }

  /** Upper bound after which a call whose worker runs nobody's code is presumed lost. */
  function backstopMs(call: PendingCall): number {
    const m = call.message;
    if (m.type === 'send') return limits.sendWallMs + 5_000;
    return codeLimitMs(call) + 5_000;
  }

  function watch(): void {
    for (const slot of live()) {
      const running = slot.activity.running();
      if (!running) continue;
      const call = slot.inflight.get(running.id);
      if (running.forMs > options.stallMs) {
        slot.sheltered = true;
        if (call) suspect(call.owner);
      }
      if (call && running.forMs > codeLimitMs(call)) {
        logger?.warn({ worker: slot.index }, 'sandbox code ran past its limit; terminating its worker');
        finish(slot, call);
        call.settle(crashResult(call, 'the code ran past its limit and its worker was stopped', 'TIMEOUT'));
        slot.quarantined = true;
        void slot.worker.terminate();
        continue;
      }
      const others = slot.inflight.size > (call ? 1 : 0);
      if (!slot.quarantined && running.forMs > options.stallMs && (others || queue.size > 0)) {
        quarantine(slot, running.id);
      }
    }
    if (queue.size > 0) pump();
    if (live().every((s) => s.inflight.size === 0) && queue.size === 0) stopWatch();
  }

  /** One call's code holds this worker: the rest of its work and all new work go elsewhere. */
  function quarantine(slot: WorkerSlot, runningId: number): void {
    // At most as many quarantined workers as serving ones: beyond that, only the work moves.
    if (live().length < 2 * size) {
      slot.quarantined = true;
      logger?.warn({ worker: slot.index }, 'sandbox worker busy with one call; a spare takes its place');
      spawn();
    }
    for (const call of [...slot.inflight.values()]) {
      if (call.message.id === runningId) continue;
      // Not started, or started but not yet reached outside: it runs on another worker instead
      // (this one drops it). One that has fetched finishes here once the stuck code stops; the
      // time it waited is not counted against its limit.
      if (slot.activity.withdraw(call.message.id)) {
        finish(slot, call);
        queue.push(call, true);
      }
    }
    pump();
  }

  function startWatch(): void {
    if (watchdog) return;
    watchdog = setInterval(watch, WATCH_MS);
    watchdog.unref();
  }
  function stopWatch(): void {
    if (watchdog) clearInterval(watchdog);
    watchdog = undefined;
  }

  /**
   * Whether a worker takes another call now. Never while a call it was given has not started: a
   * call waits in the fair queue, not behind another owner's call that may hold the worker (it
   * cannot be taken back once started). Nor while some call's code has held it for a while.
   */
  function accepting(s: WorkerSlot): boolean {
    if (!s.ready || s.quarantined || s.dead || s.inflight.size >= CALLS_PER_WORKER) return false;
    if (s.sheltered) {
      if (s.inflight.size > 0) return false;
      s.sheltered = false;
    }
    for (const id of s.inflight.keys()) if (s.activity.waiting(id)) return false;
    const running = s.activity.running();
    return !running || running.forMs < BUSY_MS;
  }

  /**
   * Isolation of suspect code: a suspect owner's call goes only to a worker with no other owner's
   * calls, and suspects together use at most all serving workers but one; an innocent owner's call
   * never joins a worker running a suspect's call.
   */
  function fits(current: WorkerSlot[], i: number, owner: string, now: number): boolean {
    const slot = current[i]!;
    const owners = new Set([...slot.inflight.values()].map((c) => c.owner));
    if (!isSuspect(owner, now)) return ![...owners].some((o) => isSuspect(o, now));
    if ([...owners].some((o) => o !== owner)) return false;
    if (owners.has(owner)) return true;
    const serving = current.filter((s) => s.ready && !s.quarantined);
    const suspectWorkers = serving.filter((s) =>
      [...s.inflight.values()].some((c) => isSuspect(c.owner, now)),
    );
    // One serving worker always stays free of suspect code (when there are two or more), so that
    // an innocent call arriving later finds one at once.
    return suspectWorkers.length < Math.max(1, serving.length - 1);
  }

  function pump(): void {
    if (closed) return;
    for (;;) {
      const current = live();
      const view: ShareWorker[] = current.map((s) => ({
        accepting: accepting(s),
        serving: s.ready && !s.quarantined,
        inflight: s.inflight.size,
        warm: s.warm,
      }));
      const now = performance.now();
      const runningOwners = new Set<string>();
      // Lately used, plus what its calls running now have used so far.
      const running = new Map<string, number>();
      for (const s of current) {
        for (const c of s.inflight.values()) {
          runningOwners.add(c.owner);
          running.set(c.owner, (running.get(c.owner) ?? 0) + now - (c.sentAt ?? now));
        }
      }
      const next = queue.next(
        view,
        (owner) => {
          const on = new Set<number>();
          current.forEach((s, i) => {
            for (const c of s.inflight.values()) if (c.owner === owner) on.add(i);
          });
          return on;
        },
        runningOwners,
        (owner) => used(owner, now) + (running.get(owner) ?? 0),
        (i, owner) => fits(current, i, owner, now),
      );
      if (!next) return;
      send(current[next.worker]!, next.call);
    }
  }

  function send(slot: WorkerSlot, call: PendingCall): void {
    const m = call.message;
    // The batch's bytes are handed over, not copied; a retry encodes them again, bounded as the
    // first time. A batch that no longer encodes (a toJSON answering differently, an input changed
    // since) fails its own call here: a throw would escape the hand-over of calls, which runs in a
    // worker's event handlers, and end the host process.
    if (m.type === 'transform' && m.eventsBjson.byteLength === 0 && call.events) {
      try {
        m.eventsBjson = encodeInput(call.events, 'transform');
      } catch (err) {
        // Too deep now: as the first encoding would have said. Anything else (a toJSON that throws
        // now) is the worker crash that brought the call back, which it cannot outlive.
        const code =
          err instanceof SandboxError && err.code === 'NESTING_TOO_DEEP' ? err.code : 'WORKER_CRASHED';
        const message = `the call's events could not be encoded again after its worker crashed: ${String((err as Error)?.message ?? err)}`;
        call.settle(crashResult(call, message, code));
        return;
      }
    }
    // A new id for every hand-over: an answer from a worker the call was taken back from (it may
    // still finish its copy) is then never mistaken for the answer of this run.
    // Its id names its call-state slot on the worker (id modulo CALL_SLOTS): never one a call
    // still holds there, or a long send's "reached outside" would be overwritten.
    do m.id = nextId++;
    while (!slot.activity.free(m.id));
    slot.warm.add(call.owner);
    call.slot = slot;
    slot.inflight.set(m.id, call);
    call.sentAt = performance.now();
    slot.activity.queue(m.id);
    armBackstop(slot, call, backstopMs(call));
    startWatch();
    if (m.type === 'transform') slot.worker.postMessage(m, [m.eventsBjson.buffer as ArrayBuffer]);
    else slot.worker.postMessage(m);
  }

  function armBackstop(slot: WorkerSlot, call: PendingCall, ms: number): void {
    call.timer = setTimeout(() => {
      if (slot.inflight.get(call.message.id) !== call) return;
      // Some call's code holds the worker (the watchdog deals with that), or the worker's event
      // loop still turns (a loaded machine; the call's own limit in the worker settles it): wait.
      if (slot.activity.running() || slot.activity.silentForMs() < HUNG_MS) {
        armBackstop(slot, call, 1_000);
        return;
      }
      logger?.warn({ worker: slot.index }, 'sandbox worker did not answer in time; terminating it');
      finish(slot, call);
      call.settle(crashResult(call, 'the sandbox stopped answering; the call was abandoned', 'TIMEOUT'));
      // Its other calls are bystanders, moved elsewhere uncharged (nobody's code was running);
      // one whose request had left ends here instead (see LEFT_BEFORE_CRASH).
      // The worker still lives until terminated: taking a call back (withdraw) is what keeps it
      // from reaching outside afterwards; one that cannot be taken back has.
      for (const other of [...slot.inflight.values()]) {
        const takenBack = slot.activity.withdraw(other.message.id);
        finish(slot, other);
        if (takenBack) moveElsewhere(other);
        else endLeft(other, true);
      }
      slot.quarantined = true;
      void slot.worker.terminate();
    }, ms);
    call.timer.unref();
  }

  function proxyFetch(slot: WorkerSlot, msg: Extract<FromWorker, { type: 'fetch' }>): Promise<void> {
    return answerFetch(slot.inflight.get(msg.id)?.fetch, msg, (body) => {
      if (!slot.dead) slot.worker.postMessage(body);
    });
  }

  for (let i = 0; i < size; i++) spawn();

  return {
    nextId: () => nextId++,
    /** Queues a call for its owner's share of the pool; resolves to the worker's answer. */
    run<T extends FromWorker>(
      kind: CallKind,
      owner: string,
      message: ToWorker & { id: number },
      fetch?: FetchLike,
      events?: SandboxEvent[],
    ): Promise<T> {
      if (closed) {
        return Promise.reject(new SandboxError({ code: 'ENGINE_STOPPED', message: 'the sandbox is closed' }));
      }
      return new Promise<T>((resolve) => {
        const call: PendingCall = {
          kind,
          owner,
          message,
          strikes: 0,
          moves: 0,
          settle: (msg) => resolve(msg as T),
        };
        if (fetch) call.fetch = fetch;
        if (events) call.events = events;
        queue.push(call);
        pump();
      });
    },
    /** Sends a pool-internal message to every serving worker; each resolves with its answer. */
    broadcast(make: (id: number) => ToWorker & { id: number }): Array<Promise<FromWorker | undefined>> {
      return serving().map(
        (slot) =>
          new Promise<FromWorker | undefined>((resolve) => {
            const message = make(nextId++);
            slot.internal.set(message.id, resolve);
            slot.worker.postMessage(message);
          }),
      );
    },
    workers: () => live().map((s) => s.worker),
    /** Workers running some call's guest code right now (tests kill them mid-call). */
    busyWorkers: (owner?: string) =>
      live()
        .filter((s) => {
          const running = s.activity.running();
          if (!running) return false;
          return owner === undefined || s.inflight.get(running.id)?.owner === owner;
        })
        .map((s) => s.worker),
    restarts: () => restarts,
    size: () => serving().length,
    async close(): Promise<void> {
      if (closed) return;
      // Let queued and in-flight calls finish (each is bounded by its own limit and the backstop).
      await new Promise<void>((resolve) => {
        const check = () => {
          if (queue.size === 0 && live().every((s) => s.inflight.size === 0)) resolve();
          else setTimeout(check, 10).unref();
        };
        check();
      });
      closed = true;
      stopWatch();
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
