/**
 * What browser analytics.js needs (issue 18): its settings load, `GET /v1/projects/{writeKey}/settings`,
 * and CORS on `/v1/*`, over node:http on port 0 with a real SQLite file. The source allows one origin;
 * another origin gets no CORS header (and a 403), an unknown or revoked key a 404 that says no more.
 */
import { createServer, type Server } from 'node:http';
import { type Pipes, silentLogger } from '@openpipes/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../src/index.js';
import { createNodeListener } from '../src/node.js';
import { closeServer, listen, type SqliteEngine, startSqliteEngine } from './sqlite-engine.js';

interface Settings {
  integrations: Record<string, Record<string, unknown>>;
}

const shop = 'https://shop.example';
const evil = 'https://evil.example';

describe('Segment-spec browser support: settings and CORS', { timeout: 60_000 }, () => {
  let engine: SqliteEngine;
  let pipes: Pipes;
  let server: Server;
  let base: string;
  let host: string;
  let sourceId: string;
  let key: string;
  let revoked: string;
  let otherKey: string;

  beforeAll(async () => {
    engine = await startSqliteEngine('segment-browser');
    pipes = engine.pipes;
    const handler = createHandler(pipes, { segment: true, logger: silentLogger });
    server = createServer(createNodeListener(handler));
    host = `127.0.0.1:${await listen(server)}`;
    base = `http://${host}`;
    await pipes.eventTypes.create({ name: 'page_view', schema: { type: 'object' } });
    sourceId = (await pipes.sources.create({ name: 'Web', slug: 'web', allowed_origins: [shop] })).id;
    key = (await pipes.writeKeys.create(sourceId)).write_key;
    revoked = (await pipes.writeKeys.create(sourceId)).write_key;
    await pipes.writeKeys.revoke(sourceId, revoked);
    const other = await pipes.sources.create({ name: 'Other', slug: 'other' });
    otherKey = (await pipes.writeKeys.create(other.id)).write_key;
  });
  afterAll(async () => {
    await closeServer(server);
    await engine?.stop();
  });

  it('answers a good key with a settings document pointing analytics.js back here, and nothing about the source', async () => {
    const response = await fetch(`${base}/v1/projects/${key}/settings`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('private, max-age=60');
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    const text = await response.text();
    const body = JSON.parse(text);
    expect(body).toMatchObject({
      integrations: { 'Segment.io': { apiKey: key, apiHost: `${host}/v1`, protocol: 'http' } },
      plan: { track: { __default: { enabled: true } } },
      edgeFunction: {},
      analyticsNextEnabled: true,
      metrics: { sampleRate: 0 },
    });
    expect(Object.keys(body.integrations)).toEqual(['Segment.io']);
    for (const secret of [sourceId, 'Web', shop, revoked]) expect(text).not.toContain(secret);

    const scoped = await fetch(`${base}/collect/web/v1/projects/${key}/settings`, {
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(scoped.status).toBe(200);
    expect(((await scoped.json()) as Settings).integrations['Segment.io']).toMatchObject({
      apiHost: `${host}/collect/web/v1`,
      protocol: 'https',
    });
  });

  it("answers an unknown, revoked or other source's key with the same 404", async () => {
    const messages: string[] = [];
    for (const path of [
      `/v1/projects/opw_${'x'.repeat(40)}/settings`,
      `/v1/projects/${revoked}/settings`,
      `/collect/web/v1/projects/${otherKey}/settings`,
      `/collect/nosuch/v1/projects/${key}/settings`,
    ]) {
      const response = await fetch(`${base}${path}`, { headers: { origin: shop } });
      expect(response.status, path).toBe(404);
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('NOT_FOUND');
      expect(JSON.stringify(body)).not.toContain(sourceId);
      messages.push(body.error.message);
    }
    expect(new Set(messages).size).toBe(1);
  });

  it("sends CORS headers to the source's allowed origin only, on settings and on tracking calls", async () => {
    const settings = await fetch(`${base}/v1/projects/${key}/settings`, { headers: { origin: shop } });
    expect(settings.status).toBe(200);
    expect(settings.headers.get('access-control-allow-origin')).toBe(shop);
    expect(settings.headers.get('vary')).toContain('Origin');

    const refused = await fetch(`${base}/v1/projects/${key}/settings`, { headers: { origin: evil } });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();

    // analytics.js posts text/plain with the key in the body: a simple request, no preflight.
    const page = (origin: string, id: string) =>
      fetch(`${base}/v1/p`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain', origin },
        body: JSON.stringify({ writeKey: key, type: 'page', anonymousId: id, messageId: id }),
      });
    const taken = await page(shop, 'anon-shop');
    expect(taken.status).toBe(200);
    expect(taken.headers.get('access-control-allow-origin')).toBe(shop);
    const denied = await page(evil, 'anon-evil');
    expect(denied.status).toBe(403);
    expect(denied.headers.get('access-control-allow-origin')).toBeNull();
    const stored = await pipes.sources.events(sourceId, {});
    expect(stored.data.map((e) => e.event_payload.anonymous_id)).toEqual(['anon-shop']);
  });

  it('answers preflights: under a slug from its allowed origins, at the root for any origin', async () => {
    const preflight = (path: string, origin: string) =>
      fetch(`${base}${path}`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      });
    const allowed = await preflight('/collect/web/v1/batch', shop);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(shop);
    expect(allowed.headers.get('access-control-allow-methods')).toBe('POST, OPTIONS');
    expect(allowed.headers.get('access-control-allow-headers')).toContain('content-type');

    const other = await preflight('/collect/web/v1/t', evil);
    expect(other.status).toBe(403);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();

    expect((await preflight('/collect/nosuch/v1/t', shop)).status).toBe(404);

    // A preflight carries no write key; the POST that follows is checked (403 above for evil).
    const root = await preflight('/v1/t', evil);
    expect(root.status).toBe(204);
    expect(root.headers.get('access-control-allow-origin')).toBe(evil);

    const settings = await preflight(`/v1/projects/${key}/settings`, shop);
    expect(settings.status).toBe(204);
    expect(settings.headers.get('access-control-allow-methods')).toBe('GET, OPTIONS');
  });
});
