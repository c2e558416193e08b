/**
 * Core's side of `@openpipes/sandbox` (the package that runs user code): what core's public API
 * has always exported from it, and a `createSandbox` that rejects with core's {@link PipesError}
 * like the rest of the engine. The sandbox package imports nothing from core; `toPipesError`
 * (errors.ts) turns its `SandboxError` into a `PipesError` wherever one arrives.
 */
import { createSandbox as createBareSandbox, isSandboxError, type SandboxOptions } from '@openpipes/sandbox';
import { toPipesError } from '../errors.js';
import { adaptLogger, type Logger } from '../logger.js';

export type {
  CapturedExchange,
  CodeLocation,
  CodeRef,
  ConsoleLine,
  EgressDecision,
  EgressGuard,
  EgressGuardOptions,
  EgressResolver,
  FetchLike,
  ResolvedAddress,
  Sandbox,
  SandboxEvent,
  SandboxFailure,
  SandboxLimits,
  SandboxLogger,
  SandboxOptions,
  SandboxStats,
  SendOptions,
  SendRun,
  TransformRun,
} from '@openpipes/sandbox';
export {
  createEgressGuard,
  defaultSandboxLimits,
  EgressDeniedError,
  EgressDnsError,
  isPublicAddress,
  parseIpLiteral,
} from '@openpipes/sandbox';

/**
 * Creates the sandbox that runs transforms and `send()` functions: `@openpipes/sandbox`'s
 * `createSandbox`, with `compile()` and `transform()` rejecting with a {@link PipesError}, and its
 * `logger` called like the engine's (any {@link Logger}: pino, winston, console).
 *
 * @example
 * ```ts
 * const sandbox = createSandbox({ workers: 2, egress: { allow: ['127.0.0.1'] } });
 * await sandbox.compile({ kind: 'transform', code: 'function transform({ events }) { return events; }' });
 * await sandbox.close();
 * ```
 */
export function createSandbox(options: SandboxOptions = {}): ReturnType<typeof createBareSandbox> {
  // The sandbox calls pino's form; adapted, winston and console get theirs (logger.ts).
  const logger = options.logger && adaptLogger(options.logger as Logger);
  const sandbox = createBareSandbox(logger ? { ...options, logger } : options);
  const rethrow = (err: unknown): never => {
    throw isSandboxError(err) ? toPipesError(err) : err;
  };
  return {
    ...sandbox,
    compile: (input) => sandbox.compile(input).catch(rethrow),
    transform: (input) => sandbox.transform(input).catch(rethrow),
  };
}
