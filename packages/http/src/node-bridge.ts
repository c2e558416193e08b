/**
 * Conversion between node:http messages and fetch `Request`/`Response`, shared by the node:http,
 * Express and Fastify adapters (all three hand us an `IncomingMessage`). Nothing here throws out of
 * a request: whatever node's parser accepted gets an answer, and a failure to write one ends that
 * response only.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BodyChunk, BodyReader, BodySource } from './body.js';
import { type DirectAnswer, type DirectCall, directAnswererOf } from './direct.js';
import type { OpenPipesHandler, RequestContext } from './handler.js';

/** What an adapter knows about one request beyond the `IncomingMessage`. */
export interface NodeRequestOptions {
  /** The request target to use instead of `req.url` (Express: `req.originalUrl`). */
  url?: string | undefined;
  /** What a framework body parser that ran first left in `req.body`. */
  parsedBody?: unknown;
  /** Where the framework mounted the handler (becomes `context.basePath`). */
  basePath?: string | undefined;
}

/**
 * Methods fetch's `Request` refuses to carry. Node's parser accepts them (CONNECT only reaches a
 * `'connect'` listener, but Express and Fastify hosts may hand it over in other ways), so they are
 * passed to the handler as a bodiless GET with the real method in `context.method`.
 */
const forbiddenByFetch = new Set(['CONNECT', 'TRACE', 'TRACK']);
const methodToken = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * Answers a node request and writes the answer; never rejects. A request whose route can answer
 * from headers and body alone (collect) is answered straight from the `IncomingMessage`, without a
 * fetch `Request` and `Response` in between; every other one goes through {@link callHandler} and
 * {@link writeFetchResponse}. Both give the same answer to the same request.
 */
export async function answerNode(
  handler: OpenPipesHandler,
  req: IncomingMessage,
  res: ServerResponse,
  options: NodeRequestOptions = {},
): Promise<void> {
  const direct = directAnswererOf(handler);
  // A body a framework parser already read (Express' express.json()) is re-sent by the fetch path.
  if (direct && req.method === 'POST' && !(req.readableEnded && options.parsedBody !== undefined)) {
    // The context toHandlerCall gives the fetch path.
    const context: RequestContext = options.basePath === undefined ? {} : { basePath: options.basePath };
    if (req.socket?.remoteAddress) context.clientAddress = req.socket.remoteAddress;
    const answer = await direct(directCall(req, res, options.url ?? req.url ?? '/'), context);
    if (answer) {
      writeDirectAnswer(res, answer);
      return;
    }
  }
  const response = await callHandler(handler, req, res, options);
  await writeFetchResponse(res, response);
}

/**
 * Calls the handler for a node request and resolves with its answer; never rejects. A request that
 * cannot be turned into a fetch `Request` is answered 400, a handler that throws (it answers its own
 * errors, so this is a bug) 500, both in OpenPipes' error format.
 */
export async function callHandler(
  handler: OpenPipesHandler,
  req: IncomingMessage,
  res: ServerResponse,
  options: NodeRequestOptions = {},
): Promise<Response> {
  let call: { request: Request; context: RequestContext };
  try {
    call = toHandlerCall(req, res, options);
  } catch (err) {
    return errorResponse(400, 'VALIDATION_FAILED', `the request could not be read: ${describe(err)}`);
  }
  try {
    return await handler(call.request, call.context);
  } catch {
    return errorResponse(500, 'INTERNAL', 'internal error while answering the request');
  }
}

/**
 * The fetch `Request` and the context for a node request. The body streams with back-pressure;
 * when the handler cancels it (a body over the limit), the rest is read and discarded rather than
 * destroying the socket, so the client still receives the 413. The request's `signal` aborts when
 * the client goes away before the response is complete (the handler logs that as the client's
 * doing, not as a failure).
 */
