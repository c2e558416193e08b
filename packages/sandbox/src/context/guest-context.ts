/**
 * One warm QuickJS context for one piece of user code (one CodeRef), inside a sandbox worker: its
 * engine handles, the limit that applies while its code runs, metering, and how it is freed. It is
 * made by create.ts; a transform call runs through transform-call.ts, a send() call through
 * send-call.ts, which use the members marked "for the call modules".
 *
 * Each context gets its own WASM module instance with its own `WebAssembly.Memory` (wasm.ts). One
 * module per context also means an engine bug is contained to one owner's code, and the heap
 * high-water mark (`memory.buffer.byteLength`) tells when to recycle.
 */
import type {
  QuickJSContext,
  QuickJSDeferredPromise,
  QuickJSHandle,
  QuickJSRuntime,
} from 'quickjs-emscripten';
import { safeJsonParse } from '../output.js';
import type { CodeRef, ConsoleLine, SandboxFailure, SandboxLimits } from '../types.js';
import { failureFromDumped, GuestCodeError } from './failures.js';
import { enterGuest, leaveGuest, now } from './meter.js';
import { runSend, type SendHost, type SendOutcome, sendElapsed } from './send-call.js';
import { type BatchOutcome, runTransform, runTransformBatch, type TransformSlice } from './transform-call.js';
import type { WasmMemory } from './wasm.js';

/** The limit in force while the context's code runs (checked by the interrupt handler). */
export type Deadline =
  | { mode: 'none' }
  | { mode: 'event'; cpuMs: number; checkedAt: number }
  | { mode: 'wall'; at: number }
  /**
   * A send() call: `cpuMs` of guest code in all, and `wallMs` from `startedAt`, not counting the
   * time other calls' guest code held this worker (`othersAtStart`: the worker's guest time then).
   */
  | { mode: 'send'; cpuMs: number; wallMs: number; startedAt: number; othersAtStart: number };

export class GuestContext {
  uses = 0;
  /** A broken context is disposed instead of being reused. */
  broken = false;
  /**
   * Set when an uncatchable stop (CPU or wall limit, out of memory, stack overflow, an engine
   * failure) hit this context's code: it is abandoned, never freed (see {@link dispose}).
   */
  unclean = false;
  busy = false;
  readonly filename: string;
  /** The pool's id of the call this context is serving (reported while its code runs). */
  callId = 0;

  // ---- for the call modules (create.ts, transform-call.ts, send-call.ts) ----
  deadline: Deadline = { mode: 'none' };
  /** The send() call's host (its fetch) while one runs. */
  sendHost: SendHost | undefined;
  /** Ends the running send() call with a failure that happened in a fetch callback. */
  sendFault: ((failure: SandboxFailure) => void) | undefined;
  /** Past transform calls' inputs, freed by {@link cleanupStep}. */
  readonly garbage: QuickJSHandle[] = [];
  /** Fetches of the running send() not yet answered. */
  readonly pending = new Set<QuickJSDeferredPromise>();
  /** Time the current call's guest code has run, in ms (its CPU time, on this thread). */
  callGuestMs = 0;
  /** Set once disposed or abandoned: no continuation may touch the engine again. */
  gone = false;
  entryFn: QuickJSHandle | undefined;
  /** A transform whose entry function provably never reads its argument's `profiles` (entry-inputs.ts). */
  profilesUnread = false;

  private readonly handles: QuickJSHandle[] = [];
  private segmentStart = 0;
  private depth = 0;

  constructor(
    readonly key: string,
    readonly kind: CodeRef['kind'],
    private readonly memory: WasmMemory,
    readonly runtime: QuickJSRuntime,
    readonly ctx: QuickJSContext,
    readonly harness: QuickJSHandle,
    readonly state: QuickJSHandle,
  ) {
    this.filename = `${kind}.js`;
  }

