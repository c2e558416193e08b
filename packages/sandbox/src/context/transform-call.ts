/**
 * A transform call in a {@link GuestContext}: the batch goes in once (QuickJS's binary form, or
 * JSON text), the prelude's harness runs the user's function over it — once over the whole batch
 * through tracked arrays, or once per event — and the results come out once (binary, or JSON text
 * when they are not plain data). Progress is kept on the harness's `state` object, so after an
 * uncatchable stop the host knows which event was running.
 */
import type { QuickJSHandle } from 'quickjs-emscripten';
import { BjsonReader, encodeBjson } from '../bjson.js';
import type { ResultSegment } from '../results.js';
import type { ConsoleLine, SandboxFailure, SandboxLimits } from '../types.js';
import { GuestCodeError } from './failures.js';
import type { GuestContext } from './guest-context.js';
import { now } from './meter.js';

/** An input batch (events): QuickJS binary form (fast path) or JSON text. */
export interface TransformInput {
  bjson?: Uint8Array;
  json?: string;
}

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

/** Whether this engine reads and writes the bjson layout `bjson.ts` implements (checked once). */
let bjsonUsable = true;
let bjsonChecked = false;

/**
 * Calls the transform once with the whole batch, through tracked arrays that record which input
 * every output came from (the prelude's `transformBatch`). The call gets one event's CPU budget.
 * Anything but `ok` leaves the context unfit for reuse: the caller reruns the batch per event in
 * a fresh one, and drops this attempt's console output.
 */