export function toHandlerCall(
  req: IncomingMessage,
  res: ServerResponse,
  options: NodeRequestOptions = {},
): { request: Request; context: RequestContext } {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    try {
      headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    } catch {
      // A header undici refuses (HTTP/2 pseudo-headers, odd bytes) is not one we read.
    }
  }
  const controller = new AbortController();
  const clientLeft = () => controller.abort(new Error('the client closed the connection'));
  res.once('close', () => {
    if (!res.writableFinished) clientLeft();
  });

  const context: RequestContext = options.basePath === undefined ? {} : { basePath: options.basePath };
  if (req.socket?.remoteAddress) context.clientAddress = req.socket.remoteAddress;
  const method = req.method ?? 'GET';
  const init: RequestInit & { duplex?: 'half' } = { method, headers, signal: controller.signal };
  if (forbiddenByFetch.has(method.toUpperCase()) || !methodToken.test(method)) {
    // No route takes these: the handler answers 405 (with Allow) or 404 without reading a body.
    init.method = 'GET';
    context.method = method;
  } else if (method !== 'GET' && method !== 'HEAD') {
    init.duplex = 'half';
    // A framework body parser that ran before us leaves its result; use the raw text if it kept it.
    init.body =
      req.readableEnded && options.parsedBody !== undefined
        ? reparse(options.parsedBody, headers)
        : streamOf(req, clientLeft);
  }
  const request = new Request(requestUrl(options.url ?? req.url ?? '/', req.headers.host), init);
  return { request, context };
}

/**
 * The pathname the handler will route a request target on (the same normalisation as the fetch
 * `Request`'s URL), for adapters that ask `handler.matches()` first.
 */
export function requestPath(target: string | undefined): string {
  return requestUrl(target ?? '/', undefined).pathname;
}

/**
 * Writes a fetch `Response` to a node response; never rejects. Bodies are small JSON documents,
 * written whole; progress streams (`application/x-ndjson`) are written line by line as they come.
 * When the client has gone the body is dropped; when writing fails, see {@link failResponse}.
 */
export async function writeFetchResponse(res: ServerResponse, response: Response): Promise<void> {
  try {
    if (res.destroyed || res.writableEnded) {
      await response.body?.cancel().catch(() => {});
      return;
    }
    const type = response.headers.get('content-type') ?? '';
    if (response.body && type.startsWith('application/x-ndjson')) {
      res.statusCode = response.status;
      copyHeaders(response.headers, (key, value) => res.setHeader(key, value));
      res.flushHeaders();
      for await (const chunk of response.body) {
        if (res.destroyed) continue; // the client left; let the work finish and drop its lines
        res.write(chunk);
      }
      if (!res.writableEnded) res.end();
      return;
    }
    const body = Buffer.from(await response.arrayBuffer());
    if (res.destroyed || res.writableEnded) return;
    res.statusCode = response.status;
    copyHeaders(response.headers, (key, value) => res.setHeader(key, value));
    res.setHeader('content-length', body.byteLength);
    res.end(body);
  } catch (err) {
    failResponse(res, err);
  }
}

/**
 * Writes a direct answer as {@link writeFetchResponse} writes a `Response`: the same status,
 * headers (in the same order: sorted, then `set-cookie`, then `content-length`) and body. Never throws.
 */
function writeDirectAnswer(res: ServerResponse, answer: DirectAnswer): void {
  try {
    if (res.destroyed || res.writableEnded) return;
    const headers: Record<string, string | number | string[]> = {};
    for (const name of Object.keys(answer.headers).sort()) headers[name] = answer.headers[name]!;
    if (answer.cookies) headers['set-cookie'] = answer.cookies;
    const body = answer.body ?? '';
    headers['content-length'] = Buffer.byteLength(body);
    res.writeHead(answer.status, headers);
    res.end(body);
  } catch (err) {
    failResponse(res, err);
  }
}

/**
 * Hands a fetch response's headers to `set`, `Set-Cookie` as one list of values (iterating joins
 * nothing, but setting them one by one would keep only the last cookie).
 */
