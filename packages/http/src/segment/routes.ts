/**
 * The Segment-spec HTTP tracking API (issue 18): `POST /v1/batch|track|identify|page|screen|group|alias`
 * and the short forms analytics.js uses (`/v1/b`, `/v1/t`, ...), at the handler's root (opt-in:
 * `createHandler(pipes, { segment: true })`) and under `/collect/{slug}/v1/...`. The write key (HTTP
 * Basic username, or `writeKey` in the body) picks the source; docs/segment.md has the mapping.
 * Clients never read per-message failures, so a message that cannot be mapped or is refused goes to
 * the source's rejection log, and the answer is `200 {"success": true}` once the request itself is good.
 */
import { isPipesError, type Pipes, PipesError, type Source } from '@openpipes/core';
import { z } from 'zod';
import { type BodySource, checkContentType, fetchBodySource, readCollectBodyOf } from '../body.js';
import { decodeUtf8, parseJson } from '../json.js';
import { defineRoute, type Route, reply } from '../route.js';
import { CollectError, type CollectLimits, checkEventCount, corsHeaders } from '../routes/collect.js';
import { segmentBrowserRoutes } from './browser.js';
import { type MapContext, mapSegmentMessage } from './map.js';

/** `createHandler(pipes, { segment: {...} })`. */
export interface SegmentOptions {
  /** Event names over the default map (docs/segment.md): `{"Order Completed": "purchase", "page": "page_view"}`. */
  eventNames?: Record<string, string>;
}

const paths: Array<[string, string | undefined]> = [
  ['batch', undefined],
  ['b', undefined],
  ['track', 'track'],
  ['t', 'track'],
  ['identify', 'identify'],
  ['i', 'identify'],
  ['page', 'page'],
  ['p', 'page'],
  ['screen', 'screen'],
  ['s', 'screen'],
  ['group', 'group'],
  ['g', 'group'],
  ['alias', 'alias'],
  ['a', 'alias'],
];

/**
 * What the clients send: JSON, analytics.js's `text/plain` (a simple request, no preflight), and
 * `application/x-www-form-urlencoded`, which @rudderstack/rudder-sdk-node's axios puts on its gzipped
 * Buffer body (it sets no type of its own). The body is parsed as JSON whatever the label says, so a
 * real form body is a 400; accepting the label opens nothing a `text/plain` request did not.
 */
const mediaTypes = ['application/json', 'text/plain', 'application/x-www-form-urlencoded'];

const bodySchema = z
  .looseObject({
    writeKey: z.string().optional().describe('The write key, when not sent as the HTTP Basic username.'),
    batch: z.array(z.looseObject({})).optional().describe('`/v1/batch`: the messages, each with its `type`.'),
  })
  .describe('A Segment-spec message, or `{"batch": [...]}` (see docs/segment.md).');
const successSchema = z.object({ success: z.literal(true) });

/** The write key from `Authorization: Basic base64(writeKey:)`. */
function basicUser(header: string | null): string | undefined {
  const match = /^basic\s+([A-Za-z0-9+/=]{1,1024})$/i.exec(header?.trim() ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const user = decoded.split(':')[0];
  return user ? user : undefined;
}

const unauthorized = (message: string) => new PipesError({ code: 'UNAUTHORIZED', message });

export function segmentRoutes(
  pipes: Pipes,
  limits: Required<CollectLimits>,
  options: SegmentOptions,
  {
    atRoot,
    messagesRejected,
  }: {
    atRoot: boolean;
    /** Counts messages refused before ingest (`openpipes_events_rejected_total`); set when metrics are on. */
    messagesRejected?: (rejection: { source: string; reason: 'invalid_message'; count: number }) => void;
  },
): Route[] {
  /** One tracking call, from a fetch `Request` or straight from node. */
  const track = async (
    request: BodySource,
    slug: string | undefined,
    type: string | undefined,
    clientAddress: string | null,
  ) => {
    let cors: Record<string, string> = {};
    try {
      checkContentType(request.header('content-type'), mediaTypes);
      const raw = await readCollectBodyOf(request, limits.maxBodyBytes);
      const body = parseJson(decodeUtf8(raw), limits.maxDepth);
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        throw new PipesError({
          code: 'VALIDATION_FAILED',
          message: 'the body must be a Segment message object, or {"batch": [...]}',
          details: { issues: [{ path: '(root)', message: 'expected an object' }] },
        });
      }
      const source = await sourceFor(
        pipes,
        request.header('authorization'),
        body as Record<string, unknown>,
        slug,
      );
      cors = corsHeaders(source, request.header('origin'));
      await take(pipes, source, body as Record<string, unknown>, type, limits, messagesRejected, {
        receivedAt: Date.now(),
        // A message without `context.ip` gets the sender's (past the trusted proxies only).
        requestIp: clientAddress,
        eventNames: eventNamesOf(source, options),
      });
      return reply(200, { success: true as const }, cors);
    } catch (err) {
      throw new CollectError(
        isPipesError(err) ? err : new PipesError({ code: 'INTERNAL', message: String(err), cause: err }),
        cors,
      );
    }
  };
  const routes: Route[] = [];
  const mounts = [...(atRoot ? [''] : []), '/collect/{slug}'];
  for (const mount of mounts) {
    for (const [name, type] of paths) {
      routes.push(
        defineRoute({
          method: 'POST',
          path: `${mount}/v1/${name}`,
          summary: `Segment-spec ${type ?? 'batch'}${name.length === 1 ? ' (short form)' : ''}: the write key (HTTP Basic username, or writeKey in the body) picks the source. See docs/segment.md.`,
          tag: 'Segment',
          access: 'collect',
          ignoresUnknownQuery: true,
          rawBody: { schema: bodySchema, mediaTypes },
          responses: {
            200: {
              description: 'The request was taken; messages that were refused are in the rejection log.',
              schema: successSchema,
            },
          },
          errors: [401, 403],
          handle: ({ request, params, clientAddress }) =>
            track(
              fetchBodySource(request),
              (params as Record<string, string | undefined>).slug,
              type,
              clientAddress,
            ),
          // The node adapters answer from the IncomingMessage itself (node-bridge.ts), as for collect.
          handleDirect: ({ request, params, clientAddress }) =>
            track(request, (params as Record<string, string | undefined>).slug, type, clientAddress),
        }),
      );
    }
  }
  routes.push(
    ...segmentBrowserRoutes(
      pipes,
      mounts,
      paths.map(([name]) => name),
    ),
  );
  return routes;
}

