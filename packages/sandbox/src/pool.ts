/**
 * `createSandbox()`: the sandbox's public face. Calls are encoded here and handed to the worker
 * pool (worker-pool.ts), which shares the workers fairly among code owners, blames a stuck or dead
 * worker on the call whose code it was running, and re-runs the other calls elsewhere.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { BjsonUnsupported } from './bjson.js';
import { failureError, isSandboxError, SandboxError } from './errors.js';
import { encodeInput, encodeProfiles } from './input.js';
import { resolveLimits } from './limits.js';
import type { FromWorker, ToWorker, WorkerConfig, WorkerStats } from './protocol.js';
import { assembleTransformRun } from './results.js';
import { newDigestKey, secretDigest } from './secret-digest.js';
import type {
  FetchLike,
  Sandbox,
  SandboxEvent,
  SandboxFailure,
  SandboxLimits,
  SendRun,
  TransformRun,
} from './types.js';
import { type CallKind, createWorkerPool } from './worker-pool.js';

/**
 * Where the sandbox reports what it does to its own machinery (a worker replaced, a spare started,
 * code past its limit; never user console output): pino's signature, `(fields, message)`, so a
 * pino logger keeps the fields (`worker`, `code`). `@openpipes/core` passes the engine's logger,
 * which also fits winston and `console`.
 */
export interface SandboxLogger {
  warn(fields: Record<string, unknown>, message: string): void;
  error?(fields: Record<string, unknown>, message: string): void;
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
  /**
   * How long one call's code may keep a worker busy before the worker is quarantined: its other
   * not yet started calls move to other workers and a spare takes its place (docs/sandbox.md,
   * "Sharing the pool"). The code itself runs on until its own limit. Default 500 ms.
   */
  stallMs?: number;
  logger?: SandboxLogger;
}

/** Default {@link SandboxOptions.stallMs}. */
export const DEFAULT_STALL_MS = 500;

/** Pool-level numbers, for benchmarks and health checks. */
export interface SandboxStats {
  workers: number;
  workerRestarts: number;
  perWorker: WorkerStats[];
}

/**
 * Finds the worker's file: dist/worker.js beside the built module (installed package), or the
 * package's build when running from source (vitest runs src/pool.ts).
 */
function resolveWorkerFile(): string {
  const candidates = [new URL('./worker.js', import.meta.url), new URL('../dist/worker.js', import.meta.url)];
  for (const c of candidates) {
    const path = fileURLToPath(c);
    if (existsSync(path)) return path;
  }
  throw new SandboxError({
    code: 'INTERNAL',
    message: 'sandbox worker not found: build @openpipes/sandbox first (dist/worker.js)',
  });
}

/** A module specifier the worker can import: URLs as they are, paths as file URLs. */
function moduleUrl(specifier: string | URL): string {
  if (specifier instanceof URL) return specifier.href;
  return /^(file|data):/.test(specifier) ? specifier : pathToFileURL(resolvePath(specifier)).href;
}

/** Hook for tests (killing a worker mid-call): not part of the API; may change without notice. */
export const sandboxInternals: unique symbol = Symbol('openpipes.sandbox.internals');

const crashFailure = (message: string): SandboxFailure => ({ code: 'WORKER_CRASHED', message });

/** What a send() that did not run to its end reports in `error` (send() never rejects). */
function sendFailure(err: unknown): SandboxFailure {
  if (!isSandboxError(err)) return crashFailure(err instanceof Error ? err.message : String(err));
  if (err.code === 'ENGINE_STOPPED') return { code: 'WORKER_CRASHED', message: err.message };
  // Events nested too deep (encodeInput) fail as such; what JSON.stringify would throw for them
  // (a BigInt, a getter that throws) is not a SandboxError and ends as it always did, above.
  if (err.code === 'NESTING_TOO_DEEP') return { code: err.code, message: err.message };
  return crashFailure(err.message);
}

/** What every worker is started with. */
function workerConfig(
  options: SandboxOptions,
  limits: ReturnType<typeof resolveLimits>,
): Omit<WorkerConfig, 'activity'> {
  return {
    limits,
    egressAllow: [...(options.egress?.allow ?? [])],
    ...(options.egress?.resolver === undefined ? {} : { egressResolver: moduleUrl(options.egress.resolver) }),
    contextMaxUses: options.contextMaxUses ?? 1000,
    maxWarmContexts: options.maxWarmContexts ?? 32,
    recycleHeapBytes: Math.floor(limits.memoryBytes * (options.recycleHeapRatio ?? 0.5)),
    batchTransforms: options.batchTransforms ?? true,
    secretDigestKey: newDigestKey(),
  };
}

type RunCall = <T extends FromWorker>(
  kind: CallKind,
  owner: string,
  message: ToWorker & { id: number },
  fetch?: FetchLike,
  events?: SandboxEvent[],
) => Promise<T>;

