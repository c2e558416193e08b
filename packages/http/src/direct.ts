/**
 * Answering without fetch objects: how the node adapters hand a request to the handler when its
 * route can answer from headers and body alone (`Route.handleDirect`: the collect endpoint). Each
 * such request skips building a fetch `Request` (headers, URL, abort signal, body stream) and a
 * `Response`, which cost a single-event collect request about as much as everything else the
 * handler does. Internal: the handler carries the answerer under a symbol, and a handler wrapped by
 * someone else simply goes through the fetch path.
 */
import type { BodySource } from './body.js';
import type { RequestContext } from './handler.js';

/** A request as the direct path sees it. */
export interface DirectCall {
  /** The request's method, as sent. */
  method: string;
  /** The request's URL, as the fetch path builds it (origin from the Host header, or localhost). */
  url: URL;
  /** Its headers and body. */
  request: BodySource;
  /** True once the client has gone away before the answer was complete. */
  clientLeft(): boolean;
}

/** An answer to write as it is: `body` is the whole body (null: none). */
export interface DirectAnswer {
  status: number;
  headers: Record<string, string>;
  /** `Set-Cookie` values, one header each. */
  cookies?: string[];
  body: string | null;
}

/**
 * Answers `call` when its route has a direct path; resolves `null`, having touched nothing of the
 * request, when it has not (the adapter then takes the fetch path). Never rejects.
 */
export type DirectAnswerer = (call: DirectCall, context?: RequestContext) => Promise<DirectAnswer | null>;

/** Where a handler made by `createHandler` keeps its {@link DirectAnswerer}. */
export const directAnswerer: unique symbol = Symbol('openpipes.directAnswerer');

/** The handler's direct answerer, if it has one. */
export function directAnswererOf(handler: object): DirectAnswerer | undefined {
  return (handler as { [directAnswerer]?: DirectAnswerer })[directAnswerer];
}
