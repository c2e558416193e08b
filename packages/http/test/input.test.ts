/**
 * Bad input that used to get through (issue 12), one named regression test per reproduction, on
 * both stores: the same request must get the same clear 400 (with the field's path) on SQLite and
 * on PostgreSQL, never a 500, and store nothing. Every answer is also checked against the OpenAPI
 * document by the test client, and where the document and the server used to disagree, both are
 * asked.
 */
import { isPipesError } from '@openpipes/core';
import { metaExampleSend, purchaseEvent, purchaseSchema } from '@openpipes/core/testing';
import { postgresAvailable } from '@openpipes/store-postgres/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Answer, call, checkedFetch, collect } from './client.js';
import { checkerFor, type OpenApiChecker } from './openapi-check.js';
import { type Fixture, type StoreName, startFixture } from './servers.js';
import { echoTemplate } from './templates.js';

const stores: StoreName[] = ['sqlite', ...((await postgresAvailable()) ? (['postgres'] as const) : [])];
const json = { 'content-type': 'application/json' };

/** A 400 VALIDATION_FAILED whose issues name `path`. */
function expectInvalidAt(answer: Answer, path: string) {
  expect({ status: answer.status, code: answer.json?.error?.code }).toEqual({
    status: 400,
    code: 'VALIDATION_FAILED',
  });
  const issues = answer.json.error.details?.issues ?? answer.json.error.details?.results?.[0]?.error?.issues;
  expect(issues.map((i: { path: string }) => i.path)).toContain(path);
}

/** Runs `fn` and returns the PipesError it threw. */
async function thrown(fn: () => Promise<unknown>) {
  try {
    await fn();
  } catch (err) {
    if (isPipesError(err)) return err;
    throw err;
  }
  throw new Error('expected a PipesError, nothing was thrown');
}

