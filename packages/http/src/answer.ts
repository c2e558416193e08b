/**
 * Answering one request, for `createHandler()`: the fetch path (`createAnswer`: console files, route
 * lookup, API key and scope, query, body, the route, failures, metrics) and the direct path
 * (`createAnswerDirect`: collect without a fetch `Request`, step for step the same).
 */
import { randomUUID } from 'node:crypto';
import { type Logger, PipesError, parseOrThrow } from '@openpipes/core';
import type { ApiPrincipal } from './api-keys.js';
import { clientAddress } from './client-address.js';
import type { createConsoleServer } from './console.js';
import type { DirectAnswer, DirectCall } from './direct.js';
import { failureAnswer } from './failure.js';
import type { RequestContext } from './handler.js';
import type { PipesMetrics } from './metrics/index.js';
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
import type { createRouter } from './router.js';

/** What both paths share, made once by `createHandler()`. */
export interface AnswerCore {
  router: ReturnType<typeof createRouter<Route>>;
  logger: Logger;
  metrics: PipesMetrics | null;
  apiLimits: { maxBodyBytes: number; maxConfigBodyBytes: number; maxDepth: number };
  authenticateApi: (request: Request) => Promise<ApiPrincipal>;
  consoleServer: ReturnType<typeof createConsoleServer> | null;
  trustedProxies: Parameters<typeof clientAddress>[2];
  /** The path below the base path (no trailing slash), or null when outside it. */
  relativePath(pathname: string, context?: RequestContext): string | null;
  /** The base path of this request (the context's, or the handler's). */
  baseOf(context?: RequestContext): string;
}

const requestIdPattern = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

export const isConsolePath = (path: string) => path === '/console' || path.startsWith('/console/');

/** Throws FORBIDDEN when the key's scope does not reach the route's access. */
function checkScope(route: Route, principal: ApiPrincipal, method: string): void {
  if (route.access === 'write' && principal.scope === 'read') {
    throw new PipesError({
      code: 'FORBIDDEN',
      message: `the API key "${principal.actor}" is read-only; ${method} needs a key with the write scope`,
    });
  }
  if (route.access === 'privacy' && principal.scope !== 'privacy') {
    throw new PipesError({
      code: 'FORBIDDEN',
      message: `the API key "${principal.actor}" has the ${principal.scope} scope; profiles and erasure (personal data) need a key with the privacy scope`,
    });
  }
}

/** The fetch path: a Request answered with a Response; every failure answered in the API's format. */
export function createAnswer(core: AnswerCore) {
  return async (request: Request, context?: RequestContext): Promise<Response> => {
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
      const path = core.relativePath(url.pathname, context);
      if (core.consoleServer && path !== null && isConsolePath(path)) {
        const base = core.baseOf(context);
        // The raw path: relativePath drops a trailing slash, which tells `/console` from `/console/`.
        const consolePath = url.pathname.slice(base.length);
        response = await core.consoleServer(
          requestMethod,
          isConsolePath(consolePath) ? consolePath : path,
          base,
        );
        response.headers.set('x-request-id', requestId);
        return requestMethod === 'HEAD'
          ? new Response(null, { status: response.status, headers: response.headers })
          : response;
      }
      const found = path === null ? ({ kind: 'none' } as const) : core.router.match(method, path);
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
        principal = await core.authenticateApi(request);
        checkScope(route, principal, request.method);
        actor = principal.actor;
      }
      const rawQuery = readQuery(url, route);
      const query = route.query ? parseOrThrow(route.query, rawQuery, 'query') : rawQuery;
      const bodyLimits = {
        maxBodyBytes: route.body?.large ? core.apiLimits.maxConfigBodyBytes : core.apiLimits.maxBodyBytes,
        maxDepth: core.apiLimits.maxDepth,
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
            core.trustedProxies,
          ),
        }),
      );
    } catch (err) {
      const failed = failureAnswer(core.logger, err, {
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
    if (core.metrics && route?.access === 'collect' && method === 'POST') {
      core.metrics.collectAnswered({
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
}

/**
 * The direct path: `answer` for the routes that can answer without a fetch `Request` (`handleDirect`: collect),
 * step for step: request id, query, the route, failures, metrics. Resolves null for any other
 * request before touching it, and the adapter takes the fetch path.
 */
export function createAnswerDirect(core: AnswerCore) {
  const { router, logger, metrics, trustedProxies, relativePath, consoleServer } = core;
  return async (call: DirectCall, context?: RequestContext): Promise<DirectAnswer | null> => {
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
            trustedProxies,
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
