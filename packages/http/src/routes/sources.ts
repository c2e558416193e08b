/** `/api/sources`: where events come in. */
import type { Pipes } from '@openpipes/core';
import type { Route } from '../route.js';
import { collectionRoutes } from './collections.js';

export function sourceRoutes(pipes: Pipes): Route[] {
  return collectionRoutes({
    path: 'sources',
    idKind: 'source',
    entity: 'Source',
    label: 'source',
    tag: 'Sources',
    registry: pipes.sources,
    toggle: true,
  });
}
