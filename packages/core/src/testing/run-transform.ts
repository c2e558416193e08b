/**
 * `runTransform(code, { events })`: runs a pipe transform in the very sandbox production uses, so a
 * vitest test with fixture events checks exactly what the dispatcher would deliver.
 */

import type { SandboxEvent, SandboxFailure } from '@openpipes/sandbox';
import { PipesError } from '../errors.js';
import { createSandbox } from '../sandbox/index.js';

/** An input event as a test writes it: `event_id` may be left out. */
export type TestEvent = Omit<SandboxEvent, 'event_id'> & { event_id?: string };

let shared: ReturnType<typeof createSandbox> | undefined;
let testVersion = 0;

/**
 * The sandbox behind `runTransform`/`runSend`: created on first use (one worker, default limits)
 * and closed by {@link closeTestSandbox} or when the process exits.
 */
export function testSandbox(): ReturnType<typeof createSandbox> {
  if (!shared) {
    shared = createSandbox({ workers: 1, egress: { allow: [] } });
  }
  return shared;
}

/**
 * Closes the shared test sandbox (its worker threads do not keep the process alive, so calling
 * this is optional; it frees the threads early).
 *
 * @example
 * ```ts
 * afterAll(() => closeTestSandbox());
 * ```
 */
export async function closeTestSandbox(): Promise<void> {
  const s = shared;
  shared = undefined;
  await s?.close();
}

/** A fresh owner per call: warm contexts are never shared between two test runs' code. */
export function nextTestOwner(kind: 'transform' | 'send'): { owner: string; version: number } {
  testVersion++;
  return { owner: `test_${kind}`, version: testVersion };
}

/** Turns a sandbox failure into an error that says what went wrong and where. */
export function failureToError(failure: SandboxFailure, where?: string): PipesError {
  const at =
    failure.line !== undefined
      ? ` (line ${failure.line}${failure.column !== undefined ? `, column ${failure.column}` : ''})`
      : '';
  const details: Record<string, unknown> = {};
  if (failure.line !== undefined) details.line = failure.line;
  if (failure.column !== undefined) details.column = failure.column;
  if (where) details.where = where;
  return new PipesError({
    code: failure.code,
    message: `${where ? `${where}: ` : ''}${failure.message}${at}`,
    details,
  });
}

export interface RunTransformInput {
  events: TestEvent[];
  profiles?: unknown;
  secrets?: Record<string, string>;
}

/**
 * Runs `code` (a script defining `function transform({ events, profiles, secrets })`) over the
 * events, one call per event as in production, and resolves to all outputs in order. Rejects with a
 * `PipesError` naming the event and the line when any event fails.
 *
 * @example
 * ```ts
 * import { runTransform } from '@openpipes/core/testing';
 * const out = await runTransform(code, { events: [{ event_type: 'purchase', event_time: '2026-05-04T10:14:22Z', event_payload: { order_id: 'o1' } }] });
 * expect(out[0].event_payload.event_id).toBe('o1');
 * ```
 */
export async function runTransform(code: string, input: RunTransformInput): Promise<SandboxEvent[]> {
  const sandbox = testSandbox();
  const { owner, version } = nextTestOwner('transform');
  const run = await sandbox.transform({
    code: { kind: 'transform', owner, version, code },
    events: input.events as SandboxEvent[],
    profiles: input.profiles,
    secrets: input.secrets ?? {},
  });
  const out: SandboxEvent[] = [];
  run.results.forEach((result, i) => {
    if (!result.ok) throw failureToError(result.error, `event ${i}`);
    out.push(...result.outputs);
  });
  return out;
}
