/**
 * long-file: one module-level state (the warm contexts, secret sets, batch memory, cleanup queue and
 * the send proxies) shared by the transform and send handlers; the vetted-module provider is in
 * vetted-modules.ts
 *
 * The sandbox worker: runs in a `worker_threads` Worker, owns QuickJS contexts, and answers the
 * pool's messages. Built by tsup as `dist/sandbox-worker.js`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { activityViews } from './activity.js';
import { createGuestContext } from './context/create.js';
import { GuestCodeError } from './context/failures.js';
import type { GuestContext } from './context/guest-context.js';
import { setGuestMeter } from './context/meter.js';
import type { BatchOutcome, TransformSlice } from './context/transform-call.js';
import { createEgressGuard, type EgressResolver } from './egress.js';
import {
  FetchFailure,
  type GuestFetchRequest,
  performGuestFetch,
  type Transport,
  undiciTransport,
} from './host-fetch.js';
import type { FromWorker, GuestFetchResponseRaw, ToWorker, WorkerConfig } from './protocol.js';
import type { ResultSegment, TransformPayload } from './results.js';
import { secretDigest } from './secret-digest.js';
import type { CapturedExchange, CodeRef, ConsoleLine, SandboxFailure, SendRun } from './types.js';
import { vettedModules as modules } from './vetted-modules.js';

const port = parentPort;
if (!port) throw new Error('sandbox-worker must run in a worker thread');
const config = workerData as WorkerConfig;
const { limits } = config;
// What guest code runs now, shared with the pool (attribution when this thread is stuck or dies).
const activity = activityViews(config.activity);
/** Starts call `id` unless the pool took it back; tells the pool it did. */
function begin(id: number): boolean {
  if (!activity.start(id)) return false;
  port!.postMessage({ type: 'started', id } satisfies FromWorker);
  return true;
}
setGuestMeter({ enter: activity.enter, leave: activity.leave });
// A heartbeat the pool reads: a worker whose loop turns settles its calls itself (each has a limit).
activity.beat();
setInterval(activity.beat, 100).unref();

// ---- warm contexts ------------------------------------------------------------------------------
const idle = new Map<string, GuestContext[]>();
let idleCount = 0;
let contextsCreated = 0;
const lru: string[] = [];

const codeKey = (code: CodeRef) => `${code.kind}\u0000${code.owner}\u0000${code.version}`;

async function acquire(code: CodeRef, secretsJson: string, callId: number): Promise<GuestContext> {
  // Kept under the secrets it is given too: after a rotation no context that saw the old value
  // (and may hold it in a module-level variable) is called again.
  const key = `${codeKey(code)}\u0000${secretSet(secretsJson)}`;
  const list = idle.get(key);
  const ctx = list?.pop();
  if (ctx) {
    idleCount--;
    if (list!.length === 0) idle.delete(key);
    ctx.busy = true;
    ctx.callId = callId;
    return ctx;
  }
  contextsCreated++;
  const created = await createGuestContext({
    key,
    kind: code.kind,
    code: code.code,
    limits,
    modules,
    callId,
  });
  bornAt.set(created, ++contextSeq);
  created.busy = true;
  return created;
}

function release(ctx: GuestContext): void {
  ctx.busy = false;
  if (
    ctx.broken ||
    isRetired(ctx) ||
    ctx.uses >= config.contextMaxUses ||
    ctx.heapBytes() > config.recycleHeapBytes
  ) {
    ctx.dispose();
    return;
  }
  const list = idle.get(ctx.key) ?? [];
  list.push(ctx);
  idle.set(ctx.key, list);
  idleCount++;
  const at = lru.indexOf(ctx.key);
  if (at >= 0) lru.splice(at, 1);
  lru.push(ctx.key);
  while (idleCount > config.maxWarmContexts && lru.length > 0) {
    const oldest = lru.shift()!;
    const victims = idle.get(oldest) ?? [];
    idle.delete(oldest);
    idleCount -= victims.length;
    for (const v of victims) v.dispose();
  }
}

