/** Delivery records of a pipe, replay, one record with its attempts, and the buffer's depth. */
import { deliverySchema, type Pipes, parseOrThrow } from '@openpipes/core';
import { z } from 'zod';
import { json, type Route } from '../route.js';
import { deliveriesQuerySchema, pageSchema, replayBodySchema } from '../schemas.js';
import { idParam } from './collections.js';

export function deliveryRoutes(pipes: Pipes): Route[] {
  return [
    {
      method: 'GET',
      path: `/api/pipes/${idParam}/deliveries`,
      summary: "A pipe's delivery records, newest first.",
      tag: 'Deliveries',
      access: 'read',
      query: deliveriesQuerySchema,
      responses: { 200: { description: 'A page of delivery records.', schema: pageSchema(deliverySchema) } },
      async handle(context) {
        const query = context.query(deliveriesQuerySchema);
        return json(200, await pipes.deliveries.list(context.params.id!, query));
      },
    },
    {
      method: 'POST',
      path: `/api/pipes/${idParam}/replay`,
      summary: 'Re-queue failed or dead deliveries of a pipe (or preview them with dry_run).',
      tag: 'Deliveries',
      access: 'write',
      body: { schema: replayBodySchema },
      responses: {
        200: {
          description: 'What was re-queued.',
          schema: z.object({
            dry_run: z.boolean(),
            count: z.number().int(),
            ids: z.array(z.string()),
            preview: z.array(z.unknown()).optional(),
          }),
        },
      },
      async handle(context) {
        const body = parseOrThrow(replayBodySchema, await context.body(), 'replay options');
        return json(200, await pipes.deliveries.replay(context.params.id!, body, context.actor));
      },
    },
    {
      method: 'GET',
      path: `/api/event-deliveries/${idParam}`,
      summary: 'One delivery record with every attempt.',
      tag: 'Deliveries',
      access: 'read',
      responses: { 200: { description: 'The delivery record.', schema: 'Delivery' } },
      async handle(context) {
        return json(200, await pipes.deliveries.get(context.params.id!));
      },
    },
    {
      method: 'GET',
      path: '/api/stats',
      summary: 'Buffer depth: deliveries per destination, pipe and status; and the engine status.',
      tag: 'Deliveries',
      access: 'read',
      responses: {
        200: {
          description: 'Counts and engine status.',
          schema: z.object({
            deliveries: z.array(
              z.object({
                destination_id: z.string(),
                pipe_id: z.string(),
                status: z.string(),
                count: z.number().int(),
                oldest_created_at: z.string().nullable(),
              }),
            ),
            engine: z.object({ running: z.boolean(), roles: z.array(z.string()), owner: z.string() }).loose(),
          }),
        },
      },
      async handle() {
        return json(200, { deliveries: await pipes.deliveries.stats(), engine: pipes.status() });
      },
    },
  ];
}