export function runTransformBatch(
  g: GuestContext,
  input: {
    events: TransformInput;
    /** The transform's profiles as QuickJS bjson (input.ts), or none. */
    profiles: Uint8Array | undefined;
    secretsJson: string;
    limits: SandboxLimits;
  },
): BatchOutcome {
  const { ctx } = g;
  g.uses++;
  g.resetCall(input.limits);
  const inputs = readInputs(g, input);
  if ('error' in inputs) {
    inputs.error.dispose();
    return { outcome: 'interrupted' };
  }
  const { events, profiles } = inputs;
  const args = [g.entryFn!, events, profiles, ctx.newString(input.secretsJson)];
  g.deadline = { mode: 'event', cpuMs: input.limits.transformCpuMs, checkedAt: now() };
  let r: QuickJSHandle | { error: QuickJSHandle };
  try {
    r = g.callHarness('transformBatch', args);
  } finally {
    g.deadline = { mode: 'none' };
    for (const h of args.slice(2)) if (h.alive && h !== ctx.undefined) h.dispose();
    // Freeing the batch is left to cleanupStep(), after the results went out.
    g.garbage.push(events);
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
  const bytes = resultBytes(g);
  if (!bytes) return { outcome: 'unencodable' };
  return { outcome: 'ok', segment: { kind: 'batch', bytes }, logs: g.readLogs() };
}

/**
 * Runs the transform once per event from `start`. The user function gets a fresh CPU budget per
 * event. Stops early (with `stopped`) when an uncatchable interrupt or engine failure hit an event.
 */
export function runTransform(
  g: GuestContext,
  input: {
    events: TransformInput;
    count: number;
    /** The transform's profiles as QuickJS bjson (input.ts), or none. */
    profiles: Uint8Array | undefined;
    secretsJson: string;
    start: number;
    limits: SandboxLimits;
    /** Return results as JSON text (the main thread could not read the binary form). */
    textResults?: boolean;
  },
): TransformSlice {
  const { ctx } = g;
  g.uses++;
  g.resetCall(input.limits);
  const inputs = readInputs(g, input);
  if ('error' in inputs) {
    const failure = g.failureFromHandle(inputs.error, 'OUT_OF_MEMORY');
    inputs.error.dispose();
    g.broken = true;
    return { errors: 0, logs: [], fatal: failure };
  }
  const { events: eventsHandle, profiles } = inputs;
  const args = [
    g.entryFn!,
    eventsHandle,
    profiles,
    ctx.newString(input.secretsJson),
    ctx.newNumber(input.start),
  ];
  g.deadline = { mode: 'event', cpuMs: input.limits.transformCpuMs, checkedAt: now() };
  let r: QuickJSHandle | { error: QuickJSHandle };
  try {
    r = g.callHarness('transform', args);
  } finally {
    g.deadline = { mode: 'none' };
    for (const h of args.slice(2)) if (h.alive && h !== ctx.undefined) h.dispose();
    g.garbage.push(eventsHandle);
  }
  if (!('error' in r)) {
    r.dispose();
    return {
      segment: readResults(g, input.start, input.limits, input.textResults === true),
      errors: readErrors(g),
      logs: g.readLogs(),
    };
  }
  // Something escaped the per-event try/catch: an interrupt (CPU limit), or a failure while
  // reading the input. Blame the event that was running, if one was.
  g.broken = true;
  const failure = g.failureFromHandle(r.error, 'USER_CODE_ERROR');
  r.error.dispose();
  const index = readProgress(g);
  if (index < input.start || index >= input.count) {
    return { errors: 0, logs: g.readLogs(), fatal: failure };
  }
  if (failure.code === 'TIMEOUT') {
    failure.message = `CPU time limit of ${input.limits.transformCpuMs} ms exceeded`;
  }
  return {
    segment: readResults(g, input.start, input.limits, input.textResults === true),
    errors: readErrors(g),
    logs: g.readLogs(),
    stopped: { index, failure },
  };
}

/**
 * Copies state.results out of the guest in QuickJS's binary form, or undefined if it cannot.
 * The bytes are not checked here: the main thread reads them, and when they hold something it
 * cannot read (not JSON data, a cycle) it asks for the call again with text results.
 */
function resultBytes(g: GuestContext): Uint8Array | undefined {
  if (!bjsonUsable) return undefined;
  const { ctx } = g;
  const results = ctx.getProp(g.state, 'results');
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
function readResults(g: GuestContext, start: number, limits: SandboxLimits, asText: boolean): ResultSegment {
  const outputLimit = limits.outputBytes;
  const bytes = asText ? undefined : resultBytes(g);
  if (bytes) return { kind: 'entries', start, bytes };
  const { ctx } = g;
  const limit = ctx.newNumber(outputLimit);
  const r = g.callHarness('resultsJson', [limit]);
  limit.dispose();
  if ('error' in r) {
    const failure = g.failureFromHandle(r.error, 'OUT_OF_MEMORY');
    r.error.dispose();
    throw new GuestCodeError(failure);
  }
  const text = ctx.getString(r);
  r.dispose();
  return { kind: 'entries-json', start, text };
}

function readErrors(g: GuestContext): number {
  const h = g.ctx.getProp(g.state, 'errors');
  const n = g.ctx.typeof(h) === 'number' ? g.ctx.getNumber(h) : 0;
  h.dispose();
  const severe = g.ctx.getProp(g.state, 'severe');
  if (g.ctx.typeof(severe) === 'boolean') g.unclean = true;
  severe.dispose();
  return n;
}

function readProgress(g: GuestContext): number {
  const h = g.ctx.getProp(g.state, 'i');
  const i = g.ctx.typeof(h) === 'number' ? g.ctx.getNumber(h) : -1;
  h.dispose();
  return i;
}

/**
 * Copies an input batch (a transform's events, a send()'s) into the guest: one binary copy, or
 * JSON text when bjson is off.
 */
export function readInput(g: GuestContext, input: TransformInput): QuickJSHandle | { error: QuickJSHandle } {
  const { ctx } = g;
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
  const r = g.callHarness('parse', [jsonH]);
  jsonH.dispose();
  return r;
}

/** A transform's events and profiles (`undefined` when none) in the guest, or why they are not. */
function readInputs(
  g: GuestContext,
  input: { events: TransformInput; profiles: Uint8Array | undefined },
): { events: QuickJSHandle; profiles: QuickJSHandle } | { error: QuickJSHandle } {
  const events = readInput(g, input.events);
  if ('error' in events) return events;
  const profiles = input.profiles === undefined ? g.ctx.undefined : readInput(g, { bjson: input.profiles });
  if ('error' in profiles) g.garbage.push(events);
  return 'error' in profiles ? profiles : { events, profiles };
}

/** Runs {@link checkBjson} in the worker's first context; later contexts keep its answer. */
export function checkBjsonOnce(g: GuestContext): void {
  if (bjsonChecked) return;
  bjsonChecked = true;
  bjsonUsable = checkBjson(g);
}

/**
 * Start-up check that the engine speaks the bjson layout bjson.ts writes and reads: a sample
 * goes in, is compared as JSON text, and comes back out. On any difference, JSON text is used.
 */
function checkBjson(g: GuestContext): boolean {
  const { ctx } = g;
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
    const r = g.callHarness('json', [decoded]);
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
