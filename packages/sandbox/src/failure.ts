/**
 * Turning what guest code reported (an error description from the harness, a QuickJS stack) into a
 * {@link SandboxFailure} with the location in user code. Pure functions: used in the worker and,
 * when a transform's results are decoded, on the main thread.
 */
import { failureCodes } from './errors.js';
import type { SandboxFailure } from './types.js';

const FAILURE_CODES = new Set<SandboxFailure['code']>(failureCodes);

/** Reads line/column of the first frame in user code from a QuickJS stack or message. */
export function locate(text: string | undefined, filename: string): { line?: number; column?: number } {
  if (!text) return {};
  const m = new RegExp(`${filename.replace('.', '\\.')}:(\\d+)(?::(\\d+))?`).exec(text);
  if (!m) return {};
  const out: { line?: number; column?: number } = { line: Number(m[1]) };
  if (m[2] !== undefined) out.column = Number(m[2]);
  return out;
}

/** Turns the guest error description into a SandboxFailure, with location in user code. */
export function toFailure(info: unknown, filename: string): SandboxFailure {
  const raw = (info ?? {}) as { code?: unknown; message?: unknown; stack?: unknown };
  const code = FAILURE_CODES.has(raw.code as SandboxFailure['code'])
    ? (raw.code as SandboxFailure['code'])
    : 'USER_CODE_ERROR';
  const message = typeof raw.message === 'string' ? raw.message : 'unknown error';
  const stack = typeof raw.stack === 'string' ? raw.stack : undefined;
  const failure: SandboxFailure = { code, message, ...locate(stack ?? message, filename) };
  if (stack) failure.stack = stack;
  return failure;
}
