/**
 * What browser analytics.js needs besides the tracking endpoints (issue 18): its settings load,
 * `GET /v1/projects/{writeKey}/settings`, and CORS preflights on `/v1/*`. The settings document is
 * the least analytics.js accepts: its own Segment.io destination pointed back at this server, every
 * event enabled, and its telemetry off (analytics.js reports metrics to Segment unless told
 * `sampleRate: 0`). Nothing about the source is in it but the write key the caller already sent.
 */
import { isPipesError, type Pipes, PipesError, type Source } from '@openpipes/core';
import { z } from 'zod';
import { defineRoute, noBody, type Route, reply } from '../route.js';
import { CollectError, corsHeaders } from '../routes/collect.js';

/** Request headers a browser Segment client may send (answered in preflights). */
const allowedHeaders = 'content-type, content-encoding, authorization, x-request-id';

const settingsSchema = z
  .object({
    integrations: z.object({
      'Segment.io': z.looseObject({
        apiKey: z.string(),
        apiHost: z.string().describe('Where analytics.js posts: this server\'s host and path, up to "/v1".'),
        protocol: z.enum(['http', 'https']),
      }),
    }),
    plan: z.looseObject({}),
    edgeFunction: z.looseObject({}),
    analyticsNextEnabled: z.boolean(),
    metrics: z.looseObject({}),
  })
  .describe("analytics.js's settings document (docs/segment.md).");

/** The source a write key names, when it may be used by a Segment client; null otherwise. */
async function usableSource(pipes: Pipes, key: string, slug: string | undefined): Promise<Source | null> {
  const verified = await pipes.writeKeys.verify(key);
  const source = verified ? await pipes.sources.get(verified.source_id).catch(() => null) : null;
  if (!source?.enabled || source.auth.type !== 'none') return null;
  if (slug !== undefined && source.slug !== slug) return null;
  return source;
}

/** `https` when the request came over TLS (or a proxy in front says so), else `http`. */
function protocolOf(request: Request, url: URL): 'http' | 'https' {
  const forwarded = request.headers.get('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase();
  if (forwarded === 'https' || forwarded === 'http') return forwarded;
  return url.protocol === 'https:' ? 'https' : 'http';
}

/** The settings document for a write key that was checked. */
export function settingsDocument(writeKey: string, apiHost: string, protocol: 'http' | 'https') {
  return {
    integrations: {
      'Segment.io': {
        apiKey: writeKey,
        apiHost,
        protocol,
        unbundledIntegrations: [] as string[],
        addBundledMetadata: false,
        maybeBundledConfigIds: {},
      },
    },
    plan: { track: { __default: { enabled: true, integrations: {} } } },
    edgeFunction: {},
    analyticsNextEnabled: true,
    middlewareSettings: {},
    enabledMiddleware: {},
    // analytics.js sends its own telemetry to api.segment.io unless the sample rate is 0.
    metrics: { sampleRate: 0 },
  };
}

const notFound = () => new PipesError({ code: 'NOT_FOUND', message: 'unknown write key' });

export function segmentBrowserRoutes(pipes: Pipes, mounts: string[], trackPaths: string[]): Route[] {
  const routes: Route[] = [];
  for (const mount of mounts) {
    routes.push(
      defineRoute({
        method: 'GET',
        path: `${mount}/v1/projects/{writeKey}/settings`,
        summary:
          "analytics.js's settings load: its Segment.io destination pointed at this server. 404 for an unknown, revoked or unusable write key. See docs/segment.md.",
        tag: 'Segment',
        access: 'public',
        ignoresUnknownQuery: true,
        responses: { 200: { description: 'The settings document.', schema: settingsSchema } },
        errors: [403, 404],
        async handle({ request, params }) {
          const { writeKey, slug } = params as Record<string, string | undefined>;
          let cors: Record<string, string> = {};
          try {
            const source = writeKey ? await usableSource(pipes, writeKey, slug) : null;
            if (!source || !writeKey) throw notFound();
            cors = corsHeaders(source, request.headers.get('origin'));
            const url = new URL(request.url);
            // Everything before `/projects/...` is where the tracking endpoints are (base path included).
            const v1 = url.pathname.slice(0, url.pathname.lastIndexOf('/projects/'));
            const body = settingsDocument(writeKey, `${url.host}${v1}`, protocolOf(request, url));
            // `private`: the document reflects the Host the request named, so no shared cache keeps it.
            return reply(200, body, { ...cors, 'cache-control': 'private, max-age=60' });
          } catch (err) {
            throw new CollectError(
              isPipesError(err)
                ? err
                : new PipesError({ code: 'INTERNAL', message: String(err), cause: err }),
              cors,
            );
          }
        },
      }),
    );
    for (const name of [...trackPaths, 'projects/{writeKey}/settings']) {
      const methods = name.startsWith('projects/') ? 'GET, OPTIONS' : 'POST, OPTIONS';
      routes.push(
        defineRoute({
          method: 'OPTIONS',
          path: `${mount}/v1/${name}`,
          summary:
            mount === ''
              ? 'CORS preflight. A preflight carries no write key, so any origin may go on; the request itself is then checked against the allowed_origins of the source its write key names.'
              : "CORS preflight: allowed when the Origin is in the source's allowed_origins.",
          tag: 'Segment',
          access: 'public',
          ignoresUnknownQuery: true,
          responses: { 204: { description: 'The origin may send.', schema: noBody } },
          errors: [403, 404],
          async handle({ request, params }) {
            const origin = request.headers.get('origin');
            const slug = (params as Record<string, string | undefined>).slug;
            let headers: Record<string, string> = {};
            if (slug !== undefined) {
              const source = await pipes.sources.findBySlug(slug);
              if (!source) {
                throw new PipesError({ code: 'UNKNOWN_SOURCE', message: `no source with slug "${slug}"` });
              }
              headers = corsHeaders(source, origin);
            } else if (origin !== null) {
              headers = {
                'access-control-allow-origin': origin,
                'access-control-allow-credentials': 'true',
                'access-control-expose-headers': 'x-request-id',
                vary: 'Origin',
              };
            }
            return reply(204, undefined, {
              ...headers,
              allow: methods,
              ...(origin
                ? {
                    'access-control-allow-methods': methods,
                    'access-control-allow-headers': allowedHeaders,
                    'access-control-max-age': '600',
                  }
                : {}),
            });
          },
        }),
      );
    }
  }
  return routes;
}