// ---- secret sets (rotation) ---------------------------------------------------------------------
// The digest of each set of secrets contexts were given, with the digests of its values, so that
// retiring a value finds every set (and context) that had it. Bounded: a set forgotten here is
// still never reused with other values (the key says which values a context saw).
const SECRET_SETS_MAX = 10_000;
const setValues = new Map<string, Set<string>>();
// Set digest → the context number current when a value of it was retired: contexts born up to
// then are retired. Later ones (a call that carried the old value after the rotation, or the value
// made current again) are not.
const retiredSets = new Map<string, number>();
const bornAt = new WeakMap<GuestContext, number>();
let contextSeq = 0;
let lastSecretsJson: string | undefined;
let lastSet = '';

function secretSet(secretsJson: string): string {
  if (secretsJson === lastSecretsJson) return lastSet;
  const set = secretDigest(config.secretDigestKey, secretsJson);
  if (!setValues.has(set)) {
    if (setValues.size >= SECRET_SETS_MAX) setValues.delete(setValues.keys().next().value!);
    const values = new Set<string>();
    try {
      for (const value of Object.values(JSON.parse(secretsJson) as Record<string, unknown>)) {
        if (typeof value === 'string') values.add(secretDigest(config.secretDigestKey, value));
      }
    } catch {
      // Not an object of strings: nothing to retire by value; the key still separates it.
    }
    setValues.set(set, values);
  }
  lastSecretsJson = secretsJson;
  lastSet = set;
  return set;
}

const setOfKey = (key: string) => key.slice(key.lastIndexOf('\u0000') + 1);
const isRetired = (ctx: GuestContext) =>
  (retiredSets.get(setOfKey(ctx.key)) ?? -1) >= (bornAt.get(ctx) ?? Number.POSITIVE_INFINITY);

/** Disposes idle contexts given any value of `digests`; busy ones go when released. */
function retire(digests: string[]): number {
  const wanted = new Set(digests);
  const now = new Set<string>();
  for (const [set, values] of setValues) {
    if (![...values].some((v) => wanted.has(v))) continue;
    retiredSets.delete(set);
    if (retiredSets.size >= SECRET_SETS_MAX) retiredSets.delete(retiredSets.keys().next().value!);
    retiredSets.set(set, contextSeq);
    now.add(set);
  }
  let retired = 0;
  for (const [key, list] of idle) {
    if (!now.has(setOfKey(key))) continue;
    idle.delete(key);
    idleCount -= list.length;
    retired += list.length;
    const at = lru.indexOf(key);
    if (at >= 0) lru.splice(at, 1);
    for (const ctx of list) ctx.dispose();
  }
  return retired;
}

function post(msg: FromWorker): void {
  port!.postMessage(msg);
}

// ---- transform ----------------------------------------------------------------------------------
// Which code versions run per event directly: the batch path cannot trace them (remembered for
// good), or their batch attempts keep failing. Bounded; the oldest entries are forgotten first.
const batchMemory = new Map<string, { perEvent: boolean; errorStreak: number; text: boolean }>();
const BATCH_MEMORY_MAX = 10_000;
const BATCH_ERROR_STREAK = 3;
let batchRuns = 0;
let perEventRuns = 0;
const batchFallbacks: Record<string, number> = {};

function memoryOf(key: string) {
  let entry = batchMemory.get(key);
  if (!entry) {
    if (batchMemory.size >= BATCH_MEMORY_MAX) batchMemory.delete(batchMemory.keys().next().value!);
    entry = { perEvent: false, errorStreak: 0, text: false };
    batchMemory.set(key, entry);
  }
  return entry;
}

function rememberBatch(key: string, outcome: BatchOutcome['outcome']): void {
  const entry = memoryOf(key);
  if (outcome === 'ok') {
    entry.errorStreak = 0;
    return;
  }
  batchFallbacks[outcome] = (batchFallbacks[outcome] ?? 0) + 1;
  // What the code does with `events`, what it returns and what its outputs hold do not change
  // from batch to batch; a slow batch (CPU limit) would be slow again. A throw may be one bad
  // event: only a streak of them sends the code per event.
  if (outcome === 'error') entry.errorStreak++;
  if (outcome !== 'error' || entry.errorStreak >= BATCH_ERROR_STREAK) entry.perEvent = true;
}

