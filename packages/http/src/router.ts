/**
 * A small path router over the route table. Paths are written the OpenAPI way
 * (`/api/pipes/{id}/toggle`) so the same table also generates the OpenAPI document.
 */

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

interface Compiled<R> {
  route: R;
  method: Method;
  segments: Array<{ literal: string } | { param: string }>;
}

export type Match<R> =
  | { kind: 'route'; route: R; params: Record<string, string> }
  | { kind: 'method'; allowed: Method[] }
  | { kind: 'none' };

export function createRouter<R extends { method: Method; path: string }>(routes: R[]) {
  const compiled: Compiled<R>[] = routes.map((route) => ({
    route,
    method: route.method,
    segments: route.path
      .split('/')
      .slice(1)
      .map((part) => (part.startsWith('{') ? { param: part.slice(1, -1) } : { literal: part })),
  }));

  return {
    /** Finds the route for a method and a path relative to the handler's base path. */
    match(method: string, path: string): Match<R> {
      const parts = path.split('/').slice(1);
      const allowed: Method[] = [];
      for (const candidate of compiled) {
        const params = matchSegments(candidate.segments, parts);
        if (!params) continue;
        if (candidate.method === method) return { kind: 'route', route: candidate.route, params };
        allowed.push(candidate.method);
      }
      return allowed.length > 0 ? { kind: 'method', allowed } : { kind: 'none' };
    },
  };
}

function matchSegments(
  segments: Array<{ literal: string } | { param: string }>,
  parts: string[],
): Record<string, string> | null {
  if (segments.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const part = parts[i]!;
    if ('literal' in segment) {
      if (segment.literal !== part) return null;
      continue;
    }
    if (part === '') return null;
    try {
      params[segment.param] = decodeURIComponent(part);
    } catch {
      return null;
    }
  }
  return params;
}
