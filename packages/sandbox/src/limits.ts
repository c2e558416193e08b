import type { SandboxLimits } from './types.js';

/**
 * The limits every sandbox call runs under unless `createSandbox({ limits })` overrides them.
 * Chosen for CAPI work: a transform reshapes one event in well under a millisecond, a `send()` makes
 * one or a few HTTPS calls to an ad platform.
 *
 * @example
 * ```ts
 * const sandbox = createSandbox({ limits: { ...defaultSandboxLimits, sendWallMs: 5_000 } });
 * ```
 */
export const defaultSandboxLimits: Readonly<SandboxLimits> = Object.freeze({
  transformCpuMs: 1_000,
  sendWallMs: 15_000,
  sendCpuMs: 5_000,
  memoryBytes: 64 * 1024 * 1024,
  stackBytes: 1024 * 1024,
  outputBytes: 1024 * 1024,
  consoleBytes: 16 * 1024,
  fetchTimeoutMs: 10_000,
  responseBytes: 1024 * 1024,
  fetchConcurrency: 4,
});

/** The QuickJS build needs 16 MiB of WASM memory to start; a smaller cap cannot work. */
export const MIN_MEMORY_BYTES = 16 * 1024 * 1024;
/** The guest stack must stay well inside the worker's 4 MiB native stack (see docs/sandbox.md). */
export const MAX_STACK_BYTES = 2 * 1024 * 1024;

/** Merges overrides onto the defaults and clamps values the engine cannot honour. */
export function resolveLimits(overrides: Partial<SandboxLimits> = {}): SandboxLimits {
  const limits: SandboxLimits = { ...defaultSandboxLimits };
  for (const [key, value] of Object.entries(overrides) as Array<[keyof SandboxLimits, unknown]>) {
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new TypeError(`sandbox limit ${key} must be a positive number, got ${String(value)}`);
    }
    limits[key] = value;
  }
  limits.memoryBytes = Math.max(MIN_MEMORY_BYTES, Math.ceil(limits.memoryBytes / 65536) * 65536);
  limits.stackBytes = Math.min(MAX_STACK_BYTES, limits.stackBytes);
  limits.fetchConcurrency = Math.max(1, Math.floor(limits.fetchConcurrency));
  return limits;
}
