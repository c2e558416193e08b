/**
 * Config transfer: export an instance's configuration as one JSON document and import it into
 * another (staging → production). Entities are matched by their natural keys (source slug, event
 * type / destination / pipe / alert channel name, secret key), never by id, so the same document
 * imports into any instance. Secrets travel as names only: an import names the values the target
 * still needs, and never invents one.
 *
 * An import is a plan, then its application: the plan compares each entity of the document with
 * the target (`create`, `update` with the fields that differ, `unchanged`, `skip` with the reason,
 * `missing` for a secret without a value), checks everything that can fail (references, code that
 * does not compile, JSON Schemas) before the first write, then applies it through the registries,
 * so every write is validated, versioned and audited like any other. Importing the same document
 * twice changes nothing the second time. Entities the document does not mention are left alone.
 */
import { z } from 'zod';
import type { AlertChannelsApi } from './alerts/channels.js';
import { channelSecretKey } from './alerts/channels.js';
import {
  type AlertChannelConfig,
  type AlertChannelHealth,
  alertChannelDataSchema,
  alertChannelTypes,
  alertTriggerKinds,
  failureRateSchema,
} from './alerts/schemas.js';
import { PipesError } from './errors.js';
import type { DestinationsRegistry } from './registries/destinations.js';
import type { EventTypesRegistry } from './registries/event-types.js';
import type { PipesRegistry } from './registries/pipes.js';
import type { ActorContext } from './registries/registry.js';
import type { SecretsRegistry } from './registries/secrets.js';
import type { SourcesRegistry } from './registries/sources.js';
import type { Sandbox } from './sandbox/types.js';
import {
  type Destination,
  destinationInputSchema,
  type EventType,
  eventTypeInputSchema,
  type Page,
  type Pipe,
  pipeInputSchema,
  type Secret,
  type Source,
  secretKeySchema,
  sourceInputSchema,
} from './schemas.js';
import { type FieldIssue, parseOrThrow } from './validation.js';

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
      .default([...alertTriggerKinds]),
    failure_rate: failureRateSchema.default(failureRateSchema.parse({})),
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

/**
 * `pipes.config`: export and import the configuration.
 *
 * @example
 * ```ts
 * const doc = await staging.config.export();
 * const plan = await production.config.import(doc, { dryRun: true });
 * plan.missing_secrets; // [{ key: 'META_ACCESS_TOKEN', needed_by: ['destination meta-capi-prod'] }]
 * await production.secrets.create({ key: 'META_ACCESS_TOKEN', value: token });
 * await production.config.import(doc, { context: { actor: 'deploy' } });
 * ```
 */
export interface ConfigTransferApi {
  /**
   * The configuration as a document: sources, event types, secrets (keys and descriptions, never
   * values), destinations with their bound secrets' keys, pipes, alert channels (never their URL).
   * Lists are sorted by natural key, so two exports diff cleanly.
   */
  export(options?: { onProgress?: (progress: ConfigProgress) => void }): Promise<ConfigDocument>;
  /**
   * Makes the instance match the document: creates what is absent, updates what differs, leaves
   * the rest (and everything the document does not mention) alone. Throws `VALIDATION_FAILED`
   * (bad document, dangling reference), `COMPILE_ERROR` (with the entity's name) before the first
   * write. A destination whose secrets have no value yet is imported disabled; a source whose auth
   * secret is missing, and the pipes on it, are skipped; import again once the secrets exist.
   */
  import(doc: unknown, options?: ConfigImportOptions): Promise<ConfigImportResult>;
}

