/**
 * `POST /collect/:slug` and its CORS preflight. The order of checks is chosen so that a refused
 * request costs little and stores nothing: media type, size (streamed, never buffered past the
 * limit, and counted after decompression when it comes gzip, deflate or br), the source's auth,
 * the origin, JSON syntax and depth, event count; only then ingest.
 */
import {
  type IncomingEvent,
  type IngestResult,
  isPipesError,
  type Pipes,
  PipesError,
  type Source,
  vouchStorableList,
} from '@openpipes/core';
import { type BodySource, checkContentType, fetchBodySource, readCollectBodyOf } from '../body.js';
import { cookieScope, firstPartyCookies } from '../first-party-cookies.js';
import { decodeUtf8, parseJson } from '../json.js';
import { defineRoute, json, noBody, type Route, reply } from '../route.js';
import { collectBodySchema, collectResultSchema } from '../schemas.js';

/**
 * Limits of `POST /collect/:slug`.
 *
 * @example
 * ```ts
 * createHandler(pipes, { collect: { maxBodyBytes: 256 * 1024, maxEvents: 100, maxDepth: 16 } });
 * ```
 */
export interface CollectLimits {
  /** Largest body accepted, bytes. Default 1 MiB (413 past it). */
  maxBodyBytes?: number;
  /** Most events in one request. Default 1000 (413 past it). */
  maxEvents?: number;
  /** Deepest nesting of objects and arrays in the body. Default 32 (400 past it). */
  maxDepth?: number;
}

export const collectDefaults: Required<CollectLimits> = {
  maxBodyBytes: 1024 * 1024,
  maxEvents: 1000,
  maxDepth: 32,
};

/** Request headers a browser may send to collect (answered in preflights). */
const allowedHeaders =
  'content-type, content-encoding, authorization, x-openpipes-timestamp, x-openpipes-signature, x-request-id';

/** Thrown inside the collect route: an error answer that carries the CORS headers already decided. */
export class CollectError extends Error {
  override readonly name = 'CollectError';
  constructor(
    readonly error: PipesError,
    readonly headers: Record<string, string>,
  ) {
    super(error.message);
  }
}

export function collectRoutes(pipes: Pipes, limits: Required<CollectLimits>): Route[] {
  return [
    defineRoute({
      method: 'POST',
      path: '/collect/{slug}',
      summary:
        'Send events to a source: one event, an array, or {"events": [...]}, as application/json or text/plain (navigator.sendBeacon).',
      tag: 'Collect',
      access: 'collect',
      ignoresUnknownQuery: true,
      rawBody: { schema: collectBodySchema, mediaTypes: ['application/json', 'text/plain'] },
      responses: {
        202: {
          description: 'At least one event was accepted. One result per event.',
          schema: collectResultSchema,
        },
        200: {
          description: 'Nothing new: every event was a duplicate of one already received.',
          schema: collectResultSchema,
        },
      },
      // The source's auth (401), its allowed origins and whether it is enabled (403).
      errors: [401, 403],
      handle: async ({ request, params, url }) => {
        const answered = await collect(pipes, limits, params.slug, fetchBodySource(request), url);
        if (!answered.cookies) return answered;
        const response = json(answered.status, answered.body, answered.headers);
        for (const cookie of answered.cookies) response.headers.append('set-cookie', cookie);
        return response;
      },
      // The node adapters answer from the IncomingMessage itself, without a fetch Request (node-bridge.ts).
      handleDirect: ({ params, request, url }) => collect(pipes, limits, params.slug, request, url),
    }),
    defineRoute({
      method: 'OPTIONS',
      path: '/collect/{slug}',
      summary: "CORS preflight: allowed when the Origin is in the source's allowed_origins.",
      tag: 'Collect',
      access: 'public',
      ignoresUnknownQuery: true,
      responses: { 204: { description: 'The origin may send.', schema: noBody } },
      errors: [403],
      async handle({ request, params }) {
        const source = await pipes.sources.findBySlug(params.slug);
        if (!source) {
          throw new PipesError({ code: 'UNKNOWN_SOURCE', message: `no source with slug "${params.slug}"` });
        }
        const origin = request.headers.get('origin');
        const headers = corsHeaders(source, origin);
        return reply(204, undefined, {
          ...headers,
          allow: 'POST, OPTIONS',
          ...(origin
            ? {
                'access-control-allow-methods': 'POST, OPTIONS',
                'access-control-allow-headers': allowedHeaders,
                'access-control-max-age': '600',
              }
            : {}),
        });
      },
    }),
  ];
}

