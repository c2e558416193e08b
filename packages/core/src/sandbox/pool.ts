/**
 * long-file: being split with the sandbox package (issue 13, sandbox); marker until then
 *
 * `createSandbox()`: a pool of worker threads, each running QuickJS contexts for user code. The pool
 * routes calls, proxies a substituted `fetch` to the main thread, replaces crashed workers and
 * retries their in-flight calls once, and terminates a worker that stops answering.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { PipesError } from '../errors.js';
import { BjsonUnsupported, encodeBjson } from './bjson.js';
import { readCapped } from './host-fetch.js';
import { resolveLimits } from './limits.js';
import type { FromWorker, GuestFetchResponseRaw, ToWorker, WorkerConfig, WorkerStats } from './protocol.js';
import { assembleTransformRun } from './results.js';
import { newDigestKey, secretDigest } from './secret-digest.js';
import type {
  CodeRef,
  FetchLike,
  Sandbox,
  SandboxEvent,
  SandboxFailure,
  SandboxLimits,
  SendRun,
  TransformRun,
} from './types.js';

/** Where the sandbox reports what it does to its own machinery (not user console output). */
export interface SandboxLogger {
  warn(message: string, data?: Record<string, unknown>): void;
  error?(message: string, data?: Record<string, unknown>): void;
}

export interface SandboxOptions {
  /** Worker threads in the pool. Default: one per core (`os.availableParallelism()`). */
  workers?: number;
  /** Overrides of {@link defaultSandboxLimits}. */
  limits?: Partial<SandboxLimits>;
  /**
   * Egress: `allow` lists hosts (`host`, `host:port`) or ranges (`127.0.0.0/8`) that `fetch` inside
   * `send()` may reach even though they are not public. Operator configuration only.
   */
  egress?: {
    allow?: string[];
    /**
     * The ES module (a path or a `file:`/`data:` URL) whose default export is the guard's
     * {@link EgressResolver}, imported in every worker (the guard runs there, so a function cannot be
     * passed). For split-horizon DNS or service discovery, and for tests that simulate DNS answers
     * and failures without a lookup. Default: the system resolver. Every answer is still checked.
     */
    resolver?: string | URL;
  };
  /** Calls a warm context serves before it is recycled. Default 1000. */
  contextMaxUses?: number;
  /** Warm contexts kept per worker. Default 32. */
  maxWarmContexts?: number;
  /** Recycle a context once its heap grew past this share of `memoryBytes`. Default 0.5. */
  recycleHeapRatio?: number;
  /**
   * Events per chunk when a transform batch is split so that encoding, the worker and decoding
   * overlap (docs/sandbox.md, "Performance"). Default {@link DEFAULT_CHUNK_EVENTS}; 0 never splits.
   */
  transformChunkEvents?: number;
  /**
   * Try one transform call over the whole batch, with outputs traced to their inputs, before
   * calling the transform once per event (docs/sandbox.md, "Transform semantics"). Default true;
   * false always runs per event.
   */
  batchTransforms?: boolean;
  logger?: SandboxLogger;
}

/** Pool-level numbers, for benchmarks and health checks. */
export interface SandboxStats {
  workers: number;
  workerRestarts: number;
  perWorker: WorkerStats[];
}

type CallKind = 'transform' | 'send' | 'compile';

interface PendingCall {
  kind: CallKind;
  message: ToWorker & { id: number };
  attempt: number;
  fetch?: FetchLike;
  /** A transform's input, to encode it again for a retry (the first encoding is transferred). */
  events?: SandboxEvent[];
  settle: (msg: FromWorker) => void;
  timer?: NodeJS.Timeout;
  slot?: WorkerSlot;
}

interface WorkerSlot {
  worker: Worker;
  index: number;
  inflight: Map<number, PendingCall>;
  warm: Set<string>;
  dead: boolean;
  ready: Promise<void>;
}

/** Finds dist/sandbox-worker.js from the built package or from source (vitest). */
function resolveWorkerFile(): string {
  const candidates = [
    new URL('./sandbox-worker.js', import.meta.url),
    new URL('../sandbox-worker.js', import.meta.url),
    new URL('../../dist/sandbox-worker.js', import.meta.url),
  ];
  for (const c of candidates) {
    const path = fileURLToPath(c);
    if (existsSync(path)) return path;
  }
  throw new PipesError({
    code: 'INTERNAL',
    message: 'sandbox worker not found: build @openpipes/core first (dist/sandbox-worker.js)',
  });
}

