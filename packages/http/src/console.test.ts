import type { Pipes } from '@openpipes/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SqliteEngine, startSqliteEngine } from '../test/sqlite-engine.js';
import { consoleCsp } from './console.js';
import { createHandler } from './handler.js';

// The console's files as the handler serves them (the built @openpipes/console), without a browser.
describe('the console under <mount>/console/', () => {
  let engine: SqliteEngine;
  let pipes: Pipes;

  // Not started: the handler answers without a running engine.
  beforeAll(async () => {
    engine = await startSqliteEngine('console', {}, { start: false });
    pipes = engine.pipes;
  });
  afterAll(() => engine.stop());

  const key = { name: 'viewer', token: 'console-test-read-token-0123', scope: 'read' as const };
  const get = (handler: ReturnType<typeof createHandler>, path: string, init?: RequestInit) =>
    handler(new Request(`http://localhost${path}`, init));

  it('is off unless asked for', async () => {
    const handler = createHandler(pipes, {});
    expect((await get(handler, '/console/')).status).toBe(404);
    expect(handler.matches('/console/')).toBe(false);
  });

  it('answers the app for every console path, under any prefix, with its base and a strict CSP', async () => {
    const handler = createHandler(pipes, { console: true, basePath: '/ops/openpipes' });
    for (const path of [
      '/ops/openpipes/console/',
      '/ops/openpipes/console/pipes/pip_1',
      '/ops/openpipes/console/x/y/',
    ]) {
      const response = await get(handler, path);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('no-cache');
      expect(response.headers.get('content-security-policy')).toBe(consoleCsp);
      const html = await response.text();
      expect(html).toContain('<base href="/ops/openpipes/console/" />');
      // No inline script: every <script> has a src.
      expect(html.match(/<script[^>]*>/g)?.every((tag) => tag.includes(' src='))).toBe(true);
    }
    const redirect = await get(handler, '/ops/openpipes/console');
    expect(redirect.status).toBe(308);
    expect(redirect.headers.get('location')).toBe('/ops/openpipes/console/');
  });

  it('serves hashed assets for a year and refuses names it did not build', async () => {
    const handler = createHandler(pipes, { console: true });
    const html = await (await get(handler, '/console/')).text();
    const script = /src="\.\/(assets\/[\w.-]+\.js)"/.exec(html)![1]!;
    const asset = await get(handler, `/console/${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    for (const path of [
      '/console/assets/nope.js',
      '/console/assets/..%2f..%2findex.js',
      '/console/assets/',
    ]) {
      expect((await get(handler, path)).status).toBe(404);
    }
    const post = await get(handler, '/console/', { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect(handler.matches('/console/pipes/x')).toBe(true);
  });

  it('tells the console who the key is (GET /api/session)', async () => {
    const handler = createHandler(pipes, { console: true, apiKeys: [key] });
    const response = await get(handler, '/api/session', {
      headers: { authorization: `Bearer ${key.token}` },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ actor: 'viewer', scope: 'read' });
    expect((await get(handler, '/api/session')).status).toBe(401);
  });
});
