/**
 * The host side of `fetch` inside `send()`. Runs in the sandbox worker: undici's own `fetch` over the
 * egress guard's dispatcher, redirects followed by hand so every hop is checked again, a timeout per
 * fetch, a cap on the response body, and every exchange captured raw for the delivery record.
 */

import type { Dispatcher } from 'undici';
import { fetch as undiciFetch } from 'undici';
import type { CapturedExchange } from './types.js';

/** What guest code passed to `fetch(url, init)`, already reduced to plain data by the guest. */
export interface GuestFetchRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  /**
   * The guest's `redirect` option. `follow` (the default): up to 5 hops, each checked by the guard
   * like the first request; `manual`: the 3xx answer is returned as it is; `error`: a redirect
   * rejects the fetch. The transport itself never follows a redirect, whatever the mode.
   */
  redirect?: RedirectMode;
}

/** What `fetch(url, { redirect })` may ask for, as in the Fetch standard. */
export type RedirectMode = 'follow' | 'manual' | 'error';
const REDIRECT_MODES: ReadonlySet<string> = new Set<RedirectMode>(['follow', 'manual', 'error']);

/** What the guest receives to build its Response. */
export interface GuestFetchResponse {
  url: string;
  status: number;
  statusText: string;
  headers: Array<[string, string]>;
  body: string;
  redirected: boolean;
}

/** A raw response from whichever transport ran the request (undici or a substituted fetch). */
export interface RawResponse {
  status: number;
  statusText: string;
  headers: Array<[string, string]>;
  body: string;
  truncated: boolean;
}

/** Sends one request without following redirects. */
export type Transport = (
  req: GuestFetchRequest,
  signal: AbortSignal,
  maxBytes: number,
) => Promise<RawResponse>;

export class FetchFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Reads at most `maxBytes` of a body stream; reports whether more was there. */
export async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  maxBytes: number,
): Promise<{ text: string; truncated: boolean }> {
  if (!body) return { text: '', truncated: false };
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.byteLength > maxBytes) {
      chunks.push(value.subarray(0, maxBytes - size));
      size = maxBytes;
      truncated = true;
      await reader.cancel().catch(() => {});
      break;
    }
    chunks.push(value);
    size += value.byteLength;
  }
  return { text: Buffer.concat(chunks).toString('utf8'), truncated };
}

/** The production transport: undici fetch through the guard, never following redirects itself. */
export function undiciTransport(dispatcher: Dispatcher): Transport {
  return async (req, signal, maxBytes) => {
    const res = await undiciFetch(req.url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      redirect: 'manual',
      dispatcher,
      signal,
    });
    const { text, truncated } = await readCapped(res.body as ReadableStream<Uint8Array> | null, maxBytes);
    return {
      status: res.status,
      statusText: res.statusText,
      headers: [...res.headers.entries()],
      body: text,
      truncated,
    };
  };
}

/** Node's and OpenSSL's codes for a TLS handshake or certificate failure. */
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_)|CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|^EPROTO$/;