  /** Runs guest code (anything that may run bytecode), metered and reported as this call's. */
  guest<T>(run: () => T): T {
    if (this.depth++ === 0) {
      this.segmentStart = now();
      enterGuest(this.callId);
    }
    try {
      return run();
    } catch (err) {
      throw this.hostOverflow(err);
    } finally {
      if (--this.depth === 0) {
        const spent = now() - this.segmentStart;
        this.callGuestMs += spent;
        leaveGuest(spent);
      }
    }
  }

  /**
   * A host `RangeError` out of the engine: QuickJS recursed (a value nested too deep for
   * JSON.stringify, structured encoding...) until the worker's own native stack ran out, before
   * its guest stack limit noticed. The engine was stopped mid-operation: the context is abandoned
   * (unclean) and the call fails with STACK_OVERFLOW instead of the error killing the worker.
   */
  hostOverflow(err: unknown): unknown {
    if (err instanceof GuestCodeError || !(err instanceof RangeError)) return err;
    if (!/call stack/i.test(err.message)) return err;
    this.broken = true;
    this.unclean = true;
    return new GuestCodeError({
      code: 'STACK_OVERFLOW',
      message: `RangeError: the sandbox ran out of stack (${err.message}): a value nested too deeply, or recursion too deep`,
    });
  }

  /** Guest time of this call so far, the running segment included. */
  guestMsNow(): number {
    return this.callGuestMs + (this.depth > 0 ? now() - this.segmentStart : 0);
  }

  /** Bytes of WASM memory this context's module has grown to (its heap high-water mark). */
  heapBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** Whether the running code is past its limit: the engine's interrupt handler. */
  shouldInterrupt(): boolean {
    const d = this.deadline;
    if (d.mode === 'none') return false;
    const t = now();
    if (d.mode === 'wall') return t > d.at;
    if (d.mode === 'send') return this.guestMsNow() > d.cpuMs || sendElapsed(this, d) > d.wallMs;
    // The guest stamps each event's start time (state.t, its Date.now()); reading it costs a
    // boundary crossing, so read it a few times per limit period, not on every handler call.
    if (t - d.checkedAt < Math.min(25, d.cpuMs / 8)) return false;
    d.checkedAt = t;
    const h = this.ctx.getProp(this.state, 't');
    const startedAt = this.ctx.typeof(h) === 'number' ? this.ctx.getNumber(h) : 0;
    h.dispose();
    return Date.now() - startedAt > d.cpuMs;
  }

  /** The failure an error handle stands for; an uncatchable stop marks the context unclean. */
  failureFromHandle(handle: QuickJSHandle, fallback: SandboxFailure['code']): SandboxFailure {
    let dumped: unknown;
    try {
      dumped = this.ctx.dump(handle);
    } catch {
      dumped = { name: 'Error', message: 'unknown error' };
    }
    const { failure, escaped } = failureFromDumped(dumped, fallback, this.filename);
    if (escaped) this.unclean = true;
    return failure;
  }

  /** Calls a method of the prelude's harness, as guest code. */
  callHarness(method: string, args: QuickJSHandle[]): QuickJSHandle | { error: QuickJSHandle } {
    const fn = this.ctx.getProp(this.harness, method);
    try {
      const r = this.guest(() => this.ctx.callFunction(fn, this.harness, args));
      if (r.error) return { error: r.error };
      return r.value;
    } finally {
      fn.dispose();
    }
  }

  /** Readies the harness for a new call (console cap, fresh state). */
  resetCall(limits: SandboxLimits): void {
    // Past inputs wait for cleanupStep() (when the worker is idle), up to a few calls' worth.
    if (this.garbage.length >= 8) for (const h of this.garbage.splice(0)) if (h.alive) h.dispose();
    const lim = this.ctx.newNumber(limits.consoleBytes);
    const r = this.callHarness('reset', [lim]);
    lim.dispose();
    if ('error' in r) {
      r.error.dispose();
      throw new Error('sandbox harness reset failed');
    }
    r.dispose();
  }

