/**
 * Request and response schemas that exist only over HTTP (toggles, rotations, query strings, the
 * collect answer). Entity bodies use core's schemas (`sourceInputSchema`, ...). The handler
 * validates with these, and the OpenAPI document is generated from them: one source of truth.
 * Bodies are strict objects: an unknown key (`{"enbled": false}`) is a 400 naming it, never
 * ignored.
 */
import {
  auditQuerySchema,
  cursorSchema,
  deliveryStatuses,
  destinationInputSchema,
  errorCodes,
  type IdKind,
  incomingEventSchema,
  replayOptionsSchema,
  secretInputSchema,
} from '@openpipes/core';
import { z } from 'zod';
import { patchSchema } from './components.js';

const isoTime = z.iso.datetime({ offset: true });

/**
 * `PUT /api/{sources,event-destinations,pipes}/:id/toggle`: flips `enabled`, or sets it.
 *
 * @example
 * ```ts
 * toggleBodySchema.parse({ enabled: true });
 * ```
 */
export const toggleBodySchema = z.strictObject({
  enabled: z
    .boolean()
    .optional()
    .describe('Set this state (setting the state it has changes nothing); without it, the state flips.'),
});

/**
 * `PUT /api/event-destinations/:id/secrets`: replaces the bound secrets.
 *
 * @example
 * ```ts
 * bindSecretsBodySchema.parse({ secretIds: ['sec_01J...'] });
 * ```
 */
export const bindSecretsBodySchema = z
  .strictObject({
    secretIds: z.array(z.string().min(1)).max(100).optional().describe('Ids of the secrets to bind.'),
    secret_ids: z.array(z.string().min(1)).max(100).optional().describe('Same as `secretIds`.'),
  })
  .refine((body) => (body.secretIds === undefined) !== (body.secret_ids === undefined), {
    message:
      'give secretIds (or secret_ids, not both): the list of secret ids to bind (an empty list unbinds all)',
    path: ['secretIds'],
  })
  // The refinement, for the OpenAPI document (zod cannot express it in JSON Schema).
  .meta({ oneOf: [{ required: ['secretIds'] }, { required: ['secret_ids'] }] });

/**
 * `PUT /api/secrets/:id/value`: rotates a secret's value.
 *
 * @example
 * ```ts
 * secretValueBodySchema.parse({ value: process.env.NEW_META_TOKEN });
 * ```
 */
export const secretValueBodySchema = secretInputSchema.pick({ value: true });

/**
 * `POST /api/{collection}/:id/revert`.
 *
 * @example
 * ```ts
 * revertBodySchema.parse({ version: 3 });
 * ```
 */
export const revertBodySchema = z.strictObject({
  version: z.number().int().positive().describe('The version to make current again.'),
});

/**
 * `POST /api/pipes/:id/replay`: which deliveries to re-queue (core `ReplayOptions`).
 *
 * @example
 * ```ts
 * replayBodySchema.parse({ statuses: ['dead'], dry_run: true });
 * ```
 */
export const replayBodySchema = replayOptionsSchema;

/**
 * `limit` of a list: decimal digits only, 1..1000 (`0x10`, `1e3`, `16.0` and ` 16` are refused:
 * a number written some other way is a client bug worth hearing about).
 */
const limitParam = z
  .string()
  .regex(/^(?:[1-9][0-9]{0,2}|1000)$/, 'limit must be a whole number from 1 to 1000, in decimal digits')
  .transform(Number)
  .optional();

/**
 * Query of a list of `kind`: `?limit=100&cursor=<next_cursor>`. The cursor must be an id of that
 * kind (what `next_cursor` gives); anything else is a 400, not a page from an arbitrary place.
 *
 * @example
 * ```ts
 * listQuerySchema('source').parse({ limit: '50' }); // { limit: 50 }
 * ```
 */
export function listQuerySchema(kind: IdKind) {
  return z.strictObject({
    limit: limitParam.describe('1..1000, default 100.'),
    cursor: cursorSchema(kind).optional().describe('`next_cursor` of the previous page.'),
  });
}

const statusPattern = `^(?:${deliveryStatuses.join('|')})(?:,(?:${deliveryStatuses.join('|')}))*$`;

/**
 * Query of `GET /api/pipes/:id/deliveries`.
 *
 * @example
 * ```ts
 * deliveriesQuerySchema.parse({ status: 'failed,dead', limit: '20' }); // { status: ['failed', 'dead'], limit: 20 }
 * ```
 */