export function copyHeaders(headers: Headers, set: (key: string, value: string | string[]) => void): void {
  headers.forEach((value, key) => {
    if (key !== 'set-cookie') set(key, value);
  });
  const cookies = headers.getSetCookie();
  if (cookies.length > 0) set('set-cookie', cookies);
}

/**
 * Ends a node response after something failed while answering: a 500 in OpenPipes' error format if
 * nothing was sent yet, else the connection is closed once what was written has gone out (a
 * half-written answer cannot be mended).
 * Never throws.
 */
export function failResponse(res: ServerResponse, err: unknown): void {
  try {
    if (res.destroyed || res.writableEnded) return;
    if (res.headersSent) {
      // The lines already written still reach the client; the missing end of the chunked body
      // tells it the answer broke off.
      if (res.socket) res.socket.destroySoon();
      else res.destroy();
      return;
    }
    const body = JSON.stringify({
      error: { code: 'INTERNAL', message: `internal error while answering the request: ${describe(err)}` },
    });
    res.writeHead(500, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  } catch {
    res.destroy();
  }
}

function errorResponse(status: number, code: string, message: string): Response {
  return new Response(JSON.stringify({ error: { code, message } }), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
  });
}

/** An error's message, short and on one line (it may end up in an answer). */
function describe(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replace(/\s+/g, ' ').slice(0, 200);
}

/**
 * The URL of a request target. Origin-form (`/path?query`) is kept as the path even when it starts
 * with `//`; absolute-form (`http://host/path`, which proxies send) contributes its path and query;
 * asterisk-form (`OPTIONS *`) and anything else is no path of ours (`/*`, which no route has). The
 * origin is the Host header when it is a plain host, else `localhost`: the handler never trusts it.
 */
function requestUrl(target: string, host: string | undefined): URL {
  const origin = originOf(host);
  if (target.startsWith('/')) {
    const url = parseUrl(origin + target);
    if (url) return url;
  } else if (/^https?:\/\//i.test(target)) {
    const absolute = parseUrl(target);
    const url = absolute && parseUrl(origin + absolute.pathname + absolute.search);
    if (url) return url;
  }
  return new URL(`${origin}/*`);
}

function originOf(host: string | undefined): string {
  if (host && /^[A-Za-z0-9.:[\]-]{1,255}$/.test(host) && parseUrl(`http://${host}/`)) return `http://${host}`;
  return 'http://localhost';
}

function parseUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

function streamOf(req: IncomingMessage, clientLeft: () => void): ReadableStream<Uint8Array> {
  let open = true;
  let listening = false;
  return new ReadableStream<Uint8Array>(
    {
      // Listeners are attached on the first read only: a body the handler never reads stays
      // untouched, and node:http discards it after the answer as it does for any unread body.
      pull(controller) {
        if (!listening) {
          listening = true;
          // Its events are past: a body read (or dropped) before the handler asked, or a
          // connection that closed first. Listening now would wait forever.
          if (req.readableEnded) {
            open = false;
            controller.close();
            return;
          }
          if (req.destroyed) {
            open = false;
            clientLeft();
            controller.error(req.errored ?? new Error('aborted'));
            return;
          }
          req.on('data', (chunk: Buffer) => {
            if (!open) return;
            controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
            req.pause();
          });
          req.on('end', () => {
            if (open) controller.close();
            open = false;
          });
          req.on('error', (err) => {
            // Node destroys the request with "aborted" when the connection closes mid-body: say
            // so on the signal first, so the handler knows whose doing the failed read is.
            if (!req.complete) clientLeft();
            if (open) controller.error(err);
            open = false;
          });
        }
        req.resume();
      },
      cancel() {
        open = false;
        req.resume();
      },
    },
    { highWaterMark: 0 },
  );
}

function reparse(parsed: unknown, headers: Headers): string | Uint8Array {
  if (typeof parsed === 'string' || parsed instanceof Uint8Array) return parsed;
  headers.delete('content-length');
  return JSON.stringify(parsed);
}

