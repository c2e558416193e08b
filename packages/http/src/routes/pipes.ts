/** `/api/pipes`: a source joined to a destination through a transform. */
import type { Pipes } from '@openpipes/core';
import type { Route } from '../route.js';
import { collectionRoutes } from './collections.js';

export function pipeRoutes(pipes: Pipes): Route[] {
  return collectionRoutes({
    path: 'pipes',
    idKind: 'pipe',
    entity: 'Pipe',
    label: 'pipe',
    tag: 'Pipes',
    registry: pipes.pipes,
    toggle: true,
  });
}
