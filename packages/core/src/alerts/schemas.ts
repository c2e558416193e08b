/**
 * The alerting model: channel settings (zod schemas, as stored and as written), the kinds of alert,
 * and the channel-neutral {@link Alert} every channel type formats in its own way.
 */
import { z } from 'zod';
import { nameSchema } from '../schemas.js';

const isoTime = z.iso.datetime({ offset: true });

/**
 * What can open an alert. Each channel picks the kinds it wants (`kinds`). `volume_anomaly` is an
 * alert on what did not happen: a source's or an event type's volume far from its usual level for
 * this hour; `success_rate` a destination's share of delivered outcomes under a threshold.
 */
export const alertTriggerKinds = [
  'pipe_failing',
  'delivery_dead',
  'failure_rate',
  'destination_paused',
  'volume_anomaly',
  'success_rate',
] as const;
export type AlertTriggerKind = (typeof alertTriggerKinds)[number];

/** The kinds a channel gets when it names none: the failure alerts (volume and success rate are opted into). */
export const defaultAlertTriggerKinds: AlertTriggerKind[] = [
  'pipe_failing',
  'delivery_dead',
  'failure_rate',
  'destination_paused',
];

/**
 * Every kind of message: the triggers, the recoveries that close them (`pipe_recovered` closes a
 * pipe's incident, `destination_resumed` a destination's pause, `volume_recovered` a volume
 * anomaly, `success_rate_recovered` a destination's low success rate), and `test`.
 */
export const alertRecoveryKinds = [
  'pipe_recovered',
  'destination_resumed',
  'volume_recovered',
  'success_rate_recovered',
] as const;
export type AlertRecoveryKind = (typeof alertRecoveryKinds)[number];
export const alertKinds = [...alertTriggerKinds, ...alertRecoveryKinds, 'test'] as const;
export type AlertKind = (typeof alertKinds)[number];

/** `slack`: incoming webhook. `teams`: a Workflows webhook taking an Adaptive Card. `webhook`: generic JSON. */
export const alertChannelTypes = ['slack', 'teams', 'webhook'] as const;
export type AlertChannelType = (typeof alertChannelTypes)[number];

/** When the share of failed deliveries of a pipe over a sliding window opens a `failure_rate` alert. */
export const failureRateSchema = z.strictObject({
  /** Failed share that alerts, 0 < threshold <= 1. */
  threshold: z.number().gt(0).max(1).default(0.25),
  /** The sliding window, seconds. */
  window_seconds: z.number().int().min(10).max(3600).default(300),
  /** Fewer outcomes than this in the window never alert (one failure out of two is not a rate). */
  min_events: z.number().int().min(1).max(1_000_000).default(20),
});
export type FailureRate = z.infer<typeof failureRateSchema>;

/**
 * When a `volume_anomaly` alert opens: the accepted events of a source (or of an event type, over
 * all sources) in the last `window_minutes` compared with the usual level for this hour of day,
 * the average of the same hour over the last `baseline_days` days, scaled to the window.
 */
export const volumeAnomalySchema = z.strictObject({
  /** What is watched: each source, each event type, or both. */
  watch: z
    .array(z.enum(['source', 'event_type']))
    .min(1)
    .default(['source']),
  /** Alert when the volume is under this share of the usual level (0.5 = under half); null: never. */
  below: z.number().gt(0).lt(1).nullable().default(0.5),
  /** Alert when the volume is over this multiple of the usual level (3 = three times); null: never. */
  above: z.number().gt(1).max(1000).nullable().default(null),
  /** How long the volume must stay off its usual level: the window compared, minutes. */
  window_minutes: z.number().int().min(5).max(240).default(15),
  /** How many past days make the usual level. */
  baseline_days: z.number().int().min(1).max(28).default(7),
  /** A usual level under this many events in the window never alerts (a quiet source does not page). */
  min_usual: z.number().int().min(1).max(1_000_000_000).default(20),
});
export type VolumeAnomaly = z.infer<typeof volumeAnomalySchema>;

/** When a destination's share of delivered outcomes over a sliding window opens a `success_rate` alert. */
export const successRateSchema = z.strictObject({
  /** Alert when the delivered share is under this, 0 < threshold <= 1. */
  threshold: z.number().gt(0).max(1).default(0.9),
  /** The sliding window, seconds. */
  window_seconds: z.number().int().min(10).max(3600).default(600),
  /** Fewer outcomes than this in the window never alert (a quiet destination does not page). */
  min_events: z.number().int().min(1).max(1_000_000).default(50),
});
export type SuccessRate = z.infer<typeof successRateSchema>;

/** A channel as it is stored and versioned: the URL itself is a secret, referenced by id. */
export const alertChannelDataSchema = z.strictObject({
  name: nameSchema,
  description: z.string().max(2000).optional(),
  type: z.enum(alertChannelTypes),
  /** The secret whose value is the webhook URL. */
  url_secret_id: z.string().min(1),
  enabled: z.boolean().default(true),
  /** Pipes this channel watches; empty = every pipe. Destination alerts reach a channel that watches any of the destination's pipes. */
  pipe_ids: z.array(z.string()).max(1000).default([]),
  /** Which alerts this channel gets; recoveries follow the alerts they close. */
  kinds: z
    .array(z.enum(alertTriggerKinds))
    .min(1)
    .default([...defaultAlertTriggerKinds]),
  /** At most one message per (channel, pipe or destination, kind) within this many seconds; more are folded into the next one. */
  cooldown_seconds: z
    .number()
    .int()
    .min(0)
    .max(7 * 86400)
    .default(900),
  failure_rate: failureRateSchema.default(failureRateSchema.parse({})),
  volume_anomaly: volumeAnomalySchema.default(volumeAnomalySchema.parse({})),
  success_rate: successRateSchema.default(successRateSchema.parse({})),
});
export type AlertChannelData = z.infer<typeof alertChannelDataSchema>;