type TransformMsg = Extract<ToWorker, { type: 'transform' }>;

// Contexts whose past inputs and outputs are still to be freed. Freeing is done in small steps
// (one call's input or outputs each) while the worker has nothing else to do: no transform
// message waiting or running, and no more chunks of a batch on their way. A step that has started
// delays a call that arrives meanwhile by a fraction of a millisecond at most.
const dirty = new Set<GuestContext>();
let cleanupScheduled = false;
let transformsPending = 0;
// Until when more chunks of the last batch are expected (a chunk sent to another worker, or a
// caller that went away, must not hold freeing back for long).
let chunksExpectedUntil = 0;
function deferCleanup(ctx: GuestContext): void {
  dirty.add(ctx);
  scheduleCleanup();
}
function scheduleCleanup(): void {
  if (cleanupScheduled || dirty.size === 0) return;
  cleanupScheduled = true;
  setImmediate(cleanupStep);
}
function cleanupStep(): void {
  cleanupScheduled = false;
  if (transformsPending > 0) return; // the end of that work schedules it again
  const wait = chunksExpectedUntil - performance.now();
  if (wait > 0) {
    cleanupScheduled = true;
    setTimeout(cleanupStep, Math.ceil(wait)).unref();
    return;
  }
  const ctx = dirty.values().next().value;
  if (!ctx) return;
  if (!ctx.cleanupStep()) dirty.delete(ctx);
  scheduleCleanup();
}

function postTransform(msg: TransformMsg, payload: TransformPayload): void {
  const transfer: ArrayBuffer[] = [];
  for (const seg of payload.segments)
    if (seg.kind !== 'entries-json') transfer.push(seg.bytes.buffer as ArrayBuffer);
  port!.postMessage({ type: 'transform-result', id: msg.id, payload } satisfies FromWorker, transfer);
}

/** One call over the whole batch. Resolves to true when it produced the results. */
async function tryBatch(msg: TransformMsg, started: number): Promise<boolean> {
  const key = codeKey(msg.code);
  let ctx: GuestContext;
  try {
    ctx = await acquire(msg.code, msg.secretsJson, msg.id);
  } catch {
    return false; // the per-event path reports the failure
  }
  let result: BatchOutcome;
  try {
    result = ctx.runTransformBatch({
      events: { bjson: msg.eventsBjson },
      profiles: msg.profilesBjson,
      secretsJson: msg.secretsJson,
      limits,
    });
  } catch {
    result = { outcome: 'interrupted' };
  }
  if (result.outcome === 'interrupted') ctx.unclean = true;
  rememberBatch(key, result.outcome);
  if (result.outcome !== 'ok') {
    // The attempt may have changed the context's state (and the input objects in it): the batch
    // runs again per event in another context, and this attempt's console output is dropped.
    ctx.broken = true;
    release(ctx);
    return false;
  }
  batchRuns++;
  postTransform(msg, {
    count: msg.count,
    segments: [result.segment],
    failures: [],
    logs: result.logs,
    durationMs: performance.now() - started,
    path: 'batch',
    ...(ctx.profilesUnread ? { profilesUnread: true as const } : {}),
  });
  release(ctx);
  deferCleanup(ctx);
  return true;
}

