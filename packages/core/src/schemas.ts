/**
 * The domain model: zod schemas with inferred types. JSON field names are snake_case, as in the
 * documented delivery record. `*Input` schemas validate what callers write and are strict: an unknown
 * key (a typo such as `enbled`) is refused by name instead of being dropped. The entity schemas
 * describe what OpenPipes returns. The HTTP package builds its OpenAPI document from these same
 * schemas.
 */
import { z } from 'zod';
import { consentPurposePattern } from './consent/requirement.js';
import { destinationIdentifiersSchema } from './match-quality.js';

const isoTime = z.iso.datetime({ offset: true });
/**
 * A display name: trimmed, 1..200 characters. "Not blank" is also a pattern so the OpenAPI
 * document says it (a name of spaces trims to nothing and is refused).
 */
export const nameSchema = z.string().regex(/\S/, 'must not be blank').trim().max(200);
const name = nameSchema;
const code = z.string().max(512 * 1024, 'code is larger than 512 KiB');

/** Fields every stored entity has. */
const entityBase = {
  version: z.number().int().positive(),
  created_at: isoTime,
  updated_at: isoTime,
};

// ---------------------------------------------------------------------------------------------
// Sources

export const sourceAuthSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  /** `Authorization: Bearer <token>`; the token is the value of the secret `secret_id`. */
  z.strictObject({ type: z.literal('bearer'), secret_id: z.string() }),
  /**
   * `X-OpenPipes-Timestamp: <unix seconds>` and `X-OpenPipes-Signature: sha256=<hex>` where the
   * signature is HMAC-SHA256(secret, `${timestamp}.${body}`).
   */
  z.strictObject({
    type: z.literal('hmac'),
    secret_id: z.string(),
    tolerance_seconds: z.number().int().min(1).max(3600).default(300),
  }),
]);
export type SourceAuth = z.infer<typeof sourceAuthSchema>;

export const sourceInputSchema = z.strictObject({
  name,
  slug: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[a-z0-9][a-z0-9_-]*$/, 'slug must be lowercase letters, digits, "-" or "_"'),
  description: z.string().max(2000).optional(),
  enabled: z.boolean().default(true),
  /** Origins allowed to send from a browser (CORS). Empty = any origin for unauthenticated beacons. */
  allowed_origins: z.array(z.string().min(1)).default([]),
  auth: sourceAuthSchema.default({ type: 'none' }),
  /** An `event_id` seen again on this source within this window is a duplicate. 0 disables. */
  dedup_window_seconds: z
    .number()
    .int()
    .min(0)
    .max(30 * 86400)
    .default(86400),
  /**
   * Collect's answer sets `_fbp`, `_fbc` and `op_anonymous_id` as first-party cookies from the events
   * it took, when their consent grants `ad_storage` (docs/browser-tag.md, "First-party cookies").
   */
  first_party_cookies: z.boolean().default(false),
  /**
   * For Segment-spec clients on this source's `/v1/*` routes (docs/segment.md): a Segment event name
   * (or `page` / `screen`) to the event type it becomes, over the Segment e-commerce defaults and
   * the handler's own map. `{"Order Placed": "purchase"}`. Names not listed keep their defaults.
   */
  segment_event_names: z
    .record(
      z.string().min(1).max(200),
      z
        .string()
        .min(1)
        .max(100)
        .regex(/^[A-Za-z0-9_.:-]+$/, 'an event type name: letters, digits, "_", ".", ":" or "-"'),
    )
    .refine((names) => Object.keys(names).length <= 500, 'at most 500 event names')
    .default({}),
});
export type SourceInput = z.input<typeof sourceInputSchema>;

// Entities are read back from the store: not strict, so data written by an older version never
// makes a read fail.
export const sourceSchema = z.object({ ...sourceInputSchema.shape, id: z.string(), ...entityBase });
export type Source = z.infer<typeof sourceSchema>;

// ---------------------------------------------------------------------------------------------
// Event types

export const eventTypeInputSchema = z.strictObject({
  name: z
    .string()
    .min(1)
    .max(100)
    .regex(/^[A-Za-z0-9_.:-]+$/, 'name must be letters, digits, "_", ".", ":" or "-"'),
  description: z.string().max(2000).optional(),
  /** JSON Schema (draft 2020-12 or 07) that `event_payload` must satisfy. `{}` accepts any object. */
  schema: z.record(z.string(), z.unknown()).default({}),
});
export type EventTypeInput = z.input<typeof eventTypeInputSchema>;