/**
 * Answers one collect request, whether it came as a fetch `Request` or straight from node: media
 * type, body (size, decompression), the source's auth, origin, JSON, event count, then ingest.
 * Every refusal is thrown as a {@link CollectError} carrying the CORS headers decided so far.
 */
function collect(
  pipes: Pipes,
  limits: Required<CollectLimits>,
  slug: string,
  request: BodySource,
  url: URL,
): Promise<ReturnType<typeof answer> & { cookies?: string[] }> {
  // The request's server span (a no-op without an OpenTelemetry SDK in the host).
  return pipes.traceCollect(
    { slug, header: request.header, statusOf: (answered: { status: number }) => answered.status },
    async () => {
      let cors: Record<string, string> = {};
      try {
        checkContentType(request.header('content-type'), ['application/json', 'text/plain']);
        const raw = await readCollectBodyOf(request, limits.maxBodyBytes);
        const source = await pipes.authenticateCollect({
          slug,
          authorization: request.header('authorization'),
          timestamp: request.header('x-openpipes-timestamp'),
          signature: request.header('x-openpipes-signature'),
          rawBody: raw,
        });
        cors = corsHeaders(source, request.header('origin'));
        const events = await logIfRefused(pipes, source, raw, () => checkedEvents(raw, limits));
        // parseJson refused every unstorable string or number (and nesting past maxDepth): an
        // engine's own ingest need not walk the events again (not a wrapper's, which may change them).
        const ingest = pipes.ingest;
        vouchStorableList(events, limits.maxDepth, ingest);
        // Not yet checked as events: ingest validates each one and rejects the bad ones by index.
        const result = await ingest.call(pipes, slug, events as IncomingEvent[]);
        const answered = answer(result, cors);
        // First-party cookies (the source's `first_party_cookies`) ride on the answer.
        const origin = request.header('origin');
        let scope = source.first_party_cookies ? cookieScope(origin, url) : null;
        // A cookie for a parent domain reaches every host under it: only for a page origin the
        // operator named, never for any sibling host that an open source merely lets send.
        if (scope?.domain && !(origin && originNamed(source, origin))) scope = null;
        const cookies = scope ? firstPartyCookies(events, result.results, scope, Date.now()) : [];
        return cookies.length === 0 ? answered : { ...answered, cookies };
      } catch (err) {
        throw new CollectError(isPipesError(err) ? err : toInternal(err), cors);
      }
    },
  );
}

/**
 * CORS headers for an allowed origin; throws `FORBIDDEN` for a browser origin the source does not
 * allow. No Origin (server-to-server) needs no CORS.
 */
export function corsHeaders(source: Source, origin: string | null): Record<string, string> {
  if (origin === null) return {};
  if (!originAllowed(source, origin)) {
    throw new PipesError({
      code: 'FORBIDDEN',
      message: `origin ${origin.slice(0, 200)} may not send to source "${source.slug}"; add it to the source's allowed_origins`,
      details: { origin: origin.slice(0, 200) },
    });
  }
  // The origin is echoed (not `*`) so credentialed beacons work (and first-party cookies set by the
  // answer are kept); no cookies are ever read.
  return {
    'access-control-allow-origin': origin,
    'access-control-allow-credentials': 'true',
    'access-control-expose-headers': 'x-request-id',
    vary: 'Origin',
  };
}

/**
 * `allowed_origins` entries are exact origins (`https://shop.example`), `*`, or a wildcard
 * subdomain (`https://*.shop.example`). An empty list lets any origin send to a source without
 * auth (public beacons), and none to a source with a token or signature (the secret must not be in
 * a browser).
 */
export function originAllowed(source: Pick<Source, 'allowed_origins' | 'auth'>, origin: string): boolean {
  if (source.allowed_origins.length === 0) return source.auth.type === 'none';
  return source.allowed_origins.includes('*') || originNamed(source, origin);
}

/**
 * True when an `allowed_origins` entry names `origin` exactly or by a wildcard subdomain (`*` and an
 * empty list allow an origin without naming it).
 */
export function originNamed(source: Pick<Source, 'allowed_origins'>, origin: string): boolean {
  const wanted = normalizeOrigin(origin);
  return source.allowed_origins.some((entry) => {
    if (entry === '*') return false;
    const allowed = normalizeOrigin(entry);
    const star = allowed.indexOf('://*.');
    if (star === -1) return allowed === wanted;
    const scheme = allowed.slice(0, star + 3);
    const suffix = allowed.slice(star + 4);
    return (
      wanted.startsWith(scheme) && wanted.endsWith(suffix) && wanted.length > scheme.length + suffix.length
    );
  });
}