/** A transform call: the events sent in chunks, each its own worker call, and the runs merged. */
async function runTransform(
  run: RunCall,
  nextId: () => number,
  limits: ReturnType<typeof resolveLimits>,
  chunkEvents: number,
  { code, events, profiles, secrets }: Parameters<Sandbox['transform']>[0],
): Promise<TransformRun> {
  if (events.length === 0) return { results: [], logs: [], durationMs: 0 };
  const profilesBjson = profiles === undefined ? undefined : encodeProfiles(profiles);
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
        `transform:${code.owner}`,
        {
          type: 'transform',
          id: nextId(),
          code,
          eventsBjson: encodeInput(part, 'transform'),
          count: part.length,
          profilesBjson,
          secretsJson,
          ...(textResults ? { textResults } : {}),
          ...(more ? { more } : {}),
        },
        undefined,
        part,
      ).then((msg) => {
        if (msg.failure || !msg.payload) throw failureError(msg.failure ?? crashFailure('no result'));
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
  return mergeRuns(await Promise.all(parts));
}

/** The runs of a transform's chunks as one: results and logs in order, durations added up. */
function mergeRuns(runs: TransformRun[]): TransformRun {
  if (runs.length === 1) return runs[0]!;
  const merged: TransformRun = { results: [], logs: [], durationMs: 0, path: 'batch' };
  for (const r of runs) {
    for (const x of r.results) merged.results.push(x);
    for (const line of r.logs) merged.logs.push(line);
    merged.durationMs += r.durationMs;
    if (r.path !== 'batch') merged.path = 'per-event';
  }
  if (runs.every((r) => r.profilesUnread)) merged.profilesUnread = true;
  return merged;
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
  /**
   * `busyWorkers(owner?)`: workers running guest code now (of `owner`: `send:<destination id>` or
   * `transform:<pipe id>`), for tests that kill a worker mid-call.
   */
  [sandboxInternals]: { workers(): Worker[]; busyWorkers(owner?: string): Worker[] };
} {
  const limits = resolveLimits(options.limits);
  const size = Math.max(1, Math.floor(options.workers ?? availableParallelism()));
  const config = workerConfig(options, limits);
  const chunkEvents = Math.max(0, Math.floor(options.transformChunkEvents ?? DEFAULT_CHUNK_EVENTS));
  const pool = createWorkerPool({
    size,
    workerFile: resolveWorkerFile(),
    config,
    limits,
    stallMs: Math.max(1, options.stallMs ?? DEFAULT_STALL_MS),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const nextId = () => pool.nextId();
  const run = <T extends FromWorker>(
    kind: CallKind,
    owner: string,
    message: ToWorker & { id: number },
    fetch?: FetchLike,
    events?: SandboxEvent[],
  ) => pool.run<T>(kind, owner, message, fetch, events);

  return {
    [sandboxInternals]: {
      workers: () => pool.workers(),
      busyWorkers: (owner) => pool.busyWorkers(owner),
    },

    async compile({ kind, code }) {
      const msg = await run<Extract<FromWorker, { type: 'compile-result' }>>('compile', 'compile', {
        type: 'compile',
        id: nextId(),
        kind,
        code,
      });
      if (msg.failure)
        throw failureError(
          msg.failure.code === 'WORKER_CRASHED' ? msg.failure : { ...msg.failure, code: 'COMPILE_ERROR' },
        );
    },

    transform(input) {
      return runTransform(run, nextId, limits, chunkEvents, input);
    },

    async send({ code, events, secrets, options: sendOptions }): Promise<SendRun> {
      try {
        const msg = await run<Extract<FromWorker, { type: 'send-result' }>>(
          'send',
          `send:${code.owner}`,
          {
            type: 'send',
            id: nextId(),
            code,
            eventsBjson: encodeInput(events, 'send()'),
            secretsJson: JSON.stringify(secrets ?? {}),
            proxyFetch: sendOptions?.fetch !== undefined,
          },
          sendOptions?.fetch,
        );
        return msg.run;
      } catch (err) {
        return { error: sendFailure(err), exchanges: [], logs: [], durationMs: 0 };
      }
    },

    async retire({ values }) {
      if (values.length === 0) return;
      const digests = values.map((value) => secretDigest(config.secretDigestKey, value));
      // Every live worker, each answering after it disposed of its contexts. A worker that dies
      // first (its contexts die with it) settles it too. A quarantined worker's contexts die with
      // it once its calls are done; it serves no new call meanwhile.
      await Promise.all(pool.broadcast((id) => ({ type: 'retire', id, digests })));
    },

    async stats() {
      const empty = {
        warmContexts: 0,
        contextsCreated: 0,
        heapBytes: 0,
        batchRuns: 0,
        batchFallbacks: {},
        perEventRuns: 0,
      };
      const perWorker = await Promise.all(
        pool
          .broadcast((id) => ({ type: 'stats', id }))
          .map((p) => p.then((m) => (m?.type === 'stats-result' ? m.stats : empty))),
      );
      return { workers: size, workerRestarts: pool.restarts(), perWorker };
    },

    close: () => pool.close(),
  };
}

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