export const deliveriesQuerySchema = z.strictObject({
  status: z
    .string()
    .regex(
      new RegExp(statusPattern),
      `status must be one status or several, comma-separated, of: ${deliveryStatuses.join(', ')}`,
    )
    .transform((value) => value.split(',') as Array<(typeof deliveryStatuses)[number]>)
    .optional()
    .describe(`One status or several, comma-separated: ${deliveryStatuses.join(', ')}.`),
  event_id: z.string().min(1).max(256).optional().describe("The sender's event id."),
  filter_reason: z
    .string()
    .min(1)
    .max(64)
    .optional()
    .describe('Only filtered deliveries with this reason: consent, a transform’s own, or transform.'),
  since: isoTime.optional().describe('Created at or after (ISO 8601).'),
  until: isoTime.optional().describe('Created before (ISO 8601).'),
  limit: limitParam.describe('1..1000, default 50.'),
  cursor: cursorSchema('delivery').optional().describe('`next_cursor` of the previous page.'),
});

/**
 * Query of `GET /api/audit`: core's `auditQuerySchema`, with `limit` read from the query string.
 *
 * @example
 * ```ts
 * auditQueryParamsSchema.parse({ entity_kind: 'pipe', actor: 'ops', limit: '20' });
 * ```
 */
export const auditQueryParamsSchema = auditQuerySchema.extend({
  limit: limitParam.describe('1..1000, default 100.'),
});

/**
 * `POST /api/event-destinations` from a template (the other fields override the template's).
 *
 * @example
 * ```ts
 * templateDestinationBodySchema.parse({ template: 'meta-capi', settings: { pixel_id: '123' }, name: 'meta-capi-prod' });
 * ```
 */
export const templateDestinationBodySchema = patchSchema(
  // Every destination field may override the template's; none has a default here, or the
  // default would override what the template chose.
  destinationInputSchema.omit({ template: true }),
).extend({
  template: z.string().min(1).describe('Template name, e.g. `meta-capi`.'),
  settings: z.record(z.string(), z.unknown()).default({}).describe("The template's settings."),
  name: z.string().optional().describe("Destination name; default the template's."),
});

/**
 * What `POST /collect/:slug` takes: one event, an array of events, or `{ "events": [...] }`.
 *
 * @example
 * ```ts
 * collectBodySchema.parse({ events: [{ event_type: 'purchase', event_time: 1714816462, event_payload: {} }] });
 * ```
 */
export const collectBodySchema = z.union([
  incomingEventSchema,
  z.array(incomingEventSchema),
  z.strictObject({ events: z.array(incomingEventSchema) }),
]);

/**
 * Query of `POST /api/config/import`: `?dry_run=true` plans and checks without writing.
 *
 * @example
 * ```ts
 * configImportQuerySchema.parse({ dry_run: 'true' }); // { dry_run: true }
 * ```
 */
export const configImportQuerySchema = z.strictObject({
  dry_run: z
    .enum(['true', 'false', '1', '0'])
    .optional()
    .transform((value) => value === 'true' || value === '1')
    .describe('`true`: plan and check only; write nothing.'),
});

const fieldIssueSchema = z.object({ path: z.string(), message: z.string() });

/**
 * The answer of `POST /collect/:slug`: counts, and one result per event in the order sent.
 *
 * @example
 * ```ts
 * const answer = collectResultSchema.parse(await response.json());
 * answer.results.filter((r) => r.status === 'rejected');
 * ```
 */
export const collectResultSchema = z.object({
  source_id: z.string(),
  accepted: z.number().int(),
  duplicates: z.number().int(),
  rejected: z.number().int(),
  results: z.array(
    z.union([
      z.object({
        index: z.number().int(),
        status: z.enum(['accepted', 'duplicate']),
        id: z.string().describe('Our id of the stored event (`evt_…`).'),
        event_id: z.string(),
      }),
      z.object({
        index: z.number().int(),
        status: z.literal('rejected'),
        error: z.object({
          code: z.enum(['VALIDATION_FAILED', 'UNKNOWN_EVENT_TYPE']),
          message: z.string(),
          issues: z.array(fieldIssueSchema),
        }),
      }),
    ]),
  ),
});

/**
 * Every error answer: `{"error": {"code": "UPPER_SNAKE", "message": "...", "details": ...}}`.
 *
 * @example
 * ```ts
 * const { error } = errorBodySchema.parse(await response.json());
 * if (error.code === 'CONFLICT') { ... }
 * ```
 */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.enum(errorCodes),
    message: z.string(),
    details: z.unknown().optional(),
  }),
});
