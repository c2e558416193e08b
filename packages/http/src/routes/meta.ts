/** `/openapi.json` and `/healthz`: public, for tools and load balancers. */
import { errorCodes, type Pipes, toPipesError } from '@openpipes/core';
import { z } from 'zod';
import { buildOpenApiDocument, type OpenApiDocument } from '../openapi.js';
import { defineRoute, type Route, reply } from '../route.js';

/**
 * The meta routes. `routes` gives every route the handler serves (these included), for the
 * document, which is built once per base path it is served under.
 */
export function metaRoutes(pipes: Pipes, routes: () => Route[], version: string): Route[] {
  const documents = new Map<string, OpenApiDocument>();
  return [
    defineRoute({
      method: 'GET',
      path: '/openapi.json',
      summary: 'This OpenAPI 3.1 document.',
      tag: 'Meta',
      access: 'public',
      ignoresUnknownQuery: true,
      responses: {
        200: { description: 'The document.', schema: z.looseObject({ openapi: z.literal('3.1.0') }) },
      },
      async handle({ url }) {
        const base = url.pathname.slice(0, -'/openapi.json'.length);
        let document = documents.get(base);
        if (!document) {
          document = buildOpenApiDocument(routes(), { basePath: base, version });
          documents.set(base, document);
        }
        return reply(200, document);
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/healthz',
      summary: 'Liveness and store reachability.',
      tag: 'Meta',
      access: 'public',
      ignoresUnknownQuery: true,
      responses: {
        200: {
          description: 'Healthy.',
          schema: z.strictObject({ status: z.literal('ok'), running: z.boolean() }),
        },
        503: {
          description: 'The engine is stopped or its store does not answer.',
          schema: z.strictObject({ status: z.literal('unavailable'), code: z.enum(errorCodes) }),
        },
      },
      async handle() {
        try {
          await pipes.sources.list({ limit: 1 });
        } catch (err) {
          // Load balancers read the status only; the code says why without internals.
          return reply(503, { status: 'unavailable' as const, code: toPipesError(err).code });
        }
        return reply(200, { status: 'ok' as const, running: pipes.status().running });
      },
    }),
  ];
}