  /** The guest's captured console lines of the current call. */
  readLogs(): ConsoleLine[] {
    if (!this.ctx.alive) return [];
    const saved = this.deadline;
    this.deadline = { mode: 'none' };
    try {
      const r = this.callHarness('logs', []);
      if ('error' in r) {
        r.error.dispose();
        return [];
      }
      const text = this.ctx.getString(r);
      r.dispose();
      return safeJsonParse(text) as ConsoleLine[];
    } catch {
      return [];
    } finally {
      this.deadline = saved;
    }
  }

  // ---- calls (the worker's entry points) ----

  /** One transform call over the whole batch (transform-call.ts, `runTransformBatch`). */
  runTransformBatch(input: Parameters<typeof runTransformBatch>[1]): BatchOutcome {
    return runTransformBatch(this, input);
  }

  /** The transform once per event from `input.start` (transform-call.ts, `runTransform`). */
  runTransform(input: Parameters<typeof runTransform>[1]): TransformSlice {
    return runTransform(this, input);
  }

  /** Runs `send()` (send-call.ts, `runSend`). */
  runSend(input: Parameters<typeof runSend>[1]): Promise<SendOutcome> {
    return runSend(this, input);
  }

  /**
   * Frees some of past transform calls' inputs and results: one call's input, or one call's
   * outputs. Freeing a batch of objects takes most of a millisecond per 1000 events, so the
   * worker does it in steps when it is idle, not before it starts the next call. Returns whether
   * more is left. Also done by dispose, and (all of it) by the next call when too much piled up.
   */
  cleanupStep(): boolean {
    if (this.busy || this.gone) return false; // a call is running: its end schedules cleanup again
    const h = this.garbage.pop();
    if (h) {
      if (h.alive) h.dispose();
      return true;
    }
    if (this.gone || !this.ctx.alive || this.broken) return false;
    const r = this.callHarness('clearSome', []);
    if ('error' in r) {
      r.error.dispose();
      return false;
    }
    const more = this.ctx.typeof(r) === 'boolean' && this.ctx.dump(r) === true;
    r.dispose();
    return more;
  }

  /** Drops the deferred promises of fetches not yet answered. */
  dropPending(): void {
    for (const d of this.pending) {
      if (this.ctx.alive) d.dispose();
    }
    this.pending.clear();
  }

  /**
   * Frees the context, or abandons it when its engine was stopped in a way that may have left the
   * heap inconsistent ({@link unclean}). Freeing such a runtime is what made QuickJS abort
   * (`Assertion failed: list_empty(&rt->gc_obj_list)` in JS_FreeRuntime, seen after out-of-memory
   * stops): an allocation that failed, or an interrupt, mid-operation can leave objects no
   * reference count accounts for. Each context has a WASM module and memory of its own, so
   * abandoning it loses nothing: the garbage collector takes the module with its heap.
   */
  dispose(): void {
    if (this.gone) return;
    if (this.unclean) {
      this.gone = true;
      this.pending.clear();
      this.garbage.length = 0;
      this.handles.length = 0;
      return;
    }
    this.dropPending();
    this.gone = true;
    const ctx = this.ctx;
    const runtime = this.runtime;
    safeDispose(
      () => {
        for (const h of this.garbage.splice(0)) if (h.alive) h.dispose();
      },
      () => this.entryFn?.alive && this.entryFn.dispose(),
      () => this.state.alive && this.state.dispose(),
      () => this.harness.alive && this.harness.dispose(),
      () => {
        for (const h of this.handles) if (h.alive) h.dispose();
      },
      () => ctx.alive && ctx.dispose(),
      () => runtime.alive && runtime.dispose(),
    );
  }
}

/** Runs each step, ignoring failures: a module whose engine failed cannot be disposed cleanly. */
export function safeDispose(...steps: Array<() => unknown>): void {
  for (const step of steps) {
    try {
      step();
    } catch {
      // A module whose engine failed cannot be disposed cleanly; it is dropped for GC instead.
    }
  }
}