export const eventTypeSchema = z.object({ ...eventTypeInputSchema.shape, id: z.string(), ...entityBase });
export type EventType = z.infer<typeof eventTypeSchema>;

// ---------------------------------------------------------------------------------------------
// Secrets

export const secretKeySchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'key must be an identifier such as META_ACCESS_TOKEN');

export const secretInputSchema = z.strictObject({
  key: secretKeySchema,
  value: z
    .string()
    .min(1)
    .max(64 * 1024),
  description: z.string().max(2000).optional(),
});
export type SecretInput = z.input<typeof secretInputSchema>;

/** A secret as OpenPipes returns it: metadata only, never the value. */
export const secretSchema = z.object({
  id: z.string(),
  key: secretKeySchema,
  description: z.string().optional(),
  /** Incremented each time the value is rotated. */
  value_version: z.number().int().positive(),
  value_updated_at: isoTime,
  ...entityBase,
});
export type Secret = z.infer<typeof secretSchema>;

// ---------------------------------------------------------------------------------------------
// Destinations

export const retryPolicySchema = z.strictObject({
  /** Attempts in all, the first included. After the last one the delivery is `dead`. */
  max_attempts: z.number().int().min(1).max(100).default(10),
  /** A delivery older than this is not retried again (it goes `dead`). */
  max_age_seconds: z
    .number()
    .int()
    .min(1)
    .max(30 * 86400)
    .default(86400),
  /** Delay before the first retry; later retries multiply it by `multiplier`, with jitter. */
  initial_delay_ms: z.number().int().min(0).default(2000),
  multiplier: z.number().min(1).max(10).default(4),
  max_delay_ms: z
    .number()
    .int()
    .min(0)
    .default(6 * 3600 * 1000),
});
export type RetryPolicy = z.infer<typeof retryPolicySchema>;

export const destinationInputSchema = z.strictObject({
  name,
  description: z.string().max(2000).optional(),
  /** Source of `async function send({ events, secrets }) { ... }`. */
  send: code.min(1),
  secret_ids: z.array(z.string()).default([]),
  enabled: z.boolean().default(false),
  /** Most events per `send()` call. */
  max_batch_size: z.number().int().min(1).max(10_000).default(100),
  /** `send()` calls in flight at once for this destination (per process). */
  concurrency: z.number().int().min(1).max(64).default(2),
  /** Most `send()` calls per second for this destination (per process); 0 = unlimited. */
  rate_limit_per_second: z.number().min(0).max(10_000).default(0),
  retry: retryPolicySchema.default(retryPolicySchema.parse({})),
  /** Template this destination was made from, and its settings (informational). */
  template: z.strictObject({ name: z.string(), settings: z.record(z.string(), z.unknown()) }).optional(),
  /** Where each identifier sits in what `send()` receives (match quality); templates fill it. */
  identifiers: destinationIdentifiersSchema.optional(),
});
export type DestinationInput = z.input<typeof destinationInputSchema>;

export const destinationSchema = z.object({ ...destinationInputSchema.shape, id: z.string(), ...entityBase });
export type Destination = z.infer<typeof destinationSchema>;

// ---------------------------------------------------------------------------------------------
// Pipes

/**
 * What a pipe requires of an event's consent (docs/consent.md): every purpose in `require` granted.
 * An event that does not meet it is recorded as `filtered` with `filter_reason: "consent"`.
 */
export const pipeConsentSchema = z.strictObject({
  require: z
    .array(
      z
        .string()
        .regex(
          consentPurposePattern,
          'a purpose is ad_storage, analytics_storage, ad_user_data, ad_personalization or tcf_purpose_1 .. tcf_purpose_24',
        ),
    )
    .min(1, 'name at least one purpose, or set consent to null')
    .max(32)
    .describe('Purposes that must be granted.'),
  unknown: z
    .enum(['deny', 'allow'])
    .default('deny')
    .describe('What a purpose the event says nothing about counts as: deny (filtered) or allow.'),
  tcf_vendor_id: z
    .number()
    .int()
    .min(1)
    .max(65535)
    .optional()
    .describe('With a TC string, purposes count as granted only if this vendor (GVL id) has consent too.'),
});
export type PipeConsent = z.infer<typeof pipeConsentSchema>;

