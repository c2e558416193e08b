/**
 * What a route is: method, path, who may call it, what it takes and answers (for validation and
 * for the OpenAPI document), and the function that answers.
 */
import type { ActorContext } from '@openpipes/core';
import type { z } from 'zod';
import type { Method } from './router.js';

/**
 * Who may call a route: anyone, a collect sender (the source's own auth), or an API key with the
 * read or write scope.
 */
export type RouteAccess = 'public' | 'collect' | 'read' | 'write';

/** A schema for the OpenAPI document: a named component, or an inline zod schema. */
export type DocSchema = string | z.ZodType;

export interface RouteContext {
  request: Request;
  url: URL;
  params: Record<string, string>;
  requestId: string;
  /** Pass to every engine mutation: the API key's name and the request id, for the audit trail. */
  actor: ActorContext;
  /**
   * Strings that must not appear in an error answer or a log line (a secret value being written).
   * Routes that read such values add them here.
   */
  sensitive: string[];
  /** The JSON body as an object (`{}` when empty); `VALIDATION_FAILED` when it is not an object. */
  body(): Promise<Record<string, unknown>>;
  /**
   * The query string validated with `schema`. A parameter given empty (`?status=`) counts as not
   * given; the same parameter twice is refused.
   */
  query<T>(schema: z.ZodType<T>): T;
}

/** A query string schema: strict, so an unknown parameter is refused by name. */
export type QuerySchema = z.ZodObject<z.ZodRawShape, z.core.$strict>;

export interface Route {
  method: Method;
  /** OpenAPI-style path relative to the handler's base path: `/api/pipes/{id}/toggle`. */
  path: string;
  summary: string;
  tag: string;
  access: RouteAccess;
  body?: {
    schema: DocSchema;
    required?: boolean;
    mediaTypes?: string[];
    /** Configuration documents: the larger admin limit (`api.maxConfigBodyBytes`) applies. */
    large?: boolean;
  };
  /**
   * The query parameters the route takes. Admin routes refuse any other parameter (400, naming
   * it); a route without `query` takes none.
   */
  query?: QuerySchema;
  /**
   * True for routes called by browsers, tags and load balancers, which add parameters of their
   * own (cache busters such as `?_=1714816462`) and cannot act on a 400: unknown parameters are
   * ignored there (collect, `/healthz`, `/openapi.json`).
   */
  ignoresUnknownQuery?: boolean;
  /** Success answers; the error answers each route can give are derived from its shape (openapi.ts). */
  responses: Record<
    number,
    { description: string; schema?: DocSchema; mediaTypes?: Record<string, DocSchema> }
  >;
  /** Error statuses this route answers besides the ones every route of its shape has (openapi.ts). */
  errors?: number[];
  handle(context: RouteContext): Promise<Response>;
}

/** A JSON answer. */
export function json(status: number, body: unknown, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}
