import { createServer, type Server } from 'node:http';
import type { Pipes } from '@openpipes/core';
import { metaExampleTransform } from '@openpipes/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../src/index.js';
import { createNodeListener } from '../src/node.js';
import { checkedFetch } from './client.js';
import { closeServer, listen, type SqliteEngine, startSqliteEngine } from './sqlite-engine.js';

const writeKey = { name: 'deploy', token: 'config-write-token-0123456789', scope: 'write' as const };
const readKey = { name: 'dashboard', token: 'config-read-token-0123456789', scope: 'read' as const };
// biome-ignore lint/suspicious/noExplicitAny: JSON answers, read field by field
type Json = any;
const send = 'async function send({ events, secrets }) { return { outcome: "delivered" }; }';

describe('config export and import over HTTP', () => {
  const engines: SqliteEngine[] = [];
  let staging: Pipes;
  let production: Pipes;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    // Not started: export and import answer without a running engine.
    const engine = async (name: string) => {
      const created = await startSqliteEngine(`http-config-${name}`, {}, { start: false });
      engines.push(created);
      return created.pipes;
    };
    staging = await engine('staging');
    production = await engine('production');
    const web = await staging.sources.create({ name: 'Web', slug: 'web' });
    await staging.eventTypes.create({ name: 'purchase', schema: { type: 'object' } });
    const token = await staging.secrets.create({ key: 'META_ACCESS_TOKEN', value: 'EAAB-staging-only' });
    const meta = await staging.destinations.create({ name: 'meta', send, secret_ids: [token.id] });
    await staging.pipes.create({
      name: 'purchase-to-meta',
      source_id: web.id,
      destination_id: meta.id,
      transform: metaExampleTransform,
    });
    const handler = createHandler(production, { apiKeys: [writeKey, readKey] });
    server = createServer(createNodeListener(handler));
    base = `http://127.0.0.1:${await listen(server)}`;
  });
  afterAll(async () => {
    await closeServer(server);
    await Promise.all(engines.map((engine) => engine.stop()));
  });

  const call = (
    method: string,
    path: string,
    key: { token: string } = writeKey,
    body?: unknown,
    accept = 'application/json',
  ) =>
    checkedFetch({ base }, path, {
      method,
      headers: { authorization: `Bearer ${key.token}`, 'content-type': 'application/json', accept },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it('imports an export into another instance, plans first on dry_run, and changes nothing the second time', async () => {
    const stagingHandler = createHandler(staging, { apiKeys: [readKey] });
    const exported = await stagingHandler(
      new Request('http://localhost/api/config/export', {
        headers: { authorization: `Bearer ${readKey.token}` },
      }),
    );
    expect(exported.status).toBe(200);
    const doc = await exported.json();
    expect(doc).toMatchObject({ format: 'openpipes-config', version: 1 });
    expect(JSON.stringify(doc)).not.toContain('EAAB-staging-only');

    const dry = await call('POST', '/api/config/import?dry_run=true', writeKey, doc);
    expect(dry.status).toBe(200);
    const plan = dry.json as Json;
    expect(plan).toMatchObject({ dry_run: true, summary: { create: 4, missing: 1 } });
    expect(plan.missing_secrets).toEqual([{ key: 'META_ACCESS_TOKEN', needed_by: ['destination meta'] }]);
    expect((await production.sources.list()).data).toEqual([]);

    const applied = (await call('POST', '/api/config/import', writeKey, doc)).json;
    expect(applied).toMatchObject({ dry_run: false, summary: { create: 4 } });
    const again = (await call('POST', '/api/config/import', writeKey, doc)).json as Json;
    expect(again.summary).toEqual({ create: 0, update: 0, unchanged: 4, skip: 0, missing: 1 });

    const audit = await production.audit.list({ actor: 'deploy', entity_kind: 'pipe' });
    expect(audit.data.map((e) => e.action)).toEqual(['create']);
  });

  it('streams progress lines, then the answer, with Accept: application/x-ndjson', async () => {
    const doc = await staging.config.export();
    const response = await call(
      'POST',
      '/api/config/import?dry_run=1',
      writeKey,
      doc,
      'application/x-ndjson',
    );
    expect(response.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const lines = response.text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines.slice(0, -1).every((line) => 'progress' in line)).toBe(true);
    expect(lines.some((line) => line.progress?.phase === 'check')).toBe(true);
    expect(lines.at(-1).result).toMatchObject({ dry_run: true });

    const failing = await call(
      'POST',
      '/api/config/import',
      writeKey,
      { ...doc, pipes: [{ ...doc.pipes[0], name: 'broken', transform: 'function transform( {' }] },
      'application/x-ndjson',
    );
    const last = JSON.parse(failing.text.trim().split('\n').at(-1)!);
    expect(last.error).toMatchObject({ code: 'COMPILE_ERROR' });
    expect(last.error.message).toMatch(/^pipe broken: /);
  });

  it('refuses a document that is not one, a read-only key, and documents both routes', async () => {
    const bad = await call('POST', '/api/config/import', writeKey, {
      format: 'openpipes-config',
      version: 9,
    });
    expect(bad.status).toBe(400);
    expect((bad.json as Json).error).toMatchObject({ code: 'VALIDATION_FAILED' });
    const forbidden = await call('POST', '/api/config/import', readKey, await staging.config.export());
    expect(forbidden.status).toBe(403);
    expect((await call('GET', '/api/config/export', readKey)).status).toBe(200);

    const openapi = (await (await fetch(`${base}/openapi.json`)).json()) as Json;
    expect(Object.keys(openapi.paths)).toEqual(
      expect.arrayContaining(['/api/config/export', '/api/config/import']),
    );
    expect(openapi.paths['/api/config/import'].post.parameters).toEqual([
      expect.objectContaining({ name: 'dry_run', in: 'query', required: false }),
    ]);
    expect(openapi.components.schemas.ConfigImportResult).toBeDefined();
  });
});
