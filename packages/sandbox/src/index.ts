/**
 * `@openpipes/sandbox`: runs user code — pipe transforms and destination `send()` functions — in
 * QuickJS inside a pool of worker threads, with host-backed helpers and an egress-guarded `fetch`.
 * The {@link Sandbox} interface (types.ts) is the contract the engine talks to; `createSandbox`
 * is its implementation. Imports nothing from `@openpipes/core`.
 */

export type {
  EgressDecision,
  EgressGuard,
  EgressGuardOptions,
  EgressResolver,
  ResolvedAddress,
} from './egress.js';
export {
  createEgressGuard,
  EgressDeniedError,
  EgressDnsError,
  isPublicAddress,
  parseIpLiteral,
} from './egress.js';
export {
  failureCodes,
  isSandboxError,
  SandboxError,
  type SandboxErrorCode,
  sandboxErrorCodes,
} from './errors.js';
export { defaultSandboxLimits } from './limits.js';
export type { SandboxLogger, SandboxOptions, SandboxStats } from './pool.js';
export { createSandbox, sandboxInternals } from './pool.js';
export type * from './types.js';
