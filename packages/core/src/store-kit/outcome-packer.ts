/**
 * Packing outcomes off the event loop's thread. Deflating a delivered outcome's attempt (~45 µs)
 * was a seventh of the dispatcher's busy time on the thread every request and every dispatcher
 * shares, and it ran inside the store's write transaction. A packer sends each batch's JSON texts
 * (written on the caller's thread, from the objects as they are) to one worker thread, which packs
 * them with `packJson` and sends the bytes back; the store then opens its transaction with them.
 * libuv's threadpool (node:zlib's async `deflateRaw`) was measured too and cost the event loop more
 * than deflating on it: a zlib stream per value (bench/pack.bench.mjs).
 *
 * The bytes are {@link packOutcome}'s, always: when the worker cannot be had (not built, a bundle
 * without it, the store closed) or fails (crashes, exits, answers wrongly), the batch is packed on
 * the caller's thread instead, so an outcome is never lost to the packer. The worker never keeps a
 * process alive on its own (unref'd while idle).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { DeliveryOutcome } from '../store.js';
import { packJson } from './packed.js';
import { outcomeTexts, type PackedOutcome, packOutcome } from './records.js';

/** A batch for the worker: JSON texts to pack, and the id its reply carries. */
export type PackRequest = { id: number; texts: string[] };
/** The worker's reply: the packed values one after another in `bytes`, value i ending at `ends[i]`. */
export type PackReply = { id: number; bytes: Uint8Array; ends: Uint32Array };

/** Packs a store's outcomes; see the module's note. */
export interface OutcomePacker {
  /**
   * Each outcome as {@link packOutcome} packs it, in the same order. Never rejects for the
   * packer's sake (it packs on the caller's thread instead); throws only what `packOutcome` would.
   */
  pack(outcomes: ReadonlyArray<Pick<DeliveryOutcome, 'detail' | 'attempt'>>): Promise<PackedOutcome[]>;
  /** Stops the worker; batches in flight are packed on the caller's thread, later ones too. */
  close(): Promise<void>;
}

/** Options of {@link createOutcomePacker}: mostly for tests. */
export interface OutcomePackerOptions {
  /** The worker's module; null packs on the caller's thread. Default: the built `pack-worker.js`. */
  workerFile?: string | URL | null;
  /**
   * Told each time the worker fails a batch (it would not start, crashed, exited or answered
   * wrongly) and the caller's thread packs it instead. Default: a process warning (code
   * `OPENPIPES_OUTCOME_PACKER`).
   */
  onWorkerFailure?: (reason: unknown) => void;
  /**
   * How long a batch waits for the worker's answer before the caller's thread packs it and the
   * worker, hung, is stopped (and counted as a failure). Default 2 s: a batch of 500 packs in tens
   * of milliseconds. It is short because the dispatcher stops renewing a batch's leases before it
   * records the batch (renewing beside the completion's own writes could deadlock on PostgreSQL):
   * at least two thirds of a lease are left then, so a lease of 3 s or more outlives the wait.
   */
  replyTimeoutMs?: number;
}

// A worker that keeps failing is not started again: the caller's thread packs from then on.
const maxWorkerFailures = 3;

/**
 * A packer for one store, its worker started on the first batch (see the module's note).
 *
 * @example
 * ```ts
 * const packer = createOutcomePacker();
 * const packed = await packer.pack(outcomes); // before the transaction
 * tx(() => outcomes.forEach((o, i) => write(o, packed[i])));
 * await packer.close(); // with the store
 * ```
 */
