/** `GET /metrics`: the engine's metrics in the Prometheus text format. */
import { z } from 'zod';
import { defineRoute, type Route } from '../route.js';
import type { PipesMetrics } from './index.js';

/**
 * The route. `access: 'read'` answers any API key (the admin token, read-scope keys); `'public'`
 * answers anyone, for a scraper inside a private network.
 */
export function metricsRoute(metrics: PipesMetrics, access: 'read' | 'public'): Route {
  return defineRoute({
    method: 'GET',
    path: '/metrics',
    summary:
      'Prometheus metrics of this process (text exposition format 0.0.4). Counters are per process; the backlog gauge is read from the store.',
    tag: 'Meta',
    access,
    // Scrapers add parameters of their own (`?name[]=`); they select nothing here.
    ignoresUnknownQuery: true,
    responses: {
      200: {
        description: 'The metrics, one sample a line (docs/observability.md lists them).',
        schema: z.string(),
        mediaTypes: { 'text/plain': z.string() },
      },
    },
    async handle() {
      const { contentType, body } = await metrics.render();
      return new Response(body, { status: 200, headers: { 'content-type': contentType } });
    },
  });
}