describe.each(stores)('bad input that used to get through, on %s', (store) => {
  let f: Fixture;
  let checker: OpenApiChecker;
  let pipeId: string;
  let sourceId: string;

  beforeAll(async () => {
    f = await startFixture('node', { templates: [echoTemplate] }, { store });
    checker = await checkerFor(f.base);
    const { pipes } = f;
    await pipes.eventTypes.create({ name: 'purchase', schema: purchaseSchema });
    await pipes.eventTypes.create({ name: 'any', schema: { type: 'object' } });
    const source = await pipes.sources.create({ name: 'Web', slug: 'web' });
    sourceId = source.id;
    const sink = await pipes.destinations.create({ name: 'sink', send: metaExampleSend(f.meta.url) });
    const pipe = await pipes.pipes.create({
      name: 'web-pipe',
      source_id: source.id,
      destination_id: sink.id,
    });
    await pipes.pipes.enable(pipe.id);
    pipeId = pipe.id;
    // Deliveries to page through (the destination stays disabled: nothing is sent).
    expect(
      (
        await collect(
          f,
          'web',
          [1, 2, 3].map((n) => purchaseEvent(`ord_seed_${n}`)),
        )
      ).status,
    ).toBe(202);
  });
  afterAll(async () => {
    await f?.close();
  });

  /** Every row and entity count, to show a refused request changed nothing. */
  const snapshot = async () => ({
    ...(await f.stored()),
    sources: (await f.pipes.sources.list()).data.length,
    eventTypes: (await f.pipes.eventTypes.list()).data.length,
    secrets: (await f.pipes.secrets.list()).data.length,
  });

  it('1e400 (and -1e400): collect and admin bodies refuse a number that does not fit a double, with its path', async () => {
    const before = await snapshot();
    const event = (payload: string) =>
      `{"event_type":"any","event_time":1714816462,"event_id":"ord_big","event_payload":${payload}}`;
    expectInvalidAt(await collect(f, 'web', event('{"revenue":1e400}')), 'event_payload.revenue');
    expectInvalidAt(
      await collect(f, 'web', `[${event('{}')},${event('{"r":[1,-1e400]}')}]`),
      '[1].event_payload.r[1]',
    );
    expectInvalidAt(
      await collect(f, 'web', `{"events":[${event('{"r":1E+999}')}]}`),
      'events[0].event_payload.r',
    );
    const type = await call(f, 'POST', '/api/event-types', {
      raw: '{"name":"huge","schema":{"type":"number","maximum":1e400}}',
      headers: json,
    });
    expectInvalidAt(type, 'schema.maximum');
    expect(await snapshot()).toEqual(before);
  });

  it('-0 and integers past 2^53: accepted and kept as JavaScript reads them (0, the nearest double)', async () => {
    const answer = await collect(
      f,
      'web',
      '{"event_type":"any","event_time":1714816462,"event_id":"ord_num","event_payload":{"zero":-0,"big":12345678901234567890}}',
    );
    expect(answer.status).toBe(202);
    const stored = await f.pipes.store.getEvent({ id: answer.json.results[0].id });
    expect(JSON.stringify(stored?.event_payload)).toBe('{"zero":0,"big":12345678901234567000}');
  });

  it('\\ud800: a lone surrogate in any admin string or key is a 400 with its path (PostgreSQL answered 500)', async () => {
    const before = await snapshot();
    const source = (await call(f, 'GET', `/api/sources/${sourceId}`)).json;
    const cases: Array<[string, string, string, string]> = [
      ['POST', '/api/sources', '{"name":"W\\ud800","slug":"w1"}', 'name'],
      ['POST', '/api/sources', '{"name":"W","slug":"w2","description":"\\udc00"}', 'description'],
      [
        'POST',
        '/api/sources',
        '{"name":"W","slug":"w3","allowed_origins":["https://\\ud800.example"]}',
        'allowed_origins[0]',
      ],
      [
        'POST',
        '/api/event-types',
        '{"name":"t1","schema":{"properties":{"\\ud800":{}}}}',
        'schema.properties.\ud800',
      ],
      ['POST', '/api/secrets', '{"key":"K1","value":"supersecret-\\ud800-tail"}', 'value'],
      ['POST', '/api/api-keys', '{"name":"ci\\ud800","scope":"read"}', 'name'],
      ['PATCH', `/api/sources/${sourceId}`, '{"description":"\\ud800"}', 'description'],
      [
        'POST',
        '/api/config/import',
        '{"format":"openpipes-config","version":1,"sources":[{"name":"\\ud800","slug":"w4"}]}',
        'sources[0].name',
      ],
    ];
    for (const [method, path, raw, at] of cases) {
      const answer = await call(f, method, path, { raw, headers: json });
      expectInvalidAt(answer, at);
      expect(answer.text).not.toContain('supersecret');
    }
    expectInvalidAt(
      await collect(
        f,
        'web',
        '{"event_type":"any","event_time":1714816462,"event_payload":{"name":"\\ud800"}}',
      ),
      'event_payload.name',
    );
    expectInvalidAt(
      await collect(f, 'web', '{"event_type":"any","event_time":1714816462,"event_payload":{"\\udbff":1}}'),
      'event_payload.\udbff',
    );
    expect(await snapshot()).toEqual(before);
    expect((await call(f, 'GET', `/api/sources/${sourceId}`)).json).toEqual(source);
  });

  it('\\u0000: NUL is refused the same way on both stores, in collect and in admin strings and keys', async () => {
    const before = await snapshot();
    expectInvalidAt(await call(f, 'POST', '/api/sources', { body: { name: 'N\u0000', slug: 'n1' } }), 'name');
    expectInvalidAt(
      await call(f, 'POST', '/api/event-types', { body: { name: 'n2', schema: { 'a\u0000': {} } } }),
      'schema.a\u0000',
    );
    expectInvalidAt(
      await collect(f, 'web', { event_type: 'any', event_time: 1714816462, event_payload: { v: 'a\u0000' } }),
      'event_payload.v',
    );
    // In a query string and a path: refused, or not found, never a 500.
    expectInvalidAt(await call(f, 'GET', `/api/pipes/${pipeId}/deliveries?event_id=%00`), 'event_id');
    expectInvalidAt(await call(f, 'GET', '/api/audit?actor=a%00'), 'actor');
    expect((await call(f, 'GET', '/api/sources/src_%00')).status).toBe(404);
    expect((await call(f, 'GET', '/api/event-deliveries/evd_%00')).status).toBe(404);
    expect((await checkedFetch(f, '/collect/web%00', { method: 'OPTIONS' })).status).toBe(404);
    expect(await snapshot()).toEqual(before);
  });

  it('the engine refuses the same input from code: pipes.ingest, registries, lookups', async () => {
    const { pipes } = f;
    const before = await snapshot();
    const result = await pipes.ingest('web', [
      { event_type: 'any', event_time: 1714816462, event_payload: { a: '\ud800' } },
      { event_type: 'any', event_time: 1714816462, event_payload: { revenue: Number.POSITIVE_INFINITY } },
      { event_type: 'any', event_time: 1714816462, event_payload: { 'k\u0000': 1 } },
      { event_type: 'any', event_time: 1714816462, event_payload: { id: 10n } },
    ]);
    expect(result.accepted).toBe(0);
    expect(result.results.map((r) => (r.status === 'rejected' ? r.error.issues[0]?.path : r.status))).toEqual(
      ['event_payload.a', 'event_payload.revenue', 'event_payload.k\u0000', 'event_payload.id'],
    );
    const created = await thrown(() => pipes.sources.create({ name: 'W\ud800', slug: 'code' }));
    expect(created).toMatchObject({ code: 'VALIDATION_FAILED', details: { issues: [{ path: 'name' }] } });
    const updated = await thrown(() => pipes.sources.update(sourceId, { description: 'x\u0000' }));
    expect(updated).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: { issues: [{ path: 'description' }] },
    });
    const schema = await thrown(() =>
      pipes.eventTypes.create({ name: 'inf', schema: { maximum: Number.NaN } }),
    );
    expect(schema).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: { issues: [{ path: 'schema.maximum' }] },
    });
    expect(await thrown(() => pipes.sources.get('src_\u0000'))).toMatchObject({ code: 'NOT_FOUND' });
    expect(await thrown(() => pipes.deliveries.get('evd_\u0000'))).toMatchObject({ code: 'NOT_FOUND' });
    expect(await pipes.sources.findBySlug('web\u0000')).toBeNull();
    expect(await thrown(() => pipes.deliveries.list(pipeId, { event_id: 'x\u0000' }))).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: { issues: [{ path: 'event_id' }] },
    });
    expect(await thrown(() => pipes.audit.list({ actor: '\ud800' }))).toMatchObject({
      code: 'VALIDATION_FAILED',
      details: { issues: [{ path: 'actor' }] },
    });
    expect(await snapshot()).toEqual(before);
  });

  it('enbled: PUT /toggle refuses an unknown key by name and changes nothing', async () => {
    const before = await f.pipes.pipes.get(pipeId);
    const answer = await call(f, 'PUT', `/api/pipes/${pipeId}/toggle`, { body: { enbled: false } });
    expectInvalidAt(answer, 'enbled');
    expect(answer.json.error.message).toContain('enbled');
    expect(await f.pipes.pipes.get(pipeId)).toEqual(before);
    // The same for every strict body: an entity create, a patch, a nested object.
    expectInvalidAt(
      await call(f, 'POST', '/api/sources', { body: { name: 'S', slug: 's9', enbled: true } }),
      'enbled',
    );
    expectInvalidAt(await call(f, 'PATCH', `/api/sources/${sourceId}`, { body: { nmae: 'x' } }), 'nmae');
    expectInvalidAt(
      await call(f, 'PATCH', `/api/sources/${sourceId}`, { body: { auth: { type: 'none', secret: 'x' } } }),
      'auth.secret',
    );
    const secret = await f.pipes.secrets.create({ key: 'PATCHED', value: 'patched-secret-value' });
    const patchSecret = (body: unknown) => call(f, 'PATCH', `/api/secrets/${secret.id}`, { body });
    expectInvalidAt(await patchSecret({ value_version: 9 }), 'value_version');
    expectInvalidAt(await patchSecret({ descripton: 'x' }), 'descripton');
    expect((await f.pipes.secrets.get(secret.id)).version).toBe(1);
    expectInvalidAt(
      await collect(f, 'web', { ...purchaseEvent('ord_typo'), eventId: 'ord_typo' }),
      'eventId',
    );
    expectInvalidAt(await collect(f, 'web', { events: [purchaseEvent('ord_w')], source: 'web' }), 'source');
  });

  it('PUT /toggle: {"enabled": false} sets the state idempotently; no body (the operator flow) and {} flip', async () => {
    const { pipes } = f;
    const source = await pipes.sources.create({ name: 'Toggled', slug: 'toggled' });
    const set = async (body?: unknown) =>
      (await call(f, 'PUT', `/api/sources/${source.id}/toggle`, body === undefined ? {} : { body })).json;
    expect(await set({ enabled: false })).toMatchObject({ enabled: false, version: 2 });
    expect(await set({ enabled: false })).toMatchObject({ enabled: false, version: 2 });
    expect(await set()).toMatchObject({ enabled: true, version: 3 });
    expect(await set({})).toMatchObject({ enabled: false, version: 4 });
    expect(await set({ enabled: true })).toMatchObject({ enabled: true, version: 5 });
    expect(await set({ enabled: true })).toMatchObject({ enabled: true, version: 5 });
    expectInvalidAt(
      await call(f, 'PUT', `/api/sources/${source.id}/toggle`, { body: { enabled: 'no' } }),
      'enabled',
    );
    const toggles = await pipes.audit.list({ entity_id: source.id, limit: 100 });
    expect(toggles.data.filter((e) => e.action === 'toggle')).toHaveLength(4);
  });

  it('cursor=garbage: a list refuses a cursor it did not give out, and pages with the ones it did', async () => {
    const deliveries = `/api/pipes/${pipeId}/deliveries`;
    expectInvalidAt(await call(f, 'GET', `${deliveries}?cursor=garbage`), 'cursor');
    expectInvalidAt(await call(f, 'GET', `${deliveries}?cursor=${sourceId}`), 'cursor');
    expectInvalidAt(await call(f, 'GET', '/api/sources?cursor=garbage'), 'cursor');
    expectInvalidAt(await call(f, 'GET', '/api/audit?cursor=zzz'), 'cursor');
    expectInvalidAt(await call(f, 'GET', '/api/api-keys?cursor=key_'), 'cursor');
    expect(await thrown(() => f.pipes.deliveries.list(pipeId, { cursor: 'garbage' }))).toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    const first = await call(f, 'GET', `${deliveries}?limit=2`);
    expect(first.json.data).toHaveLength(2);
    const second = await call(f, 'GET', `${deliveries}?limit=2&cursor=${first.json.next_cursor}`);
    expect(second.status).toBe(200);
    const ids = [...first.json.data, ...second.json.data].map((d: { id: string }) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it.each(['0x10', '1e3', '16.0', '+16', ' 16', '0', '1001', '-1', '١٦', 'Infinity'])(
    'limit=%s is refused: decimal digits only, 1..1000',
    async (limit) => {
      expectInvalidAt(await call(f, 'GET', `/api/sources?limit=${encodeURIComponent(limit)}`), 'limit');
    },
  );

  it('limit=16 and limit=1000 are taken', async () => {
    expect((await call(f, 'GET', '/api/sources?limit=16')).status).toBe(200);
    expect(
      (await call(f, 'GET', `/api/pipes/${pipeId}/deliveries?limit=1000`)).json.data.length,
    ).toBeGreaterThan(2);
  });

  it('unknown query parameters are a 400 naming them, on every admin route; one given twice too', async () => {
    const unknown = await call(f, 'GET', '/api/sources?lmit=1&limit=2');
    expectInvalidAt(unknown, 'lmit');
    expect(unknown.json.error.message).toContain('lmit');
    expectInvalidAt(await call(f, 'GET', `/api/sources/${sourceId}?verbose=1`), 'verbose');
    expectInvalidAt(
      await call(f, 'POST', '/api/sources?dry_run=true', { body: { name: 'Q', slug: 'q' } }),
      'dry_run',
    );
    expectInvalidAt(await call(f, 'GET', '/api/sources?limit=1&limit=2'), 'limit');
    // Collect and /healthz ignore what tags and load balancers add.
    expect((await collect(f, 'web?_=1714816462', [purchaseEvent('ord_cachebuster')])).status).toBe(202);
    expect((await call(f, 'GET', '/healthz?probe=lb', { key: null })).status).toBe(200);
  });

  it('status= given empty lists every status, as the document says; an unknown status is a 400', async () => {
    const all = await call(f, 'GET', `/api/pipes/${pipeId}/deliveries`);
    const empty = await call(f, 'GET', `/api/pipes/${pipeId}/deliveries?status=&event_id=`);
    expect(empty.status).toBe(200);
    expect(empty.json.data.map((d: { id: string }) => d.id)).toEqual(
      all.json.data.map((d: { id: string }) => d.id),
    );
    expectInvalidAt(await call(f, 'GET', `/api/pipes/${pipeId}/deliveries?status=pending,lost`), 'status');
    expectInvalidAt(await call(f, 'GET', `/api/pipes/${pipeId}/deliveries?status=pending,`), 'status');
  });

  it('admin bodies are limited to 2 MiB (as docs/rest-api.md says), a configuration import to 16 MiB', async () => {
    const padded = (bytes: number, body: unknown) => {
      const text = JSON.stringify(body);
      return `${text.slice(0, -1)}${' '.repeat(bytes - text.length)}}`;
    };
    const big = await call(f, 'PATCH', `/api/sources/${sourceId}`, {
      raw: padded(2 * 1024 * 1024 + 1, { description: 'x' }),
      headers: json,
    });
    expect({ status: big.status, code: big.json.error.code, max: big.json.error.details.max_bytes }).toEqual({
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      max: 2 * 1024 * 1024,
    });
    const doc = { format: 'openpipes-config', version: 1 };
    const imported = await call(f, 'POST', '/api/config/import?dry_run=true', {
      raw: padded(3 * 1024 * 1024, doc),
      headers: json,
    });
    expect(imported.status).toBe(200);
    const tooBig = await call(f, 'POST', '/api/config/import?dry_run=true', {
      raw: padded(16 * 1024 * 1024 + 1, doc),
      headers: json,
    });
    expect({ status: tooBig.status, max: tooBig.json.error.details.max_bytes }).toEqual({
      status: 413,
      max: 16 * 1024 * 1024,
    });
  });

  describe('the document and the server agree on what is refused', () => {
    const bothRefuse = async (method: string, path: string, template: string, body: unknown, at: string) => {
      expect(checker.requestErrors(method, template, body)).not.toEqual([]);
      expectInvalidAt(await call(f, method, path, { body }), at);
    };

    it('an empty transform: refused by both (null is the pass-through)', async () => {
      const destination = (await f.pipes.destinations.list()).data[0]!;
      const body = { name: 'empty', source_id: sourceId, destination_id: destination.id, transform: '' };
      await bothRefuse('POST', '/api/pipes', '/api/pipes', body, 'transform');
      const passThrough = { ...body, name: 'pass', transform: null };
      expect(checker.requestErrors('POST', '/api/pipes', passThrough)).toEqual([]);
      expect((await call(f, 'POST', '/api/pipes', { body: passThrough })).status).toBe(201);
    });

    it('PUT .../secrets with {} or with both spellings: refused by both; an empty list unbinds', async () => {
      const destination = (await f.pipes.destinations.list()).data[0]!;
      const path = `/api/event-destinations/${destination.id}/secrets`;
      const template = '/api/event-destinations/{id}/secrets';
      await bothRefuse('PUT', path, template, {}, 'secretIds');
      await bothRefuse('PUT', path, template, { secretIds: [], secret_ids: [] }, 'secretIds');
      expect(checker.requestErrors('PUT', template, { secret_ids: [] })).toEqual([]);
      expect((await call(f, 'PUT', path, { body: { secret_ids: [] } })).json.secret_ids).toEqual([]);
    });

    it('an alert channel with both url and url_secret_id, or neither: refused by both', async () => {
      const secret = await f.pipes.secrets.create({ key: 'HOOK_URL', value: `${f.meta.url}/hook` });
      const base = { name: 'ops', type: 'webhook' };
      await bothRefuse(
        'POST',
        '/api/alert-channels',
        '/api/alert-channels',
        { ...base, url: `${f.meta.url}/hook`, url_secret_id: secret.id },
        'url',
      );
      await bothRefuse('POST', '/api/alert-channels', '/api/alert-channels', base, 'url');
      await bothRefuse(
        'POST',
        '/api/alert-channels',
        '/api/alert-channels',
        { ...base, url: 'ftp://hooks.example/x' },
        'url',
      );
      const one = { ...base, url_secret_id: secret.id };
      expect(checker.requestErrors('POST', '/api/alert-channels', one)).toEqual([]);
      const channel = await call(f, 'POST', '/api/alert-channels', { body: one });
      expect(channel.status).toBe(201);
      await bothRefuse(
        'PATCH',
        `/api/alert-channels/${channel.json.id}`,
        '/api/alert-channels/{id}',
        { url: `${f.meta.url}/other`, url_secret_id: secret.id },
        'url',
      );
    });

    it('a blank name (it trims to nothing): refused by both', async () => {
      await bothRefuse('POST', '/api/sources', '/api/sources', { name: '   ', slug: 'blank' }, 'name');
      await bothRefuse('POST', '/api/api-keys', '/api/api-keys', { name: ' \t', scope: 'read' }, 'name');
      expect(checker.requestErrors('POST', '/api/sources', { name: ' Web ', slug: 'blank' })).toEqual([]);
    });

    it('NUL and lone surrogates in strings: refused by both', async () => {
      await bothRefuse('POST', '/api/sources', '/api/sources', { name: 'a\u0000', slug: 'nul' }, 'name');
      await bothRefuse('POST', '/api/secrets', '/api/secrets', { key: 'K', value: 'v\u0000' }, 'value');
      // A string with a pattern of its own (a name must not be blank) still refuses them.
      await bothRefuse(
        'POST',
        '/api/pipes',
        '/api/pipes',
        { name: 'p\ud800', source_id: sourceId, destination_id: sourceId },
        'name',
      );
      await bothRefuse(
        'POST',
        '/api/event-types',
        '/api/event-types',
        { name: 'deep', schema: { a: [{ b: 'x\ud800' }] } },
        'schema.a[0].b',
      );
    });

    it("a destination's own template field is a destination, not a template request: accepted by both", async () => {
      const body = {
        name: 'own-template',
        send: metaExampleSend(f.meta.url),
        template: { name: 'x', settings: {} },
      };
      expect(checker.requestErrors('POST', '/api/event-destinations', body)).toEqual([]);
      expect((await call(f, 'POST', '/api/event-destinations', { body })).status).toBe(201);
    });

    it('ApiKeyCreated: the answer carries its token, and the document says so', async () => {
      // The test client validates the answer against `ApiKeyCreated` (it used to forbid `token`).
      const created = await call(f, 'POST', '/api/api-keys', { body: { name: 'ci', scope: 'read' } });
      expect(created.status).toBe(201);
      expect(created.json.token).toEqual(expect.any(String));
    });

    it('DestinationCreated: from a template, default_transform and required_secrets are documented', async () => {
      const created = await call(f, 'POST', '/api/event-destinations', {
        body: {
          template: 'echo',
          settings: { url: `${f.meta.url}/echo` },
          name: 'echo-1',
          max_batch_size: 7,
        },
      });
      expect(created.status).toBe(201);
      expect(created.json).toMatchObject({
        name: 'echo-1',
        max_batch_size: 7,
        default_transform: expect.any(String),
        required_secrets: [{ key: 'ECHO_TOKEN', description: expect.any(String) }],
      });
      // Fields the body leaves out keep the template's values, not the schema's defaults.
      expect(created.json.template).toEqual({ name: 'echo', settings: { url: `${f.meta.url}/echo` } });
      await bothRefuse(
        'POST',
        '/api/event-destinations',
        '/api/event-destinations',
        { template: 'echo', settings: { url: f.meta.url }, colour: 'red' },
        'colour',
      );
    });
  });
});
