/**
 * `createHandler()`: the whole HTTP surface of OpenPipes as one fetch-standard function
 * `(Request) => Promise<Response>`. Framework adapters only convert requests and responses.
 */
import {
  adaptLogger,
  type DestinationTemplate,
  type Logger,
  type Pipes,
  silentLogger,
  toPipesError,
} from '@openpipes/core';
import { type AnswerCore, createAnswer, createAnswerDirect, isConsolePath } from './answer.js';
import { type Authenticate, createApiAuthenticator, type StaticApiKey } from './api-keys.js';
import { browserTagRoute } from './browser-tag.js';
import { createConsoleServer } from './console.js';
import { type DirectAnswerer, directAnswerer } from './direct.js';
import { createMetrics, type MetricsOptions } from './metrics/index.js';
import { metricsRoute } from './metrics/route.js';
import { type ProbeOptions, probeRoutes } from './probes.js';
import type { Route } from './route.js';
import { createRouter } from './router.js';
import { type CollectLimits, collectDefaults, collectRoutes } from './routes/collect.js';
import { adminRoutes } from './routes/index.js';
import { metaRoutes } from './routes/meta.js';
import { type SegmentOptions, segmentRoutes } from './segment/routes.js';

/** The package version, shown in the OpenAPI document. */
const version = '0.1.0';

/**
 * Limits of the admin API's request bodies.
 *
 * @example
 * ```ts
 * createHandler(pipes, { apiKeys, api: { maxBodyBytes: 4 * 1024 * 1024 } });
 * ```
 */
export interface ApiLimits {
  /** Largest body, bytes. Default 2 MiB (code fields may hold up to 512 KiB each). */
  maxBodyBytes?: number;
  /**
   * Largest body of `POST /api/config/import`, bytes. Default 16 MiB: a configuration document
   * carries every transform and `send()` (up to 512 KiB each) of an instance.
   */
  maxConfigBodyBytes?: number;
  /** Deepest nesting of objects and arrays. Default 64 (JSON Schemas of event types nest). */
  maxDepth?: number;
}

/**
 * Options of {@link createHandler}.
 *
 * @example
 * ```ts
 * const options: HandlerOptions = {
 *   basePath: '/openpipes',
 *   apiKeys: [{ name: 'ops', token: process.env.OPENPIPES_API_KEY!, scope: 'write' }],
 *   authenticate: async (token) => lookUpKeyInYourDatabase(token), // { actor, scope } | null
 *   templates: [metaCapiTemplate],
 *   collect: { maxBodyBytes: 512 * 1024, maxEvents: 500 },
 *   logger: console,
 * };
 * ```
 */
export interface HandlerOptions {
  /**
   * The path the handler is served under, e.g. `/openpipes`: requests outside it answer 404. Adapters
   * that know their mount point (Express, Fastify) pass it per request instead. Default `''`.
   */
  basePath?: string;
  /** Admin API keys given in code (checked first, by digest, in constant time). */
  apiKeys?: StaticApiKey[];
  /**
   * Resolves bearer tokens that are not in `apiKeys`. Default: the API keys stored in the
   * database (`pipes.apiKeys.verify`), created with `POST /api/api-keys` or the CLI.
   */
  authenticate?: Authenticate;
  /** Destination templates `POST /api/event-destinations {"template": ...}` may use. */
  templates?: DestinationTemplate[];
  /** Limits of `POST /collect/:slug`. */
  collect?: CollectLimits;
  /** Limits of admin API bodies. */
  api?: ApiLimits;
  /**
   * Where 5xx answers are logged (error), 4xx ones (debug) and requests the client abandoned half
   * way (debug, `code: "CLIENT_CLOSED"`, `status: 499`). Default: silent. Never logs bodies.
   */
  logger?: Logger;
  /**
   * Serve `GET /metrics` (Prometheus text, docs/observability.md). Off by default. It answers API
   * keys of either scope, or anyone with `public: true` (a scraper inside a private network).
   */
  metrics?: MetricsOptions & { public?: boolean };
  /**
   * Serve `GET /livez` (liveness: the process answers) and `GET /readyz` (readiness: migrated, the
   * store answers, not draining). Off by default; `/healthz` is always there.
   */
  probes?: boolean | ProbeOptions;
  /**
   * Serve the web console (`@openpipes/console`) under `<mount>/console/`. Off by default. It signs
   * in with an API key or admin token and talks only to this REST API; see docs/console.md.
   */
  console?: boolean;
  /** Segment-spec `/v1/...` at the root (off: an embedder's `/v1` is safe; see docs/segment.md). */
  segment?: boolean | SegmentOptions;
  /** Serve the browser tag at `<mount>/openpipes.js` (docs/browser-tag.md). Off by default. */
  browserTag?: boolean;
  /** Addresses of proxies whose `X-Forwarded-For` names the client (default none: the peer is the client). */
  trustedProxies?: string[];
}

