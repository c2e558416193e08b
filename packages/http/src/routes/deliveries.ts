/** Delivery records of a pipe, replay, one record with its attempts, last errors, and the buffer's depth. */
import {
  deliveryCountsQuerySchema,
  deliveryCountsSchema,
  deliverySchema,
  lastErrorsSchema,
  matchQualityQuerySchema,
  matchQualitySchema,
  type Pipes,
  reconciliationQuerySchema,
  reconciliationSchema,
  transformTestInputSchema,
  transformTestResultSchema,
} from '@openpipes/core';
import { z } from 'zod';
import { pageSchema, responseComponent } from '../components.js';
import { defineRoute, type Route, reply } from '../route.js';
import { deliveriesQuerySchema, replayBodySchema } from '../schemas.js';

export const delivery = responseComponent('Delivery', deliverySchema);

const replayResultSchema = z.object({
  dry_run: z.boolean(),
  count: z.number().int(),
  ids: z.array(z.string()),
  preview: z.array(z.unknown()).optional(),
});

/** This process's circuit breakers (read from memory, no query), shared by /api/stats and /api/backlog. */
const breakersSchema = z
  .record(
    z.string(),
    z.object({
      state: z.enum(['closed', 'open', 'half-open']),
      consecutive_failures: z.number().int(),
      paused_until: z.string().nullable(),
    }),
  )
  .describe(
    "This process's circuit breaker of each destination with one, by destination id: open or half-open means paused.",
  );

const statsSchema = z.object({
  deliveries: z.array(
    z.object({
      destination_id: z.string(),
      pipe_id: z.string(),
      status: z.string(),
      count: z.number().int(),
      oldest_created_at: z.string().nullable(),
    }),
  ),
  engine: z.object({
    running: z.boolean(),
    migrating: z.boolean().describe("True while the store's migrations run."),
    stopping: z.boolean().describe('True once the engine was asked to stop (draining or stopped).'),
    roles: z.array(z.string()),
    owner: z.string(),
    breakers: breakersSchema,
  }),
});

const backlogSchema = z.object({
  data: z.array(
    z.object({
      destination_id: z.string(),
      count: z.number().int().describe('Deliveries not final yet: pending, sending or retrying.'),
    }),
  ),
  breakers: breakersSchema,
});

/** A pipe's deliveries: listed, one read, replayed; and its transform tried on them. */
function pipeDeliveryRoutes(pipes: Pipes): Route[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/api/pipes/{id}/deliveries',
      summary: "A pipe's delivery records, newest first.",
      tag: 'Deliveries',
      access: 'read',
      query: deliveriesQuerySchema,
      responses: { 200: { description: 'A page of delivery records.', schema: pageSchema(delivery) } },
      async handle({ params, query }) {
        return reply(200, await pipes.deliveries.list(params.id, query));
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/api/pipes/{id}/replay',
      summary: 'Re-queue failed or dead deliveries of a pipe (or preview them with dry_run).',
      tag: 'Deliveries',
      access: 'write',
      body: { schema: replayBodySchema, label: 'replay options' },
      responses: { 200: { description: 'What was re-queued.', schema: replayResultSchema } },
      async handle({ params, body, actor }) {
        return reply(200, await pipes.deliveries.replay(params.id, body, actor));
      },
    }),
    defineRoute({
      method: 'POST',
      path: '/api/pipes/{id}/transform-test',
      summary:
        "Run a transform (the pipe's, or code being edited) in the sandbox on given events or its newest deliveries' events; nothing is delivered. Output, errors and console lines are redacted.",
      tag: 'Deliveries',
      access: 'write',
      body: { schema: transformTestInputSchema, label: 'transform test', required: true },
      responses: {
        200: { description: 'What the transform did with each event.', schema: transformTestResultSchema },
      },
      async handle({ params, body }) {
        return reply(200, await pipes.transforms.test(params.id, body));
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/event-deliveries/{id}',
      summary: 'One delivery record with every attempt.',
      tag: 'Deliveries',
      access: 'read',
      responses: { 200: { description: 'The delivery record.', schema: delivery } },
      async handle({ params }) {
        return reply(200, await pipes.deliveries.get(params.id));
      },
    }),
  ];
}

/** What the deliveries add up to: match quality, counts, reconciliation, last errors, backlog, stats. */
function deliveryReportRoutes(pipes: Pipes): Route[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/api/pipes/{id}/match-quality',
      summary:
        "Match quality: the share of a pipe's delivered events that carried each identifier its destination declares, before and after stitching, over the last hour, day or week (from a per-minute rollup of what left).",
      tag: 'Deliveries',
      access: 'read',
      query: matchQualityQuerySchema,
      responses: {
        200: {
          description:
            'Per identifier, delivered events that carried it raw and stitched; measured: false for a send() that declares no identifiers.',
          schema: responseComponent('MatchQuality', matchQualitySchema),
        },
      },
      async handle({ params, query }) {
        return reply(200, await pipes.deliveries.matchQuality(params.id, query));
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/delivery-counts',
      summary:
        'Deliveries that entered each status, per minute or hour, pipe and destination (from the per-minute rollup, never a count over the history).',
      tag: 'Deliveries',
      access: 'read',
      query: deliveryCountsQuerySchema,
      responses: {
        200: { description: 'Counts by bucket, pipe, destination and status.', schema: deliveryCountsSchema },
      },
      async handle({ query }) {
        return reply(200, await pipes.deliveries.counts(query));
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/reconciliation',
      summary:
        'For an event type and a period: events collected, and per destination (through its pipes) delivered, filtered by reason, failed and pending (an indexed query, never a scan of the history).',
      tag: 'Deliveries',
      access: 'read',
      query: reconciliationQuerySchema,
      responses: {
        200: {
          description: 'Collected events and the state of their deliveries, per destination and pipe.',
          schema: responseComponent('Reconciliation', reconciliationSchema),
        },
      },
      async handle({ query }) {
        return reply(200, await pipes.reconciliation.get(query));
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/last-errors',
      summary:
        "Each pipe's last error: its newest failed, dead or retrying delivery, with the error and its time (one indexed read per pipe and status, never a scan of the history).",
      tag: 'Deliveries',
      access: 'read',
      responses: {
        200: {
          description:
            'One row per pipe with such a delivery (pipes without one are left out), newest first.',
          schema: responseComponent('LastErrors', lastErrorsSchema),
        },
      },
      async handle() {
        return reply(200, await pipes.deliveries.lastErrors());
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/backlog',
      summary:
        "The live backlog per destination (deliveries not final yet), counted over the index of live deliveries: it costs as much as the backlog is long, never the history's length (unlike /api/stats); and the circuit breakers (paused destinations), as in /api/stats.",
      tag: 'Deliveries',
      access: 'read',
      responses: {
        200: {
          description:
            'Backlog by destination (destinations without one are left out) and the circuit breaker of each destination.',
          schema: backlogSchema,
        },
      },
      async handle() {
        return reply(200, { data: await pipes.deliveries.backlog(), breakers: pipes.status().breakers });
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/api/stats',
      summary: 'Buffer depth: deliveries per destination, pipe and status; and the engine status.',
      tag: 'Deliveries',
      access: 'read',
      responses: { 200: { description: 'Counts and engine status.', schema: statsSchema } },
      async handle() {
        return reply(200, { deliveries: await pipes.deliveries.stats(), engine: pipes.status() });
      },
    }),
  ];
}

export function deliveryRoutes(pipes: Pipes): Route[] {
  return [...pipeDeliveryRoutes(pipes), ...deliveryReportRoutes(pipes)];
}