function normalizeOrigin(origin: string): string {
  return origin.trim().toLowerCase().replace(/\/+$/, '');
}

function unwrapEvents(body: unknown): unknown[] {
  if (Array.isArray(body)) return body;
  if (body !== null && typeof body === 'object') {
    if ('events' in body && Array.isArray(body.events) && !('event_type' in body)) {
      // The wrapper is strict like everything else: a key beside `events` would be lost.
      const extra = Object.keys(body).filter((key) => key !== 'events');
      if (extra.length > 0) {
        throw new PipesError({
          code: 'VALIDATION_FAILED',
          message: `${extra.slice(0, 5).join(', ')}: unknown field beside "events"; put fields in each event's event_payload`,
          details: {
            // As ingest answers an event's issues: the first 100 (a body may hold 100,000 keys).
            issues: extra.slice(0, 100).map((key) => ({
              path: key,
              message: 'unknown field (not part of {"events": [...]})',
            })),
          },
        });
      }
      return body.events;
    }
    return [body];
  }
  throw new PipesError({
    code: 'VALIDATION_FAILED',
    message: 'the body must be an event object, an array of events, or {"events": [...]}',
    details: { issues: [{ path: '(root)', message: 'expected an object or an array' }] },
  });
}

/**
 * 202 when anything was accepted; 200 when nothing new was stored but nothing was wrong (all
 * duplicates); 400 `VALIDATION_FAILED` with the per-event results when every event was refused.
 */
function answer(result: IngestResult, cors: Record<string, string>) {
  if (result.accepted > 0) return reply(202, result, cors);
  if (result.rejected === 0) return reply(200, result, cors);
  throw new PipesError({
    code: 'VALIDATION_FAILED',
    message: `no event was accepted (${result.rejected} rejected, ${result.duplicates} duplicates); details.results says why, per event`,
    details: result,
  });
}

function toInternal(err: unknown): PipesError {
  return new PipesError({
    code: 'INTERNAL',
    message: err instanceof Error ? err.message : String(err),
    cause: err,
  });
}

/** The body's events: JSON (UTF-8, not too deep), at least one, at most `maxEvents`. */
function checkedEvents(raw: Uint8Array, limits: Required<CollectLimits>): unknown[] {
  const events = unwrapEvents(parseJson(decodeUtf8(raw), limits.maxDepth));
  if (events.length === 0) {
    throw new PipesError({
      code: 'VALIDATION_FAILED',
      message: 'the body holds no events',
      details: { issues: [{ path: '(root)', message: 'at least one event is needed' }] },
    });
  }
  checkEventCount(events.length, limits.maxEvents, 'events');
  return events;
}

/**
 * Refuses a request that carries more than `maxEvents` events (413 `TOO_MANY_EVENTS`), naming them
 * as the route's callers do: `events` on /collect, `messages` on the Segment routes.
 *
 * @example
 * checkEventCount(messages.length, limits.maxEvents, 'messages');
 */
export function checkEventCount(count: number, maxEvents: number, noun: 'events' | 'messages'): void {
  if (count > maxEvents) {
    throw new PipesError({
      code: 'TOO_MANY_EVENTS',
      message: `${count} ${noun} in one request; at most ${maxEvents} are accepted`,
      details: { max_events: maxEvents, events: count },
    });
  }
}

/** Bytes of a refused body decoded for the rejection log (the log cuts it further, to its own limit). */
const loggedBodyBytes = 64 * 1024;

/**
 * Runs `check`; when it refuses the whole request (its source already authenticated it), the
 * refusal goes to the source's rejection log with the start of the body, then is thrown as before.
 */
async function logIfRefused<T>(pipes: Pipes, source: Source, raw: Uint8Array, check: () => T): Promise<T> {
  try {
    return check();
  } catch (err) {
    if (isPipesError(err)) {
      const issues = (err.details as { issues?: unknown } | undefined)?.issues;
      await pipes.logRejectedRequest({
        sourceId: source.id,
        error: {
          code: err.code,
          message: err.message,
          issues: Array.isArray(issues) ? (issues as Array<{ path: string; message: string }>) : [],
        },
        // Lenient decoding: a body that is not UTF-8 is logged with U+FFFD where it was broken.
        text: Buffer.from(raw.buffer, raw.byteOffset, Math.min(raw.byteLength, loggedBodyBytes)).toString(
          'utf8',
        ),
      });
    }
    throw err;
  }
}
