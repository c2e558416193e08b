/** `/api/pipes`: a source joined to a destination through a transform. */
import { type Pipes, pipeInputSchema, pipeSchema } from '@openpipes/core';
import type { Route } from '../route.js';
import { collectionRoutes, collectionSchemas } from './collections.js';

export const pipeSchemas = collectionSchemas('Pipe', { entity: pipeSchema, input: pipeInputSchema });

export function pipeRoutes(pipes: Pipes): Route[] {
  return collectionRoutes({
    path: 'pipes',
    idKind: 'pipe',
    label: 'pipe',
    tag: 'Pipes',
    schemas: pipeSchemas,
    registry: pipes.pipes,
    toggle: (id, enabled, actor) => pipes.pipes.toggle(id, enabled, actor),
  });
}
