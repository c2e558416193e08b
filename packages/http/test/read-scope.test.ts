/**
 * A read-scope key against every operation the OpenAPI document marks as needing more than read
 * (`x-openpipes-scope`: write or privacy) — every write the console, the CLI or a script can make:
 * each answers 403 FORBIDDEN before it reads its parameters or body, and the audit trail is the
 * same afterwards. The list comes from the document the server serves, so a new write route is
 * covered the day it is declared.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../src/handler.js';
import { type SqliteEngine, startSqliteEngine } from './sqlite-engine.js';

const writer = { name: 'ops', token: 'read-scope-test-writer-7c1f', scope: 'write' as const };
const reader = { name: 'viewer', token: 'read-scope-test-reader-2a9e', scope: 'read' as const };

interface Operation {
  'x-openpipes-scope'?: 'write' | 'privacy';
}

describe('a read-scope key', () => {
  let engine: SqliteEngine;
  let handler: ReturnType<typeof createHandler>;

  const call = (method: string, path: string, token: string, body?: unknown) =>
    handler(
      new Request(`http://127.0.0.1${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      }),
    );

  beforeAll(async () => {
    engine = await startSqliteEngine('read-scope');
    handler = createHandler(engine.pipes, { apiKeys: [writer, reader] });
  });
  afterAll(() => engine.stop());

  it('gets 403 from every write and privacy operation, and the audit trail does not change', async () => {
    // Something to write to: a source, whose id stands in every path parameter.
    const created = await call('POST', '/api/sources', writer.token, { name: 'Web', slug: 'web' });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const audit = async () => (await call('GET', '/api/audit?limit=500', writer.token)).text();
    const before = await audit();
    expect(JSON.parse(before).data.length).toBeGreaterThan(0);

    // The key reads.
    expect((await call('GET', '/api/sources', reader.token)).status).toBe(200);

    const doc = (await (await handler(new Request('http://127.0.0.1/openapi.json'))).json()) as {
      paths: Record<string, Record<string, Operation>>;
    };
    const writes: Array<[string, string, string]> = [];
    for (const [template, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const scope = operation['x-openpipes-scope'];
        if (scope) writes.push([method.toUpperCase(), template.replace(/\{[^}]+\}/g, id), scope]);
      }
    }
    // Sources, event types, secrets, destinations, pipes, alerts, replays, erasure, config,
    // API keys and more: a short list would mean the document lost its marks.
    expect(writes.length).toBeGreaterThan(30);
    expect(writes.some(([, , scope]) => scope === 'privacy')).toBe(true);

    const answers: string[] = [];
    for (const [method, path] of writes) {
      for (const body of method === 'DELETE' || method === 'GET'
        ? [undefined]
        : [{}, { name: 'x', enabled: true }]) {
        const answer = await call(method, path, reader.token, body);
        const text = await answer.text();
        const code =
          answer.status === 403 ? (JSON.parse(text) as { error: { code: string } }).error.code : '';
        if (answer.status !== 403 || code !== 'FORBIDDEN')
          answers.push(`${method} ${path}: ${answer.status} ${text}`);
      }
    }
    expect(answers).toEqual([]);
    expect(await audit()).toBe(before);
  });
});