async function runTransform(msg: TransformMsg): Promise<void> {
  const started = performance.now();
  const key = codeKey(msg.code);
  if (msg.textResults) {
    // The main thread could not read this code's binary results: per event, as text, from now on.
    const memory = memoryOf(key);
    if (!memory.text) batchFallbacks.unencodable = (batchFallbacks.unencodable ?? 0) + 1;
    memory.perEvent = true;
    memory.text = true;
  }
  const memory = batchMemory.get(key);
  if (config.batchTransforms && msg.count > 1 && !memory?.perEvent) {
    if (await tryBatch(msg, started)) return;
  }
  const textResults = memory?.text === true;
  perEventRuns++;
  const segments: ResultSegment[] = [];
  const failures: TransformPayload['failures'] = [];
  const logs: ConsoleLine[] = [];
  const used: GuestContext[] = [];
  let start = 0;
  while (start < msg.count) {
    let ctx: GuestContext;
    try {
      ctx = await acquire(msg.code, msg.secretsJson, msg.id);
    } catch (err) {
      const failure = err instanceof GuestCodeError ? err.failure : internalFailure(err);
      if (start === 0) {
        post({ type: 'transform-result', id: msg.id, failure });
        return;
      }
      for (let i = start; i < msg.count; i++) failures.push([i, failure]);
      break;
    }
    let slice: TransformSlice;
    try {
      slice = ctx.runTransform({
        events: { bjson: msg.eventsBjson },
        count: msg.count,
        profiles: msg.profilesBjson,
        secretsJson: msg.secretsJson,
        start,
        limits,
        textResults,
      });
    } catch (err) {
      ctx.broken = true;
      ctx.unclean = true;
      release(ctx);
      const failure = err instanceof GuestCodeError ? err.failure : internalFailure(err);
      post({ type: 'transform-result', id: msg.id, failure });
      return;
    }
    used.push(ctx);
    if (slice.stopped || slice.fatal) ctx.unclean = true;
    if (slice.segment) segments.push(slice.segment);
    logs.push(...slice.logs);
    // Any error in user code may have left the context in a bad state: start the next call fresh.
    if (slice.errors > 0) ctx.broken = true;
    release(ctx);
    if (slice.fatal) {
      post({ type: 'transform-result', id: msg.id, failure: slice.fatal });
      return;
    }
    if (!slice.stopped) break;
    failures.push([slice.stopped.index, slice.stopped.failure]);
    start = slice.stopped.index + 1;
  }
  postTransform(msg, {
    count: msg.count,
    segments,
    failures,
    logs,
    durationMs: performance.now() - started,
    path: 'per-event',
    ...(used.length > 0 && used.every((c) => c.profilesUnread) ? { profilesUnread: true as const } : {}),
  });
  for (const ctx of used) deferCleanup(ctx);
}

// ---- send ---------------------------------------------------------------------------------------
let guard: ReturnType<typeof createEgressGuard> | undefined;
function guardedTransport(): Transport {
  guard ??= createEgressGuard({
    allow: config.egressAllow,
    connectTimeoutMs: limits.fetchTimeoutMs,
    ...(config.egressResolver === undefined ? {} : { resolve: moduleResolver(config.egressResolver) }),
  });
  return undiciTransport(guard.dispatcher);
}

/** The operator's resolver module (SandboxOptions.egress.resolver), imported on first use. */
function moduleResolver(url: string): EgressResolver {
  let loaded: Promise<EgressResolver> | undefined;
  return async (hostname) => {
    loaded ??= import(url).then((mod: { default?: unknown }) => {
      if (typeof mod.default !== 'function') {
        throw new Error(`egress resolver module ${url} has no default export function`);
      }
      return mod.default as EgressResolver;
    });
    return (await loaded)(hostname);
  };
}

let nextFetchId = 1;
const proxied = new Map<
  number,
  { resolve: (r: GuestFetchResponseRaw) => void; reject: (e: Error) => void }
>();

function proxyTransport(callId: number): Transport {
  return (req, signal, maxBytes) =>
    new Promise<GuestFetchResponseRaw>((resolve, reject) => {
      const fetchId = nextFetchId++;
      proxied.set(fetchId, { resolve, reject });
      signal.addEventListener('abort', () => {
        if (proxied.delete(fetchId)) reject(new FetchFailure('TIMEOUT', 'fetch aborted'));
      });
      post({ type: 'fetch', id: callId, fetchId, request: req, maxBytes });
    });
}

function semaphore(max: number) {
  let active = 0;
  const queue: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= max) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await task();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

