/**
 * The config document (what `export` writes and `import` reads), its schemas, and the types of an
 * import's plan and result. Entities are named by natural keys, never ids; secrets by key only.
 */
import { z } from 'zod';
import {
  type AlertChannelConfig,
  alertChannelDataSchema,
  alertChannelTypes,
  alertTriggerKinds,
  defaultAlertTriggerKinds,
  failureRateSchema,
  successRateSchema,
  volumeAnomalySchema,
} from '../alerts/schemas.js';
import type { ActorContext } from '../registries/registry.js';
import {
  type Destination,
  destinationInputSchema,
  type EventType,
  eventTypeInputSchema,
  type Pipe,
  pipeInputSchema,
  type Secret,
  type Source,
  secretKeySchema,
  sourceInputSchema,
} from '../schemas.js';

// ---------------------------------------------------------------------------------------------
// The document

/** The document version this engine writes and reads. */
export const configDocumentVersion = 1;

const secretRef = secretKeySchema;

/** A source; `auth` names its secret by key. */
export const configSourceSchema = sourceInputSchema.omit({ auth: true }).extend({
  auth: z
    .discriminatedUnion('type', [
      z.strictObject({ type: z.literal('none') }),
      z.strictObject({ type: z.literal('bearer'), secret: secretRef }),
      z.strictObject({
        type: z.literal('hmac'),
        secret: secretRef,
        tolerance_seconds: z.number().int().min(1).max(3600).default(300),
      }),
    ])
    .default({ type: 'none' }),
});

/** A destination; `secrets` names the bound secrets by key. */
export const configDestinationSchema = destinationInputSchema.omit({ secret_ids: true }).extend({
  secrets: z.array(secretRef).default([]),
});

/** A pipe; `source` is the source's slug, `destination` the destination's name. */
export const configPipeSchema = pipeInputSchema.omit({ source_id: true, destination_id: true }).extend({
  source: z.string().min(1),
  destination: z.string().min(1),
});

/**
 * An alert channel. Its webhook URL is a credential and is never exported: `url_secret` names a
 * shared secret holding it, or is null when the channel keeps its URL in its own secret (create
 * the channel on the target with its URL once; later imports update everything else).
 */
export const configAlertChannelSchema = alertChannelDataSchema
  .omit({ url_secret_id: true, pipe_ids: true })
  .extend({
    type: z.enum(alertChannelTypes),
    url_secret: secretRef.nullable().default(null),
    /** Names of the pipes the channel watches; empty = every pipe. */
    pipes: z.array(z.string().min(1)).max(1000).default([]),
    kinds: z
      .array(z.enum(alertTriggerKinds))
      .min(1)
      .default([...defaultAlertTriggerKinds]),
    failure_rate: failureRateSchema.default(failureRateSchema.parse({})),
    volume_anomaly: volumeAnomalySchema.default(volumeAnomalySchema.parse({})),
    success_rate: successRateSchema.default(successRateSchema.parse({})),
  });

/** A secret: its key and description. Never its value. */
export const configSecretSchema = z.strictObject({
  key: secretRef,
  description: z.string().max(2000).optional(),
});

/**
 * The configuration document, as `pipes.config.export()` writes it and `pipes.config.import()`
 * reads it. Every list may be left out; fields left out take their defaults.
 *
 * @example
 * ```json
 * {
 *   "format": "openpipes-config",
 *   "version": 1,
 *   "secrets": [{ "key": "META_ACCESS_TOKEN", "description": "Meta CAPI pixel token" }],
 *   "sources": [{ "name": "Web", "slug": "web" }],
 *   "event_types": [{ "name": "purchase", "schema": { "type": "object" } }],
 *   "destinations": [{ "name": "meta-capi-prod", "send": "async function send({ events, secrets }) {...}", "secrets": ["META_ACCESS_TOKEN"], "enabled": true }],
 *   "pipes": [{ "name": "purchase-to-meta", "source": "web", "destination": "meta-capi-prod", "transform": "function transform(...) {...}", "enabled": true }]
 * }
 * ```
 */
