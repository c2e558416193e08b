/**
 * A cached snapshot of the configuration (sources, event types, pipes, destinations) that ingest
 * and the dispatcher read on every call. It reloads when the store's config revision changes, so a
 * change made by another process is seen by the next call here.
 */
import { presentDestination, presentEventType, presentPipe, presentSource } from './registries/present.js';
import type { Destination, EventType, Pipe, Source } from './schemas.js';
import type { EntityKind, EntityRecord, Store } from './store.js';
import type { PayloadValidator } from './validation.js';

export interface ConfigSnapshot {
  revision: number;
  sourcesBySlug: Map<string, Source>;
  eventTypes: Map<string, { type: EventType; validate: PayloadValidator }>;
  pipes: Map<string, Pipe>;
  destinations: Map<string, Destination>;
  /** Enabled pipes per source id. */
  enabledPipesBySource: Map<string, Pipe[]>;
}

export interface ConfigCache {
  /** The current snapshot, reloaded first if the store's revision moved. */
  current(): Promise<ConfigSnapshot>;
  /** Forces the next `current()` to check the store (called after local writes). */
  invalidate(): void;
}

/**
 * How long a snapshot is trusted, by default, before asking the store for its revision again. Local
 * writes invalidate at once; this only bounds how late a change made by another process is seen.
 */
export const defaultConfigMaxStalenessMs = 250;

export function createConfigCache(
  store: Store,
  compileSchema: (schema: Record<string, unknown>) => PayloadValidator,
  options: { maxStalenessMs?: number; now: () => number },
): ConfigCache {
  let snapshot: ConfigSnapshot | null = null;
  let checkedAt = 0;
  let loading: Promise<ConfigSnapshot> | null = null;
  const maxStalenessMs = options.maxStalenessMs ?? defaultConfigMaxStalenessMs;

  const listAll = async (kind: EntityKind): Promise<EntityRecord[]> => {
    const out: EntityRecord[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await store.listEntities({ kind, after, limit: 1000 });
      out.push(...page);
      if (page.length < 1000) return out;
      after = page[page.length - 1]?.id;
    }
  };

  const load = async (revision: number): Promise<ConfigSnapshot> => {
    const [sources, eventTypes, pipes, destinations] = await Promise.all([
      listAll('source'),
      listAll('event_type'),
      listAll('pipe'),
      listAll('destination'),
    ]);
    const next: ConfigSnapshot = {
      revision,
      sourcesBySlug: new Map(),
      eventTypes: new Map(),
      pipes: new Map(),
      destinations: new Map(),
      enabledPipesBySource: new Map(),
    };
    for (const record of sources) {
      const source = presentSource(record);
      next.sourcesBySlug.set(source.slug, source);
    }
    for (const record of eventTypes) {
      const type = presentEventType(record);
      next.eventTypes.set(type.name, { type, validate: compileSchema(type.schema) });
    }
    for (const record of destinations) {
      const destination = presentDestination(record);
      next.destinations.set(destination.id, destination);
    }
    for (const record of pipes) {
      const pipe = presentPipe(record);
      next.pipes.set(pipe.id, pipe);
      if (!pipe.enabled) continue;
      const list = next.enabledPipesBySource.get(pipe.source_id) ?? [];
      list.push(pipe);
      next.enabledPipesBySource.set(pipe.source_id, list);
    }
    return next;
  };

  // Bumped by every invalidate(): a load that began before a local write must not become the
  // snapshot (nor restart the staleness clock) once it ends, or the write would go unseen here for
  // up to maxStalenessMs (a pipe just enabled would get no deliveries from the next ingest).
  let generation = 0;

  const refresh = async (): Promise<ConfigSnapshot> => {
    const started = generation;
    const revision = await store.configRevision();
    const readAt = options.now();
    const next = snapshot && snapshot.revision === revision ? snapshot : await load(revision);
    if (started === generation) {
      snapshot = next;
      checkedAt = readAt;
    }
    return next;
  };

  return {
    async current() {
      if (snapshot && options.now() - checkedAt < maxStalenessMs) return snapshot;
      if (!loading) {
        const started = refresh().finally(() => {
          if (loading === started) loading = null;
        });
        loading = started;
      }
      return loading;
    },
    invalidate() {
      // A load already under way may have read the revision before the write: start a new one.
      generation++;
      checkedAt = 0;
      loading = null;
    },
  };
}
