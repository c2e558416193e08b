import { type EventType, type EventTypeInput, eventTypeInputSchema } from '../schemas.js';
import type { PayloadValidator } from '../validation.js';
import { presentEventType } from './present.js';
import { createRegistry, type Registry, type RegistryDeps } from './registry.js';

/**
 * Event types: `purchase`, `add_to_cart`, `lead`... each with a JSON Schema for `event_payload`.
 *
 * @example
 * ```ts
 * await pipes.eventTypes.create({
 *   name: 'purchase',
 *   schema: { type: 'object', required: ['order_id'], properties: { order_id: { type: 'string' } } },
 * });
 * ```
 */
export interface EventTypesRegistry extends Registry<EventType, EventTypeInput> {
  /** Finds an event type by name; null when absent. */
  findByName(name: string): Promise<EventType | null>;
}

export function createEventTypesRegistry(
  deps: RegistryDeps,
  compileSchema: (schema: Record<string, unknown>) => PayloadValidator,
): EventTypesRegistry {
  const base = createRegistry(deps, {
    kind: 'event_type',
    label: 'event type',
    inputSchema: eventTypeInputSchema,
    uniqueKey: (data) => data.name,
    present: presentEventType,
    async check(data) {
      // Throws VALIDATION_FAILED when the schema itself is not valid JSON Schema.
      compileSchema(data.schema);
    },
  });
  return {
    ...base.api,
    findByName: base.findByKey,
  };
}
