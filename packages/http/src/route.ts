/**
 * What a route is, declared once: method, path, who may call it, the zod schemas of its query,
 * body and answers, and the function that answers. The handler's arguments are typed from the
 * schemas (`defineRoute` infers them), the handler parses the request with them before calling it,
 * and the OpenAPI document is generated from the same objects (openapi.ts), so the document, the
 * validation and the types cannot disagree.
 */
import type { ActorContext } from '@openpipes/core';
import { z } from 'zod';
import type { ApiPrincipal } from './api-keys.js';
import type { BodySource } from './body.js';
import type { Method } from './router.js';

/**
 * Who may call a route: anyone, a collect sender (the source's own auth), or an API key with the
 * read, write or privacy scope (`privacy`: personal-data operations, docs/security.md).
 */
export type RouteAccess = 'public' | 'collect' | 'read' | 'write' | 'privacy';

/** True for the routes an API key calls (the admin API). */
export const isAdminAccess = (access: RouteAccess): boolean =>
  access === 'read' || access === 'write' || access === 'privacy';

/** A query string schema: strict, so an unknown parameter is refused by name. */
export type QuerySchema = z.ZodObject<z.ZodRawShape, z.core.$strict>;

/** The parameters of a path template, by name: `'/api/pipes/{id}/toggle'` gives `{ id: string }`. */
export type PathParams<P extends string> = P extends `${string}{${infer Name}}${infer Rest}`
  ? { [K in Name]: string } & PathParams<Rest>
  : Record<never, never>;

/** A JSON object as read from a request body. */
export type JsonObject = { [key: string]: unknown };

/**
 * The JSON body a route takes: read (`{}` when empty), checked to be an object, then parsed with
 * `schema` before the route runs; the route gets the parsed value.
 */
export interface BodySpec<B extends z.ZodType> {
  schema: B;
  /** Names the body in a refusal: `invalid <label>: name: ...`. */
  label: string;
  /** For the document: whether a body must be sent (a route without one takes `{}`). */
  required?: boolean;
  /** Configuration documents: the larger admin limit (`api.maxConfigBodyBytes`) applies. */
  large?: boolean;
  /**
   * Top-level fields whose (string) value must never appear in an error answer or a log line: a
   * secret value, a webhook URL. Noted before the body is parsed, so a refusal cannot echo them.
   */
  sensitive?: string[];
  /**
   * Parses the body instead of `schema.parse`, where one schema's errors would not help: a body
   * that is one of two shapes, told apart by a field, is refused with the errors of that shape.
   */
  parse?: (body: JsonObject) => z.output<B>;
}

/**
 * A body the route reads from the request itself (collect: the media type, size and the source's
 * auth are checked before it is parsed); `schema` documents it.
 */
export interface RawBodySpec {
  schema: z.ZodType;
  mediaTypes: string[];
}

/** The `schema` of an answer without a body (204). */
export const noBody = z.undefined();

/** One success answer of a route: a JSON body (`schema`, or {@link noBody}) and other media types it may stream. */
export interface ResponseSpec {
  description: string;
  schema: z.ZodType;
  mediaTypes?: Record<string, z.ZodType>;
}

/** Success answers by status. The error answers each route can give come from its shape (openapi.ts). */
export type ResponsesSpec = { [status: number]: ResponseSpec };

/**
 * What a route answers: one of its statuses with a body of that status's schema, or a `Response`
 * it built itself (streamed answers).
 */
export type Reply<R extends ResponsesSpec> =
  | {
      [S in keyof R & number]: {
        status: S;
        body: z.output<R[S]['schema']>;
        headers?: Record<string, string>;
      };
    }[keyof R & number]
  | Response;

/** What a route's handler is given. */
export interface RouteContext<P extends string = string, Q = undefined, B = undefined> {
  request: Request;
  url: URL;
  params: PathParams<P>;
  requestId: string;
  /** Pass to every engine mutation: the API key's name and the request id, for the audit trail. */
  actor: ActorContext;
  /** The API key that called an admin route (`null` on public and collect routes). */
  principal: ApiPrincipal | null;
  /**
   * Strings that must not appear in an error answer or a log line (a secret value being written).
   * Routes that read such values add them here.
   */
  sensitive: string[];
  /**
   * The query string parsed with the route's `query` schema. A parameter given empty (`?status=`)
   * counts as not given; the same parameter twice is refused.
   */
  query: Q;
  /** The body parsed with the route's `body` schema. */
  body: B;
  /** The client's address (client-address.ts: past trusted proxies); null when the adapter does not say. */
  clientAddress: string | null;
}

