import { eventTypeInputSchema } from '../../schemas.js';
import type { ConfigDocument } from '../document.js';
import { compareStep } from './compare.js';
import type { PlanContext } from './context.js';

/**
 * Event types: created or updated by name; a changed JSON Schema is compiled before any write.
 *
 * @example
 * ```ts
 * planEventTypes(doc.event_types, ctx);
 * ```
 */
export function planEventTypes(entries: ConfigDocument['event_types'], ctx: PlanContext): void {
  const existing = new Map(ctx.target.eventTypes.map((e) => [e.name, e]));
  for (const entry of entries) {
    const desired = eventTypeInputSchema.parse(entry) as Record<string, unknown>;
    ctx.steps.push(
      compareStep('event_type', entry.name, existing.get(entry.name), desired, {
        schema: desired.schema as Record<string, unknown>,
      }),
    );
  }
}