function classify(err: unknown, signal: AbortSignal, timeoutMs: number): FetchFailure {
  if (err instanceof FetchFailure) return err;
  const seen = new Set<unknown>();
  let cur: unknown = err;
  while (cur && typeof cur === 'object' && !seen.has(cur)) {
    seen.add(cur);
    const code = (cur as { code?: unknown }).code;
    const message = (cur as Error).message;
    if (code === 'EGRESS_DENIED') return new FetchFailure('EGRESS_DENIED', message);
    if (code === 'DNS' || code === 'EAI_AGAIN') return new FetchFailure('DNS', message);
    if (code === 'DNS_NOT_FOUND' || code === 'ENOTFOUND') return new FetchFailure('DNS_NOT_FOUND', message);
    if (typeof code === 'string' && TLS_CODE.test(code)) {
      return new FetchFailure('TLS', `TLS failure: ${message} (${code})`);
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  if (signal.aborted) return new FetchFailure('TIMEOUT', `fetch timed out after ${timeoutMs} ms`);
  const message =
    err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
  return new FetchFailure('CONNECTION', message);
}

/** The request's URL parsed; a scheme other than http(s) is recorded as a denied exchange. */
function checkedUrl(req: GuestFetchRequest, exchanges: CapturedExchange[]): URL {
  let parsed: URL;
  try {
    parsed = new URL(req.url);
  } catch {
    throw new FetchFailure('INVALID_URL', `fetch: invalid URL ${JSON.stringify(req.url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    const message = `fetch: only http: and https: URLs are allowed, got ${parsed.protocol}`;
    exchanges.push({
      request: { url: parsed.href, method: req.method, headers: { ...req.headers } },
      error: { code: 'EGRESS_DENIED', message },
      startedAt: new Date().toISOString(),
      durationMs: 0,
    });
    throw new FetchFailure('EGRESS_DENIED', message);
  }
  return parsed;
}

/**
 * Sends one hop through `transport` under the fetch time-out (and the call's own signal), capturing
 * it as an exchange; a transport failure or a response over the size limit rejects.
 */
async function sendHop(
  req: GuestFetchRequest,
  transport: Transport,
  limits: { fetchTimeoutMs: number; responseBytes: number },
  exchanges: CapturedExchange[],
  callSignal?: AbortSignal,
): Promise<RawResponse> {
  const startedAt = new Date();
  const t0 = performance.now();
  // A controller and a timer, not AbortSignal.timeout() inside AbortSignal.any(): Node holds the
  // sources of `any` weakly, so an otherwise unreferenced timeout signal can be collected before
  // it fires and the fetch would never time out.
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException('fetch timed out', 'TimeoutError')),
    limits.fetchTimeoutMs,
  );
  const onCallAbort = () => controller.abort(callSignal?.reason);
  if (callSignal?.aborted) onCallAbort();
  else callSignal?.addEventListener('abort', onCallAbort, { once: true });
  const signal = controller.signal;
  const exchange: CapturedExchange = {
    request: { url: req.url, method: req.method, headers: { ...req.headers } },
    startedAt: startedAt.toISOString(),
    durationMs: 0,
  };
  if (req.body !== undefined) exchange.request.body = req.body;
  exchanges.push(exchange);
  let raw: RawResponse;
  try {
    raw = await transport(req, signal, limits.responseBytes);
  } catch (err) {
    const failure = classify(err, signal, limits.fetchTimeoutMs);
    exchange.error = { code: failure.code, message: failure.message };
    exchange.durationMs = performance.now() - t0;
    throw failure;
  } finally {
    clearTimeout(timer);
    callSignal?.removeEventListener('abort', onCallAbort);
  }
  exchange.durationMs = performance.now() - t0;
  exchange.response = { status: raw.status, headers: Object.fromEntries(raw.headers), body: raw.body };
  if (raw.truncated) {
    exchange.response.truncated = true;
    exchange.error = {
      code: 'RESPONSE_TOO_LARGE',
      message: `response body exceeds ${limits.responseBytes} bytes`,
    };
    throw new FetchFailure(
      'RESPONSE_TOO_LARGE',
      `fetch: response body exceeds ${limits.responseBytes} bytes`,
    );
  }
  return raw;
}

/**
 * The request a followed redirect makes: 303 (and 301/302 after a POST) becomes a GET without its
 * body and content headers; credentials are dropped when the redirect leaves the origin.
 */
function redirectedRequest(
  req: GuestFetchRequest,
  status: number,
  next: string,
  origin: string,
): GuestFetchRequest {
  const toGet = status === 303 || ((status === 301 || status === 302) && req.method === 'POST');
  const headers = { ...req.headers };
  if (new URL(next).origin !== origin) {
    // Credentials stay with the origin they were meant for.
    for (const k of Object.keys(headers)) {
      if (/^(authorization|cookie|proxy-authorization)$/i.test(k)) delete headers[k];
    }
  }
  if (toGet) {
    for (const k of Object.keys(headers)) if (/^content-/i.test(k)) delete headers[k];
    return { url: next, method: 'GET', headers };
  }
  return { ...req, url: next, headers };
}

/**
 * Runs one guest `fetch`: validates the URL, sends through `transport`, handles redirects as the
 * request's `redirect` mode says (following at most 5 by hand), and pushes one captured exchange per
 * hop onto `exchanges`. Rejects with a {@link FetchFailure} whose `code` is what the record shows.
 */
export async function performGuestFetch(
  request: GuestFetchRequest,
  transport: Transport,
  limits: { fetchTimeoutMs: number; responseBytes: number },
  exchanges: CapturedExchange[],
  callSignal?: AbortSignal,
): Promise<GuestFetchResponse> {
  const mode = request.redirect ?? 'follow';
  if (!REDIRECT_MODES.has(mode)) {
    throw new FetchFailure(
      'INVALID_REQUEST',
      `fetch: redirect must be "follow", "manual" or "error", got ${JSON.stringify(mode)}`,
    );
  }
  const { redirect: _mode, ...plain } = request;
  let req: GuestFetchRequest = plain;
  for (let hop = 0; ; hop++) {
    const parsed = checkedUrl(req, exchanges);
    req.url = parsed.href;
    const raw = await sendHop(req, transport, limits, exchanges, callSignal);
    const location = raw.headers.find(([k]) => k.toLowerCase() === 'location')?.[1];
    if (!REDIRECT_STATUSES.has(raw.status) || location === undefined || mode === 'manual') {
      return {
        url: req.url,
        status: raw.status,
        statusText: raw.statusText,
        headers: raw.headers,
        body: raw.body,
        redirected: hop > 0,
      };
    }
    if (mode === 'error') {
      // The exchange stays as it came back (the 3xx decides the record); only the call rejects.
      throw new FetchFailure(
        'REDIRECT',
        `fetch: ${req.url} answered ${raw.status} (Location: ${location}) and redirect is "error"`,
      );
    }
    if (hop >= MAX_REDIRECTS)
      throw new FetchFailure('CONNECTION', `fetch: more than ${MAX_REDIRECTS} redirects`);
    let next: string;
    try {
      next = new URL(location, req.url).href;
    } catch {
      throw new FetchFailure('INVALID_URL', `fetch: redirect to an invalid URL ${JSON.stringify(location)}`);
    }
    req = redirectedRequest(req, raw.status, next, parsed.origin);
  }
}
