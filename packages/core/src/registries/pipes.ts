import type { Sandbox } from '@openpipes/sandbox';
import { PipesError } from '../errors.js';
import { type Pipe, type PipeInput, pipeInputSchema } from '../schemas.js';
import { presentPipe } from './present.js';
import { createRegistry, type Registry, type RegistryDeps, type Switchable, switchable } from './registry.js';

/**
 * Pipes connect a source to a destination through a transform. New pipes start disabled.
 *
 * @example
 * ```ts
 * const pipe = await pipes.pipes.create({
 *   name: 'purchase-to-meta', source_id: web.id, destination_id: meta.id, transform: transformSource,
 * });
 * await pipes.pipes.enable(pipe.id);
 * ```
 */
export interface PipesRegistry extends Registry<Pipe, PipeInput>, Switchable<Pipe> {
  /** Finds a pipe by name; null when absent. */
  findByName(name: string): Promise<Pipe | null>;
  /** One version of a pipe as it was (for replays through a chosen version). */
  getVersion(id: string, version: number): Promise<Pipe>;
}

export function createPipesRegistry(deps: RegistryDeps, sandbox: Sandbox): PipesRegistry {
  const base = createRegistry(deps, {
    kind: 'pipe',
    label: 'pipe',
    inputSchema: pipeInputSchema,
    uniqueKey: (data) => data.name,
    present: presentPipe,
    async check(data, existing) {
      const issues: Array<{ path: string; message: string }> = [];
      if (!(await deps.store.getEntity({ kind: 'source', id: data.source_id }))) {
        issues.push({ path: 'source_id', message: `source ${data.source_id} does not exist` });
      }
      if (!(await deps.store.getEntity({ kind: 'destination', id: data.destination_id }))) {
        issues.push({ path: 'destination_id', message: `destination ${data.destination_id} does not exist` });
      }
      if (issues.length > 0) {
        throw new PipesError({
          code: 'VALIDATION_FAILED',
          message: issues.map((i) => `${i.path}: ${i.message}`).join('; '),
          details: { issues },
        });
      }
      if (data.transform !== null && (!existing || existing.transform !== data.transform)) {
        await sandbox.compile({ kind: 'transform', code: data.transform });
      }
    },
  });
  return {
    ...base.api,
    ...switchable(base.toggle),
    findByName: base.findByKey,
    async getVersion(id, version) {
      const snapshot = await deps.store.getEntityVersion({ kind: 'pipe', id, version });
      if (!snapshot)
        throw new PipesError({ code: 'NOT_FOUND', message: `pipe ${id} has no version ${version}` });
      return presentPipe({
        kind: 'pipe',
        id,
        unique_key: null,
        version,
        data: snapshot.data,
        created_at: snapshot.created_at,
        updated_at: snapshot.created_at,
      });
    },
  };
}