/** A module specifier the worker can import: URLs as they are, paths as file URLs. */
function moduleUrl(specifier: string | URL): string {
  if (specifier instanceof URL) return specifier.href;
  return /^(file|data):/.test(specifier) ? specifier : pathToFileURL(resolvePath(specifier)).href;
}

/** Internal hook for tests (killing a worker mid-call); not exported from the package. */
export const sandboxInternals: unique symbol = Symbol('openpipes.sandbox.internals');

const crashFailure = (message: string): SandboxFailure => ({ code: 'WORKER_CRASHED', message });

function toPipesError(failure: SandboxFailure): PipesError {
  const details: Record<string, unknown> = {};
  if (failure.line !== undefined) details.line = failure.line;
  if (failure.column !== undefined) details.column = failure.column;
  return new PipesError({
    code: failure.code,
    message: failure.message,
    details: Object.keys(details).length ? details : undefined,
    retryable: failure.code === 'WORKER_CRASHED',
  });
}

/**
 * Creates the sandbox that runs transforms and `send()` functions.
 *
 * @example
 * ```ts
 * const sandbox = createSandbox({ workers: 2, egress: { allow: ['127.0.0.1'] } });
 * const run = await sandbox.transform({
 *   code: { kind: 'transform', owner: 'pip_1', version: 1, code: 'function transform({ events }) { return events; }' },
 *   events: [{ event_type: 'purchase', event_time: '2026-01-01T00:00:00Z', event_payload: {} }],
 *   profiles: undefined,
 *   secrets: {},
 * });
 * await sandbox.close();
 * ```
 */