/**
 * The names this source's messages map through: the source's own `segment_event_names` over the
 * handler's `segment.eventNames` (both over the defaults in map.ts), so one source can differ.
 */
function eventNamesOf(source: Source, options: SegmentOptions): Readonly<Record<string, string>> {
  const own = source.segment_event_names;
  if (!options.eventNames) return own;
  if (Object.keys(own).length === 0) return options.eventNames;
  // Null-prototype: a stored name such as `__proto__` stays an ordinary entry.
  return Object.assign(Object.create(null) as Record<string, string>, options.eventNames, own);
}

/** The source a write key names; 401 for none, an unknown or revoked key, or another slug's key. */
async function sourceFor(
  pipes: Pipes,
  authorization: string | null,
  body: Record<string, unknown>,
  slug: string | undefined,
): Promise<Source> {
  const key = basicUser(authorization) ?? (typeof body.writeKey === 'string' ? body.writeKey : undefined);
  if (!key)
    throw unauthorized(
      'send the source\'s write key as the HTTP Basic username, or as "writeKey" in the body',
    );
  const verified = await pipes.writeKeys.verify(key);
  const source = verified ? await pipes.sources.get(verified.source_id).catch(() => null) : null;
  if (!source) throw unauthorized('unknown or revoked write key');
  if (slug !== undefined && source.slug !== slug)
    throw unauthorized(`the write key is not one of source "${slug}"`);
  if (source.auth.type !== 'none') {
    // A write key sits in public snippets: it may not stand in for a source's token or signature.
    throw unauthorized(
      `source "${source.slug}" requires ${source.auth.type} auth, which Segment clients cannot send; use a source without auth for them`,
    );
  }
  return source;
}

async function take(
  pipes: Pipes,
  source: Source,
  body: Record<string, unknown>,
  type: string | undefined,
  limits: Required<CollectLimits>,
  messagesRejected: Parameters<typeof segmentRoutes>[3]['messagesRejected'],
  ctx: MapContext,
): Promise<void> {
  let messages: unknown[];
  if (type !== undefined) messages = [body];
  else if (Array.isArray(body.batch)) messages = body.batch;
  else {
    throw new PipesError({
      code: 'VALIDATION_FAILED',
      message: 'a batch body is {"batch": [...]}',
      details: { issues: [{ path: 'batch', message: 'expected an array of messages' }] },
    });
  }
  checkEventCount(messages.length, limits.maxEvents, 'messages');
  const events = [];
  const links = [];
  // Kept with one write after the loop: a batch of a thousand refused messages is one insert.
  const refused: Array<Parameters<Pipes['logRejectedMessages']>[0]['rejected'][number]> = [];
  for (const [index, message] of messages.entries()) {
    const mapped = mapSegmentMessage(message, type, ctx);
    if (mapped.kind === 'event') events.push(mapped.event);
    else if (mapped.kind === 'link') links.push(mapped.item);
    else {
      refused.push({
        error: {
          code: 'VALIDATION_FAILED',
          message: `Segment message ${index}: ${mapped.message}`,
          issues: [
            {
              path: type === undefined ? `batch[${index}].${mapped.path}` : mapped.path,
              message: mapped.message,
            },
          ],
        },
        text: JSON.stringify(message ?? null).slice(0, 64 * 1024),
      });
    }
  }
  if (refused.length > 0) await pipes.logRejectedMessages({ sourceId: source.id, rejected: refused });
  const unmapped = messages.length - events.length - links.length;
  if (unmapped > 0) messagesRejected?.({ source: source.slug, reason: 'invalid_message', count: unmapped });
  // Links first: a purchase in the same batch as its identify is delivered with the profile.
  if (links.length > 0) await pipes.linkIdentifiers(links);
  // Each event is validated by ingest; one refused goes to the rejection log, as at /collect.
  if (events.length > 0) await pipes.ingest(source.slug, events);
}
