/**
 * The sandbox that runs user code: pipe transforms and destination `send()` functions, in QuickJS
 * inside a pool of worker threads, with host-backed helpers and an egress-guarded `fetch`.
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
export { defaultSandboxLimits } from './limits.js';
export type { SandboxLogger, SandboxOptions, SandboxStats } from './pool.js';
export { createSandbox } from './pool.js';
export type * from './types.js';
