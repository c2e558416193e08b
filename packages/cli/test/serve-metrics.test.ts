/**
 * `openpipes serve` serves `/metrics` (to API keys, or to anyone with `--metrics-public`) and the
 * probes `/livez` and `/readyz`; the index lists them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startServe, stopAll } from './helpers.js';

describe('openpipes serve: metrics and probes', () => {
  afterEach(() => stopAll());

  it('answers /metrics to the admin token only, and the probes to anyone', async () => {
    const serve = await startServe();
    expect((await fetch(`${serve.url}/metrics`)).status).toBe(401);
    const metrics = await fetch(`${serve.url}/metrics`, {
      headers: { authorization: `Bearer ${serve.token}` },
    });
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await metrics.text();
    expect(text).toContain('# TYPE openpipes_events_ingested_total counter');
    expect(text).toContain('# TYPE openpipes_backlog gauge');
    expect(text).not.toContain(serve.token);
    for (const path of ['/livez', '/readyz']) {
      const probe = await fetch(`${serve.url}${path}`);
      expect(probe.status, path).toBe(200);
      expect(await probe.json()).toEqual({ status: 'ok' });
    }
    const index = (await (await fetch(`${serve.url}/`)).json()) as Record<string, string>;
    expect(index).toMatchObject({ metrics: '/metrics', liveness: '/livez', readiness: '/readyz' });
  });

  it('answers /metrics to anyone with --metrics-public', async () => {
    const serve = await startServe({ args: ['--metrics-public'] });
    const metrics = await fetch(`${serve.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('openpipes_sandbox_workers 1');
  });
});
