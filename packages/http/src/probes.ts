/**
 * `GET /livez` and `GET /readyz`, for orchestrators. Liveness must not restart a process that is
 * healthy but waiting on its database (a restart fixes nothing and drops in-flight work), so
 * `/livez` touches nothing but the event loop; readiness takes the process out of the load
 * balancer while it cannot serve: migrations running, the store not answering, draining.
 */
import { errorCodes, type Pipes, toPipesError } from '@openpipes/core';
import { z } from 'zod';
import { defineRoute, type Route, reply } from './route.js';

/**
 * Options of `createHandler`'s `probes`.
 *
 * @example
 * ```ts
 * let draining = false;
 * process.on('SIGTERM', () => { draining = true; });
 * createHandler(pipes, { probes: { draining: () => draining } });
 * ```
 */
export interface ProbeOptions {
  /** True while the host drains connections before stopping: `/readyz` answers 503 `DRAINING`. */
  draining?: () => boolean;
  /** How long `/readyz` waits for the store, ms. Default 2000 (a probe's own timeout is often 1-5 s). */
  storeTimeoutMs?: number;
}

const notReady = z.strictObject({
  status: z.literal('unavailable'),
  reason: z.enum(['migrating', 'draining', 'stopped', 'store']),
  code: z.enum(errorCodes).optional(),
});

export function probeRoutes(pipes: Pipes, options: ProbeOptions): Route[] {
  const storeTimeoutMs = options.storeTimeoutMs ?? 2000;
  const unavailable = (reason: z.infer<typeof notReady>['reason'], code?: z.infer<typeof notReady>['code']) =>
    reply(503, { status: 'unavailable' as const, reason, ...(code ? { code } : {}) }, { 'retry-after': '1' });
  return [
    defineRoute({
      method: 'GET',
      path: '/livez',
      summary:
        'Liveness: the process answers. It never asks the store, so a database outage does not restart a healthy process.',
      tag: 'Meta',
      access: 'public',
      ignoresUnknownQuery: true,
      responses: { 200: { description: 'Alive.', schema: z.strictObject({ status: z.literal('ok') }) } },
      async handle() {
        return reply(200, { status: 'ok' as const });
      },
    }),
    defineRoute({
      method: 'GET',
      path: '/readyz',
      summary:
        'Readiness: 503 while migrations run, while the store does not answer, and while the process drains or has stopped.',
      tag: 'Meta',
      access: 'public',
      ignoresUnknownQuery: true,
      responses: {
        200: { description: 'Ready.', schema: z.strictObject({ status: z.literal('ok') }) },
        503: { description: 'Not ready, and why.', schema: notReady },
      },
      async handle() {
        const status = pipes.status();
        if (options.draining?.()) return unavailable('draining');
        if (status.stopping) return unavailable('stopped');
        if (status.migrating) return unavailable('migrating');
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            pipes.sources.list({ limit: 1 }),
            new Promise((_, reject) => {
              timer = setTimeout(
                () => reject(Object.assign(new Error('the store did not answer'), { code: 'TIMEOUT' })),
                storeTimeoutMs,
              );
            }),
          ]);
        } catch (err) {
          const code =
            (err as { code?: unknown }).code === 'TIMEOUT' ? ('TIMEOUT' as const) : toPipesError(err).code;
          return unavailable('store', code);
        } finally {
          clearTimeout(timer);
        }
        return reply(200, { status: 'ok' as const });
      },
    }),
  ];
}