/**
 * Per-request information an adapter passes along.
 *
 * @example
 * ```ts
 * // Express: the handler sees the full URL and is told where it was mounted.
 * handler(request, { basePath: req.baseUrl });
 * ```
 */
export interface RequestContext {
  /** The prefix the framework mounted the handler under (overrides `basePath`). */
  basePath?: string;
  /**
   * The request's real method when `request.method` cannot carry it: fetch's `Request` refuses
   * CONNECT, TRACE and TRACK, so the adapters pass such a request as a bodiless GET and name its
   * method here. No route takes these methods: the handler answers 405 (with `Allow`) where the
   * path exists and 404 where it does not, as for any method a path does not take.
   */
  method?: string;
  /** The connection's peer address (the node adapters pass `socket.remoteAddress`). */
  clientAddress?: string;
}

/**
 * A fetch-standard handler. It also answers whether a path is one of its routes, so framework
 * adapters can pass other requests on to the host application.
 *
 * @example
 * ```ts
 * const response = await handler(new Request('http://localhost/collect/web', { method: 'POST', body }));
 * if (!handler.matches(url.pathname)) return next();
 * ```
 */
export interface OpenPipesHandler {
  (request: Request, context?: RequestContext): Promise<Response>;
  /**
   * True when the handler answers `pathname` (with the base path): everything under a non-empty
   * base path; at the root, its routes and the `/api/` and `/collect/` trees.
   */
  matches(pathname: string, context?: RequestContext): boolean;
}

/**
 * Creates the handler for the collect endpoint, the admin REST API, `/openapi.json` and `/healthz`
 * (and, when asked, `/metrics`, `/livez` and `/readyz`).
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createHandler } from '@openpipes/http';
 * import { createNodeListener } from '@openpipes/http/node';
 *
 * const handler = createHandler(pipes, {
 *   apiKeys: [{ name: 'ops', token: process.env.OPENPIPES_API_KEY!, scope: 'write' }],
 * });
 * createServer(createNodeListener(handler)).listen(8080);
 * // or, in any fetch runtime: export default { fetch: handler };
 * ```
 */
