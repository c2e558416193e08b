/**
 * The checker every suite's answers go through must be able to fail: it is tried here on answers
 * the document does not allow, next to ones it does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandler } from '../src/index.js';
import { textPattern } from '../src/openapi.js';
import { createOpenApiChecker, type OpenApiChecker } from './openapi-check.js';
import { type SqliteEngine, startSqliteEngine } from './sqlite-engine.js';

let engine: SqliteEngine;
let checker: OpenApiChecker;

beforeAll(async () => {
  // The document does not need a running engine: it is built from the route table.
  engine = await startSqliteEngine('openapi', {}, { start: false });
  const handler = createHandler(engine.pipes, {
    apiKeys: [{ name: 'ops', token: 'op_write_0123456789abcdef', scope: 'write' }],
  });
  const document = await (await handler(new Request('http://localhost/openapi.json'))).json();
  checker = createOpenApiChecker(document as Record<string, unknown>);
});
afterAll(() => engine.stop());

const answer = (status: number, body: unknown, type = 'application/json; charset=utf-8') => ({
  status,
  headers: new Headers(body === undefined ? {} : { 'content-type': type }),
  text: body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body),
});
const sourceId = 'src_01J00000000000000000000000';
const source = {
  name: 'Web',
  slug: 'web',
  enabled: true,
  allowed_origins: [],
  auth: { type: 'none' },
  dedup_window_seconds: 86400,
  first_party_cookies: false,
  segment_event_names: {},
  id: sourceId,
  version: 1,
  created_at: '2026-05-04T10:14:22.481Z',
  updated_at: '2026-05-04T10:14:22.481Z',
};
const error = (code: string) => ({ error: { code, message: 'a message long enough' } });

describe('the OpenAPI checker', () => {
  it('passes answers the document allows, and names the operation', () => {
    expect(
      checker.check('GET', '/api/sources?limit=5', answer(200, { data: [source], next_cursor: null })),
    ).toBe('GET /api/sources');
    expect(checker.check('GET', `/api/sources/${sourceId}`, answer(404, error('NOT_FOUND')))).toBe(
      'GET /api/sources/{id}',
    );
    expect(checker.check('DELETE', `/api/sources/${sourceId}`, answer(204, undefined))).toBe(
      'DELETE /api/sources/{id}',
    );
    expect(checker.check('HEAD', '/healthz', answer(200, undefined))).toBe('GET /healthz');
    expect(checker.check('GET', '/no/such/route', answer(404, error('NOT_FOUND')))).toBeNull();
    expect(checker.check('PATCH', '/api/sources', answer(405, error('METHOD_NOT_ALLOWED')))).toBeNull();
  });

  it.each([
    [
      'an undocumented status',
      'GET',
      '/api/sources',
      answer(418, error('INTERNAL')),
      /does not allow.*lists/,
    ],
    [
      'a field the schema does not have',
      'GET',
      '/api/sources',
      answer(200, { data: [], next_cursor: null, extra: 1 }),
      /additional properties/,
    ],
    [
      'a missing field',
      'GET',
      `/api/sources/${sourceId}`,
      answer(200, { ...source, slug: undefined }),
      /slug/,
    ],
    ['a wrong media type', 'GET', '/api/sources', answer(200, '<html></html>', 'text/html'), /media type/],
    ['a body that is not JSON', 'GET', '/api/sources', answer(200, '{"data": ['), /not JSON/],
    [
      'an error that is not in the error format',
      'GET',
      '/api/sources',
      answer(400, { message: 'x' }),
      /error/,
    ],
    ['a 200 for a path no operation has', 'GET', '/api/nothing', answer(200, {}), /must answer 404/],
    ['a HEAD answer with a body', 'HEAD', '/healthz', answer(200, { status: 'ok', running: true }), /HEAD/],
    [
      'a bad progress line in a stream',
      'GET',
      '/api/config/export',
      answer(
        200,
        '{"progress": {"phase": "read", "done": 0, "total": 1}}\n{"oops": 1}\n',
        'application/x-ndjson',
      ),
      /oneOf|required/,
    ],
  ])('fails %s', (_name, method, path, given, why) => {
    expect(() => checker.check(method, path, given)).toThrow(why);
  });

  it('tells which request bodies the document accepts', () => {
    expect(checker.requestErrors('POST', '/api/sources', { name: 'Web', slug: 'web' })).toEqual([]);
    expect(
      checker.requestErrors('POST', '/api/sources', { name: 'Web', slug: 'web', enbled: true }),
    ).not.toEqual([]);
    expect(checker.requestErrors('POST', '/api/sources', { name: 'W\ud800', slug: 'web' })).not.toEqual([]);
    expect(checker.requestErrors('POST', '/api/sources', { name: 'W\u0000', slug: 'web' })).not.toEqual([]);
    // A surrogate pair is one code point, and fine.
    expect(checker.requestErrors('POST', '/api/sources', { name: 'W \ud83d\ude00', slug: 'web' })).toEqual(
      [],
    );
  });

  it('says what text is accepted with a pattern that refuses NUL and lone surrogates only', () => {
    const text = new RegExp(textPattern, 'u');
    expect(['', 'plain', 'é ✓ \ud83d\ude00', '\ud83d\ude00\ud83d\ude00'].every((t) => text.test(t))).toBe(
      true,
    );
    expect(['\u0000', 'a\ud800', '\udc00', 'x\udc00\ud800y'].some((t) => text.test(t))).toBe(false);
  });
});
