/**
 * `createHandler()`: the whole HTTP surface of OpenPipes as one fetch-standard function
 * `(Request) => Promise<Response>`. Framework adapters only convert requests and responses.
 */
import { randomUUID } from 'node:crypto';
import {
  adaptLogger,
  type DestinationTemplate,
  type Logger,
  type Pipes,
  PipesError,
  parseOrThrow,
  silentLogger,
  toPipesError,
} from '@openpipes/core';
import {
  type ApiPrincipal,
  type Authenticate,
  createApiAuthenticator,
  type StaticApiKey,
} from './api-keys.js';
import { browserTagRoute } from './browser-tag.js';
import { clientAddress } from './client-address.js';
import { createConsoleServer } from './console.js';
import { type DirectAnswer, type DirectAnswerer, type DirectCall, directAnswerer } from './direct.js';
import { failureAnswer } from './failure.js';
import { createMetrics, type MetricsOptions } from './metrics/index.js';
import { metricsRoute } from './metrics/route.js';
import { type ProbeOptions, probeRoutes } from './probes.js';
import { readQuery } from './query.js';
import {
  type DirectReply,
  isAdminAccess,
  json,
  type Reply,
  type ResponsesSpec,
  type Route,
} from './route.js';
import { readRouteBody } from './route-body.js';
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

