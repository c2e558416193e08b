/** `/api/sources`: where events come in. */
import { type Pipes, sourceInputSchema, sourceSchema } from '@openpipes/core';
import type { Route } from '../route.js';
import { collectionRoutes, collectionSchemas } from './collections.js';

export const sourceSchemas = collectionSchemas('Source', { entity: sourceSchema, input: sourceInputSchema });

export function sourceRoutes(pipes: Pipes): Route[] {
  return collectionRoutes({
    path: 'sources',
    idKind: 'source',
    label: 'source',
    tag: 'Sources',
    schemas: sourceSchemas,
    registry: pipes.sources,
    toggle: (id, enabled, actor) => pipes.sources.toggle(id, enabled, actor),
  });
}
