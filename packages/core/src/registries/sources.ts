import { PipesError } from '../errors.js';
import { type Source, type SourceInput, sourceInputSchema } from '../schemas.js';
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
