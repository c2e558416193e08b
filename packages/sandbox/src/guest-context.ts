/**
 * long-file: being split with the sandbox package (issue 13, sandbox); marker until then
 *
 * One warm QuickJS context for one piece of user code (one CodeRef), inside a sandbox worker.
 *
 * Each context gets its own WASM module instance with its own `WebAssembly.Memory` whose maximum is
 * the memory limit: `setMemoryLimit` does not cap bytes in the emscripten builds, the WASM memory
 * does (docs/sandbox.md). One module per context also means an engine bug is contained to one owner's
 * code, and the heap high-water mark (`memory.buffer.byteLength`) tells when to recycle.
 */
import {
  newQuickJSWASMModuleFromVariant,
  newVariant,
  type QuickJSContext,
  type QuickJSDeferredPromise,
  type QuickJSHandle,
  type QuickJSRuntime,
  RELEASE_SYNC,
} from 'quickjs-emscripten';
import { BjsonReader, encodeBjson } from './bjson.js';
import { locate, toFailure } from './failure.js';
import { PRELUDE_SOURCE } from './guest/prelude.js';
import { hostFunctions } from './host-functions.js';
import { safeJsonParse } from './output.js';
import type { ResultSegment } from './results.js';
import type { CodeRef, ConsoleLine, SandboxFailure, SandboxLimits } from './types.js';

/** Where vetted module sources come from (bundled at build time, read on first import). */
export interface ModuleProvider {
  /** The CommonJS source of a vetted module, or undefined when the name is not vetted. */
  source(name: string): string | undefined;
  /** ESM facade for `import x from 'name'`, or undefined when the name is not vetted. */
  esmFacade(name: string): string | undefined;
  names(): string[];
}

/** Async host work a send() call does (fetch); provided by the worker per call. */
export interface SendHost {
  fetch(requestJson: string): Promise<string>;
}

type Deadline =
  | { mode: 'none' }
  | { mode: 'event'; cpuMs: number; checkedAt: number }
  | { mode: 'wall'; at: number }
  /**
   * A send() call: `cpuMs` of guest code in all, and `wallMs` from `startedAt`, not counting the
   * time other calls' guest code held this worker (`othersAtStart`: the worker's guest time then).
   */
  | { mode: 'send'; cpuMs: number; wallMs: number; startedAt: number; othersAtStart: number };

/**
 * Where guest code running is reported (the worker shares it with the pool, see activity.ts), and
 * this worker's total time in guest code, so a call's wall-clock limit can leave out the time
 * other calls' code kept the thread busy.
 */
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

function describeDumped(dumped: unknown): { name: string; message: string; stack?: string } {
  if (dumped && typeof dumped === 'object') {
    const d = dumped as { name?: unknown; message?: unknown; stack?: unknown };
    const out: { name: string; message: string; stack?: string } = {
      name: typeof d.name === 'string' ? d.name : 'Error',
      message: typeof d.message === 'string' ? d.message : String(dumped),
    };
    if (typeof d.stack === 'string') out.stack = d.stack;
    return out;
  }
  return { name: 'Error', message: `uncaught ${String(dumped)}` };
}

/** Classifies an error that escaped the harness (interrupts cannot be caught inside the guest). */
export function classifyEscaped(
  name: string,
  message: string,
): 'TIMEOUT' | 'OUT_OF_MEMORY' | 'STACK_OVERFLOW' | undefined {
  if (/interrupted/i.test(message)) return 'TIMEOUT';
  if (/out of memory/i.test(message)) return 'OUT_OF_MEMORY';
  if (/stack overflow|call stack/i.test(message) && (name === 'InternalError' || name === 'RangeError')) {
    return 'STACK_OVERFLOW';
  }
  return undefined;
}

export class GuestCodeError extends Error {
  constructor(readonly failure: SandboxFailure) {
    super(failure.message);
  }
}

// The lib settings have no DOM types; this is the slice of the WebAssembly API used here.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum: number }) => WasmMemory;
  compile(bytes: Uint8Array): Promise<object>;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let compiledWasm: object | undefined;
