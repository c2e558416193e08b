/**
 * `pipes.config`: reads the instance through the registries, plans an import (`plan/`), checks
 * everything that can fail before the first write, then writes through the registries, so every
 * write is validated, versioned and audited like any other.
 */

import type { Sandbox } from '@openpipes/sandbox';
import type { AlertChannelsApi } from '../alerts/channels.js';
import { PipesError } from '../errors.js';
import type { DestinationsRegistry } from '../registries/destinations.js';
import type { EventTypesRegistry } from '../registries/event-types.js';
import type { PipesRegistry } from '../registries/pipes.js';
import type { ActorContext } from '../registries/registry.js';
import type { SecretsRegistry } from '../registries/secrets.js';
import type { SourcesRegistry } from '../registries/sources.js';
import type { Page } from '../schemas.js';
import { parseOrThrow } from '../validation.js';
import {
  type ConfigDocument,
  type ConfigImportOptions,
  type ConfigImportResult,
  type ConfigProgress,
  type ConfigSnapshot,
  configDocumentSchema,
  type PlannedStep,
  placeholder,
} from './document.js';
import { buildConfigDocument } from './export.js';
import { planConfigImport } from './plan/index.js';

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