export function createOutcomePacker(options: OutcomePackerOptions = {}): OutcomePacker {
  let worker: Worker | null = null;
  let closed = false;
  let failures = 0;
  let nextId = 1;
  const waiting = new Map<number, (reply: PackReply | null) => void>();
  const replyTimeoutMs = options.replyTimeoutMs ?? 2_000;
  const onWorkerFailure = options.onWorkerFailure ?? warn;

  const start = (): Worker | null => {
    if (worker) return worker;
    if (closed || failures >= maxWorkerFailures) return null;
    const file = options.workerFile === undefined ? packWorkerFile() : options.workerFile;
    if (file === null) return null;
    let started: Worker;
    try {
      // No flags of the host's (`--input-type` would stop the worker's module from loading): it
      // needs none to deflate.
      started = new Worker(file, { execArgv: [] });
    } catch (error) {
      failures++;
      onWorkerFailure(error);
      return null;
    }
    started.unref();
    started.on('message', (reply: PackReply) => answer(reply.id, reply));
    // An uncaught error in the worker ends it: 'exit' follows, and answers what was waiting.
    let failure: unknown = null;
    started.on('error', (error) => {
      failure = error;
    });
    started.on('exit', (code) => {
      if (worker === started) worker = null;
      if (!closed) {
        failures++;
        onWorkerFailure(failure ?? new Error(`the outcome packer's worker exited with ${code}`));
      }
      answerAll();
    });
    worker = started;
    return started;
  };

  const answer = (id: number, reply: PackReply | null) => {
    const done = waiting.get(id);
    if (!done) return;
    waiting.delete(id);
    // Idle again: the worker must not keep the process alive; a batch in flight does.
    if (waiting.size === 0) worker?.unref();
    done(reply);
  };

  /** Every batch waiting is packed on the caller's thread (the worker is gone). */
  const answerAll = () => {
    for (const id of [...waiting.keys()]) answer(id, null);
  };

  /** The texts packed by the worker, or null when it could not (the caller packs them then). */
  const viaWorker = (texts: string[]): Promise<Buffer[] | null> => {
    const w = start();
    if (!w) return Promise.resolve(null);
    const id = nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (!waiting.has(id)) return;
        onWorkerFailure(new Error(`the outcome packer's worker did not answer within ${replyTimeoutMs} ms`));
        answer(id, null);
        // Stopped: its 'exit' counts the failure and answers what else was waiting on it.
        void w.terminate();
      }, replyTimeoutMs);
      timer.unref();
      waiting.set(id, (reply) => {
        clearTimeout(timer);
        const values = reply && valuesOf(reply, texts.length);
        if (reply && !values) onWorkerFailure(new Error("the outcome packer's worker answered wrongly"));
        resolve(values);
      });
      if (waiting.size === 1) w.ref();
      try {
        const request: PackRequest = { id, texts };
        w.postMessage(request);
      } catch (error) {
        onWorkerFailure(error);
        answer(id, null);
      }
    });
  };

  return {
    async pack(outcomes) {
      const texts = outcomes.map((outcome) => outcomeTexts(outcome));
      const json: string[] = [];
      for (const t of texts) {
        if (typeof t.detail === 'string') json.push(t.detail);
        if (t.attempt !== null) json.push(t.attempt);
      }
      if (json.length === 0) return outcomes.map((outcome) => packOutcome(outcome));
      const packed = (await viaWorker(json)) ?? json.map((text) => packJson(text));
      let next = 0;
      const take = () => packed[next++] as Buffer;
      return texts.map((t) => ({
        detail: typeof t.detail === 'string' ? take() : t.detail,
        attempt: t.attempt === null ? null : take(),
      }));
    },
    async close() {
      closed = true;
      const stopping = worker;
      worker = null;
      if (stopping) await stopping.terminate();
    },
  };
}

/**
 * What a store's packer says of a failure by default: a process warning (stores have no logger),
 * so a worker that keeps failing, and the caller's thread packing from then on, is seen.
 */
function warn(reason: unknown): void {
  process.emitWarning(
    `the outcome packer's worker failed; this batch is packed on the event loop's thread: ${String(reason)}`,
    { code: 'OPENPIPES_OUTCOME_PACKER' },
  );
}

/** A reply's values as Buffers (views of its one buffer), or null when it is not `count` of them. */
function valuesOf(reply: PackReply, count: number): Buffer[] | null {
  const { bytes, ends } = reply;
  if (!(bytes instanceof Uint8Array) || !(ends instanceof Uint32Array) || ends.length !== count) return null;
  if (count > 0 && ends[count - 1] !== bytes.length) return null;
  const all = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values: Buffer[] = [];
  let from = 0;
  for (const end of ends) {
    if (end < from) return null;
    values.push(all.subarray(from, end));
    from = end;
  }
  return values;
}

/**
 * The built worker's file, beside this module in dist (`store-kit/` or, from a shared chunk, under
 * it) or, when this runs from src (the tests), in the package's dist; null when there is none (a
 * bundle that left it out), and the caller's thread packs.
 */
function packWorkerFile(): URL | null {
  for (const candidate of [
    './pack-worker.js',
    './store-kit/pack-worker.js',
    '../../dist/store-kit/pack-worker.js',
  ]) {
    const url = new URL(candidate, import.meta.url);
    if (existsSync(fileURLToPath(url))) return url;
  }
  return null;
}