const requestIdPattern = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

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
  const isConsolePath = (path: string) => path === '/console' || path.startsWith('/console/');

  const relativePath = (pathname: string, context?: RequestContext): string | null => {
    const base = context?.basePath !== undefined ? normalizeBase(context.basePath) : defaultBase;
    if (base && pathname !== base && !pathname.startsWith(`${base}/`)) return null;
    const path = pathname.slice(base.length);
    return path.length > 1 ? path.replace(/\/+$/, '') : '/';
  };

  const answer = async (request: Request, context?: RequestContext): Promise<Response> => {
    const given = request.headers.get('x-request-id');
    const requestId = given && requestIdPattern.test(given) ? given : `req_${randomUUID()}`;
    const url = new URL(request.url);
    const started = performance.now();
    let errorCode: string | null = null;
    const sensitive: string[] = [];
    const requestMethod = context?.method ?? request.method;
    const method = requestMethod === 'HEAD' ? 'GET' : requestMethod;
    let route: Route | undefined;
    let response: Response;
    try {
      const path = relativePath(url.pathname, context);
      if (consoleServer && path !== null && isConsolePath(path)) {
        const base = context?.basePath !== undefined ? normalizeBase(context.basePath) : defaultBase;
        // The raw path: relativePath drops a trailing slash, which tells `/console` from `/console/`.
        const consolePath = url.pathname.slice(base.length);
        response = await consoleServer(requestMethod, isConsolePath(consolePath) ? consolePath : path, base);
        response.headers.set('x-request-id', requestId);
        return requestMethod === 'HEAD'
          ? new Response(null, { status: response.status, headers: response.headers })
          : response;
      }
      const found = path === null ? ({ kind: 'none' } as const) : router.match(method, path);
      if (found.kind === 'none') {
        throw new PipesError({
          code: 'NOT_FOUND',
          message: `no route for ${requestMethod} ${url.pathname}`,
        });
      }
      if (found.kind === 'method') {
        throw new PipesError({
          code: 'METHOD_NOT_ALLOWED',
          message: `${requestMethod} is not allowed on ${url.pathname}; use ${found.allowed.join(', ')}`,
          details: { allowed: found.allowed },
        });
      }
      route = found.route;
      let actor: string | null = null;
      let principal: ApiPrincipal | null = null;
      if (isAdminAccess(route.access)) {
        principal = await authenticateApi(request);
        if (route.access === 'write' && principal.scope === 'read') {
          throw new PipesError({
            code: 'FORBIDDEN',
            message: `the API key "${principal.actor}" is read-only; ${request.method} needs a key with the write scope`,
          });
        }
        if (route.access === 'privacy' && principal.scope !== 'privacy') {
          throw new PipesError({
            code: 'FORBIDDEN',
            message: `the API key "${principal.actor}" has the ${principal.scope} scope; profiles and erasure (personal data) need a key with the privacy scope`,
          });
        }
        actor = principal.actor;
      }
      const rawQuery = readQuery(url, route);
      const query = route.query ? parseOrThrow(route.query, rawQuery, 'query') : rawQuery;
      const bodyLimits = {
        maxBodyBytes: route.body?.large ? apiLimits.maxConfigBodyBytes : apiLimits.maxBodyBytes,
        maxDepth: apiLimits.maxDepth,
      };
      const body = route.body ? await readRouteBody(request, route.body, bodyLimits, sensitive) : undefined;
      response = toResponse(
        await route.handle({
          request,
          url,
          params: found.params,
          requestId,
          actor: { actor, requestId },
          principal,
          sensitive,
          query,
          body,
          clientAddress: clientAddress(
            context?.clientAddress,
            request.headers.get('x-forwarded-for'),
            options.trustedProxies,
          ),
        }),
      );
    } catch (err) {
      const failed = failureAnswer(logger, err, {
        requestId,
        method: requestMethod,
        pathname: url.pathname,
        route,
        clientLeft: request.signal.aborted,
        sensitive,
      });
      errorCode = failed.code;
      response = new Response(failed.answer.body, {
        status: failed.answer.status,
        headers: failed.answer.headers,
      });
    }
    response.headers.set('x-request-id', requestId);
    if (metrics && route?.access === 'collect' && method === 'POST') {
      metrics.collectAnswered({
        seconds: (performance.now() - started) / 1000,
        status: response.status,
        code: errorCode,
      });
    }
    if (requestMethod === 'HEAD') {
      return new Response(null, { status: response.status, headers: response.headers });
    }
    return response;
  };

  /**
   * `answer` for the routes that can answer without a fetch `Request` (`handleDirect`: collect),
   * step for step: request id, query, the route, failures, metrics. Resolves null for any other
   * request before touching it, and the adapter takes the fetch path.
   */
  const answerDirect = async (call: DirectCall, context?: RequestContext): Promise<DirectAnswer | null> => {
    if (call.method !== 'POST') return null;
    const path = relativePath(call.url.pathname, context);
    if (path === null || (consoleServer && isConsolePath(path))) return null;
    const found = router.match('POST', path);
    if (found.kind !== 'route' || !isDirect(found.route)) return null;
    const route = found.route;
    const given = call.request.header('x-request-id');
    const requestId = given && requestIdPattern.test(given) ? given : `req_${randomUUID()}`;
    const started = performance.now();
    let errorCode: string | null = null;
    const sensitive: string[] = [];
    let answered: DirectAnswer;
    try {
      const rawQuery = readQuery(call.url, route);
      if (route.query) parseOrThrow(route.query, rawQuery, 'query');
      answered = replyAnswer(
        await route.handleDirect({
          params: found.params,
          url: call.url,
          requestId,
          request: call.request,
          clientAddress: clientAddress(
            context?.clientAddress,
            call.request.header('x-forwarded-for'),
            options.trustedProxies,
          ),
        }),
      );
    } catch (err) {
      const failed = failureAnswer(logger, err, {
        requestId,
        method: call.method,
        pathname: call.url.pathname,
        route,
        clientLeft: call.clientLeft(),
        sensitive,
      });
      errorCode = failed.code;
      answered = failed.answer;
    }
    answered.headers['x-request-id'] = requestId;
    if (metrics && route.access === 'collect') {
      metrics.collectAnswered({
        seconds: (performance.now() - started) / 1000,
        status: answered.status,
        code: errorCode,
      });
    }
    return answered;
  };

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
    const base = context?.basePath !== undefined ? normalizeBase(context.basePath) : defaultBase;
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

/** A route that may answer without a fetch `Request` (see `Route.handleDirect`). */
function isDirect(route: Route): route is Route & Required<Pick<Route, 'handleDirect'>> {
  return (
    route.handleDirect !== undefined &&
    route.body === undefined &&
    (route.access === 'collect' || route.access === 'public')
  );
}

/** {@link toResponse} for the direct path: the same status, headers and JSON text. */
function replyAnswer(reply: DirectReply<ResponsesSpec>): DirectAnswer {
  const cookies = reply.cookies && reply.cookies.length > 0 ? { cookies: reply.cookies } : {};
  if (reply.body === undefined) {
    return { status: reply.status, headers: { ...reply.headers }, ...cookies, body: null };
  }
  return {
    status: reply.status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...reply.headers },
    ...cookies,
    body: JSON.stringify(reply.body),
  };
}

/** A route's reply as a Response: JSON when it has a body, nothing (204) when it has none. */
function toResponse(reply: Reply<ResponsesSpec>): Response {
  if (reply instanceof Response) return reply;
  if (reply.body === undefined) return new Response(null, { status: reply.status, headers: reply.headers });
  return json(reply.status, reply.body, reply.headers);
}
