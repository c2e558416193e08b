import { destinationInputSchema } from '../../schemas.js';
import { type ConfigDocument, placeholder } from '../document.js';
import { compareStep } from './compare.js';
import type { PlanContext } from './context.js';

/**
 * Destinations, by name: bound to the secrets that exist here, and held disabled until all of them
 * do. A changed `send()` is compiled before any write.
 *
 * @example
 * ```ts
 * planDestinations(doc.destinations, ctx);
 * ```
 */
export function planDestinations(entries: ConfigDocument['destinations'], ctx: PlanContext): void {
  const destinations = new Map(ctx.target.destinations.map((d) => [d.name, d]));
  for (const entry of entries) {
    const { secrets, ...rest } = entry;
    const missing = secrets.filter((key) => !ctx.secretIdByKey(key));
    for (const key of missing) ctx.need(key, `destination ${entry.name}`);
    const desired = destinationInputSchema.parse({
      ...rest,
      secret_ids: secrets.map(ctx.secretIdByKey).filter((id): id is string => id !== null),
      enabled: rest.enabled && missing.length === 0,
    }) as Record<string, unknown>;
    const existing = destinations.get(entry.name);
    if (!existing) ctx.destinationIds.set(entry.name, placeholder('destination', entry.name));
    const step = compareStep('destination', entry.name, existing, desired, {
      compile: { kind: 'send', code: entry.send },
    });
    if (missing.length > 0) {
      step.note = `${rest.enabled ? 'kept disabled' : 'disabled'} until ${missing.join(', ')} ${
        missing.length === 1 ? 'has a value' : 'have values'
      }; create ${missing.length === 1 ? 'it' : 'them'}, then import again`;
    }
    ctx.steps.push(step);
  }
}
