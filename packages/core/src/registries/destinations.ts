import type { Sandbox } from '@openpipes/sandbox';
import { PipesError } from '../errors.js';
import { type Destination, type DestinationInput, destinationInputSchema } from '../schemas.js';
import { presentDestination } from './present.js';
import {
  type ActorContext,
  createRegistry,
  type Registry,
  type RegistryDeps,
  type Switchable,
  switchable,
} from './registry.js';
import { ensureUnused } from './sources.js';

/**
 * Event destinations: a `send()` function, the secrets bound to it, and how it is batched, rate
 * limited and retried. New destinations start disabled.
 *
 * @example
 * ```ts
 * const meta = await pipes.destinations.create({ name: 'meta-capi-prod', send: sendSource, max_batch_size: 1000 });
 * await pipes.destinations.bindSecrets(meta.id, [tokenSecret.id]);
 * await pipes.destinations.enable(meta.id);
 * ```
 */
export interface DestinationsRegistry
  extends Registry<Destination, DestinationInput>,
    Switchable<Destination> {
  /** Replaces the set of bound secrets. */
  bindSecrets(id: string, secretIds: string[], context?: ActorContext): Promise<Destination>;
  /** Finds a destination by name; null when absent. */
  findByName(name: string): Promise<Destination | null>;
}

export function createDestinationsRegistry(deps: RegistryDeps, sandbox: Sandbox): DestinationsRegistry {
  const base = createRegistry(deps, {
    kind: 'destination',
    label: 'destination',
    inputSchema: destinationInputSchema,
    uniqueKey: (data) => data.name,
    present: presentDestination,
    async check(data, existing) {
      const unknown: string[] = [];
      for (const secretId of new Set(data.secret_ids)) {
        if (!(await deps.store.getEntity({ kind: 'secret', id: secretId }))) unknown.push(secretId);
      }
      if (unknown.length > 0) {
        throw new PipesError({
          code: 'VALIDATION_FAILED',
          message: `secret_ids: ${unknown.join(', ')} do not exist`,
          details: {
            issues: unknown.map((id) => ({ path: 'secret_ids', message: `secret ${id} does not exist` })),
          },
        });
      }
      if (!existing || existing.send !== data.send) await sandbox.compile({ kind: 'send', code: data.send });
    },
  });
  return {
    ...base.api,
    bindSecrets(id, secretIds, context) {
      return base.write(
        id,
        (data) => ({ ...data, secret_ids: [...new Set(secretIds)] }),
        'bind_secrets',
        context,
      );
    },
    ...switchable(base.toggle),
    findByName: base.findByKey,
    async delete(id, context) {
      await ensureUnused(deps, 'destination_id', id, 'destination');
      return base.api.delete(id, context);
    },
  };
}