async function wasmModule(): Promise<object> {
  if (!compiledWasm) {
    // Compile the QuickJS WASM once per worker; each context then only instantiates it.
    const { readFile } = await import('node:fs/promises');
    const { createRequire } = await import('node:module');
    const require = createRequire(import.meta.url);
    const path = require.resolve('@jitl/quickjs-wasmfile-release-sync/wasm');
    compiledWasm = await wasm.compile(await readFile(path));
  }
  return compiledWasm;
}

/** The input batch: QuickJS binary form (fast path) or JSON text. */
export interface TransformInput {
  bjson?: Uint8Array;
  json?: string;
}

/** Whether this engine reads and writes the bjson layout `bjson.ts` implements (checked once). */
let bjsonUsable = true;
let bjsonChecked = false;

export interface TransformSlice {
  /** Results of events [start, start + entries) as the guest wrote them (decoded on the main thread). */
  segment?: ResultSegment;
  /** How many events the guest recorded an error for (the context is then recycled). */
  errors: number;
  logs: ConsoleLine[];
  /** Set when an uncatchable stop hit event `index`; the context is then unusable. */
  stopped?: { index: number; failure: SandboxFailure };
  /** Set when the call failed in a way no event can be blamed for. */
  fatal?: SandboxFailure;
}

/**
 * Outcome of one call over the whole batch: its results, or why the batch has to run per event
 * (`taint`: the code used the batch in a way outputs cannot be traced through; `untraceable`: it
 * returned something other than a tracked array; `unencodable`: the outputs cannot cross as bjson;
 * `error`: something threw; `interrupted`: CPU limit, or an uncatchable engine failure).
 */
