/** `/api/sources`: where events come in, with each source's recent events and rejections. */
import { type Pipes, sourceInputSchema, sourceSchema } from '@openpipes/core';
import { z } from 'zod';
import { pageSchema, responseComponent } from '../components.js';
import { defineRoute, type Route, reply } from '../route.js';
import { listQuerySchema } from '../schemas.js';
import { collectionRoutes, collectionSchemas } from './collections.js';

export const sourceSchemas = collectionSchemas('Source', { entity: sourceSchema, input: sourceInputSchema });

export const storedEvent = responseComponent(
  'StoredEvent',
  z.object({
    id: z.string().describe('Our id (`evt_…`), made on receipt.'),
    source_id: z.string(),
    event_id: z.string().describe("The sender's event id, or our id when the sender gave none."),
    event_type: z.string(),
    event_time: z.string(),
    event_payload: z.record(z.string(), z.unknown()),
    received_at: z.string(),
  }),
);

const rejection = responseComponent(
  'Rejection',
  z.object({
    id: z.string().describe('`rej_…`, made when the event was refused.'),
    source_id: z.string(),
    received_at: z.string(),
    error: z
      .object({
        code: z.string(),
        message: z.string(),
        issues: z.array(z.object({ path: z.string(), message: z.string() })),
      })
      .describe(
        'Why it was refused, as the collect answer said (at most 20 issues, within 4 KB of JSON; long paths and messages cut with `…`).',
      ),
    event: z
      .string()
      .describe(
        "The event as sent, as JSON text (or the body's text when it was not JSON), cut to the log's limit.",
      ),
    truncated: z.boolean().describe('True when `event` was cut (the log keeps 4 KB by default).'),
  }),
);

export function sourceRoutes(pipes: Pipes): Route[] {
  return [
    ...collectionRoutes({
      path: 'sources',
      idKind: 'source',
      label: 'source',
      tag: 'Sources',
      schemas: sourceSchemas,
      registry: pipes.sources,
      toggle: (id, enabled, actor) => pipes.sources.toggle(id, enabled, actor),
    }),
    defineRoute({
      method: 'GET',
      path: '/api/sources/{id}/events',
      summary: "A source's recent accepted events, newest first.",
      tag: 'Sources',
      access: 'read',
      query: listQuerySchema('event'),
      responses: { 200: { description: 'A page of stored events.', schema: pageSchema(storedEvent) } },
      async handle({ params, query }) {
        return reply(200, await pipes.sources.events(params.id, query));
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/sources/{id}/rejections',
      summary:
        "A source's recent rejected events (refused at collect), newest first, with their validation errors. The log keeps the newest 1000 per source and is pruned with the events.",
      tag: 'Sources',
      access: 'read',
      query: listQuerySchema('rejection'),
      responses: { 200: { description: 'A page of rejections.', schema: pageSchema(rejection) } },
      async handle({ params, query }) {
        return reply(200, await pipes.sources.rejections(params.id, query));
      },
    }),
  ];
}