async function runSend(msg: Extract<ToWorker, { type: 'send' }>): Promise<void> {
  const started = performance.now();
  const exchanges: CapturedExchange[] = [];
  const finish = (run: Omit<SendRun, 'durationMs' | 'exchanges'>) =>
    post({
      type: 'send-result',
      id: msg.id,
      run: { ...run, exchanges, durationMs: performance.now() - started },
    });
  let ctx: GuestContext;
  try {
    ctx = await acquire(msg.code, msg.secretsJson, msg.id);
  } catch (err) {
    finish({ error: err instanceof GuestCodeError ? err.failure : internalFailure(err), logs: [] });
    return;
  }
  const transport = msg.proxyFetch ? proxyTransport(msg.id) : guardedTransport();
  const limit = semaphore(limits.fetchConcurrency);
  const abort = new AbortController();
  try {
    const result = await ctx.runSend({
      events: { bjson: msg.eventsBjson },
      secretsJson: msg.secretsJson,
      limits,
      host: {
        fetch: (requestJson) =>
          limit(async () => {
            // Taken back by the pool (this worker was stuck): it runs elsewhere; reach nothing.
            if (!activity.reachOut(msg.id)) throw new Error('the call moved to another sandbox worker');
            const request = JSON.parse(requestJson) as GuestFetchRequest;
            const response = await performGuestFetch(request, transport, limits, exchanges, abort.signal);
            return JSON.stringify(response);
          }),
      },
    });
    finish(result);
  } catch (err) {
    ctx.broken = true;
    ctx.unclean = true;
    finish({ error: internalFailure(err), logs: [] });
  } finally {
    abort.abort();
    release(ctx);
  }
}

// ---- compile ------------------------------------------------------------------------------------
async function runCompile(msg: Extract<ToWorker, { type: 'compile' }>): Promise<void> {
  try {
    const ctx = await createGuestContext({
      key: `compile\u0000${msg.id}`,
      kind: msg.kind,
      code: msg.code,
      limits,
      modules,
      callId: msg.id,
    });
    ctx.dispose();
    post({ type: 'compile-result', id: msg.id });
  } catch (err) {
    const failure: SandboxFailure =
      err instanceof GuestCodeError ? { ...err.failure, code: 'COMPILE_ERROR' } : internalFailure(err);
    post({ type: 'compile-result', id: msg.id, failure });
  }
}

function internalFailure(err: unknown): SandboxFailure {
  const message = err instanceof Error ? err.message : String(err);
  if (/out of memory|memory access out of bounds|Aborted\(/i.test(message)) {
    return { code: 'OUT_OF_MEMORY', message: `the sandbox ran out of memory: ${message}` };
  }
  return { code: 'WORKER_CRASHED', message: `sandbox failure: ${message}` };
}

// Transforms are synchronous inside QuickJS; run them one at a time in arrival order so a long
// batch cannot interleave with another's context state. Sends interleave freely (they await I/O).
let transformQueue: Promise<void> = Promise.resolve();

port.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'transform':
      transformsPending++;
      transformQueue = transformQueue
        // A call the pool took back before it started (it runs elsewhere) is skipped.
        .then(() => (begin(msg.id) ? runTransform(msg) : undefined))
        .catch(() => {})
        .then(() => {
          transformsPending--;
          chunksExpectedUntil = msg.more === true ? performance.now() + 5 : 0;
          scheduleCleanup();
        });
      break;
    case 'send':
      if (begin(msg.id)) void runSend(msg);
      break;
    case 'compile':
      transformQueue = transformQueue
        .then(() => (begin(msg.id) ? runCompile(msg) : undefined))
        .catch(() => {});
      break;
    case 'fetch-result': {
      const waiter = proxied.get(msg.fetchId);
      if (!waiter) break;
      proxied.delete(msg.fetchId);
      if (msg.response) waiter.resolve(msg.response);
      else waiter.reject(new FetchFailure('CONNECTION', msg.error?.message ?? 'fetch failed'));
      break;
    }
    case 'retire':
      post({ type: 'retire-result', id: msg.id, retired: retire(msg.digests) });
      break;
    case 'stats': {
      let heapBytes = 0;
      for (const list of idle.values()) for (const c of list) heapBytes += c.heapBytes();
      post({
        type: 'stats-result',
        id: msg.id,
        stats: {
          warmContexts: idleCount,
          contextsCreated,
          heapBytes,
          batchRuns,
          batchFallbacks: { ...batchFallbacks },
          perEventRuns,
        },
      });
      break;
    }
  }
});

post({ type: 'ready' });