export type BatchOutcome =
  | { outcome: 'ok'; segment: ResultSegment; logs: ConsoleLine[] }
  | { outcome: 'taint' | 'untraceable' | 'unencodable' | 'error' | 'interrupted' };

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
  private deadline: Deadline = { mode: 'none' };
  private readonly handles: QuickJSHandle[] = [];
  private sendHost: SendHost | undefined;
  /** Past transform calls' inputs, freed by {@link cleanupStep}. */
  private readonly garbage: QuickJSHandle[] = [];
  private readonly pending = new Set<QuickJSDeferredPromise>();
  readonly filename: string;
  /** The pool's id of the call this context is serving (reported while its code runs). */
  callId = 0;
  /** Time the current call's guest code has run, in ms (its CPU time, on this thread). */
  private callGuestMs = 0;
  private segmentStart = 0;
  private depth = 0;
  /** Set once disposed or abandoned: no continuation may touch the engine again. */
  private gone = false;

  private constructor(
    readonly key: string,
    readonly kind: CodeRef['kind'],
    private readonly memory: WasmMemory,
    private readonly runtime: QuickJSRuntime,
    private readonly ctx: QuickJSContext,
    private readonly harness: QuickJSHandle,
    private readonly state: QuickJSHandle,
    private entryFn: QuickJSHandle | undefined,
  ) {
    this.filename = `${kind}.js`;
  }

  /** Runs guest code (anything that may run bytecode), metered and reported as this call's. */
  private guest<T>(run: () => T): T {
    if (this.depth++ === 0) {
      this.segmentStart = now();
      meter.enter(this.callId);
    }
    try {
      return run();
    } finally {
      if (--this.depth === 0) {
        const spent = now() - this.segmentStart;
        this.callGuestMs += spent;
        workerGuestMs += spent;
        meter.leave();
      }
    }
  }

  /** Guest time of this call so far, the running segment included. */
  private guestMsNow(): number {
    return this.callGuestMs + (this.depth > 0 ? now() - this.segmentStart : 0);
  }

  /**
   * Wall-clock time of the current send() call so far, less the time other calls' guest code held
   * the thread meanwhile (it could not run then: that wait is not its own).
   */
  private sendElapsed(d: Extract<Deadline, { mode: 'send' }>): number {
    const others = workerGuestMs - d.othersAtStart - this.callGuestMs;
    return now() - d.startedAt - Math.max(0, others);
  }

  /** Bytes of WASM memory this context's module has grown to (its heap high-water mark). */
  heapBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /**
   * Creates a context and evaluates the user code in it (its top level runs, under the CPU limit).
   * Rejects with {@link GuestCodeError} (`COMPILE_ERROR`) when the code does not parse, throws at
   * top level, or does not define the function for its kind.
   */
  static async create(input: {
    key: string;
    kind: CodeRef['kind'];
    code: string;
    limits: SandboxLimits;
    modules: ModuleProvider;
    /** The call whose code the top level runs for (reported while it runs). */
    callId?: number;
  }): Promise<GuestContext> {
    const { limits } = input;
    const memory = new wasm.Memory({ initial: 256, maximum: limits.memoryBytes / 65536 });
    const module = await newQuickJSWASMModuleFromVariant(
      newVariant(RELEASE_SYNC, { wasmModule: (await wasmModule()) as never, wasmMemory: memory as never }),
    );
    const runtime = module.newRuntime();
    runtime.setMaxStackSize(limits.stackBytes);
    // The byte count is wrong in emscripten builds (see docs/sandbox.md); the WASM memory is the real
    // cap. Keep QuickJS's own limit off so it does not fail early on miscounted allocations.
    runtime.setMemoryLimit(-1);
    runtime.setModuleLoader(
      (name) => {
        const facade = input.modules.esmFacade(name);
        if (facade === undefined) return { error: new Error(moduleRefusal(name, input.modules)) };
        return facade;
      },
      (_base, requested) => requested,
    );
    const ctx = runtime.newContext();
    let guest: GuestContext | undefined;
    try {
      guest = GuestContext.init(input, memory, runtime, ctx);
      return guest;
    } catch (err) {
      if (guest) guest.dispose();
      else
        safeDispose(
          () => ctx.dispose(),
          () => runtime.dispose(),
        );
      throw err;
    }
  }

  private static init(
    input: {
      key: string;
      kind: CodeRef['kind'];
      code: string;
      limits: SandboxLimits;
      modules: ModuleProvider;
      callId?: number;
    },
    memory: WasmMemory,
    runtime: QuickJSRuntime,
    ctx: QuickJSContext,
  ): GuestContext {
    const filename = `${input.kind}.js`;
    // Host bridge: three functions, handed to the prelude and then unreachable from user code.
    const bridge = ctx.newObject();
    const callFn = ctx.newFunction('call', (nameH, argsH) => {
      const name = ctx.getString(nameH);
      const fn = Object.hasOwn(hostFunctions, name) ? hostFunctions[name] : undefined;
      if (!fn) throw new Error(`unknown host function ${name}`);
      const args = JSON.parse(ctx.getString(argsH)) as unknown[];
      const result = fn(...args);
      return result === undefined ? ctx.undefined : ctx.newString(JSON.stringify(result));
    });
    const moduleFn = ctx.newFunction('module', (nameH) => {
      const name = ctx.getString(nameH);
      const src = input.modules.source(name);
      if (src === undefined) throw new Error(moduleRefusal(name, input.modules));
      return ctx.newString(src);
    });
    let guest: GuestContext | undefined;
    const fetchFn = ctx.newFunction('fetch', (reqH) => {
      const requestJson = ctx.getString(reqH);
      const self = guest;
      if (!self?.sendHost) throw new Error('fetch is not available here');
      return self.startFetch(self.sendHost, requestJson);
    });
    ctx.setProp(bridge, 'call', callFn);
    ctx.setProp(bridge, 'module', moduleFn);
    ctx.setProp(bridge, 'fetch', fetchFn);
    callFn.dispose();
    moduleFn.dispose();
    fetchFn.dispose();

    const preludeFn = ctx.unwrapResult(ctx.evalCode(PRELUDE_SOURCE, 'prelude.js'));
    const kindH = ctx.newString(input.kind);
    const namesH = ctx.newString(JSON.stringify(input.modules.names()));
    const harnessResult = ctx.callFunction(preludeFn, ctx.undefined, bridge, kindH, namesH);
    preludeFn.dispose();
    kindH.dispose();
    namesH.dispose();
    bridge.dispose();
    const harness = ctx.unwrapResult(harnessResult);
    const state = ctx.getProp(harness, 'state');
    guest = new GuestContext(input.key, input.kind, memory, runtime, ctx, harness, state, undefined);
    guest.callId = input.callId ?? 0;
    if (!bjsonChecked) {
      bjsonChecked = true;
      bjsonUsable = guest.checkBjson();
    }
    runtime.setInterruptHandler(() => guest?.shouldInterrupt() ?? false);

    // Evaluate the user code; its top level runs under the per-call CPU limit.
    const name = input.kind;
    const isModule = /^\s*(import\s*[\w{*'"]|export\s)/m.test(input.code);
    const source = `${input.code}\n;try{globalThis.__openpipes_entry=${name}}catch(e){}`;
    guest.deadline = { mode: 'wall', at: now() + input.limits.transformCpuMs };
    const self = guest;
    const evaluated = self.guest(() =>
      ctx.evalCode(source, filename, isModule ? { type: 'module' } : { type: 'global' }),
    );
    guest.deadline = { mode: 'none' };
    if (evaluated.error) {
      const failure = guest.failureFromHandle(evaluated.error, 'COMPILE_ERROR');
      evaluated.error.dispose();
      guest.dispose();
      throw new GuestCodeError(failure);
    }
    let namespace: QuickJSHandle | undefined = evaluated.value;
    if (isModule) {
      self.guest(() => runtime.executePendingJobs());
      const state = ctx.getPromiseState(namespace);
      if (state.type === 'rejected') {
        const failure = guest.failureFromHandle(state.error, 'COMPILE_ERROR');
        state.error.dispose();
        namespace.dispose();
        guest.dispose();
        throw new GuestCodeError(failure);
      }
      if (state.type === 'fulfilled') {
        if (!state.notAPromise) {
          namespace.dispose();
          namespace = state.value;
        }
      }
    }
    let entry: QuickJSHandle | undefined;
    if (isModule && namespace && ctx.typeof(namespace) === 'object') {
      for (const key of [name, 'default']) {
        const h = ctx.getProp(namespace, key);
        if (ctx.typeof(h) === 'function') {
          entry = h;
          break;
        }
        h.dispose();
      }
    }
    namespace?.dispose();
    if (!entry) {
      const entryGetter = ctx.getProp(harness, 'entry');
      const nameH = ctx.newString(name);
      const found = ctx.unwrapResult(ctx.callFunction(entryGetter, harness, nameH));
      entryGetter.dispose();
      nameH.dispose();
      if (ctx.typeof(found) === 'function') entry = found;
      else found.dispose();
    }
    if (!entry) {
      guest.dispose();
      throw new GuestCodeError({
        code: 'COMPILE_ERROR',
        message: `the code does not define a function named ${name} (write \`function ${name}(...) { ... }\`)`,
      });
    }
    guest.entryFn = entry;
    return guest;
  }

  private shouldInterrupt(): boolean {
    const d = this.deadline;
    if (d.mode === 'none') return false;
    const t = now();
    if (d.mode === 'wall') return t > d.at;
    if (d.mode === 'send') return this.guestMsNow() > d.cpuMs || this.sendElapsed(d) > d.wallMs;
    // The guest stamps each event's start time (state.t, its Date.now()); reading it costs a
    // boundary crossing, so read it a few times per limit period, not on every handler call.
    if (t - d.checkedAt < Math.min(25, d.cpuMs / 8)) return false;
    d.checkedAt = t;
    const h = this.ctx.getProp(this.state, 't');
    const startedAt = this.ctx.typeof(h) === 'number' ? this.ctx.getNumber(h) : 0;
    h.dispose();
    return Date.now() - startedAt > d.cpuMs;
  }

  private failureFromHandle(handle: QuickJSHandle, fallback: SandboxFailure['code']): SandboxFailure {
    let dumped: unknown;
    try {
      dumped = this.ctx.dump(handle);
    } catch {
      dumped = { name: 'Error', message: 'unknown error' };
    }
    const d = describeDumped(dumped);
    const escaped = classifyEscaped(d.name, d.message);
    if (escaped) this.unclean = true;
    const message = escaped === 'TIMEOUT' ? 'CPU time limit exceeded' : `${d.name}: ${d.message}`;
    const failure: SandboxFailure = {
      code: escaped ?? fallback,
      message,
      ...locate(d.stack ?? d.message, this.filename),
    };
    if (d.stack) failure.stack = d.stack;
    if (failure.line === undefined && d.name === 'SyntaxError') {
      // QuickJS puts the location of a syntax error in the stack as "at file:line:col".
      Object.assign(failure, locate(d.stack, this.filename));
    }
    return failure;
  }

  private callHarness(method: string, args: QuickJSHandle[]): QuickJSHandle | { error: QuickJSHandle } {
    const fn = this.ctx.getProp(this.harness, method);
    try {
      const r = this.guest(() => this.ctx.callFunction(fn, this.harness, args));
      if (r.error) return { error: r.error };
      return r.value;
    } finally {
      fn.dispose();
    }
  }

  private resetCall(limits: SandboxLimits): void {
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
  private readLogs(): ConsoleLine[] {
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

  /**
   * Copies state.results out of the guest in QuickJS's binary form, or undefined if it cannot.
   * The bytes are not checked here: the main thread reads them, and when they hold something it
   * cannot read (not JSON data, a cycle) it asks for the call again with text results.
   */
  private resultBytes(): Uint8Array | undefined {
    if (!bjsonUsable) return undefined;
    const { ctx } = this;
    const results = ctx.getProp(this.state, 'results');
    try {
      const encoded = ctx.encodeBinaryJSON(results);
      try {
        const view = ctx.getArrayBuffer(encoded);
        // Copied out of the WASM heap into a buffer of its own, which is transferred, not copied,
        // to the main thread.
        const bytes = new Uint8Array(view.value);
        view.dispose();
        return bytes;
      } finally {
        encoded.dispose();
      }
    } catch {
      return undefined;
    } finally {
      results.dispose();
    }
  }

  /**
   * Reads state.results (one entry per event run so far) out of the guest: one binary copy when
   * the outputs are plain data, JSON text otherwise (getters, toJSON, Map, cycles...) or when asked.
   */
  private readResults(start: number, limits: SandboxLimits, asText: boolean): ResultSegment {
    const outputLimit = limits.outputBytes;
    const bytes = asText ? undefined : this.resultBytes();
    if (bytes) return { kind: 'entries', start, bytes };
    const { ctx } = this;
    const limit = ctx.newNumber(outputLimit);
    const r = this.callHarness('resultsJson', [limit]);
    limit.dispose();
    if ('error' in r) {
      const failure = this.failureFromHandle(r.error, 'OUT_OF_MEMORY');
      r.error.dispose();
      throw new GuestCodeError(failure);
    }
    const text = ctx.getString(r);
    r.dispose();
    return { kind: 'entries-json', start, text };
  }

  private readErrors(): number {
    const h = this.ctx.getProp(this.state, 'errors');
    const n = this.ctx.typeof(h) === 'number' ? this.ctx.getNumber(h) : 0;
    h.dispose();
    const severe = this.ctx.getProp(this.state, 'severe');
    if (this.ctx.typeof(severe) === 'boolean') this.unclean = true;
    severe.dispose();
    return n;
  }

  /** Copies the input batch into the guest (one binary copy, or JSON text when bjson is off). */
  private readInput(input: TransformInput): QuickJSHandle | { error: QuickJSHandle } {
    const { ctx } = this;
    if (input.bjson && bjsonUsable) {
      const b = input.bjson;
      const buffer = ctx.newArrayBuffer(
        b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b.buffer : b.slice().buffer,
      );
      const events = ctx.decodeBinaryJSON(buffer);
      buffer.dispose();
      return events;
    }
    const text = input.json ?? JSON.stringify(new BjsonReader(input.bjson!).value());
    const jsonH = ctx.newString(text);
    const r = this.callHarness('parse', [jsonH]);
    jsonH.dispose();
    return r;
  }

  /**
   * Calls the transform once with the whole batch, through tracked arrays that record which input
   * every output came from (the prelude's `transformBatch`). The call gets one event's CPU budget.
   * Anything but `ok` leaves the context unfit for reuse: the caller reruns the batch per event in
   * a fresh one, and drops this attempt's console output.
   */
  runTransformBatch(input: {
    events: TransformInput;
    profilesJson: string | undefined;
    secretsJson: string;
    limits: SandboxLimits;
  }): BatchOutcome {
    const { ctx } = this;
    this.uses++;
    this.resetCall(input.limits);
    const events = this.readInput(input.events);
    if ('error' in events) {
      events.error.dispose();
      return { outcome: 'interrupted' };
    }
    const args = [
      this.entryFn!,
      events,
      input.profilesJson === undefined ? ctx.undefined : ctx.newString(input.profilesJson),
      ctx.newString(input.secretsJson),
    ];
    this.deadline = { mode: 'event', cpuMs: input.limits.transformCpuMs, checkedAt: now() };
    let r: QuickJSHandle | { error: QuickJSHandle };
    try {
      r = this.callHarness('transformBatch', args);
    } finally {
      this.deadline = { mode: 'none' };
      for (const h of args.slice(2)) if (h.alive && h !== ctx.undefined) h.dispose();
      // Freeing the batch is left to cleanupStep(), after the results went out.
      this.garbage.push(events);
    }
    if ('error' in r) {
      // An interrupt (CPU limit) or an engine failure escaped the harness.
      r.error.dispose();
      return { outcome: 'interrupted' };
    }
    const outcome = ctx.typeof(r) === 'string' ? ctx.getString(r) : 'error';
    r.dispose();
    if (outcome !== 'ok') {
      return { outcome: outcome === 'taint' || outcome === 'untraceable' ? outcome : 'error' };
    }
    const bytes = this.resultBytes();
    if (!bytes) return { outcome: 'unencodable' };
    return { outcome: 'ok', segment: { kind: 'batch', bytes }, logs: this.readLogs() };
  }

  /**
   * Runs the transform once per event from `start`. The user function gets a fresh CPU budget per
   * event. Stops early (with `stopped`) when an uncatchable interrupt or engine failure hit an event.
   */
  runTransform(input: {
    events: TransformInput;
    count: number;
    profilesJson: string | undefined;
    secretsJson: string;
    start: number;
    limits: SandboxLimits;
    /** Return results as JSON text (the main thread could not read the binary form). */
    textResults?: boolean;
  }): TransformSlice {
    const { ctx } = this;
    this.uses++;
    this.resetCall(input.limits);
    const eventsHandle = this.readInput(input.events);
    if ('error' in eventsHandle) {
      const failure = this.failureFromHandle(eventsHandle.error, 'OUT_OF_MEMORY');
      eventsHandle.error.dispose();
      this.broken = true;
      return { errors: 0, logs: [], fatal: failure };
    }
    const args = [
      this.entryFn!,
      eventsHandle,
      input.profilesJson === undefined ? ctx.undefined : ctx.newString(input.profilesJson),
      ctx.newString(input.secretsJson),
      ctx.newNumber(input.start),
    ];
    this.deadline = { mode: 'event', cpuMs: input.limits.transformCpuMs, checkedAt: now() };
    let r: QuickJSHandle | { error: QuickJSHandle };
    try {
      r = this.callHarness('transform', args);
    } finally {
      this.deadline = { mode: 'none' };
      for (const h of args.slice(2)) if (h.alive && h !== ctx.undefined) h.dispose();
      this.garbage.push(eventsHandle);
    }
    if (!('error' in r)) {
      r.dispose();
      return {
        segment: this.readResults(input.start, input.limits, input.textResults === true),
        errors: this.readErrors(),
        logs: this.readLogs(),
      };
    }
    // Something escaped the per-event try/catch: an interrupt (CPU limit), or a failure while
    // reading the input. Blame the event that was running, if one was.
    this.broken = true;
    const failure = this.failureFromHandle(r.error, 'USER_CODE_ERROR');
    r.error.dispose();
    const index = this.readProgress();
    if (index < input.start || index >= input.count) {
      return { errors: 0, logs: this.readLogs(), fatal: failure };
    }
    if (failure.code === 'TIMEOUT') {
      failure.message = `CPU time limit of ${input.limits.transformCpuMs} ms exceeded`;
    }
    return {
      segment: this.readResults(input.start, input.limits, input.textResults === true),
      errors: this.readErrors(),
      logs: this.readLogs(),
      stopped: { index, failure },
    };
  }

  /**
   * Start-up check that the engine speaks the bjson layout bjson.ts writes and reads: a sample
   * goes in, is compared as JSON text, and comes back out. On any difference, JSON text is used.
   */
  private checkBjson(): boolean {
    const { ctx } = this;
    const sample = {
      s: 'latin1 \u00e9',
      w: 'wide \u20ac \ud83d\ude00',
      n: [0, 1, -1, 63, 64, -65, 2147483647, -2147483648, 2147483648, 1.5, -0.25],
      b: [true, false, null],
      o: { '0': 'index key', '12': 'x', nested: { deep: [{}] }, '': 'empty' },
    };
    try {
      const buffer = ctx.newArrayBuffer(encodeBjson(sample).slice().buffer);
      const decoded = ctx.decodeBinaryJSON(buffer);
      buffer.dispose();
      const r = this.callHarness('json', [decoded]);
      if ('error' in r) {
        r.error.dispose();
        decoded.dispose();
        return false;
      }
      const text = ctx.getString(r);
      r.dispose();
      const encoded = ctx.encodeBinaryJSON(decoded);
      decoded.dispose();
      const view = ctx.getArrayBuffer(encoded);
      const back = new BjsonReader(new Uint8Array(view.value)).value();
      view.dispose();
      encoded.dispose();
      const expected = JSON.stringify(sample);
      return text === expected && JSON.stringify(back) === expected;
    } catch {
      return false;
    }
  }

  /** Whether the binary fast path is in use (false when the start-up check failed). */
  static bjsonInUse(): boolean {
    return bjsonUsable;
  }

  private readProgress(): number {
    const h = this.ctx.getProp(this.state, 'i');
    const i = this.ctx.typeof(h) === 'number' ? this.ctx.getNumber(h) : -1;
    h.dispose();
    return i;
  }

  private startFetch(host: SendHost, requestJson: string): QuickJSHandle {
    const { ctx, runtime } = this;
    const deferred = ctx.newPromise();
    this.pending.add(deferred);
    host.fetch(requestJson).then(
      (responseJson) => {
        if (this.gone || !ctx.alive || !this.pending.has(deferred)) return;
        const h = ctx.newString(responseJson);
        this.guest(() => deferred.resolve(h));
        h.dispose();
        this.pending.delete(deferred);
        deferred.dispose();
        this.guest(() => runtime.executePendingJobs());
      },
      (err: Error) => {
        if (this.gone || !ctx.alive || !this.pending.has(deferred)) return;
        const h = ctx.newError({ name: 'TypeError', message: `fetch failed: ${err.message}` });
        this.guest(() => deferred.reject(h));
        h.dispose();
        this.pending.delete(deferred);
        deferred.dispose();
        this.guest(() => runtime.executePendingJobs());
      },
    );
    // The caller (QuickJS) takes its own reference; the deferred keeps ours until it settles.
    return deferred.handle.dup();
  }

  /**
   * Runs `send()`. Resolves to what it returned (parsed safely) or a failure; the wall-clock limit
   * covers awaiting promises, so a promise that never settles ends in TIMEOUT.
   */
  async runSend(input: {
    eventsJson: string;
    secretsJson: string;
    limits: SandboxLimits;
    host: SendHost;
  }): Promise<{ value?: unknown; error?: SandboxFailure; logs: ConsoleLine[] }> {
    const { ctx, runtime } = this;
    this.uses++;
    this.resetCall(input.limits);
    this.sendHost = input.host;
    this.callGuestMs = 0;
    const deadline: Extract<Deadline, { mode: 'send' }> = {
      mode: 'send',
      cpuMs: Math.min(input.limits.sendCpuMs, input.limits.sendWallMs),
      wallMs: input.limits.sendWallMs,
      startedAt: now(),
      othersAtStart: workerGuestMs,
    };
    this.deadline = deadline;
    const args = [
      this.entryFn!,
      ctx.newString(input.eventsJson),
      ctx.newString(input.secretsJson),
      ctx.newNumber(input.limits.outputBytes),
    ];
    let timer: NodeJS.Timeout | undefined;
    try {
      const r = this.callHarness('send', args);
      for (const h of args.slice(1)) h.dispose();
      if ('error' in r) {
        const failure = this.failureFromHandle(r.error, 'USER_CODE_ERROR');
        r.error.dispose();
        this.broken = true;
        return { error: failure, logs: this.readLogs() };
      }
      const settled = this.guest(() => ctx.resolvePromise(r));
      r.dispose();
      const jobs = this.guest(() => runtime.executePendingJobs());
      if (jobs.error) {
        const failure = this.failureFromHandle(jobs.error, 'USER_CODE_ERROR');
        jobs.error.dispose();
        this.broken = true;
        return { error: failure, logs: this.readLogs() };
      }
      // Ends a promise that never settles. Time other calls' code held the thread is not this
      // call's: when the timer fires early by that measure, it waits for the rest.
      const timeout = new Promise<'timeout'>((resolve) => {
        const arm = () => {
          const left = deadline.wallMs - this.sendElapsed(deadline);
          if (left <= 0) resolve('timeout');
          else timer = setTimeout(arm, Math.ceil(left));
        };
        arm();
      });
      const outcome = await Promise.race([settled, timeout]);
      if (outcome === 'timeout') {
        this.broken = true;
        this.unclean = true;
        // A promise left pending is resolved by nothing now; the context is thrown away.
        settled.then((res) => {
          if (!this.gone && ctx.alive) {
            if (res.error) res.error.dispose();
            else res.value.dispose();
          }
        });
        return {
          error: { code: 'TIMEOUT', message: this.sendTimeoutMessage(deadline) },
          logs: this.readLogs(),
        };
      }
      if (outcome.error) {
        const failure = this.failureFromHandle(outcome.error, 'USER_CODE_ERROR');
        outcome.error.dispose();
        this.broken = true;
        if (failure.code === 'TIMEOUT') {
          failure.message = this.sendTimeoutMessage(deadline);
        }
        return { error: failure, logs: this.readLogs() };
      }
      const text = ctx.getString(outcome.value);
      outcome.value.dispose();
      const parsed = safeJsonParse(text) as { o?: unknown; e?: unknown };
      const logs = this.readLogs();
      if (parsed.e !== undefined) {
        this.broken = true;
        const failure = toFailure(parsed.e, this.filename);
        if (failure.code !== 'USER_CODE_ERROR' && failure.code !== 'INVALID_OUTPUT') this.unclean = true;
        if (failure.code === 'TIMEOUT') failure.message = this.sendTimeoutMessage(deadline);
        return { error: failure, logs };
      }
      return { value: parsed.o, logs };
    } finally {
      if (timer) clearTimeout(timer);
      this.deadline = { mode: 'none' };
      this.sendHost = undefined;
      this.dropPending();
    }
  }

  /** Which of send()'s limits stopped it. */
  private sendTimeoutMessage(d: Extract<Deadline, { mode: 'send' }>): string {
    if (this.guestMsNow() >= d.cpuMs) {
      return `send() ran JavaScript for more than its CPU time limit of ${d.cpuMs} ms`;
    }
    return `send() did not finish within ${d.wallMs} ms`;
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

  private dropPending(): void {
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

function safeDispose(...steps: Array<() => unknown>): void {
  for (const step of steps) {
    try {
      step();
    } catch {
      // A module whose engine failed cannot be disposed cleanly; it is dropped for GC instead.
    }
  }
}

function moduleRefusal(name: string, modules: ModuleProvider): string {
  return `module "${name}" is not available in the sandbox (available: ${modules.names().join(', ')})`;
}

const now = () => performance.now();