export function createSandbox(options: SandboxOptions = {}): Sandbox & {
  retire(input: { values: string[] }): Promise<void>;
  stats(): Promise<SandboxStats>;
  [sandboxInternals]: { workers(): Worker[] };
} {
  const limits = resolveLimits(options.limits);
  const size = Math.max(1, Math.floor(options.workers ?? availableParallelism()));
  const config: WorkerConfig = {
    limits,
    egressAllow: [...(options.egress?.allow ?? [])],
    ...(options.egress?.resolver === undefined ? {} : { egressResolver: moduleUrl(options.egress.resolver) }),
    contextMaxUses: options.contextMaxUses ?? 1000,
    maxWarmContexts: options.maxWarmContexts ?? 32,
    recycleHeapBytes: Math.floor(limits.memoryBytes * (options.recycleHeapRatio ?? 0.5)),
    batchTransforms: options.batchTransforms ?? true,
    secretDigestKey: newDigestKey(),
  };
  const chunkEvents = Math.max(0, Math.floor(options.transformChunkEvents ?? DEFAULT_CHUNK_EVENTS));
  const workerFile = resolveWorkerFile();
  const slots: Array<WorkerSlot | undefined> = new Array(size);
  let nextId = 1;
  let closed = false;
  let restarts = 0;
  // A worker's WASM heaps live outside V8's heap; these limits bound the JS side of the worker.
  const resourceLimits = { maxOldGenerationSizeMb: 512, maxYoungGenerationSizeMb: 64, stackSizeMb: 4 };

  function spawn(index: number): WorkerSlot {
    const worker = new Worker(workerFile, { workerData: config, resourceLimits });
    worker.unref();
    let markReady: () => void = () => {};
    const slot: WorkerSlot = {
      worker,
      index,
      inflight: new Map(),
      warm: new Set(),
      dead: false,
      ready: new Promise<void>((r) => {
        markReady = r;
      }),
    };
    worker.on('message', (msg: FromWorker) => {
      if (msg.type === 'ready') {
        markReady();
        return;
      }
      if (msg.type === 'fetch') {
        void proxyFetch(slot, msg);
        return;
      }
      const call = slot.inflight.get(msg.id);
      if (!call) return;
      slot.inflight.delete(msg.id);
      if (call.timer) clearTimeout(call.timer);
      call.settle(msg);
    });
    worker.on('error', (err) => {
      options.logger?.warn('sandbox worker failed', { worker: index, error: err.message });
    });
    worker.on('exit', (code) => {
      slot.dead = true;
      markReady();
      if (slots[index] === slot) slots[index] = undefined;
      if (closed) return;
      restarts++;
      options.logger?.warn('sandbox worker exited; replacing it', { worker: index, code });
      const victims = [...slot.inflight.values()];
      slot.inflight.clear();
      for (const call of victims) {
        if (call.timer) clearTimeout(call.timer);
        if (call.attempt === 0) {
          call.attempt++;
          dispatch(call);
        } else {
          call.settle(crashResult(call, 'the sandbox worker crashed twice while running this call'));
        }
      }
    });
    slots[index] = slot;
    return slot;
  }

  function crashResult(
    call: PendingCall,
    message: string,
    code: SandboxFailure['code'] = 'WORKER_CRASHED',
  ): FromWorker {
    const failure: SandboxFailure = { ...crashFailure(message), code };
    if (call.kind === 'transform') return { type: 'transform-result', id: call.message.id, failure };
    if (call.kind === 'compile') return { type: 'compile-result', id: call.message.id, failure };
    return {
      type: 'send-result',
      id: call.message.id,
      run: { error: failure, exchanges: [], logs: [], durationMs: 0 },
    };
  }

  function slotAt(index: number): WorkerSlot {
    const existing = slots[index];
    return existing && !existing.dead ? existing : spawn(index);
  }

  function pick(key: string | undefined): WorkerSlot {
    let best: WorkerSlot | undefined;
    let bestWarm: WorkerSlot | undefined;
    for (let i = 0; i < size; i++) {
      const slot = slotAt(i);
      if (!best || slot.inflight.size < best.inflight.size) best = slot;
      if (key && slot.warm.has(key) && (!bestWarm || slot.inflight.size < bestWarm.inflight.size)) {
        bestWarm = slot;
      }
    }
    // A worker that has this code warm, unless it is well behind the least busy one: a new
    // context costs milliseconds to tens of them, a queued call or chunk about one.
    if (bestWarm && bestWarm.inflight.size <= best!.inflight.size + WARM_SLACK) return bestWarm;
    return best!;
  }

  /** Upper bound after which a silent worker is presumed hung and terminated. */
  function backstopMs(call: PendingCall): number {
    const m = call.message;
    if (m.type === 'send') return limits.sendWallMs + 5_000;
    if (m.type === 'transform') return limits.transformCpuMs * (m.count + 2) + 10_000;
    return limits.transformCpuMs * 2 + 10_000;
  }

  function dispatch(call: PendingCall, to?: WorkerSlot): void {
    const m = call.message;
    const key = m.type === 'transform' || m.type === 'send' ? codeKey(m.code) : undefined;
    const slot = to ?? pick(key);
    if (key) slot.warm.add(key);
    call.slot = slot;
    slot.inflight.set(m.id, call);
    call.timer = setTimeout(() => {
      if (!slot.inflight.has(m.id)) return;
      slot.inflight.delete(m.id);
      options.logger?.warn('sandbox worker did not answer in time; terminating it', { worker: slot.index });
      call.settle(crashResult(call, 'the sandbox stopped answering; the call was abandoned', 'TIMEOUT'));
      void slot.worker.terminate();
    }, backstopMs(call));
    call.timer.unref();
    if (m.type === 'transform') {
      // The batch's bytes are handed over, not copied; a retry after a crash encodes them again.
      if (m.eventsBjson.byteLength === 0 && call.events) m.eventsBjson = encodeBjson(call.events);
      slot.worker.postMessage(m, [m.eventsBjson.buffer as ArrayBuffer]);
    } else slot.worker.postMessage(m);
  }

  function run<T extends FromWorker>(
    kind: CallKind,
    message: ToWorker & { id: number },
    fetch?: FetchLike,
    events?: SandboxEvent[],
  ) {
    if (closed) {
      return Promise.reject(new PipesError({ code: 'ENGINE_STOPPED', message: 'the sandbox is closed' }));
    }
    return new Promise<T>((resolve) => {
      const call: PendingCall = { kind, message, attempt: 0, settle: (msg) => resolve(msg as T) };
      if (fetch) call.fetch = fetch;
      if (events) call.events = events;
      dispatch(call);
    });
  }

  async function proxyFetch(slot: WorkerSlot, msg: Extract<FromWorker, { type: 'fetch' }>): Promise<void> {
    const call = slot.inflight.get(msg.id);
    const reply = (body: Extract<ToWorker, { type: 'fetch-result' }>) => {
      if (!slot.dead) slot.worker.postMessage(body);
    };
    if (!call?.fetch) {
      reply({ type: 'fetch-result', fetchId: msg.fetchId, error: { message: 'no fetch for this call' } });
      return;
    }
    try {
      const init: RequestInit = {
        method: msg.request.method,
        headers: msg.request.headers,
        redirect: 'manual',
      };
      if (msg.request.body !== undefined) init.body = msg.request.body;
      const res = await call.fetch(msg.request.url, init);
      const { text, truncated } = await readCapped(
        res.body as ReadableStream<Uint8Array> | null,
        msg.maxBytes,
      );
      const response: GuestFetchResponseRaw = {
        status: res.status,
        statusText: res.statusText,
        headers: [...res.headers.entries()],
        body: text,
        truncated,
      };
      reply({ type: 'fetch-result', fetchId: msg.fetchId, response });
    } catch (err) {
      reply({ type: 'fetch-result', fetchId: msg.fetchId, error: { message: (err as Error).message } });
    }
  }

  for (let i = 0; i < size; i++) spawn(i);

  return {
    [sandboxInternals]: {
      workers: () => slots.filter((s): s is WorkerSlot => s !== undefined && !s.dead).map((s) => s.worker),
    },

    async compile({ kind, code }) {
      const msg = await run<Extract<FromWorker, { type: 'compile-result' }>>('compile', {
        type: 'compile',
        id: nextId++,
        kind,
        code,
      });
      if (msg.failure)
        throw toPipesError(
          msg.failure.code === 'WORKER_CRASHED' ? msg.failure : { ...msg.failure, code: 'COMPILE_ERROR' },
        );
    },

    async transform({ code, events, profiles, secrets }) {
      if (events.length === 0) return { results: [], logs: [], durationMs: 0 };
      const profilesJson = profiles === undefined ? undefined : JSON.stringify(profiles);
      const secretsJson = JSON.stringify(secrets ?? {});
      const filename = `${code.kind}.js`;
      // A large batch crosses in chunks, each its own call: the worker starts on the first while
      // this thread encodes the next, and this thread decodes each chunk's results as they come
      // back while the worker runs the next one (docs/sandbox.md, "Performance").
      const plan = chunkPlan(events.length, chunkEvents);
      const parts: Array<Promise<TransformRun>> = [];
      let start = 0;
      for (const size of plan) {
        const part = size >= events.length ? events : events.slice(start, start + size);
        start += size;
        const more = start < events.length;
        const once = (textResults: boolean) =>
          run<Extract<FromWorker, { type: 'transform-result' }>>(
            'transform',
            {
              type: 'transform',
              id: nextId++,
              code,
              eventsBjson: encodeBjson(part),
              count: part.length,
              profilesJson,
              secretsJson,
              ...(textResults ? { textResults } : {}),
              ...(more ? { more } : {}),
            },
            undefined,
            part,
          ).then((msg) => {
            if (msg.failure || !msg.payload) throw toPipesError(msg.failure ?? crashFailure('no result'));
            return assembleTransformRun(msg.payload, limits, filename);
          });
        // Results this thread cannot read in binary form (not JSON data, a cycle) are asked for
        // again as text; the worker then keeps to text for this code.
        const call = once(false).catch((err: unknown) => {
          if (err instanceof BjsonUnsupported) return once(true);
          throw err;
        });
        // Settled below; keep an early rejection from being reported as unhandled meanwhile.
        call.catch(() => {});
        parts.push(call);
      }
      const runs = await Promise.all(parts);
      if (runs.length === 1) return runs[0]!;
      const merged: TransformRun = { results: [], logs: [], durationMs: 0, path: 'batch' };
      for (const r of runs) {
        for (const x of r.results) merged.results.push(x);
        for (const line of r.logs) merged.logs.push(line);
        merged.durationMs += r.durationMs;
        if (r.path !== 'batch') merged.path = 'per-event';
      }
      return merged;
    },

    async send({ code, events, secrets, options: sendOptions }): Promise<SendRun> {
      try {
        const msg = await run<Extract<FromWorker, { type: 'send-result' }>>(
          'send',
          {
            type: 'send',
            id: nextId++,
            code,
            eventsJson: JSON.stringify(events),
            secretsJson: JSON.stringify(secrets ?? {}),
            proxyFetch: sendOptions?.fetch !== undefined,
          },
          sendOptions?.fetch,
        );
        return msg.run;
      } catch (err) {
        const failure: SandboxFailure =
          err instanceof PipesError && err.code === 'ENGINE_STOPPED'
            ? { code: 'WORKER_CRASHED', message: err.message }
            : crashFailure(err instanceof Error ? err.message : String(err));
        return { error: failure, exchanges: [], logs: [], durationMs: 0 };
      }
    },

    async retire({ values }) {
      if (values.length === 0 || closed) return;
      const digests = values.map((value) => secretDigest(config.secretDigestKey, value));
      const live = slots.filter((s): s is WorkerSlot => s !== undefined && !s.dead);
      // Every live worker, each answering after it disposed of its contexts. A worker that dies
      // first (its contexts die with it) or stops answering (it is terminated) settles it too.
      await Promise.all(
        live.map(
          (slot) =>
            new Promise<void>((resolve) => {
              const message: ToWorker & { id: number } = { type: 'retire', id: nextId++, digests };
              dispatch({ kind: 'compile', message, attempt: 1, settle: () => resolve() }, slot);
            }),
        ),
      );
    },

    async stats() {
      const perWorker = await Promise.all(
        Array.from({ length: size }, (_, _i) =>
          run<Extract<FromWorker, { type: 'stats-result' }>>('compile', { type: 'stats', id: nextId++ }).then(
            (m) => m.stats,
            () => ({
              warmContexts: 0,
              contextsCreated: 0,
              heapBytes: 0,
              batchRuns: 0,
              batchFallbacks: {},
              perEventRuns: 0,
            }),
          ),
        ),
      );
      return { workers: size, workerRestarts: restarts, perWorker };
    },

    async close() {
      if (closed) return;
      closed = true;
      const live = slots.filter((s): s is WorkerSlot => s !== undefined);
      // Let in-flight calls finish (each is bounded by its own limit and the backstop).
      await Promise.all(
        live.map(
          (slot) =>
            new Promise<void>((resolve) => {
              const check = () => {
                if (slot.inflight.size === 0 || slot.dead) resolve();
                else setTimeout(check, 10).unref();
              };
              check();
            }),
        ),
      );
      await Promise.all(live.map((slot) => slot.worker.terminate()));
    },
  };
}

