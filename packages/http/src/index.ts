/**
 * `@openpipes/http`: OpenPipes over HTTP. `createHandler(pipes, options)` returns one fetch-standard
 * `(Request) => Promise<Response>` serving `POST /collect/:slug`, the admin REST API under `/api`,
 * `GET /openapi.json` and `GET /healthz` (and, opted in, `GET /metrics`, `/livez`, `/readyz`). Adapters: `@openpipes/http/node`, `@openpipes/http/express`,
 * `@openpipes/http/fastify`. The schemas that validate HTTP-only bodies are exported for clients.
 *
 * @example
 * ```ts
 * import { createHandler } from '@openpipes/http';
 *
 * const handler = createHandler(pipes, { apiKeys: [{ name: 'ops', token, scope: 'write' }] });
 * const response = await handler(new Request('http://localhost/healthz'));
 * ```
 */
export type { ApiPrincipal, ApiScope, Authenticate, StaticApiKey } from './api-keys.js';
export {
  type ApiLimits,
  createHandler,
  type HandlerOptions,
  type OpenPipesHandler,
  type RequestContext,
} from './handler.js';
export { createMetrics, type MetricsOptions, type PipesMetrics } from './metrics/index.js';
export type { ProbeOptions } from './probes.js';
export type { CollectLimits } from './routes/collect.js';
export {
  auditQueryParamsSchema,
  bindSecretsBodySchema,
  collectBodySchema,
  collectResultSchema,
  configImportQuerySchema,
  deliveriesQuerySchema,
  errorBodySchema,
  listQuerySchema,
  replayBodySchema,
  revertBodySchema,
  secretValueBodySchema,
  templateDestinationBodySchema,
  toggleBodySchema,
} from './schemas.js';