export const pipeInputSchema = z.strictObject({
  name,
  description: z.string().max(2000).optional(),
  source_id: z.string(),
  destination_id: z.string(),
  /** Source of `function transform({ events, profiles, secrets }) { ... }`; null = pass-through. */
  transform: code
    .min(1, 'give the source of a transform function, or null to pass events through unchanged')
    .nullable()
    .default(null),
  enabled: z.boolean().default(false),
  /** What the pipe requires of an event's consent; null = nothing (every event goes through). */
  consent: pipeConsentSchema.nullable().default(null),
});
export type PipeInput = z.input<typeof pipeInputSchema>;

export const pipeSchema = z.object({ ...pipeInputSchema.shape, id: z.string(), ...entityBase });
export type Pipe = z.infer<typeof pipeSchema>;

// ---------------------------------------------------------------------------------------------
// Versions

/** An immutable snapshot of an entity, written by every create, update and revert. */
export const entityVersionSchema = z.object({
  entity_id: z.string(),
  version: z.number().int().positive(),
  data: z.record(z.string(), z.unknown()),
  actor: z.string().nullable(),
  created_at: isoTime,
});
export type EntityVersion = z.infer<typeof entityVersionSchema>;

// ---------------------------------------------------------------------------------------------
// Events

/** Accepts an ISO 8601 time, or Unix seconds / milliseconds, and normalises it to ISO 8601. */
const eventTime = z.union([isoTime, z.number().positive()]).transform((value, ctx) => {
  if (typeof value === 'string') return new Date(value).toISOString();
  const ms = value < 1e11 ? value * 1000 : value;
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) {
    ctx.addIssue({ code: 'custom', message: 'event_time is not a valid time' });
    return z.NEVER;
  }
  return date.toISOString();
});

/** An event as senders post it. Strict: a misspelt `event_id` must not silently lose deduplication. */
const noNul = (value: string) => !value.includes('\u0000');

export const incomingEventSchema = z.strictObject({
  event_type: z.string().min(1).max(100).refine(noNul, 'must not contain NUL characters'),
  event_time: eventTime,
  event_payload: z.record(z.string(), z.unknown()),
  /** The sender's id (order id, client UUID): what platforms deduplicate on. Generated when absent. */
  event_id: z.string().min(1).max(256).refine(noNul, 'must not contain NUL characters').optional(),
});
export type IncomingEvent = z.input<typeof incomingEventSchema>;

/** A stored event. `id` is ours (`evt_`); `event_id` is the sender's, or equal to `id`. */
export interface StoredEvent {
  id: string;
  source_id: string;
  event_id: string;
  event_type: string;
  event_time: string;
  event_payload: Record<string, unknown>;
  received_at: string;
}

// ---------------------------------------------------------------------------------------------
// Deliveries

export const deliveryStatuses = [
  'pending',
  'sending',
  'delivered',
  'filtered',
  'retrying',
  'failed',
  'dead',
] as const;
export const deliveryStatusSchema = z.enum(deliveryStatuses);
export type DeliveryStatus = z.infer<typeof deliveryStatusSchema>;

/** A request as recorded (secret values replaced by `[secret:KEY]`). */
export const recordedRequestSchema = z.object({
  url: z.string(),
  method: z.string(),
  headers: z.record(z.string(), z.string()),
  /** Parsed JSON when the body was JSON, else the text. Batch arrays are cut to this event's rows. */
  payload: z.unknown().optional(),
});
export type RecordedRequest = z.infer<typeof recordedRequestSchema>;

export const recordedResponseSchema = z.object({
  status: z.number().int(),
  headers: z.record(z.string(), z.string()).optional(),
  body: z.unknown().optional(),
});
export type RecordedResponse = z.infer<typeof recordedResponseSchema>;

export const deliveryErrorSchema = z.object({
  code: z.string(),
  message: z.string(),
  retryable: z.boolean(),
  line: z.number().int().optional(),
  column: z.number().int().optional(),
  /** Where the error came from: the transform, send(), the HTTP answer, or the engine. */
  stage: z.enum(['transform', 'send', 'response', 'engine']),
});
export type DeliveryError = z.infer<typeof deliveryErrorSchema>;

