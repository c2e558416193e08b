/** Reading a route's query string. */
import { PipesError } from '@openpipes/core';
import type { Route } from './route.js';

/**
 * The query string as an object: a parameter given empty (`?status=`) counts as not given; one
 * given twice, or (on admin routes) one the route does not take, is refused by name.
 */
export function readQuery(url: URL, route: Route): Record<string, string> {
  const query: Record<string, string> = {};
  const known = route.query ? Object.keys(route.query.shape) : [];
  const unknown = new Set<string>();
  const repeated = new Set<string>();
  for (const [name, value] of url.searchParams) {
    if (!known.includes(name)) {
      if (!route.ignoresUnknownQuery) unknown.add(name);
      continue;
    }
    if (value === '') continue;
    if (name in query) repeated.add(name);
    query[name] = value;
  }
  const issues = [
    ...[...unknown].map((name) => ({
      path: name,
      message: `unknown query parameter; ${known.length > 0 ? `this route takes ${known.join(', ')}` : 'this route takes none'}`,
    })),
    ...[...repeated].map((name) => ({ path: name, message: 'given more than once; give it once' })),
  ];
  if (issues.length > 0) {
    throw new PipesError({
      code: 'VALIDATION_FAILED',
      message: `invalid query: ${issues.map((i) => `${i.path.slice(0, 100)}: ${i.message}`).join('; ')}`,
      details: { issues },
    });
  }
  return query;
}