function codeKey(code: CodeRef): string {
  return `${code.kind}\u0000${code.owner}\u0000${code.version}`;
}

/** Calls a worker with the code warm may have queued beyond the least busy worker and still get the next. */
const WARM_SLACK = 2;

/** Default events per chunk of a transform batch (see `SandboxOptions.transformChunkEvents`). */
export const DEFAULT_CHUNK_EVENTS = 250;

/**
 * How a batch of `count` events is cut into chunks of about `target` events (sizes, in order).
 * Only the first chunk's encoding and the last chunk's decoding cannot overlap with the worker,
 * so with three chunks or more those two are half the size of the others. Never a chunk smaller
 * than half the target; below 1.5 x the target, one chunk.
 */
export function chunkPlan(count: number, target: number): number[] {
  if (target <= 0 || count < target * 1.5) return [count];
  const chunks = Math.round(count / target);
  if (chunks < 3) {
    const first = Math.ceil(count / chunks);
    return chunks === 1 ? [count] : [first, count - first];
  }
  // chunks - 1 full-size slots: the two ends share one.
  const unit = count / (chunks - 1);
  const edge = Math.max(Math.floor(unit / 2), 1);
  const sizes = [edge];
  let left = count - 2 * edge;
  for (let i = chunks - 2; i > 0; i--) {
    const size = Math.ceil(left / i);
    sizes.push(size);
    left -= size;
  }
  sizes.push(edge);
  return sizes;
}