export const configDocumentSchema = z.strictObject({
  format: z.literal('openpipes-config', {
    error: 'format must be "openpipes-config" (a document written by `openpipes config export`)',
  }),
  version: z.literal(configDocumentVersion, {
    error: `version: this OpenPipes reads config documents of version ${configDocumentVersion}`,
  }),
  exported_at: z.string().optional(),
  secrets: z.array(configSecretSchema).default([]),
  event_types: z.array(eventTypeInputSchema).default([]),
  sources: z.array(configSourceSchema).default([]),
  destinations: z.array(configDestinationSchema).default([]),
  pipes: z.array(configPipeSchema).default([]),
  alert_channels: z.array(configAlertChannelSchema).default([]),
});
/** A configuration document as written (defaults may be left out). */
export type ConfigDocumentInput = z.input<typeof configDocumentSchema>;
/** A configuration document with every default filled in. */
export type ConfigDocument = z.output<typeof configDocumentSchema>;

// ---------------------------------------------------------------------------------------------
// The plan

export const configEntityKinds = [
  'secret',
  'event_type',
  'source',
  'destination',
  'pipe',
  'alert_channel',
] as const;
export type ConfigEntityKind = (typeof configEntityKinds)[number];

export const configActions = ['create', 'update', 'unchanged', 'skip', 'missing'] as const;
/**
 * `create`, `update` (`fields` says which), `unchanged`; `skip`: not imported (`note` says why);
 * `missing`: a secret the target has no value for (create it, then import again).
 */
export type ConfigAction = (typeof configActions)[number];

/** What an import does (or, in a dry run, would do) to one entity. */
export const configChangeSchema = z.object({
  kind: z.enum(configEntityKinds),
  /** The natural key: slug, name or secret key. */
  name: z.string(),
  /** The target's id; null for what does not exist there yet. */
  id: z.string().nullable(),
  action: z.enum(configActions),
  /** The fields that differ (`update`). */
  fields: z.array(z.string()).optional(),
  /** Why something is skipped or held back. */
  note: z.string().optional(),
});
export type ConfigChange = z.infer<typeof configChangeSchema>;

/** A secret the target has no value for, and who needs it. */
export const missingSecretSchema = z.object({
  key: z.string(),
  description: z.string().optional(),
  /** `destination meta-capi-prod`, `source web`, ... */
  needed_by: z.array(z.string()),
});
export type MissingSecret = z.infer<typeof missingSecretSchema>;

/** The answer of an import: every entity with its action, counts, and the secrets still needed. */
export const configImportResultSchema = z.object({
  dry_run: z.boolean(),
  changes: z.array(configChangeSchema),
  summary: z.object({
    create: z.number().int(),
    update: z.number().int(),
    unchanged: z.number().int(),
    skip: z.number().int(),
    missing: z.number().int(),
  }),
  missing_secrets: z.array(missingSecretSchema),
});
export type ConfigImportResult = z.infer<typeof configImportResultSchema>;

/** Progress of a long export or import, for a progress bar. */
export interface ConfigProgress {
  /** `read`: reading the instance; `check`: compiling code and schemas; `apply`: writing. */
  phase: 'read' | 'check' | 'apply';
  done: number;
  total: number;
  kind?: ConfigEntityKind;
  name?: string;
}

export interface ConfigImportOptions {
  /** Plan and check only; write nothing. */
  dryRun?: boolean;
  /** Who imports, for the audit trail. */
  context?: ActorContext;
  onProgress?: (progress: ConfigProgress) => void;
}

/** What the target holds, read once at the start of an import. */
export interface ConfigSnapshot {
  secrets: Secret[];
  eventTypes: EventType[];
  sources: Source[];
  destinations: Destination[];
  pipes: Pipe[];
  channels: AlertChannelConfig[];
}

/** One planned step. `data` is what create or update writes; ids of new entities are placeholders. */
export interface PlannedStep extends ConfigChange {
  data?: Record<string, unknown>;
  /** Code to compile before writing. */
  compile?: { kind: 'transform' | 'send'; code: string };
  schema?: Record<string, unknown>;
}

export interface ConfigPlan {
  steps: PlannedStep[];
  missing: MissingSecret[];
}

/** The placeholder id of an entity the import creates, resolved when it is written. */
export const placeholder = (kind: ConfigEntityKind, name: string) => `new:${kind}:${name}`;
