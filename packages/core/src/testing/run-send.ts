/**
 * `runSend(code, { events, fetch })`: runs a destination `send()` in the very sandbox production
 * uses. Pass `fetch` to answer requests from a test (msw's handlers patch the main thread's
 * `globalThis.fetch`, so `fetch: globalThis.fetch` routes sandboxed requests through them).
 */
import type { CapturedExchange, ConsoleLine, FetchLike, SandboxEvent } from '@openpipes/sandbox';
import { failureToError, nextTestOwner, type TestEvent, testSandbox } from './run-transform.js';

export interface RunSendInput {
  events: TestEvent[];
  secrets?: Record<string, string>;
  /** Answers the sandbox's fetches instead of the network (for msw or a stub). */
  fetch?: FetchLike;
}

export interface RunSendResult {
  /** What `send()` resolved to. */
  value: unknown;
  /** Every HTTP exchange made, raw (tests see secrets; delivery records redact them). */
  exchanges: CapturedExchange[];
  logs: ConsoleLine[];
}

/**
 * Runs `code` (defining `async function send({ events, secrets })`) and resolves to its value, the
 * HTTP exchanges and console output. Rejects with a `PipesError` when `send()` throws, rejects,
 * times out, or a fetch inside was refused; the error carries the exchanges made so far.
 *
 * @example
 * ```ts
 * const { value, exchanges } = await runSend(sendCode, { events, secrets: { TOKEN: 't' }, fetch: globalThis.fetch });
 * expect(exchanges[0].request.url).toContain('/events');
 * ```
 */
export async function runSend(code: string, input: RunSendInput): Promise<RunSendResult> {
  const { owner, version } = nextTestOwner('send');
  const run = await testSandbox().send({
    code: { kind: 'send', owner, version, code },
    events: input.events as SandboxEvent[],
    secrets: input.secrets ?? {},
    options: input.fetch ? { fetch: input.fetch } : {},
  });
  if (run.error) {
    const err = failureToError(run.error, 'send()');
    Object.assign(err, { exchanges: run.exchanges, logs: run.logs });
    throw err;
  }
  return { value: run.value, exchanges: run.exchanges, logs: run.logs };
}