export const recordedExchangeSchema = z.object({
  request: recordedRequestSchema,
  response: recordedResponseSchema.nullable(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  started_at: isoTime,
  duration_ms: z.number(),
});
export type RecordedExchange = z.infer<typeof recordedExchangeSchema>;

export const consoleLineSchema = z.object({
  level: z.enum(['log', 'info', 'warn', 'error', 'debug']),
  message: z.string(),
});

/** One try at delivering. Every attempt is kept on the record. */
export const deliveryAttemptSchema = z.object({
  number: z.number().int().positive(),
  status: deliveryStatusSchema,
  started_at: isoTime,
  duration_ms: z.number(),
  pipe_version: z.number().int().nullable(),
  destination_version: z.number().int().nullable(),
  request: recordedRequestSchema.nullable(),
  response: recordedResponseSchema.nullable(),
  error: deliveryErrorSchema.nullable(),
  /** Every HTTP exchange `send()` made in this attempt (token refreshes included). */
  exchanges: z.array(recordedExchangeSchema),
  logs: z.array(consoleLineSchema),
});
export type DeliveryAttempt = z.infer<typeof deliveryAttemptSchema>;

/** The delivery record: the documented shape plus versions, attempts and timestamps. */
export const deliverySchema = z.object({
  id: z.string(),
  pipe_id: z.string(),
  pipe_version: z.number().int().nullable(),
  destination_id: z.string(),
  destination_version: z.number().int().nullable(),
  /** The destination's name, as in the documented record. */
  destination: z.string(),
  source_id: z.string(),
  /**
   * The sender's event id (or the generated `evt_` id); on an erased record (`erased_at` set),
   * `erased:` and its digest keyed by the secret key (docs/erasure.md).
   */
  event_id: z.string(),
  event_type: z.string(),
  status: deliveryStatusSchema,
  /**
   * Why a `filtered` delivery was not sent: `consent` (the pipe's consent requirement), the reason
   * its transform gave, or `transform` (the transform returned nothing). Null for other statuses
   * and for deliveries filtered before this field existed.
   */
  filter_reason: z.string().nullable(),
  /** The transformed event(s) this delivery sent, as the transform returned them. */
  output: z.array(z.unknown()).nullable(),
  request: recordedRequestSchema.nullable(),
  response: recordedResponseSchema.nullable(),
  error: deliveryErrorSchema.nullable(),
  test_mode: z.boolean(),
  attempt_count: z.number().int().min(0),
  attempts: z.array(deliveryAttemptSchema).optional(),
  next_attempt_at: isoTime.nullable(),
  created_at: isoTime,
  updated_at: isoTime,
  delivered_at: isoTime.nullable(),
  /**
   * The OpenTelemetry trace id of the request that ingested the event (32 hex digits), to jump
   * from the record to its trace; null when no trace was active (no SDK, or tracing off).
   */
  trace_id: z.string().nullable(),
  /**
   * When the data subject's data was erased (docs/erasure.md): the record is a tombstone, with its
   * ids, status and times but no payload. Null otherwise.
   */
  erased_at: isoTime.nullable(),
});
export type Delivery = z.infer<typeof deliverySchema>;

// ---------------------------------------------------------------------------------------------
// What send() may return

/**
 * A structured result `send()` may return instead of leaving the decision to the HTTP status.
 * Platforms that answer HTTP 200 with an error body (TikTok `code != 0`, Google Ads
 * `partialFailureError`) need it.
 *
 * @example
 * ```js
 * // all failed, retry later
 * return { outcome: 'retry', message: body.message, code: body.code };
 * // per event, in the order of `events`
 * return { outcome: 'partial', events: [{ outcome: 'delivered' }, { outcome: 'failed', message: 'CLICK_NOT_FOUND' }] };
 * ```
 */
export const sendResultSchema = z.object({
  outcome: z.enum(['delivered', 'failed', 'retry', 'partial']),
  message: z.string().optional(),
  code: z.union([z.string(), z.number()]).optional(),
  retry_after_seconds: z.number().min(0).optional(),
  test_mode: z.boolean().optional(),
  events: z
    .array(
      z.object({
        outcome: z.enum(['delivered', 'failed', 'retry']),
        message: z.string().optional(),
        code: z.union([z.string(), z.number()]).optional(),
        /**
         * False when `send()` refused the event before sending it (e.g. too old): its record then
         * shows no request, and the request's rows are matched to the events that were sent.
         */
        sent: z.boolean().optional(),
      }),
    )
    .optional(),
});
export type SendResult = z.infer<typeof sendResultSchema>;

// ---------------------------------------------------------------------------------------------
// Audit

export const auditEntrySchema = z.object({
  id: z.string(),
  actor: z.string().nullable(),
  action: z.string(),
  entity_kind: z.string(),
  entity_id: z.string(),
  before: z.record(z.string(), z.unknown()).nullable(),
  after: z.record(z.string(), z.unknown()).nullable(),
  request_id: z.string().nullable(),
  created_at: isoTime,
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;

// ---------------------------------------------------------------------------------------------
// Pages

/** A page of a list, newest first unless stated; pass `next_cursor` back as `cursor`. */
export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}
