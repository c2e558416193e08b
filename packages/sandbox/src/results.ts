/**
 * Turning what a sandbox worker sent back for a transform call into a {@link TransformRun}, on the
 * main thread. The worker does not decode the guest's output: it transfers the bytes QuickJS wrote
 * (one `ArrayBuffer`, no copy) and they are read here, straight into the objects the engine keeps.
 * Decoding in the worker and posting objects cost a decode there plus a structured clone on both
 * sides; see docs/sandbox.md for the measurements.
 */
import { BjsonReader, BjsonReferences, BjsonTooDeep, maxValueDepth, WRAPPER_LEVELS } from './bjson.js';
import { toFailure } from './failure.js';
import { nestsDeeperThan, OutputValidationError, readTransformOutput, safeJsonParse } from './output.js';
import type { ConsoleLine, SandboxFailure, SandboxLimits, TransformRun } from './types.js';

/** One piece of a transform call's results, as the worker sends it. */
export type ResultSegment =
  /** Per-event path: bjson of `[{ o } | { e }, ...]` for the events from `start`. */
  | { kind: 'entries'; start: number; bytes: Uint8Array }
  /** Per-event path, when the outputs cannot cross as bjson: the same entries as JSON text. */
  | { kind: 'entries-json'; start: number; text: string }
  /** Batch fast path: bjson of `[inputIndexOfEachOutput, outputs]` for the whole batch. */
  | { kind: 'batch'; bytes: Uint8Array };

/** What a worker sends back for a transform call that produced results. */
export interface TransformPayload {
  count: number;
  segments: ResultSegment[];
  /** Events stopped by something no guest code could catch (CPU limit, a context that failed). */
  failures: Array<[index: number, failure: SandboxFailure]>;
  logs: ConsoleLine[];
  durationMs: number;
  path: NonNullable<TransformRun['path']>;
  /** Every context that ran the call found its entry never reads `profiles` (TransformRun). */
  profilesUnread?: true;
}

type Entry = { o?: unknown; e?: unknown; tooLarge?: number; tooDeep?: true };

function entryResult(entry: Entry, outputLimit: number, filename: string): TransformRun['results'][number] {
  if (entry.tooDeep)
    return { ok: false, error: { code: 'INVALID_OUTPUT', message: new BjsonTooDeep().message } };
  if (entry.tooLarge !== undefined) {
    return {
      ok: false,
      error: {
        code: 'OUTPUT_TOO_LARGE',
        message: `output is ${entry.tooLarge} bytes, more than the limit of ${outputLimit}`,
      },
    };
  }
  if (entry.e !== undefined) return { ok: false, error: toFailure(entry.e, filename) };
  try {
    const read = readTransformOutput(entry.o);
    return read.filter_reason === undefined
      ? { ok: true, outputs: read.outputs }
      : { ok: true, outputs: [], filter_reason: read.filter_reason };
  } catch (err) {
    const message = err instanceof OutputValidationError ? err.message : String(err);
    return { ok: false, error: { code: 'INVALID_OUTPUT', message } };
  }
}

/**
 * Reads the guest's bytes on the assumption that no object in them is written twice (the common
 * case, read in one pass); when one is, reads them again in the mode that measures before it
 * builds. Throws {@link BjsonUnsupported} for what the reader cannot take (values that are not
 * JSON data, cycles): the caller then asks the worker for text results.
 */
function readBinary<T>(read: (refs: boolean) => T): T {
  try {
    return read(false);
  } catch (err) {
    if (!(err instanceof BjsonReferences)) throw err;
    return read(true);
  }
}

/** Reads one segment's entries (see {@link assembleTransformRun}). */
function readSegment(
  segment: ResultSegment,
  count: number,
  outputLimit: number,
  expandLimit: number,
): Entry[] {
  if (segment.kind === 'batch') {
    const { bytes } = segment;
    return readBinary((refs) => new BjsonReader(bytes, { refs, expandLimit }).batch(count, outputLimit));
  }
  if (segment.kind === 'entries') {
    const { bytes } = segment;
    return readBinary((refs) => new BjsonReader(bytes, { refs, expandLimit }).entries(outputLimit));
  }
  // The text fallback: the same depth limit as the binary reader's, checked without recursion.
  const entries = safeJsonParse(segment.text) as Entry[];
  for (let i = 0; i < entries.length; i++) {
    if (nestsDeeperThan(entries[i], maxValueDepth + WRAPPER_LEVELS)) entries[i] = { tooDeep: true };
  }
  return entries;
}

/**
 * Decodes and validates a worker's transform payload into the run the engine sees. Throws
 * {@link BjsonUnsupported} when the binary results cannot be read (see readBinary).
 */
export function assembleTransformRun(
  payload: TransformPayload,
  limits: Pick<SandboxLimits, 'outputBytes' | 'memoryBytes'>,
  filename = 'transform.js',
): TransformRun {
  const outputLimit = limits.outputBytes;
  const expandLimit = limits.memoryBytes;
  const results: TransformRun['results'] = new Array(payload.count);
  for (const segment of payload.segments) {
    let entries: Entry[];
    let start = 0;
    try {
      entries = readSegment(segment, payload.count, outputLimit, expandLimit);
    } catch (err) {
      // Only in the mode that measures first (object references): the whole segment fails.
      if (!(err instanceof BjsonTooDeep)) throw err;
      entries = [];
      const first = segment.kind === 'batch' ? 0 : segment.start;
      for (let i = first; i < payload.count; i++)
        results[i] ??= entryResult({ tooDeep: true }, outputLimit, filename);
    }
    if (segment.kind !== 'batch') start = segment.start;
    for (let j = 0; j < entries.length; j++) {
      results[start + j] = entryResult(entries[j] ?? {}, outputLimit, filename);
    }
  }
  for (const [index, error] of payload.failures) results[index] = { ok: false, error };
  for (let i = 0; i < results.length; i++) {
    // Cannot happen when the worker accounted for every event; never hand the engine a hole.
    results[i] ??= {
      ok: false,
      error: { code: 'WORKER_CRASHED', message: 'the sandbox returned no result for this event' },
    };
  }
  const run: TransformRun = {
    results,
    logs: payload.logs,
    durationMs: payload.durationMs,
    path: payload.path,
  };
  if (payload.profilesUnread) run.profilesUnread = true;
  return run;
}