/**
 * What callers write: the stored fields, plus `url` (stored as a new secret bound to the channel)
 * instead of, or on update in place of, `url_secret_id`.
 */
export const alertChannelInputSchema = alertChannelDataSchema.extend({
  url_secret_id: z.string().min(1).optional(),
  /** The webhook URL (http or https). Stored encrypted as a secret; never returned or logged. */
  url: z
    .string()
    .max(4096)
    .regex(/^[hH][tT][tT][pP][sS]?:\/\//, 'must be an http or https URL')
    .optional(),
});
export type AlertChannelInput = z.input<typeof alertChannelInputSchema>;

/** The outcome of the last message a channel was sent. */
export const alertChannelDeliverySchema = z.object({
  ok: z.boolean(),
  /** The HTTP status; null when no answer came (network error, timeout, refused by the egress guard). */
  status: z.number().int().nullable(),
  /** Why it failed, redacted (never the URL); null when ok. */
  error: z.string().nullable(),
  at: isoTime,
});
export type AlertChannelDelivery = z.infer<typeof alertChannelDeliverySchema>;

/** How a channel's own deliveries go (shared by every process through the store). */
export const alertChannelHealthSchema = z.object({
  last_delivery: alertChannelDeliverySchema.nullable(),
  /** Failed sends in a row (0 after a success). */
  consecutive_failures: z.number().int().min(0),
  /** Failed sends in all. */
  failure_count: z.number().int().min(0),
  /** Messages dropped because the channel's queue was full (it could not keep up). */
  dropped_count: z.number().int().min(0),
});
export type AlertChannelHealth = z.infer<typeof alertChannelHealthSchema>;

/** A channel's configuration as OpenPipes returns it (versions show this shape). */
// Read back from the store: not strict, so data written by an older version never makes a read fail.
export const alertChannelConfigSchema = z.object({
  ...alertChannelDataSchema.shape,
  id: z.string(),
  version: z.number().int().positive(),
  created_at: isoTime,
  updated_at: isoTime,
});
export type AlertChannelConfig = z.infer<typeof alertChannelConfigSchema>;

/** A channel as `get`/`list` return it: configuration and health. Never the URL. */
export const alertChannelSchema = alertChannelConfigSchema.extend(alertChannelHealthSchema.shape);
export type AlertChannel = z.infer<typeof alertChannelSchema>;

/** What a `test()` or a send achieved. */
export type AlertSendResult = AlertChannelDelivery;

/**
 * One alert, before a channel type formats it. Every alert names the pipe and/or the destination,
 * the error as the platform gave it (redacted), a count, and an example delivery record.
 */
export interface Alert {
  /** Unique per message. */
  id: string;
  kind: AlertKind;
  /** `firing` opens or repeats an incident, `resolved` closes it. */
  status: 'firing' | 'resolved' | 'test';
  severity: 'critical' | 'warning' | 'resolved' | 'info';
  /** One line, plain text. */
  title: string;
  /** A sentence or two, plain text. */
  text: string;
  pipe: { id: string; name: string } | null;
  destination: { id: string; name: string } | null;
  /** The error as the platform (or the engine) gave it, secret values replaced by `[secret:KEY]`. */
  error: { code: string; message: string } | null;
  /** How many failures (or pauses) this message reports, the folded ones included. */
  count: number;
  /** Of `count`, how many were folded in during the cooldown instead of sent one by one. */
  folded: number;
  example_delivery_id: string | null;
  /** `${publicBaseUrl}/api/event-deliveries/<id>` when the engine has a `publicBaseUrl`. */
  example_delivery_url: string | null;
  failure_rate: {
    failed: number;
    total: number;
    rate: number;
    threshold: number;
    window_seconds: number;
  } | null;
  /** Destination pauses: when the lane tries again. */
  paused_until: string | null;
  /** Volume alerts about a source: the source (null for an event type over all sources). */
  event_source: { id: string; name: string } | null;
  /** Volume alerts about an event type: its name. */
  event_type: string | null;
  /** Volume alerts: the events seen in the window against the usual level. */
  volume: {
    observed: number;
    usual: number;
    /** observed / usual. */
    ratio: number;
    direction: 'below' | 'above';
    /** The share (below) or multiple (above) that alerts. */
    limit: number;
    window_minutes: number;
    baseline_days: number;
  } | null;
  /** Success-rate alerts: the destination's outcomes in the window. */
  success_rate: {
    delivered: number;
    total: number;
    rate: number;
    threshold: number;
    window_seconds: number;
  } | null;
  /** When the incident this message belongs to opened. */
  incident_started_at: string | null;
  /** The same for every message of one incident subject and family: lets receivers group and resolve. */
  dedup_key: string;
  at: string;
}
