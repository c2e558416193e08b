/**
 * The contract between the engine and the sandbox that runs user code (pipe transforms and
 * destination `send()` functions). The engine only ever talks to a {@link Sandbox}; how it runs code
 * (QuickJS in a pool of worker threads) is the sandbox's business.
 */

/** One event as user code sees it, in and out of a transform. */
export interface SandboxEvent {
  event_type: string;
  event_time: string;
  event_payload: Record<string, unknown>;
  /** The sender's event id (or the generated `evt_` id). Present on transform input. */
  event_id?: string;
}

/** Which piece of user code to run. `key` identifies a warm context: never shared between two keys. */
export interface CodeRef {
  kind: 'transform' | 'send';
  /** The pipe id (transform) or destination id (send). Contexts are never shared across owners. */
  owner: string;
  /** The owner's version; a new version gets a new context. */
  version: number;
  code: string;
}

/** Limits for one call. Every field has a default (see `defaultSandboxLimits`). */
export interface SandboxLimits {
  /** CPU (bytecode) time per transform call, ms. */
  transformCpuMs: number;
  /** Wall-clock time per `send()` call including network, ms. */
  sendWallMs: number;
  /**
   * Time one `send()` call may spend running JavaScript (not awaiting), ms; the call's code holds
   * its worker thread meanwhile. Never more than `sendWallMs`.
   */
  sendCpuMs: number;
  /** WASM memory cap per QuickJS module, bytes. */
  memoryBytes: number;
  /** Guest stack, bytes. */
  stackBytes: number;
  /** Maximum size of the JSON a transform or send returns, bytes. */
  outputBytes: number;
  /** Maximum console output kept per call, bytes; the rest is dropped with a marker. */
  consoleBytes: number;
  /** Timeout of one fetch inside `send()`, ms. */
  fetchTimeoutMs: number;
  /** Maximum response body read per fetch, bytes. */
  responseBytes: number;
  /** Maximum fetches in flight per `send()` call. */
  fetchConcurrency: number;
}

/** A captured console line. */
export interface ConsoleLine {
  level: 'log' | 'info' | 'warn' | 'error' | 'debug';
  message: string;
}

/** Where in user code something went wrong. */
export interface CodeLocation {
  line?: number;
  column?: number;
}

/** A failure inside user code or the sandbox, as data (it crosses a thread boundary). */
export interface SandboxFailure extends CodeLocation {
  /**
   * - `USER_CODE_ERROR`: the user's function threw or rejected.
   * - `COMPILE_ERROR`: the code does not parse or does not define the function.
   * - `TIMEOUT`: CPU or wall-clock limit hit (including a promise that never settles).
   * - `OUT_OF_MEMORY`, `STACK_OVERFLOW`, `OUTPUT_TOO_LARGE`, `INVALID_OUTPUT`.
   * - `WORKER_CRASHED`: the worker died; the call may be retried.
   * - `NESTING_TOO_DEEP`: the caller's input (events, profiles) nests objects and arrays deeper than
   *   512 levels, counted from an event's fields; refused before any code ran. Not a failure of
   *   user code (not in `failureCodes`); `send()` reports it here, `transform()` rejects with it.
   */
  code:
    | 'USER_CODE_ERROR'
    | 'COMPILE_ERROR'
    | 'TIMEOUT'
    | 'OUT_OF_MEMORY'
    | 'STACK_OVERFLOW'
    | 'OUTPUT_TOO_LARGE'
    | 'INVALID_OUTPUT'
    | 'WORKER_CRASHED'
    | 'NESTING_TOO_DEEP';
  message: string;
  stack?: string;
  /**
   * `WORKER_CRASHED` only: the call merely shared its worker with the code that killed it, and
   * its request had already left (so it was not re-run). Not the call's own fault: the engine
   * retries it without charging its retry budget or its destination's breaker.
   */
  bystander?: true;
}

