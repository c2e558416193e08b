/**
 * The errors the sandbox rejects with: a {@link SandboxError} with a literal `code`. The codes are a
 * subset of `@openpipes/core`'s error codes, with the same meaning, so the engine passes them on
 * unchanged (core turns a `SandboxError` into its `PipesError`); this package imports nothing from
 * core.
 */
import type { SandboxFailure } from './types.js';

/** The codes of a {@link SandboxFailure}: what went wrong in one call's user code. */
export const failureCodes = [
  'COMPILE_ERROR',
  'USER_CODE_ERROR',
  'TIMEOUT',
  'OUT_OF_MEMORY',
  'STACK_OVERFLOW',
  'OUTPUT_TOO_LARGE',
  'INVALID_OUTPUT',
  'WORKER_CRASHED',
] as const satisfies ReadonlyArray<SandboxFailure['code']>;

/**
 * Every code a sandbox call can fail with: a failure's, `ENGINE_STOPPED` (the sandbox was closed
 * before the call could run), `INTERNAL` (the sandbox itself is broken: no worker file) and
 * `NESTING_TOO_DEEP` (the caller's input nests too deep to hand to the guest; the code never ran).
 */
export const sandboxErrorCodes = [...failureCodes, 'ENGINE_STOPPED', 'INTERNAL', 'NESTING_TOO_DEEP'] as const;

export type SandboxErrorCode = (typeof sandboxErrorCodes)[number];

/**
 * What `compile()` and `transform()` reject with.
 *
 * @example
 * ```ts
 * try { await sandbox.compile({ kind: 'transform', code }); }
 * catch (err) { if (err instanceof SandboxError && err.code === 'COMPILE_ERROR') console.log(err.details); }
 * ```
 */
export class SandboxError extends Error {
  override readonly name = 'SandboxError';
  readonly code: SandboxErrorCode;
  /** `{ line, column }` in user code when known. */
  readonly details?: { line?: number; column?: number };
  /** Whether the same call may succeed later (a worker crashed under it). */
  readonly retryable: boolean;

  constructor(options: {
    code: SandboxErrorCode;
    message: string;
    details?: { line?: number; column?: number };
    retryable?: boolean;
  }) {
    super(options.message);
    this.code = options.code;
    if (options.details !== undefined) this.details = options.details;
    this.retryable = options.retryable ?? false;
  }
}

/** True when `value` is a {@link SandboxError} (also across bundle copies of this module). */
export function isSandboxError(value: unknown): value is SandboxError {
  return (
    value instanceof SandboxError ||
    (value instanceof Error &&
      value.name === 'SandboxError' &&
      (sandboxErrorCodes as readonly string[]).includes((value as SandboxError).code))
  );
}

/** A failure reported by the worker, as the error a whole call rejects with. */
export function failureError(failure: SandboxFailure): SandboxError {
  const details: { line?: number; column?: number } = {};
  if (failure.line !== undefined) details.line = failure.line;
  if (failure.column !== undefined) details.column = failure.column;
  return new SandboxError({
    code: failure.code,
    message: failure.message,
    ...(Object.keys(details).length ? { details } : {}),
    retryable: failure.code === 'WORKER_CRASHED',
  });
}
