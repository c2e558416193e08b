/** `/api/event-types`: the events a source may send, each with its JSON Schema. */
import { eventTypeInputSchema, eventTypeSchema, type Pipes } from '@openpipes/core';
import type { Route } from '../route.js';
import { collectionRoutes, collectionSchemas } from './collections.js';

export const eventTypeSchemas = collectionSchemas('EventType', {
  entity: eventTypeSchema,
  input: eventTypeInputSchema,
});

export function eventTypeRoutes(pipes: Pipes): Route[] {
  return collectionRoutes({
    path: 'event-types',
    idKind: 'event_type',
    label: 'event type',
    tag: 'Event types',
    schemas: eventTypeSchemas,
    registry: pipes.eventTypes,
  });
}
