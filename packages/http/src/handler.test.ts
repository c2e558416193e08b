import type { Pipes } from '@openpipes/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SqliteEngine, startSqliteEngine } from '../test/sqlite-engine.js';
import { createHandler } from './handler.js';

/** A JSON answer, read field by field. */
const read = async (response: Response) =>
  (await response.json()) as {
    error: { code: string; message: string };
    servers: unknown;
    id: string;
    [field: string]: unknown;
  };

// The handler as a plain fetch function (what Bun, Deno or a service worker would call): no server.
describe('createHandler as a fetch handler', () => {
  let engine: SqliteEngine;
  let pipes: Pipes;

  // Not started: the handler answers without a running engine.
  beforeAll(async () => {
    engine = await startSqliteEngine('handler', {}, { start: false });
    pipes = engine.pipes;
  });
  afterAll(() => engine.stop());

  const key = { name: 'ops', token: 'fetch-handler-token-0123', scope: 'write' as const };

  it('serves under its basePath and answers 404 outside it', async () => {
    const handler = createHandler(pipes, { basePath: '/pipes/', apiKeys: [key] });
    const health = await handler(new Request('http://localhost/pipes/healthz'));
    expect(health.status).toBe(200);
    expect(await read(health)).toEqual({ status: 'ok', running: false });
    const outside = await handler(new Request('http://localhost/healthz'));
    expect(outside.status).toBe(404);
    expect((await read(outside)).error.code).toBe('NOT_FOUND');
    // A prefix given per request (what the Express and Fastify adapters pass) wins.
    expect((await handler(new Request('http://localhost/x/healthz'), { basePath: '/x' })).status).toBe(200);
    const doc = await read(await handler(new Request('http://localhost/pipes/openapi.json')));
    expect(doc.servers).toEqual([{ url: '/pipes' }]);
  });

  it('says which paths it answers, so adapters can pass the others on', () => {
    const atRoot = createHandler(pipes, { apiKeys: [key] });
    expect(atRoot.matches('/api/sources')).toBe(true);
    expect(atRoot.matches('/api/anything/else')).toBe(true);
    expect(atRoot.matches('/collect/web')).toBe(true);
    expect(atRoot.matches('/openapi.json')).toBe(true);
    expect(atRoot.matches('/shop/cart')).toBe(false);
    const prefixed = createHandler(pipes, { basePath: '/pipes', apiKeys: [key] });
    expect(prefixed.matches('/pipes/whatever')).toBe(true);
    expect(prefixed.matches('/api/sources')).toBe(false);
  });

  it('answers HEAD like GET, without a body', async () => {
    const handler = createHandler(pipes, { apiKeys: [key] });
    const head = await handler(new Request('http://localhost/healthz', { method: 'HEAD' }));
    expect(head.status).toBe(200);
    expect(head.headers.get('content-type')).toContain('application/json');
    expect(await head.text()).toBe('');
  });

  it('answers 401 to a token that is neither configured nor stored', async () => {
    const handler = createHandler(pipes);
    const answer = await handler(
      new Request('http://localhost/api/sources', {
        headers: { authorization: 'Bearer anything-at-all-123' },
      }),
    );
    expect(answer.status).toBe(401);
  });

  it('resolves other tokens through the authenticate hook and records its actor', async () => {
    const seen: string[] = [];
    const handler = createHandler(pipes, {
      apiKeys: [key],
      authenticate: (token) => {
        seen.push(token);
        return token === 'db-stored-key-abcdef' ? { actor: 'key_01HX (ci)', scope: 'write' } : null;
      },
    });
    const request = (token: string) =>
      new Request('http://localhost/api/sources', {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'x-request-id': 'hook-1',
        },
        body: JSON.stringify({ name: 'Hooked', slug: 'hooked' }),
      });
    const created = await handler(request('db-stored-key-abcdef'));
    expect(created.status).toBe(201);
    const source = await read(created);
    const [entry] = await pipes.store.listAudit({ entityId: source.id, limit: 1 });
    expect(entry).toMatchObject({ actor: 'key_01HX (ci)', request_id: 'hook-1', action: 'create' });
    expect((await handler(request('unknown-token-000000'))).status).toBe(401);
    // Keys from the options are checked first, without asking the hook.
    await handler(
      new Request('http://localhost/api/sources', { headers: { authorization: `Bearer ${key.token}` } }),
    );
    expect(seen).toEqual(['db-stored-key-abcdef', 'unknown-token-000000']);
  });

  it('hides the message of an unexpected error from the caller and logs it with the request id', async () => {
    const logged: Array<Record<string, unknown>> = [];
    const handler = createHandler(pipes, {
      authenticate: () => {
        throw new Error('key store unreachable at 10.0.0.7');
      },
      logger: {
        debug() {},
        info() {},
        warn() {},
        error: (fields: Record<string, unknown>, message?: string) => logged.push({ message, ...fields }),
      },
    });
    const answer = await handler(
      new Request('http://localhost/api/sources', {
        headers: { authorization: 'Bearer some-token-value-123', 'x-request-id': 'boom-1' },
      }),
    );
    expect(answer.status).toBe(500);
    const body = await read(answer);
    expect(body.error.code).toBe('INTERNAL');
    expect(body.error.message).not.toContain('10.0.0.7');
    expect(body.error.message).toContain('boom-1');
    expect(logged).toEqual([
      expect.objectContaining({ request_id: 'boom-1', status: 500, code: 'INTERNAL' }),
    ]);
    expect(logged[0]).toMatchObject({
      message: 'OpenPipes HTTP request failed',
      error: 'key store unreachable at 10.0.0.7',
    });
  });

  it('routes on context.method for methods a Request cannot carry: 405 with Allow, or 404', async () => {
    const handler = createHandler(pipes, { apiKeys: [key] });
    // What an adapter passes for `TRACE /collect/web`: a bodiless GET naming the real method.
    const trace = await handler(new Request('http://localhost/collect/web'), { method: 'TRACE' });
    expect(trace.status).toBe(405);
    expect(trace.headers.get('allow')).toContain('POST');
    expect((await read(trace)).error.message).toContain('TRACE is not allowed on /collect/web');
    // Even where GET has a route, the real method is what is routed.
    const onHealth = await handler(new Request('http://localhost/healthz'), { method: 'CONNECT' });
    expect(onHealth.status).toBe(405);
    expect(onHealth.headers.get('allow')).toBe('GET');
    const nowhere = await handler(new Request('http://localhost/nowhere'), { method: 'TRACK' });
    expect(nowhere.status).toBe(404);
    expect((await read(nowhere)).error.message).toBe('no route for TRACK /nowhere');
  });

  it('logs a request whose client went away as the client closing (debug), not as a failure', async () => {
    const logged: Array<Record<string, unknown>> = [];
    const log = (level: string) => (fields: Record<string, unknown>, message?: string) =>
      logged.push({ level, message, ...fields });
    const handler = createHandler(pipes, {
      logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    });
    await pipes.sources.create({ name: 'Abandoned', slug: 'abandoned' });
    // A body that fails half way because its client left, as the node adapters' bodies do.
    const controller = new AbortController();
    const body = new ReadableStream<Uint8Array>({
      start(stream) {
        stream.enqueue(new TextEncoder().encode('[{"event_type":'));
      },
      pull(stream) {
        controller.abort();
        stream.error(new Error('aborted'));
      },
    });
    await handler(
      new Request('http://localhost/collect/abandoned', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'gone-1' },
        body,
        duplex: 'half',
        signal: controller.signal,
      } as RequestInit),
    );
    expect(logged).toEqual([
      expect.objectContaining({
        level: 'debug',
        message: 'OpenPipes HTTP request abandoned: the client closed the connection',
        request_id: 'gone-1',
        status: 499,
        code: 'CLIENT_CLOSED',
      }),
    ]);
  });

  it('refuses API keys shorter than 16 characters or without a valid scope', () => {
    expect(() =>
      createHandler(pipes, { apiKeys: [{ name: 'weak', token: 'short', scope: 'write' }] }),
    ).toThrow(/at least 16 characters/);
    expect(() =>
      createHandler(pipes, {
        apiKeys: [{ name: 'odd', token: 'long-enough-token-123', scope: 'admin' as 'write' }],
      }),
    ).toThrow(/scope/);
  });
});
