import { z } from 'zod';
import { PipesError } from '../errors.js';
import { cursorSchema, type IdKind } from '../ids.js';
import { type Page, type Source, type SourceInput, type StoredEvent, sourceInputSchema } from '../schemas.js';
import type { StoredRejection } from '../store.js';
import { parseOrThrow } from '../validation.js';
import { presentSource } from './present.js';
import { createRegistry, type Registry, type RegistryDeps, type Switchable, switchable } from './registry.js';

/**
 * Sources: where events come in (`POST /collect/:slug`).
 *
 * @example
 * ```ts
 * const web = await pipes.sources.create({ name: 'Web', slug: 'web' });
 * ```
 */
export interface SourcesRegistry extends Registry<Source, SourceInput>, Switchable<Source> {
  /** Finds a source by its slug; null when absent. */
  findBySlug(slug: string): Promise<Source | null>;
  /**
   * The source's recent accepted events, newest first; pass `next_cursor` back as `cursor`.
   *
   * @example
   * ```ts
   * const { data } = await pipes.sources.events(web.id, { limit: 20 });
   * ```
   */
  events(id: string, query?: ActivityQuery): Promise<Page<StoredEvent>>;
  /**
   * The source's recent rejected events (refused at collect), newest first, each with its errors
   * and the event as sent (cut to the log's size limit). The log keeps the newest few per source.
   *
   * @example
   * ```ts
   * const { data } = await pipes.sources.rejections(web.id);
   * data[0]?.error.issues; // [{ path: 'event_payload.value', message: '...' }]
   * ```
   */
  rejections(id: string, query?: ActivityQuery): Promise<Page<StoredRejection>>;
}

/** A page of a source's events or rejections: `limit` 1..1000 (default 100) and a cursor. */
export interface ActivityQuery {
  limit?: number;
  cursor?: string;
}

function activityQuerySchema(kind: IdKind) {
  return z.strictObject({
    limit: z.number().int().min(1).max(1000).default(100),
    cursor: cursorSchema(kind).optional(),
  });
}
const eventsQuerySchema = activityQuerySchema('event');
const rejectionsQuerySchema = activityQuerySchema('rejection');

function toPage<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const data = rows.slice(0, limit);
  return { data, next_cursor: rows.length > limit ? (data[data.length - 1]?.id ?? null) : null };
}

export function createSourcesRegistry(deps: RegistryDeps): SourcesRegistry {
  const base = createRegistry(deps, {
    kind: 'source',
    label: 'source',
    inputSchema: sourceInputSchema,
    uniqueKey: (data) => data.slug,
    present: presentSource,
    async check(data) {
      if (data.auth.type !== 'none') {
        const secret = await deps.store.getEntity({ kind: 'secret', id: data.auth.secret_id });
        if (!secret) {
          throw new PipesError({
            code: 'VALIDATION_FAILED',
            message: `auth.secret_id: secret ${data.auth.secret_id} does not exist`,
            details: { issues: [{ path: 'auth.secret_id', message: 'secret does not exist' }] },
          });
        }
      }
    },
  });

  return {
    ...base.api,
    findBySlug: base.findByKey,
    async events(id, query = {}) {
      const q = parseOrThrow(eventsQuerySchema, query, 'source events query');
      await base.api.get(id);
      const rows = await deps.store.listEvents({ sourceId: id, cursor: q.cursor, limit: q.limit + 1 });
      return toPage(rows, q.limit);
    },
    async rejections(id, query = {}) {
      const q = parseOrThrow(rejectionsQuerySchema, query, 'source rejections query');
      await base.api.get(id);
      const rows = await deps.store.listRejections({ sourceId: id, cursor: q.cursor, limit: q.limit + 1 });
      return toPage(rows, q.limit);
    },
    ...switchable(base.toggle),
    async delete(id, context) {
      await ensureUnused(deps, 'source_id', id, 'source');
      return base.api.delete(id, context);
    },
  };
}

/** Refuses to delete an entity a pipe still points at. */
export async function ensureUnused(
  deps: RegistryDeps,
  field: 'source_id' | 'destination_id',
  id: string,
  label: string,
): Promise<void> {
  let after: string | undefined;
  for (;;) {
    const pipes = await deps.store.listEntities({ kind: 'pipe', after, limit: 500 });
    const user = pipes.find((p) => p.data[field] === id);
    if (user) {
      throw new PipesError({
        code: 'CONFLICT',
        message: `${label} ${id} is used by pipe ${user.id} (${String(user.data.name)}); delete the pipe first`,
      });
    }
    if (pipes.length < 500) return;
    after = pipes[pipes.length - 1]?.id;
  }
}
