/** `/api/event-types`: the events a source may send, each with its JSON Schema. */
import type { Pipes } from '@openpipes/core';
import type { Route } from '../route.js';
import { collectionRoutes } from './collections.js';

export function eventTypeRoutes(pipes: Pipes): Route[] {
  return collectionRoutes({
    path: 'event-types',
    idKind: 'event_type',
    entity: 'EventType',
    label: 'event type',
    tag: 'Event types',
    registry: pipes.eventTypes,
    toggle: false,
  });
}