export function createHandler(pipes: Pipes, options: HandlerOptions = {}): OpenPipesHandler {
  const logger = adaptLogger(options.logger ?? silentLogger);
  const collectLimits = { ...collectDefaults, ...options.collect };
  const apiLimits = {
    maxBodyBytes: 2 * 1024 * 1024,
    maxConfigBodyBytes: 16 * 1024 * 1024,
    maxDepth: 64,
    ...options.api,
  };
  // Tokens that are not in `apiKeys` go to the hook, or by default to the keys stored in the
  // database (`pipes.apiKeys`, created with the CLI or `POST /api/api-keys`).
  const storedKeys: Authenticate = async (token) => {
    const key = await pipes.apiKeys.verify(token);
    return key ? { actor: key.name, scope: key.scope } : null;
  };
  const authenticateApi = createApiAuthenticator(options.apiKeys ?? [], options.authenticate ?? storedKeys);
  const defaultBase = normalizeBase(options.basePath);

  const metrics = options.metrics ? createMetrics(pipes, options.metrics) : null;
  const observability: Route[] = [
    ...(metrics ? [metricsRoute(metrics, options.metrics?.public ? 'public' : 'read')] : []),
    ...(options.probes ? probeRoutes(pipes, options.probes === true ? {} : options.probes) : []),
  ];
  const routes: Route[] = [
    ...collectRoutes(pipes, collectLimits),
    ...segmentRoutes(pipes, collectLimits, typeof options.segment === 'object' ? options.segment : {}, {
      atRoot: Boolean(options.segment),
      ...(metrics ? { messagesRejected: metrics.messagesRejected } : {}),
    }),
    ...metaRoutes(pipes, () => routes, version),
    ...observability,
    ...(options.browserTag ? [browserTagRoute()] : []),
    ...adminRoutes(pipes, { templates: options.templates ?? [], logger }),
  ];
  const router = createRouter(routes);
  const consoleServer = options.console ? createConsoleServer() : null;

  const baseOf = (context?: RequestContext) =>
    context?.basePath !== undefined ? normalizeBase(context.basePath) : defaultBase;
  const relativePath = (pathname: string, context?: RequestContext): string | null => {
    const base = baseOf(context);
    if (base && pathname !== base && !pathname.startsWith(`${base}/`)) return null;
    const path = pathname.slice(base.length);
    return path.length > 1 ? path.replace(/\/+$/, '') : '/';
  };

  const core: AnswerCore = {
    router,
    logger,
    metrics,
    apiLimits,
    authenticateApi,
    consoleServer,
    trustedProxies: options.trustedProxies,
    relativePath,
    baseOf,
  };
  const answer = createAnswer(core);
  const answerDirect = createAnswerDirect(core);

  // Errors are answered inside `answer`; this is the net under it, so that nothing a request does
  // can reject the promise an adapter waits on.
  const handle = async (request: Request, context?: RequestContext): Promise<Response> => {
    try {
      return await answer(request, context);
    } catch (err) {
      logger.error('OpenPipes HTTP request failed', {
        method: context?.method ?? request.method,
        status: 500,
        code: 'INTERNAL',
        error: toPipesError(err).message,
      });
      return new Response(
        JSON.stringify({
          error: { code: 'INTERNAL', message: 'internal error while answering the request' },
        }),
        { status: 500, headers: { 'content-type': 'application/json; charset=utf-8' } },
      );
    }
  };

  const handler = handle as OpenPipesHandler & { [directAnswerer]: DirectAnswerer };
  // The net under answerDirect, as `handle` is the net under `answer`.
  handler[directAnswerer] = async (call, context) => {
    try {
      return await answerDirect(call, context);
    } catch (err) {
      logger.error('OpenPipes HTTP request failed', {
        method: call.method,
        status: 500,
        code: 'INTERNAL',
        error: toPipesError(err).message,
      });
      return {
        status: 500,
        headers: { 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify({
          error: { code: 'INTERNAL', message: 'internal error while answering the request' },
        }),
      };
    }
  };
  handler.matches = (pathname, context) => {
    const path = relativePath(pathname, context);
    if (path === null) return false;
    // Under a prefix, everything is ours (unknown paths answer 404 in our format); at the root,
    // only our routes and the /api and /collect trees are.
    const base = baseOf(context);
    return (
      base !== '' ||
      path.startsWith('/api/') ||
      path.startsWith('/collect/') ||
      (consoleServer !== null && isConsolePath(path)) ||
      router.match('GET', path).kind !== 'none'
    );
  };
  return handler;
}

function normalizeBase(base: string | undefined): string {
  if (!base || base === '/') return '';
  return `/${base.replace(/^\/+|\/+$/g, '')}`;
}