/**
 * What a route's `handleDirect` is given: no fetch `Request`, only the request's headers and body
 * (the node adapters read them from the `IncomingMessage` itself).
 */
export interface DirectRouteContext<P extends string = string> {
  params: PathParams<P>;
  /** The request's URL (its origin from the Host header, as the fetch path builds it). */
  url: URL;
  requestId: string;
  request: BodySource;
  /** As {@link RouteContext.clientAddress}. */
  clientAddress: string | null;
}

/** What `handleDirect` answers: a reply, and cookies to set (`Set-Cookie`, one per entry). */
export type DirectReply<R extends ResponsesSpec> = Exclude<Reply<R>, Response> & { cookies?: string[] };

/** What every route declares besides its schemas and handler. */
interface RouteBase<P extends string> {
  method: Method;
  /** OpenAPI-style path relative to the handler's base path: `/api/pipes/{id}/toggle`. */
  path: P;
  summary: string;
  tag: string;
  access: RouteAccess;
  /**
   * True for routes called by browsers, tags and load balancers, which add parameters of their
   * own (cache busters such as `?_=1714816462`) and cannot act on a 400: unknown parameters are
   * ignored there (collect, `/healthz`, `/openapi.json`).
   */
  ignoresUnknownQuery?: boolean;
  rawBody?: RawBodySpec;
  /** Error statuses this route answers besides the ones every route of its shape has (openapi.ts). */
  errors?: number[];
}

/** The query of a route that takes no parameters. */
type NoQuery = z.ZodObject<Record<never, never>, z.core.$strict>;

/** A route as declared: its schemas type its handler. */
export interface RouteDefinition<
  P extends string,
  Q extends QuerySchema,
  B extends z.ZodType,
  R extends ResponsesSpec,
> extends RouteBase<P> {
  /**
   * The query parameters the route takes. Admin routes refuse any other parameter (400, naming
   * it); a route without `query` takes none.
   */
  query?: Q;
  body?: BodySpec<B>;
  responses: R;
  handle(context: RouteContext<P, z.output<Q>, z.output<B>>): Promise<Reply<R>>;
  /**
   * The same answer as `handle`, given only the request's headers and body: the node adapters call
   * it without building a fetch `Request` and `Response` (the collect endpoint, where that
   * conversion was a large part of a small request's cost). It MUST answer exactly as `handle`
   * does; the handler uses it only on routes with `access` `public` or `collect` and no `body`.
   */
  handleDirect?(context: DirectRouteContext<P>): Promise<DirectReply<R>>;
}

/** A route as the handler and the document see it (its types erased). */
export interface Route extends RouteBase<string> {
  query?: QuerySchema;
  body?: BodySpec<z.ZodType>;
  responses: ResponsesSpec;
  handle(context: RouteContext<string, unknown, unknown>): Promise<Reply<ResponsesSpec>>;
  handleDirect?(context: DirectRouteContext): Promise<DirectReply<ResponsesSpec>>;
}

/**
 * Declares a route; the handler's `params`, `query` and `body`, and what it may answer, are
 * inferred from the path and the schemas.
 *
 * @example
 * ```ts
 * defineRoute({
 *   method: 'POST',
 *   path: '/api/pipes/{id}/revert',
 *   summary: 'Make an old version current again.',
 *   tag: 'Pipes',
 *   access: 'write',
 *   body: { schema: revertBodySchema, label: 'revert' },
 *   responses: { 200: { description: 'The pipe.', schema: pipeSchema } },
 *   async handle({ params, body, actor }) {
 *     return { status: 200, body: await pipes.pipes.revert(params.id, body.version, actor) };
 *   },
 * });
 * ```
 */
export function defineRoute<
  const P extends string,
  Q extends QuerySchema = NoQuery,
  B extends z.ZodType = z.ZodUndefined,
  const R extends ResponsesSpec = ResponsesSpec,
>(definition: RouteDefinition<P, Q, B, R>): Route {
  // The handler is called only with what the schemas parsed (handler.ts), which is what its
  // context's types say; only the type parameters are forgotten here.
  return definition as unknown as Route;
}

/**
 * A route's answer: `status` with `body` (of that status's schema; `undefined` for none).
 *
 * @example
 * ```ts
 * return reply(201, await pipes.sources.create(body, actor));
 * ```
 */
export function reply<const S extends number, T>(
  status: S,
  body: T,
  headers?: Record<string, string>,
): { status: S; body: T; headers?: Record<string, string> } {
  return headers ? { status, body, headers } : { status, body };
}

/** A JSON answer. */
export function json(status: number, body: unknown, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}