/** Result of running a transform over a batch of input events. */
export interface TransformRun {
  /**
   * One entry per input event, in input order: the outputs the transform produces when called with
   * `events: [event]`, so every output is attributed to its input. `outputs: []` means the
   * transform filtered the event out; `filter_reason` is set when it said why (it returned
   * `{ filter_reason: '...' }`).
   */
  results: Array<
    { ok: true; outputs: SandboxEvent[]; filter_reason?: string } | { ok: false; error: SandboxFailure }
  >;
  logs: ConsoleLine[];
  durationMs: number;
  /**
   * How the call ran: `batch` when one call over the whole batch could trace every output to its
   * input (see docs/sandbox.md, "Transform semantics"), `per-event` otherwise.
   */
  path?: 'batch' | 'per-event';
  /**
   * Set when the transform's entry function provably never reads the `profiles` of its argument
   * (its parameter is `{ events, secrets }` or names `profiles` without using it: docs/sandbox.md,
   * "What a transform reads"). The caller may pass `profiles: undefined` to later calls of the same
   * code and skip resolving them.
   */
  profilesUnread?: true;
}

/** One HTTP exchange made by `fetch` inside `send()`, captured raw (the engine redacts secrets). */
export interface CapturedExchange {
  request: { url: string; method: string; headers: Record<string, string>; body?: string };
  response?: { status: number; headers: Record<string, string>; body: string; truncated?: boolean };
  /** Network-level failure: `EGRESS_DENIED`, `TIMEOUT`, `DNS`, `CONNECTION`, `RESPONSE_TOO_LARGE`. */
  error?: { code: string; message: string };
  startedAt: string;
  durationMs: number;
}

/** Result of one `send()` call. */
export interface SendRun {
  /** What `send()` resolved to, parsed safely (no prototype keys). Undefined when it failed. */
  value?: unknown;
  /** Set when `send()` threw, rejected, timed out or the sandbox failed. */
  error?: SandboxFailure;
  exchanges: CapturedExchange[];
  logs: ConsoleLine[];
  durationMs: number;
}

/** A fetch implementation user tests may substitute (for msw); defaults to the guarded host fetch. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface SendOptions {
  /** Replace the egress-guarded fetch (tests only: `runSend(code, { fetch })`). */
  fetch?: FetchLike;
}

/**
 * Runs user code. Implementations MUST NOT let user code reach the host (no `process`, no `require`
 * of host modules, no network from transforms), MUST enforce {@link SandboxLimits}, and MUST keep
 * serving other calls after any single call fails. Calls may run concurrently.
 */
export interface Sandbox {
  /**
   * Compiles code without running it. Resolves when the code parses and defines the function
   * (`transform` or `send`); otherwise rejects with an error of code `COMPILE_ERROR` that carries
   * line and column (`createSandbox` rejects with a `SandboxError`; the engine passes it on as a
   * `PipesError`).
   */
  compile(input: { kind: CodeRef['kind']; code: string }): Promise<void>;
  /** Runs a transform. Rejects only when the whole call failed (timeout, OOM, crash). */
  transform(input: {
    code: CodeRef;
    events: SandboxEvent[];
    profiles: unknown;
    secrets: Record<string, string>;
  }): Promise<TransformRun>;
  /** Runs `send()`. Never rejects: failures are in `SendRun.error`. */
  send(input: {
    code: CodeRef;
    events: SandboxEvent[];
    secrets: Record<string, string>;
    options?: SendOptions;
  }): Promise<SendRun>;
  /**
   * Retires every warm context that was given any of `values` as a secret: none is called again;
   * idle ones are disposed now, busy ones when their call ends. Resolves when every worker has done
   * so. Optional: a sandbox that keeps contexts under the secrets they were given (as
   * `createSandbox` does) never calls such a context with other values anyway.
   */
  retire?(input: { values: string[] }): Promise<void>;
  /** Stops the workers. In-flight calls finish first (up to their limits). */
  close(): Promise<void>;
}