export interface ConfigTransferDeps {
  sources: SourcesRegistry;
  eventTypes: EventTypesRegistry;
  secrets: SecretsRegistry;
  destinations: DestinationsRegistry;
  pipes: PipesRegistry;
  channels: AlertChannelsApi;
  sandbox: Pick<Sandbox, 'compile'>;
  /** Throws `VALIDATION_FAILED` for a JSON Schema that does not compile. */
  compileSchema: (schema: Record<string, unknown>) => unknown;
  now: () => number;
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
const placeholder = (kind: ConfigEntityKind, name: string) => `new:${kind}:${name}`;

// ---------------------------------------------------------------------------------------------
// Export

/** Builds the document from a snapshot of an instance. Pure. */
export function buildConfigDocument(snapshot: ConfigSnapshot, exportedAt: string): ConfigDocument {
  const secretKey = new Map(snapshot.secrets.map((s) => [s.id, s.key]));
  const sourceSlug = new Map(snapshot.sources.map((s) => [s.id, s.slug]));
  const destinationName = new Map(snapshot.destinations.map((d) => [d.id, d.name]));
  const pipeName = new Map(snapshot.pipes.map((p) => [p.id, p.name]));
  const channelSecrets = new Set(snapshot.channels.map((c) => channelSecretKey(c.id)));
  const keyOf = (id: string) => secretKey.get(id) ?? id;
  const by =
    <T>(key: (item: T) => string) =>
    (a: T, b: T) =>
      compare(key(a), key(b));

  return {
    format: 'openpipes-config',
    version: configDocumentVersion,
    exported_at: exportedAt,
    secrets: snapshot.secrets
      .filter((s) => !channelSecrets.has(s.key))
      .map((s) => withOptional({ key: s.key }, 'description', s.description))
      .sort(by((s) => s.key)),
    event_types: snapshot.eventTypes
      .map((e) => withOptional({ name: e.name, schema: e.schema }, 'description', e.description))
      .sort(by((e) => e.name)),
    sources: snapshot.sources
      .map((s) => {
        const { id: _id, version: _v, created_at: _c, updated_at: _u, auth, ...rest } = s;
        const exported =
          auth.type === 'none'
            ? { type: 'none' as const }
            : auth.type === 'bearer'
              ? { type: 'bearer' as const, secret: keyOf(auth.secret_id) }
              : {
                  type: 'hmac' as const,
                  secret: keyOf(auth.secret_id),
                  tolerance_seconds: auth.tolerance_seconds,
                };
        return { ...rest, auth: exported };
      })
      .sort(by((s) => s.slug)),
    destinations: snapshot.destinations
      .map((d) => {
        const { id: _id, version: _v, created_at: _c, updated_at: _u, secret_ids, ...rest } = d;
        return { ...rest, secrets: secret_ids.map(keyOf) };
      })
      .sort(by((d) => d.name)),
    pipes: snapshot.pipes
      .map((p) => {
        const {
          id: _id,
          version: _v,
          created_at: _c,
          updated_at: _u,
          source_id,
          destination_id,
          ...rest
        } = p;
        return {
          ...rest,
          source: sourceSlug.get(source_id) ?? source_id,
          destination: destinationName.get(destination_id) ?? destination_id,
        };
      })
      .sort(by((p) => p.name)),
    alert_channels: snapshot.channels
      .map((c) => {
        // Only the configuration: a channel listed with its health (last delivery, failure
        // counts) must not carry it into the document, which is strict about its fields.
        const { id, version: _v, created_at: _c, updated_at: _u, url_secret_id, pipe_ids, ...withHealth } = c;
        const {
          last_delivery: _last,
          consecutive_failures: _failures,
          failure_count: _count,
          dropped_count: _dropped,
          ...rest
        } = withHealth as typeof withHealth & Partial<AlertChannelHealth>;
        const key = keyOf(url_secret_id);
        return {
          ...rest,
          url_secret: key === channelSecretKey(id) ? null : key,
          pipes: pipe_ids.map((pid) => pipeName.get(pid) ?? pid),
        };
      })
      .sort(by((c) => c.name)),
  };
}

// ---------------------------------------------------------------------------------------------
// Import: the plan (pure)

/**
 * Compares a document with a snapshot of the target and plans every step. Pure: no I/O, so a dry
 * run and the real import plan the same way. Throws `VALIDATION_FAILED` for duplicate keys in the
 * document and references to entities neither the document nor the target has.
 */
export function planConfigImport(doc: ConfigDocument, target: ConfigSnapshot): ConfigPlan {
  checkDocument(doc, target);
  const steps: PlannedStep[] = [];

  const secretsByKey = new Map(target.secrets.map((s) => [s.key, s]));
  const secretIdByKey = (key: string) => secretsByKey.get(key)?.id ?? null;
  const needed = new Map<string, string[]>();
  const need = (key: string, by: string) => {
    if (secretsByKey.has(key)) return;
    needed.set(key, [...(needed.get(key) ?? []), by]);
  };

  // Secrets: only descriptions can be imported; values are the operator's to create.
  const docSecretDescriptions = new Map<string, string | undefined>();
  for (const entry of doc.secrets) {
    docSecretDescriptions.set(entry.key, entry.description);
    const existing = secretsByKey.get(entry.key);
    if (!existing) {
      needed.set(entry.key, needed.get(entry.key) ?? []);
      continue;
    }
    const fields = existing.description === entry.description ? [] : ['description'];
    steps.push(
      fields.length > 0
        ? {
            kind: 'secret',
            name: entry.key,
            id: existing.id,
            action: 'update',
            fields,
            data: { description: entry.description },
          }
        : { kind: 'secret', name: entry.key, id: existing.id, action: 'unchanged' },
    );
  }

  // Event types.
  const eventTypes = new Map(target.eventTypes.map((e) => [e.name, e]));
  for (const entry of doc.event_types) {
    const desired = eventTypeInputSchema.parse(entry) as Record<string, unknown>;
    const existing = eventTypes.get(entry.name);
    steps.push(
      compareStep('event_type', entry.name, existing, desired, {
        schema: desired.schema as Record<string, unknown>,
      }),
    );
  }

  // Sources: a source whose auth secret has no value cannot exist without opening it to anyone.
  const sources = new Map(target.sources.map((s) => [s.slug, s]));
  const sourceIds = new Map<string, string | null>(target.sources.map((s) => [s.slug, s.id]));
  for (const entry of doc.sources) {
    const existing = sources.get(entry.slug);
    const { auth, ...rest } = entry;
    if (auth.type !== 'none' && !secretIdByKey(auth.secret)) {
      need(auth.secret, `source ${entry.slug}`);
      if (!existing) {
        sourceIds.set(entry.slug, null);
        steps.push({
          kind: 'source',
          name: entry.slug,
          id: null,
          action: 'skip',
          note: `its ${auth.type} secret ${auth.secret} has no value here yet; create it, then import again`,
        });
        continue;
      }
      // The source exists with some other auth: leave its auth alone until the secret exists.
      const desired = sourceInputSchema.parse({ ...rest, auth: existing.auth }) as Record<string, unknown>;
      const step = compareStep('source', entry.slug, existing, desired);
      step.note = `auth unchanged until secret ${auth.secret} exists`;
      steps.push(step);
      continue;
    }
    const mappedAuth =
      auth.type === 'none'
        ? auth
        : auth.type === 'bearer'
          ? { type: 'bearer' as const, secret_id: secretIdByKey(auth.secret)! }
          : {
              type: 'hmac' as const,
              secret_id: secretIdByKey(auth.secret)!,
              tolerance_seconds: auth.tolerance_seconds,
            };
    const desired = sourceInputSchema.parse({ ...rest, auth: mappedAuth }) as Record<string, unknown>;
    if (!existing) sourceIds.set(entry.slug, placeholder('source', entry.slug));
    steps.push(compareStep('source', entry.slug, existing, desired));
  }

  // Destinations: bound to the secrets that exist; held disabled until all of them do.
  const destinations = new Map(target.destinations.map((d) => [d.name, d]));
  const destinationIds = new Map<string, string>(target.destinations.map((d) => [d.name, d.id]));
  for (const entry of doc.destinations) {
    const { secrets, ...rest } = entry;
    const missing = secrets.filter((key) => !secretIdByKey(key));
    for (const key of missing) need(key, `destination ${entry.name}`);
    const desired = destinationInputSchema.parse({
      ...rest,
      secret_ids: secrets.map(secretIdByKey).filter((id): id is string => id !== null),
      enabled: rest.enabled && missing.length === 0,
    }) as Record<string, unknown>;
    const existing = destinations.get(entry.name);
    if (!existing) destinationIds.set(entry.name, placeholder('destination', entry.name));
    const step = compareStep('destination', entry.name, existing, desired, {
      compile: { kind: 'send', code: entry.send },
    });
    if (missing.length > 0) {
      step.note = `${rest.enabled ? 'kept disabled' : 'disabled'} until ${missing.join(', ')} ${
        missing.length === 1 ? 'has a value' : 'have values'
      }; create ${missing.length === 1 ? 'it' : 'them'}, then import again`;
    }
    steps.push(step);
  }

  // Pipes.
  const pipes = new Map(target.pipes.map((p) => [p.name, p]));
  const pipeIds = new Map<string, string | null>(target.pipes.map((p) => [p.name, p.id]));
  for (const entry of doc.pipes) {
    const { source, destination, ...rest } = entry;
    const existing = pipes.get(entry.name);
    const sourceId = sourceIds.get(source);
    if (!sourceId) {
      pipeIds.set(entry.name, existing?.id ?? null);
      steps.push({
        kind: 'pipe',
        name: entry.name,
        id: existing?.id ?? null,
        action: 'skip',
        note: `its source ${source} is skipped`,
      });
      continue;
    }
    const desired = pipeInputSchema.parse({
      ...rest,
      source_id: sourceId,
      destination_id: destinationIds.get(destination)!,
    }) as Record<string, unknown>;
    if (!existing) pipeIds.set(entry.name, placeholder('pipe', entry.name));
    const compile =
      rest.transform === null || rest.transform === undefined
        ? undefined
        : { kind: 'transform' as const, code: rest.transform };
    steps.push(compareStep('pipe', entry.name, existing, desired, { compile }));
  }

  // Alert channels: the URL never travels; a new channel needs a shared URL secret, or must be
  // created once on the target with its URL.
  const channels = new Map(target.channels.map((c) => [c.name, c]));
  for (const entry of doc.alert_channels) {
    const { url_secret, pipes: watched, ...rest } = entry;
    const existing = channels.get(entry.name);
    const unresolved = watched.filter((name) => !pipeIds.get(name));
    if (unresolved.length > 0) {
      steps.push({
        kind: 'alert_channel',
        name: entry.name,
        id: existing?.id ?? null,
        action: 'skip',
        note: `it watches pipes that are skipped: ${unresolved.join(', ')}`,
      });
      continue;
    }
    let urlSecretId: string | null = existing?.url_secret_id ?? null;
    if (url_secret !== null) {
      const id = secretIdByKey(url_secret);
      if (id) urlSecretId = id;
      else need(url_secret, `alert channel ${entry.name}`);
    }
    if (urlSecretId === null) {
      steps.push({
        kind: 'alert_channel',
        name: entry.name,
        id: null,
        action: 'skip',
        note:
          url_secret === null
            ? `its webhook URL is not exported; create the channel here once (openpipes alerts create --name ${entry.name} --type ${entry.type} --url-stdin), then import again`
            : `its URL secret ${url_secret} has no value here yet; create it, then import again`,
      });
      continue;
    }
    const desired = alertChannelDataSchema.parse({
      ...rest,
      url_secret_id: urlSecretId,
      pipe_ids: watched.map((name) => pipeIds.get(name)!),
    }) as Record<string, unknown>;
    steps.push(compareStep('alert_channel', entry.name, existing, desired));
  }

  const missing: MissingSecret[] = [...needed].map(([key, by]) =>
    withOptional({ key, needed_by: [...new Set(by)] }, 'description', docSecretDescriptions.get(key)),
  );
  for (const secret of missing) {
    steps.push({
      kind: 'secret',
      name: secret.key,
      id: null,
      action: 'missing',
      note: `no value here: create it (openpipes secrets create --key ${secret.key} --value-stdin)`,
    });
  }
  steps.sort((a, b) => configEntityKinds.indexOf(a.kind) - configEntityKinds.indexOf(b.kind));
  return { steps, missing };
}

/** Plans one entity: create, or update the fields that differ, or nothing. */
function compareStep(
  kind: ConfigEntityKind,
  name: string,
  existing: Record<string, unknown> | undefined,
  desired: Record<string, unknown>,
  check: { compile?: PlannedStep['compile']; schema?: Record<string, unknown> } = {},
): PlannedStep {
  if (!existing) {
    return { kind, name, id: null, action: 'create', data: desired, ...definedOnly(check) };
  }
  const fields = Object.keys({ ...pickKnown(existing, desired), ...desired }).filter(
    (field) => canonical(existing[field]) !== canonical(desired[field]),
  );
  if (fields.length === 0) return { kind, name, id: existing.id as string, action: 'unchanged' };
  const patch = Object.fromEntries(fields.map((f) => [f, desired[f]]));
  const step: PlannedStep = {
    kind,
    name,
    id: existing.id as string,
    action: 'update',
    fields: fields.sort(),
    data: patch,
  };
  // Only code that changes is compiled again (the registries do the same).
  if (check.compile && fields.some((f) => f === 'send' || f === 'transform')) step.compile = check.compile;
  if (check.schema && fields.includes('schema')) step.schema = check.schema;
  return step;
}

/** The optional fields of the desired data that the existing entity has and the desired lacks. */
function pickKnown(existing: Record<string, unknown>, desired: Record<string, unknown>) {
  const optional = ['description', 'template'];
  return Object.fromEntries(
    optional.filter((f) => f in existing && !(f in desired)).map((f) => [f, undefined]),
  );
}

/** Refuses duplicate keys and references to nothing, listing every problem at once. */
function checkDocument(doc: ConfigDocument, target: ConfigSnapshot): void {
  const issues: FieldIssue[] = [];
  const unique = (list: Array<{ key: string }>, field: string) => {
    const seen = new Set<string>();
    list.forEach(({ key }, i) => {
      if (seen.has(key)) issues.push({ path: `${field}[${i}]`, message: `${key} appears twice` });
      seen.add(key);
    });
  };
  unique(doc.secrets, 'secrets');
  unique(
    doc.event_types.map((e) => ({ key: e.name })),
    'event_types',
  );
  unique(
    doc.sources.map((s) => ({ key: s.slug })),
    'sources',
  );
  unique(
    doc.destinations.map((d) => ({ key: d.name })),
    'destinations',
  );
  unique(
    doc.pipes.map((p) => ({ key: p.name })),
    'pipes',
  );
  unique(
    doc.alert_channels.map((c) => ({ key: c.name })),
    'alert_channels',
  );

  const sources = new Set([...doc.sources.map((s) => s.slug), ...target.sources.map((s) => s.slug)]);
  const destinations = new Set([
    ...doc.destinations.map((d) => d.name),
    ...target.destinations.map((d) => d.name),
  ]);
  const pipes = new Set([...doc.pipes.map((p) => p.name), ...target.pipes.map((p) => p.name)]);
  doc.pipes.forEach((p, i) => {
    if (!sources.has(p.source)) {
      issues.push({ path: `pipes[${i}].source`, message: `no source with slug ${p.source}` });
    }
    if (!destinations.has(p.destination)) {
      issues.push({ path: `pipes[${i}].destination`, message: `no destination named ${p.destination}` });
    }
  });
  doc.alert_channels.forEach((c, i) => {
    for (const name of c.pipes) {
      if (!pipes.has(name))
        issues.push({ path: `alert_channels[${i}].pipes`, message: `no pipe named ${name}` });
    }
  });
  if (issues.length > 0) {
    throw new PipesError({
      code: 'VALIDATION_FAILED',
      message: `invalid config document: ${issues
        .slice(0, 3)
        .map((i) => `${i.path}: ${i.message}`)
        .join('; ')}${issues.length > 3 ? ` (and ${issues.length - 3} more)` : ''}`,
      details: { issues },
    });
  }
}

// ---------------------------------------------------------------------------------------------
// The API

export function createConfigTransfer(deps: ConfigTransferDeps): ConfigTransferApi {
  const snapshot = async (onProgress?: (p: ConfigProgress) => void): Promise<ConfigSnapshot> => {
    let done = 0;
    const read = async <T>(list: (o: { cursor?: string; limit: number }) => Promise<Page<T>>) => {
      const out: T[] = [];
      let cursor: string | undefined;
      for (;;) {
        const page = await list({ cursor, limit: 1000 });
        out.push(...page.data);
        done += page.data.length;
        onProgress?.({ phase: 'read', done, total: done });
        if (!page.next_cursor) return out;
        cursor = page.next_cursor;
      }
    };
    return {
      secrets: await read((o) => deps.secrets.list(o)),
      eventTypes: await read((o) => deps.eventTypes.list(o)),
      sources: await read((o) => deps.sources.list(o)),
      destinations: await read((o) => deps.destinations.list(o)),
      pipes: await read((o) => deps.pipes.list(o)),
      channels: await read((o) => deps.channels.list(o)),
    };
  };

  return {
    async export(options = {}) {
      const snap = await snapshot(options.onProgress);
      return buildConfigDocument(snap, new Date(deps.now()).toISOString());
    },

    async import(input, options = {}) {
      const doc = parseOrThrow(configDocumentSchema, input, 'config document');
      const progress = options.onProgress;
      const target = await snapshot(progress);
      const plan = planConfigImport(doc, target);

      // Everything that can fail is checked before the first write.
      const checks = plan.steps.filter((s) => s.compile || s.schema);
      for (const [i, step] of checks.entries()) {
        progress?.({ phase: 'check', done: i, total: checks.length, kind: step.kind, name: step.name });
        try {
          if (step.compile) await deps.sandbox.compile(step.compile);
          if (step.schema) deps.compileSchema(step.schema);
        } catch (err) {
          throw prefixError(err, `${step.kind.replace('_', ' ')} ${step.name}`);
        }
      }
      progress?.({ phase: 'check', done: checks.length, total: checks.length });

      if (!options.dryRun) {
        const ids = new Map<string, string>();
        const resolve = (value: unknown): unknown => {
          if (typeof value === 'string' && value.startsWith('new:')) return ids.get(value) ?? value;
          if (Array.isArray(value)) return value.map(resolve);
          return value;
        };
        const writes = plan.steps.filter((s) => s.action === 'create' || s.action === 'update');
        for (const [i, step] of writes.entries()) {
          progress?.({ phase: 'apply', done: i, total: writes.length, kind: step.kind, name: step.name });
          const data = Object.fromEntries(Object.entries(step.data ?? {}).map(([k, v]) => [k, resolve(v)]));
          try {
            const id = await write(deps, step, data, options.context);
            if (step.action === 'create') ids.set(placeholder(step.kind, step.name), id);
            step.id = id;
          } catch (err) {
            throw prefixError(err, `${step.kind.replace('_', ' ')} ${step.name}`);
          }
        }
        progress?.({ phase: 'apply', done: writes.length, total: writes.length });
      }

      const summary = { create: 0, update: 0, unchanged: 0, skip: 0, missing: 0 };
      for (const step of plan.steps) summary[step.action]++;
      return {
        dry_run: options.dryRun ?? false,
        changes: plan.steps.map(({ data: _d, compile: _c, schema: _s, ...change }) => change),
        summary,
        missing_secrets: plan.missing,
      };
    },
  };
}

/** Writes one planned step through its registry; resolves with the entity's id. */
async function write(
  deps: ConfigTransferDeps,
  step: PlannedStep,
  data: Record<string, unknown>,
  context: ActorContext | undefined,
): Promise<string> {
  const id = step.id!;
  // Secrets travel by name only: an import can change a description, never create a value.
  if (step.kind === 'secret')
    return (await deps.secrets.update(id, data as { description?: string }, context)).id;
  const registries = {
    event_type: deps.eventTypes,
    source: deps.sources,
    destination: deps.destinations,
    pipe: deps.pipes,
    alert_channel: deps.channels,
  };
  const registry = registries[step.kind] as {
    create(input: unknown, context?: ActorContext): Promise<{ id: string }>;
    update(id: string, patch: unknown, context?: ActorContext): Promise<{ id: string }>;
  };
  const written =
    step.action === 'create'
      ? await registry.create(data, context)
      : await registry.update(id, data, context);
  return written.id;
}

/** Names the entity an error is about, keeping its code and details. */
function prefixError(err: unknown, what: string): unknown {
  if (!(err instanceof PipesError)) return err;
  return new PipesError({
    code: err.code,
    message: `${what}: ${err.message}`,
    details: err.details,
    retryable: err.retryable,
    cause: err,
  });
}

/** JSON with sorted keys, so equal data compares equal whatever the key order. */
function canonical(value: unknown): string {
  if (value === undefined) return 'undefined';
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => compare(a, b)))
      : v,
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function definedOnly<T extends Record<string, unknown>>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function withOptional<T extends object, K extends string>(
  base: T,
  key: K,
  value: string | undefined,
): T & Partial<Record<K, string>> {
  return (value === undefined ? base : { ...base, [key]: value }) as T & Partial<Record<K, string>>;
}
