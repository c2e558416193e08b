/**
 * Every error OpenPipes raises on purpose is a {@link PipesError} with a literal `code`. HTTP maps
 * codes to statuses with one table (`httpStatusForCode`); anything else thrown is normalised with
 * {@link toPipesError} in one place.
 */
import { failureCodes } from '@openpipes/sandbox';

/** The closed set of error codes. UPPER_SNAKE; stable; part of the public API. */
export const errorCodes = [
  'VALIDATION_FAILED',
  'INVALID_JSON',
  'NOT_FOUND',
  'CONFLICT',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'PAYLOAD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE',
  'TOO_MANY_EVENTS',
  'UNKNOWN_SOURCE',
  'UNKNOWN_EVENT_TYPE',
  'SOURCE_DISABLED',
  // What a sandbox call's user code fails with (the sandbox's own list, in the same order).
  ...failureCodes,
  'EGRESS_DENIED',
  'NETWORK_ERROR',
  'DESTINATION_ERROR',
  'SECRET_KEY_MISSING',
  'SECRET_DECRYPT_FAILED',
  'ENGINE_STOPPED',
  'RATE_LIMITED',
  'INTERNAL',
  'METHOD_NOT_ALLOWED',
  'NESTING_TOO_DEEP',
  'STORE_UNAVAILABLE',
  'STORAGE_FULL',
  'REQUEST_TIMEOUT',
  'HEADERS_TOO_LARGE',
  'MIGRATION_REQUIRED',
  'SCHEMA_TOO_NEW',
] as const;

export type PipesErrorCode = (typeof errorCodes)[number];

export interface PipesErrorOptions {
  code: PipesErrorCode;
  message: string;
  /** Structured, JSON-safe details (field paths, line/column, ...). Never secret values. */
  details?: unknown;
  /** Whether retrying the same operation later may succeed. */
  retryable?: boolean;
  cause?: unknown;
}

/**
 * The error OpenPipes throws.
 *
 * @example
 * ```ts
 * try { await pipes.sources.create({ name: 'Web', slug: 'web' }); }
 * catch (err) { if (err instanceof PipesError && err.code === 'CONFLICT') { ... } }
 * ```
 */
export class PipesError extends Error {
  override readonly name = 'PipesError';
  readonly code: PipesErrorCode;
  readonly details?: unknown;
  readonly retryable: boolean;

  constructor(options: PipesErrorOptions) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code;
    this.details = options.details;
    this.retryable = options.retryable ?? false;
  }

  /** The JSON shape HTTP answers with: `{ code, message, details? }`. */
  toJSON(): { code: PipesErrorCode; message: string; details?: unknown } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

/** True when `value` is a {@link PipesError} (also across bundle copies of this module). */
export function isPipesError(value: unknown): value is PipesError {
  return (
    value instanceof PipesError ||
    (value instanceof Error && value.name === 'PipesError' && typeof (value as PipesError).code === 'string')
  );
}

/**
 * A `SandboxError` from `@openpipes/sandbox` (recognised by name, so core need not load the
 * sandbox here): its codes are a subset of ours, with the same meaning.
 */
function isSandboxError(
  value: unknown,
): value is Error & { code: PipesErrorCode; details?: unknown; retryable?: boolean } {
  return (
    value instanceof Error &&
    value.name === 'SandboxError' &&
    (errorCodes as readonly string[]).includes((value as { code?: unknown }).code as string)
  );
}

/**
 * Normalises anything thrown into a {@link PipesError}: a sandbox's error keeps its code, details
 * and retryability; unknown errors become `INTERNAL`.
 */
export function toPipesError(value: unknown): PipesError {
  if (isPipesError(value)) return value;
  if (isSandboxError(value)) {
    return new PipesError({
      code: value.code,
      message: value.message,
      details: value.details,
      retryable: value.retryable === true,
      cause: value,
    });
  }
  const message = value instanceof Error ? value.message : String(value);
  return new PipesError({ code: 'INTERNAL', message, cause: value });
}

/** The one table that maps error codes to HTTP statuses. */
export const httpStatusByCode: Record<PipesErrorCode, number> = {
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  TOO_MANY_EVENTS: 413,
  UNKNOWN_SOURCE: 404,
  UNKNOWN_EVENT_TYPE: 400,
  SOURCE_DISABLED: 403,
  COMPILE_ERROR: 400,
  USER_CODE_ERROR: 422,
  TIMEOUT: 504,
  OUT_OF_MEMORY: 422,
  STACK_OVERFLOW: 422,
  OUTPUT_TOO_LARGE: 422,
  INVALID_OUTPUT: 422,
  WORKER_CRASHED: 500,
  EGRESS_DENIED: 403,
  NETWORK_ERROR: 502,
  DESTINATION_ERROR: 502,
  SECRET_KEY_MISSING: 500,
  SECRET_DECRYPT_FAILED: 500,
  ENGINE_STOPPED: 503,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  METHOD_NOT_ALLOWED: 405,
  NESTING_TOO_DEEP: 400,
  /** The store does not answer (database restarting, down, unreachable): retry shortly. */
  STORE_UNAVAILABLE: 503,
  /** The store's disk is full: nothing was stored; retry once space is freed. */
  STORAGE_FULL: 507,
  /** The client did not send its request (headers or body) within the server's time limit. */
  REQUEST_TIMEOUT: 408,
  /** The request's headers are larger than the server accepts. */
  HEADERS_TOO_LARGE: 431,
  /** `autoMigrate: false` and the store's schema is behind: run `pipes.migrate()` first. */
  MIGRATION_REQUIRED: 503,
  /**
   * The store's schema has migrations this engine does not know (a newer OpenPipes migrated it):
   * run the newer version; this one would not read or keep what those migrations added.
   */
  SCHEMA_TOO_NEW: 503,
};

/** The HTTP status for an error code (500 for anything unmapped). */
export function httpStatusForCode(code: string): number {
  return (httpStatusByCode as Record<string, number>)[code] ?? 500;
}