/**
 * A node request as the handler's direct path sees it. Its headers read as fetch's `Headers` built
 * by {@link toHandlerCall} would give them; its body reads as {@link streamOf} streams it; the
 * client counts as gone when the response closes unfinished or the body breaks off, as the fetch
 * path's abort signal does.
 */
function directCall(req: IncomingMessage, res: ServerResponse, target: string): DirectCall {
  let left = false;
  const clientLeft = () => {
    left = true;
  };
  res.once('close', () => {
    if (!res.writableFinished) clientLeft();
  });
  let headers: Map<string, string> | null = null;
  const request: BodySource = {
    header: (name) => {
      headers ??= fetchHeaders(req.rawHeaders);
      return headers.get(name.toLowerCase()) ?? null;
    },
    reader: () => bodyReader(req, clientLeft),
  };
  return {
    method: req.method ?? 'GET',
    url: requestUrl(target, req.headers.host),
    request,
    clientLeft: () => left,
  };
}

const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const httpWhitespace = /^[\t\n\r ]+|[\t\n\r ]+$/g;

/**
 * Request headers by lower-case name, as undici's `Headers.append` keeps them: values trimmed of
 * HTTP whitespace, a name or value it refuses left out, repeated headers joined with `, ` (`; ` for
 * Cookie).
 */
function fetchHeaders(raw: string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    let value = raw[i + 1]!;
    const last = value.length - 1;
    if (last >= 0 && (value.charCodeAt(0) <= 0x20 || value.charCodeAt(last) <= 0x20)) {
      value = value.replace(httpWhitespace, '');
    }
    if (!headerName.test(name) || /[\0\r\n]/.test(value)) continue;
    const seen = map.get(name);
    map.set(name, seen === undefined ? value : `${seen}${name === 'cookie' ? '; ' : ', '}${value}`);
  }
  return map;
}

/**
 * The body of a node request, read chunk by chunk with the contract of {@link streamOf}: nothing is
 * listened to before the first read; the request is paused between reads; cancelling discards the
 * rest (the client still gets the answer); a body that breaks off rejects the read in progress.
 */
function bodyReader(req: IncomingMessage, clientLeft: () => void): BodyReader {
  let state: 'new' | 'open' | 'ended' | 'failed' | 'cancelled' = 'new';
  let failure: unknown = null;
  const chunks: Uint8Array[] = [];
  let waiting: { resolve: (chunk: BodyChunk) => void; reject: (err: unknown) => void } | null = null;
  const settle = () => {
    if (!waiting) return;
    const { resolve, reject } = waiting;
    if (chunks.length > 0) {
      waiting = null;
      resolve({ done: false, value: chunks.shift()! });
    } else if (state === 'failed') {
      waiting = null;
      reject(failure);
    } else if (state === 'ended' || state === 'cancelled') {
      waiting = null;
      resolve({ done: true });
    }
  };
  const listen = () => {
    // Its events are past: a body read (or dropped) before we asked, or a connection that closed
    // first. Listening now would wait forever.
    if (req.readableEnded) {
      state = 'ended';
      return;
    }
    if (req.destroyed) {
      state = 'failed';
      failure = req.errored ?? new Error('aborted');
      clientLeft();
      return;
    }
    state = 'open';
    req.on('data', (chunk: Buffer) => {
      if (state !== 'open') return;
      chunks.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      req.pause();
      settle();
    });
    req.on('end', () => {
      if (state === 'open') state = 'ended';
      settle();
    });
    req.on('error', (err) => {
      // Node destroys the request with "aborted" when the connection closes mid-body.
      if (!req.complete) clientLeft();
      if (state === 'open') {
        state = 'failed';
        failure = err;
      }
      settle();
    });
  };
  return {
    read() {
      if (state === 'new') listen();
      return new Promise<BodyChunk>((resolve, reject) => {
        waiting = { resolve, reject };
        settle();
        if (waiting && state === 'open') req.resume();
      });
    },
    async cancel() {
      if (state === 'new' || state === 'open') state = 'cancelled';
      chunks.length = 0;
      settle();
      req.resume();
    },
  };
}
