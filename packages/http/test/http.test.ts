/**
 * long-file: one suite over three adapters; to be split with the typed routes (issue 13); marker until then
 *
 * The shared HTTP suite: the same behaviour through node:http, Express and Fastify, each on a real
 * server at 127.0.0.1:0 under `/openpipes`, on a real engine (SQLite file, QuickJS sandbox) with a
 * local stand-in for Meta.
 */

import {
  metaExampleSend,
  metaExampleTransform,
  metaLikeAnswer,
  purchaseEvent,
  purchaseSchema,
  waitFor,
} from '@openpipes/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Answer, call, checkAnswer, checkedFetch, collect, postUnfinished, sign } from './client.js';
import { adapters, type Fixture, prefix, readKey, startFixture } from './servers.js';
import { echoTemplate } from './templates.js';

const accessToken = 'EAAB-super-secret-access-token-7f3a9c';
const pixelId = '998877665544';
const collectToken = 'collect-bearer-token-5a1f0e9d';
const hmacKey = 'hmac-signing-key-91c2d7b3e4';
const rotatedToken = 'EAAB-rotated-secret-token-c0ffee42';

/** Events and deliveries, read through the engine and from the SQLite file. */
async function storedCounts(f: Fixture) {
  const stats = await f.pipes.deliveries.stats();
  return { engine: stats.reduce((sum, row) => sum + row.count, 0), ...(await f.stored()) };
}

function expectError(answer: Answer, status: number, code: string) {
  expect({ status: answer.status, code: answer.json?.error?.code }).toEqual({ status, code });
  expect(typeof answer.json.error.message).toBe('string');
  expect(answer.json.error.message.length).toBeGreaterThan(10);
}

describe.each(adapters)('OpenPipes HTTP through %s', (adapter) => {
  let f: Fixture;

  beforeAll(async () => {
    f = await startFixture(adapter, { templates: [echoTemplate] });
    // Collect fixtures, made through the engine: each source feeds an enabled pipe, so every
    // accepted event also creates a delivery (the destination stays disabled: nothing is sent).
    const { pipes } = f;
    await pipes.eventTypes.create({ name: 'purchase', schema: purchaseSchema });
    await pipes.eventTypes.create({ name: 'add_to_cart', schema: { type: 'object' } });
    const token = await pipes.secrets.create({ key: 'COLLECT_TOKEN', value: collectToken });
    const signing = await pipes.secrets.create({ key: 'COLLECT_HMAC_KEY', value: hmacKey });
    const sink = await pipes.destinations.create({ name: 'sink', send: metaExampleSend(f.meta.url) });
    const sources = [
      { name: 'Shop', slug: 'shop', allowed_origins: ['https://shop.example', 'https://*.brand.example'] },
      { name: 'Beacon', slug: 'beacon' },
      { name: 'Backend', slug: 'backend', auth: { type: 'bearer' as const, secret_id: token.id } },
      {
        name: 'Signed',
        slug: 'signed',
        auth: { type: 'hmac' as const, secret_id: signing.id, tolerance_seconds: 60 },
      },
    ];
    for (const input of sources) {
      const source = await pipes.sources.create(input);
      const pipe = await pipes.pipes.create({
        name: `${input.slug}-pipe`,
        source_id: source.id,
        destination_id: sink.id,
      });
      await pipes.pipes.enable(pipe.id);
    }
  });

  afterAll(async () => {
    await f?.close();
  });

  it('runs the operator flow purely over HTTP and reads the delivery record', async () => {
    const flow = await startFixture(adapter);
    try {
      flow.meta.handle(metaLikeAnswer);
      const source = await call(flow, 'POST', '/api/sources', { body: { name: 'Web', slug: 'web' } });
      expect(source.status).toBe(201);
      expect(source.json).toMatchObject({ name: 'Web', slug: 'web', enabled: true, version: 1 });
      expect(source.json.id).toMatch(/^src_/);

      const type = await call(flow, 'POST', '/api/event-types', {
        body: { name: 'purchase', schema: purchaseSchema },
      });
      expect(type.status).toBe(201);

      const token = await call(flow, 'POST', '/api/secrets', {
        body: { key: 'META_ACCESS_TOKEN', value: accessToken, description: 'Meta CAPI pixel token' },
      });
      expect(token.status).toBe(201);
      expect(token.json).toMatchObject({ key: 'META_ACCESS_TOKEN', description: 'Meta CAPI pixel token' });
      expect(token.json).not.toHaveProperty('value');
      const pixel = await call(flow, 'POST', '/api/secrets', {
        body: { key: 'META_PIXEL_ID', value: pixelId },
      });
      expect(pixel.status).toBe(201);

      const destination = await call(flow, 'POST', '/api/event-destinations', {
        body: { name: 'meta-capi-prod', send: metaExampleSend(flow.meta.url), max_batch_size: 1000 },
      });
      expect(destination.status).toBe(201);
      expect(destination.json).toMatchObject({
        name: 'meta-capi-prod',
        enabled: false,
        max_batch_size: 1000,
      });
      const dst = destination.json.id as string;

      const bound = await call(flow, 'PUT', `/api/event-destinations/${dst}/secrets`, {
        body: { secretIds: [token.json.id, pixel.json.id] },
      });
      expect(bound.status).toBe(200);
      expect(bound.json.secret_ids).toEqual([token.json.id, pixel.json.id]);

      const pipe = await call(flow, 'POST', '/api/pipes', {
        body: {
          name: 'purchase-to-meta',
          source_id: source.json.id,
          destination_id: dst,
          transform: metaExampleTransform,
        },
      });
      expect(pipe.status).toBe(201);
      expect(pipe.json.enabled).toBe(false);
      const pip = pipe.json.id as string;

      // `mpcli api PUT /api/pipes/<id>/toggle`: no body at all.
      const pipeOn = await call(flow, 'PUT', `/api/pipes/${pip}/toggle`);
      expect(pipeOn.status).toBe(200);
      expect(pipeOn.json.enabled).toBe(true);
      const destinationOn = await call(flow, 'PUT', `/api/event-destinations/${dst}/toggle`);
      expect(destinationOn.json.enabled).toBe(true);

      const collected = await collect(flow, 'web', [purchaseEvent('ord_70213')]);
      expect(collected.status).toBe(202);
      expect(collected.json).toMatchObject({
        accepted: 1,
        rejected: 0,
        results: [{ index: 0, status: 'accepted', event_id: 'ord_70213' }],
      });

      const list = await waitFor(async () => {
        const page = await call(flow, 'GET', `/api/pipes/${pip}/deliveries`, { key: readKey.token });
        return page.json.data?.[0]?.status === 'delivered' ? page : null;
      });
      expect(list.status).toBe(200);
      expect(list.json.data).toHaveLength(1);
      expect(list.json.next_cursor).toBeNull();

      const record = await call(flow, 'GET', `/api/event-deliveries/${list.json.data[0].id}`, {
        key: readKey.token,
      });
      expect(record.status).toBe(200);
      expect(record.json).toMatchObject({
        pipe_id: pip,
        event_id: 'ord_70213',
        destination: 'meta-capi-prod',
        status: 'delivered',
        request: {
          url: `${flow.meta.url}/v19.0/[secret:META_PIXEL_ID]/events`,
          payload: { data: [{ event_name: 'Purchase', event_id: 'ord_70213' }] },
        },
        response: { status: 200, body: { events_received: 1, fbtrace_id: 'AbC123xyz' } },
      });
      expect(record.json.id).toMatch(/^evd_/);
      expect(Number.isNaN(Date.parse(record.json.delivered_at))).toBe(false);
      // Meta really got the token; the record shows it redacted.
      expect(flow.meta.requests).toHaveLength(1);
      expect(record.text).not.toContain(accessToken);
      expect(record.text).not.toContain(pixelId);

      // The audit trail: the API key's name on every change.
      const versions = await call(flow, 'GET', `/api/pipes/${pip}/versions`);
      expect(versions.json.data.map((v: { version: number; actor: string }) => [v.version, v.actor])).toEqual(
        [
          [1, 'ops'],
          [2, 'ops'],
        ],
      );
      const reverted = await call(flow, 'POST', `/api/pipes/${pip}/revert`, { body: { version: 1 } });
      expect(reverted.status).toBe(200);
      expect(reverted.json).toMatchObject({ version: 3, enabled: false });
    } finally {
      await flow.close();
    }
  });

  it('passes the API key name and the x-request-id to the audit trail, and echoes the id', async () => {
    const answer = await call(f, 'POST', '/api/sources', {
      body: { name: 'Audited', slug: 'audited' },
      headers: { 'x-request-id': 'req-audit-42' },
    });
    expect(answer.status).toBe(201);
    expect(answer.headers.get('x-request-id')).toBe('req-audit-42');
    const toggled = await call(f, 'PUT', `/api/sources/${answer.json.id}/toggle`, {
      body: { enabled: false },
      headers: { 'x-request-id': 'req-audit-43' },
    });
    expect(toggled.json.enabled).toBe(false);
    const audit = await f.pipes.store.listAudit({ entityId: answer.json.id, limit: 10 });
    expect(audit.map((a) => [a.action, a.actor, a.request_id]).sort()).toEqual([
      ['create', 'ops', 'req-audit-42'],
      ['toggle', 'ops', 'req-audit-43'],
    ]);
    // No id given (or a malformed one): one is generated.
    const generated = await call(f, 'GET', '/api/sources', {
      headers: { 'x-request-id': 'bad id with spaces' },
    });
    expect(generated.headers.get('x-request-id')).toMatch(/^req_[0-9a-f-]{36}$/);
  });

  it('creates, lists with a cursor, gets, patches, versions, reverts and deletes every collection', async () => {
    const created: string[] = [];
    for (const slug of ['list-a', 'list-b', 'list-c']) {
      const answer = await call(f, 'POST', '/api/sources', { body: { name: slug, slug } });
      created.push(answer.json.id);
    }
    const first = await call(f, 'GET', '/api/sources?limit=2');
    expect(first.json.data).toHaveLength(2);
    expect(first.json.next_cursor).toEqual(expect.any(String));
    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Answer = await call(f, 'GET', `/api/sources?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      all.push(...page.json.data.map((s: { id: string }) => s.id));
      cursor = page.json.next_cursor;
    } while (cursor);
    expect(all).toEqual(expect.arrayContaining(created));
    expect(new Set(all).size).toBe(all.length);

    const id = created[0]!;
    expect((await call(f, 'GET', `/api/sources/${id}`)).json.slug).toBe('list-a');
    const patched = await call(f, 'PATCH', `/api/sources/${id}`, {
      body: { name: 'List A', allowed_origins: ['https://a.example'] },
    });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({
      name: 'List A',
      version: 2,
      allowed_origins: ['https://a.example'],
    });
    const versions = await call(f, 'GET', `/api/sources/${id}/versions`);
    expect(versions.json.data.map((v: { data: { name: string } }) => v.data.name)).toEqual([
      'list-a',
      'List A',
    ]);
    const reverted = await call(f, 'POST', `/api/sources/${id}/revert`, { body: { version: 1 } });
    expect(reverted.json).toMatchObject({ name: 'list-a', version: 3 });

    // Event types, destinations and pipes share the same routes.
    const type = await call(f, 'POST', '/api/event-types', {
      body: { name: 'lead', schema: { type: 'object' } },
    });
    expect(type.status).toBe(201);
    const typePatched = await call(f, 'PATCH', `/api/event-types/${type.json.id}`, {
      body: { description: 'A lead' },
    });
    expect(typePatched.json).toMatchObject({ name: 'lead', description: 'A lead', version: 2 });
    expect((await call(f, 'GET', `/api/event-types/${type.json.id}/versions`)).json.data).toHaveLength(2);
    const destination = await call(f, 'POST', '/api/event-destinations', {
      body: {
        name: 'crud-destination',
        send: 'async function send({ events }) { return { outcome: "delivered" }; }',
      },
    });
    expect(destination.status).toBe(201);
    const pipe = await call(f, 'POST', '/api/pipes', {
      body: { name: 'crud-pipe', source_id: id, destination_id: destination.json.id },
    });
    expect(pipe.status).toBe(201);
    expect(
      (await call(f, 'PATCH', `/api/pipes/${pipe.json.id}`, { body: { description: 'x' } })).json.version,
    ).toBe(2);
    const explicitly = await call(f, 'PUT', `/api/pipes/${pipe.json.id}/toggle`, {
      body: { enabled: false },
    });
    expect(explicitly.json.enabled).toBe(false);
    expect(
      (await call(f, 'GET', '/api/pipes?limit=1000')).json.data.map((p: { id: string }) => p.id),
    ).toContain(pipe.json.id);

    // Conflicts: a duplicate slug, and deleting a source a pipe still uses.
    expectError(
      await call(f, 'POST', '/api/sources', { body: { name: 'again', slug: 'list-a' } }),
      409,
      'CONFLICT',
    );
    expectError(await call(f, 'DELETE', `/api/sources/${id}`), 409, 'CONFLICT');
    const deleted = await call(f, 'DELETE', `/api/pipes/${pipe.json.id}`);
    expect(deleted.status).toBe(204);
    expect((await call(f, 'DELETE', `/api/sources/${id}`)).status).toBe(204);
    expectError(await call(f, 'GET', `/api/sources/${id}`), 404, 'NOT_FOUND');
    expectError(await call(f, 'DELETE', `/api/event-types/evt_nope`), 404, 'NOT_FOUND');
    expectError(
      await call(f, 'POST', `/api/sources/${created[1]}/revert`, { body: { version: 9 } }),
      404,
      'NOT_FOUND',
    );
  });

  it('answers 400 with the field paths for invalid bodies and queries', async () => {
    const bad = await call(f, 'POST', '/api/sources', {
      body: { name: '', slug: 'Not A Slug', dedup_window_seconds: -1 },
    });
    expectError(bad, 400, 'VALIDATION_FAILED');
    expect(bad.json.error.details.issues.map((i: { path: string }) => i.path).sort()).toEqual([
      'dedup_window_seconds',
      'name',
      'slug',
    ]);
    const pipe = await call(f, 'POST', '/api/pipes', {
      body: {
        name: 'broken',
        source_id: 'src_x',
        destination_id: 'dst_x',
        transform: 'function transform( {',
      },
    });
    expectError(pipe, 400, 'VALIDATION_FAILED');
    expect(pipe.json.error.details.issues.map((i: { path: string }) => i.path)).toEqual([
      'source_id',
      'destination_id',
    ]);
    const query = await call(f, 'GET', '/api/sources?limit=5000');
    expectError(query, 400, 'VALIDATION_FAILED');
    expect(query.json.error.details.issues[0].path).toBe('limit');
    const notObject = await call(f, 'POST', '/api/sources', {
      raw: '[1,2]',
      headers: { 'content-type': 'application/json' },
    });
    expectError(notObject, 400, 'VALIDATION_FAILED');
    const truncated = await call(f, 'POST', '/api/sources', {
      raw: '{"name": "Web", "slug": ',
      headers: { 'content-type': 'application/json' },
    });
    expectError(truncated, 400, 'INVALID_JSON');
    expect(truncated.json.error.details).toMatchObject({ position: 24, line: 1, column: 25 });
    const wrongType = await call(f, 'POST', '/api/sources', {
      raw: 'name=Web',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expectError(wrongType, 415, 'UNSUPPORTED_MEDIA_TYPE');
    const method = await call(f, 'PATCH', '/api/sources');
    expectError(method, 405, 'METHOD_NOT_ALLOWED');
    expect(method.headers.get('allow')).toBe('POST, GET');
    expectError(await call(f, 'GET', '/api/nothing-here'), 404, 'NOT_FOUND');
  });

  it('never returns or logs a secret value: create, list, get, rotate, versions, errors', async () => {
    const value = 'sk-live-never-shown-8c1d2e3f4a5b';
    const created = await call(f, 'POST', '/api/secrets', {
      body: { key: 'NEVER_SHOWN', value, description: 'd' },
    });
    expect(created.status).toBe(201);
    const id = created.json.id as string;
    const rotated = await call(f, 'PUT', `/api/secrets/${id}/value`, { body: { value: rotatedToken } });
    expect(rotated.status).toBe(200);
    expect(rotated.json).toMatchObject({ key: 'NEVER_SHOWN', value_version: 2 });
    const answers = [
      created,
      rotated,
      await call(f, 'GET', '/api/secrets'),
      await call(f, 'GET', `/api/secrets/${id}`),
      await call(f, 'GET', `/api/secrets/${id}/versions`),
      await call(f, 'PATCH', `/api/secrets/${id}`, { body: { description: 'rotated' } }),
      // Errors that carry the value in the request: a duplicate key, a value sent to PATCH, a bad
      // key, truncated JSON, a read-only key, and a value that is too long.
      await call(f, 'POST', '/api/secrets', { body: { key: 'NEVER_SHOWN', value } }),
      await call(f, 'PATCH', `/api/secrets/${id}`, { body: { value } }),
      await call(f, 'POST', '/api/secrets', { body: { key: value, value } }),
      await call(f, 'POST', '/api/secrets', {
        raw: `{"key":"X","value":"${value}`,
        headers: { 'content-type': 'application/json' },
      }),
      await call(f, 'PUT', `/api/secrets/${id}/value`, { body: { value }, key: readKey.token }),
      await call(f, 'PUT', `/api/secrets/${id}/value`, { body: { value: `${value}${'x'.repeat(70_000)}` } }),
    ];
    expect(answers.map((a) => a.status)).toEqual([
      201, 200, 200, 200, 200, 200, 409, 400, 400, 400, 403, 400,
    ]);
    for (const answer of answers) {
      expect(answer.text).not.toContain(value);
      expect(answer.text).not.toContain(rotatedToken);
    }
    expect(answers[7]!.json.error.message).toContain('PUT /api/secrets/{id}/value');
    const logs = f.logger.lines.join('\n');
    expect(logs).not.toContain(value);
    expect(logs).not.toContain(rotatedToken);
    expect(logs).not.toContain(collectToken);
    expect(logs).not.toContain(hmacKey);
  });

  it('creates a destination from a template and answers its default transform and required secrets', async () => {
    const templates = await call(f, 'GET', '/api/event-destination-templates', { key: readKey.token });
    expect(templates.json.data).toEqual([
      {
        name: 'echo',
        description: 'Posts events to a URL (test template)',
        settings_schema: null,
        test_mode: null,
      },
    ]);
    const answer = await call(f, 'POST', '/api/event-destinations', {
      body: { template: 'echo', settings: { url: f.meta.url }, name: 'echo-prod' },
    });
    expect(answer.status).toBe(201);
    expect(answer.json).toMatchObject({
      name: 'echo-prod',
      enabled: false,
      template: { name: 'echo', settings: { url: f.meta.url } },
      default_transform: 'function transform({ events }) { return events; }',
      required_secrets: [{ key: 'ECHO_TOKEN', description: 'Token for the echo endpoint' }],
    });
    expect((await call(f, 'GET', `/api/event-destinations/${answer.json.id}`)).json.send).toContain(
      'async function send',
    );
    const unknown = await call(f, 'POST', '/api/event-destinations', {
      body: { template: 'nope', settings: {} },
    });
    expectError(unknown, 400, 'VALIDATION_FAILED');
    expect(unknown.json.error.message).toContain('echo');
    const badSettings = await call(f, 'POST', '/api/event-destinations', {
      body: { template: 'echo', settings: {} },
    });
    expectError(badSettings, 400, 'VALIDATION_FAILED');
    expect(badSettings.json.error.details.issues[0].path).toBe('settings.url');
  });

  it('refuses admin calls without a key (401 + WWW-Authenticate), with a wrong key, and writes with a read key (403)', async () => {
    const none = await call(f, 'GET', '/api/sources', { key: null });
    expectError(none, 401, 'UNAUTHORIZED');
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="openpipes"');
    const wrong = await call(f, 'GET', '/api/sources', { key: 'op_write_0123456789abcdeX' });
    expectError(wrong, 401, 'UNAUTHORIZED');
    expect(wrong.headers.get('www-authenticate')).toContain('error="invalid_token"');
    const basic = await call(f, 'GET', '/api/sources', {
      key: null,
      headers: { authorization: 'Basic b3BzOnNlY3JldA==' },
    });
    expectError(basic, 401, 'UNAUTHORIZED');

    expect((await call(f, 'GET', '/api/sources', { key: readKey.token })).status).toBe(200);
    expect((await call(f, 'GET', '/api/stats', { key: readKey.token })).status).toBe(200);
    const before = await f.pipes.sources.list({ limit: 1000 });
    const write = await call(f, 'POST', '/api/sources', {
      key: readKey.token,
      body: { name: 'RO', slug: 'read-only' },
    });
    expectError(write, 403, 'FORBIDDEN');
    expect(write.json.error.message).toContain('dashboard');
    expectError(
      await call(f, 'PUT', `/api/sources/${before.data[0]!.id}/toggle`, { key: readKey.token }),
      403,
      'FORBIDDEN',
    );
    expect((await f.pipes.sources.list({ limit: 1000 })).data).toHaveLength(before.data.length);
  });

  it('accepts one event, an array, {"events": [...]} and a text/plain beacon, answering per event', async () => {
    const one = await collect(f, 'beacon', purchaseEvent('ord_single'));
    expect(one.status).toBe(202);
    expect(one.json).toMatchObject({ accepted: 1, duplicates: 0, rejected: 0 });
    expect(one.json.results[0]).toMatchObject({ status: 'accepted', event_id: 'ord_single' });
    expect(one.json.results[0].id).toMatch(/^evt_/);

    const array = await collect(f, 'beacon', [purchaseEvent('ord_array_1'), purchaseEvent('ord_array_2')]);
    expect(array.json).toMatchObject({ accepted: 2 });
    const wrapped = await collect(f, 'beacon', { events: [purchaseEvent('ord_wrapped')] });
    expect(wrapped.json).toMatchObject({ accepted: 1, results: [{ event_id: 'ord_wrapped' }] });
    const beacon = await collect(f, 'beacon', JSON.stringify([purchaseEvent('ord_beacon')]), {
      'content-type': 'text/plain;charset=UTF-8',
    });
    expect(beacon.status).toBe(202);

    // Mixed: accepted, duplicate and rejected side by side, each with its reason.
    const mixed = await collect(f, 'beacon', [
      purchaseEvent('ord_mixed'),
      purchaseEvent('ord_single'),
      purchaseEvent('ord_bad', { currency: 'euro' }),
      { event_type: 'refund', event_time: new Date().toISOString(), event_payload: {} },
    ]);
    expect(mixed.status).toBe(202);
    expect(mixed.json.results.map((r: { status: string }) => r.status)).toEqual([
      'accepted',
      'duplicate',
      'rejected',
      'rejected',
    ]);
    expect(mixed.json.results[2].error).toMatchObject({
      code: 'VALIDATION_FAILED',
      issues: [{ path: 'event_payload.currency' }],
    });
    expect(mixed.json.results[3].error.code).toBe('UNKNOWN_EVENT_TYPE');

    // Only duplicates: nothing new, nothing wrong.
    const again = await collect(f, 'beacon', [purchaseEvent('ord_single')]);
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ accepted: 0, duplicates: 1 });

    // Everything rejected: a 400 whose details hold the per-event results.
    const before = await storedCounts(f);
    const rejected = await collect(f, 'beacon', [
      { event_type: 'purchase', event_time: 'yesterday', event_payload: {} },
    ]);
    expectError(rejected, 400, 'VALIDATION_FAILED');
    expect(rejected.json.error.details.results[0].error.issues[0].path).toBe('event_time');
    expect(await storedCounts(f)).toEqual(before);
  });

  describe('refuses bad collect input with a clear 4xx and stores nothing', () => {
    const refusals: Array<[string, () => Promise<Answer>, number, string]> = [
      [
        'truncated JSON',
        () => collect(f, 'shop', '[{"event_type": "purchase", "event_ti'),
        400,
        'INVALID_JSON',
      ],
      [
        'a wrong content type',
        () => collect(f, 'shop', JSON.stringify(purchaseEvent('x')), { 'content-type': 'application/xml' }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      ],
      [
        'no content type',
        () =>
          checkedFetch(f, '/collect/shop', {
            method: 'POST',
            body: new Blob([JSON.stringify(purchaseEvent('x'))]),
          }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      ],
      [
        'a 2 MiB body',
        () =>
          collect(f, 'shop', JSON.stringify([purchaseEvent('big', { pad: 'x'.repeat(2 * 1024 * 1024) })])),
        413,
        'PAYLOAD_TOO_LARGE',
      ],
      [
        '10k events in one request',
        () =>
          collect(
            f,
            'shop',
            Array.from({ length: 10_000 }, (_, i) => ({
              event_type: 'add_to_cart',
              event_time: 1714816462,
              event_payload: { i },
            })),
          ),
        413,
        'TOO_MANY_EVENTS',
      ],
      [
        'deep nesting',
        () =>
          collect(
            f,
            'shop',
            `[{"event_type":"add_to_cart","event_time":1714816462,"event_payload":{"a":${'['.repeat(40)}${']'.repeat(40)}}}]`,
          ),
        400,
        'NESTING_TOO_DEEP',
      ],
      [
        'a raw NUL byte',
        () => collect(f, 'shop', `[{"event_type":"add_to_cart\u0000"}]`),
        400,
        'INVALID_JSON',
      ],
      [
        'an escaped NUL character',
        () => collect(f, 'shop', purchaseEvent('nul', { hashed_email: 'ab\u0000cd' })),
        400,
        'VALIDATION_FAILED',
      ],
      ['an unknown source', () => collect(f, 'no-such-source', purchaseEvent('x')), 404, 'UNKNOWN_SOURCE'],
      ['a body that is not an event', () => collect(f, 'shop', '"just a string"'), 400, 'VALIDATION_FAILED'],
      ['an empty array', () => collect(f, 'shop', '[]'), 400, 'VALIDATION_FAILED'],
      [
        'invalid UTF-8',
        () => collect(f, 'shop', new Uint8Array([0x5b, 0xff, 0xfe, 0x5d])),
        400,
        'INVALID_JSON',
      ],
      ['a missing bearer token', () => collect(f, 'backend', purchaseEvent('x')), 401, 'UNAUTHORIZED'],
      [
        'a wrong bearer token',
        () => collect(f, 'backend', purchaseEvent('x'), { authorization: `Bearer ${collectToken}x` }),
        401,
        'UNAUTHORIZED',
      ],
      ['a missing signature', () => collect(f, 'signed', purchaseEvent('x')), 401, 'UNAUTHORIZED'],
      [
        'a wrong HMAC',
        () => {
          const body = JSON.stringify(purchaseEvent('x'));
          return collect(f, 'signed', body, sign(`${hmacKey}-wrong`, body));
        },
        401,
        'UNAUTHORIZED',
      ],
      [
        'an HMAC over another body',
        () => collect(f, 'signed', purchaseEvent('x'), sign(hmacKey, JSON.stringify(purchaseEvent('y')))),
        401,
        'UNAUTHORIZED',
      ],
      [
        'a stale timestamp',
        () => {
          const body = JSON.stringify(purchaseEvent('x'));
          return collect(f, 'signed', body, sign(hmacKey, body, Math.floor(Date.now() / 1000) - 600));
        },
        401,
        'UNAUTHORIZED',
      ],
      [
        'an origin the source does not allow',
        () => collect(f, 'shop', purchaseEvent('x'), { origin: 'https://evil.example' }),
        403,
        'FORBIDDEN',
      ],
      [
        'a browser origin on a token source with no allowed origins',
        () =>
          collect(f, 'backend', purchaseEvent('x'), {
            origin: 'https://shop.example',
            authorization: `Bearer ${collectToken}`,
          }),
        403,
        'FORBIDDEN',
      ],
    ];

    it.each(refusals)('%s', async (_name, send, status, code) => {
      const before = await storedCounts(f);
      const answer = await send();
      expectError(answer, status, code);
      expect(await storedCounts(f)).toEqual(before);
    });

    it('tells where truncated JSON broke', async () => {
      const answer = await collect(f, 'shop', '[{"event_type": "purchase",\n "event_ti');
      expect(answer.json.error.details).toMatchObject({ line: 2, column: 11, position: 38 });
      expect(answer.json.error.message).toContain('line 2, column 11');
    });

    it('refuses a body over the limit while it is still arriving (never buffered whole)', async () => {
      const before = await storedCounts(f);
      const answer = await checkAnswer(
        f,
        'POST',
        '/collect/shop',
        await postUnfinished(`${f.base}/collect/shop`, Buffer.alloc(1536 * 1024, 0x20)),
      );
      expectError(answer, 413, 'PAYLOAD_TOO_LARGE');
      expect(await storedCounts(f)).toEqual(before);
    });

    it('answers 401 with a challenge naming the scheme', async () => {
      expect((await collect(f, 'backend', purchaseEvent('x'))).headers.get('www-authenticate')).toBe(
        'Bearer realm="openpipes-collect"',
      );
      expect((await collect(f, 'signed', purchaseEvent('x'))).headers.get('www-authenticate')).toContain(
        'HMAC',
      );
    });
  });

  it('names the count and the limit in its 413 TOO_MANY_EVENTS', async () => {
    const events = Array.from({ length: 1001 }, (_, i) => ({
      event_type: 'add_to_cart',
      event_time: 1714816462,
      event_payload: { i },
    }));
    const answer = await collect(f, 'shop', events);
    expectError(answer, 413, 'TOO_MANY_EVENTS');
    expect(answer.json.error).toMatchObject({
      message: '1001 events in one request; at most 1000 are accepted',
      details: { max_events: 1000, events: 1001 },
    });
  });

  it('accepts a bearer token source with the right token', async () => {
    const answer = await collect(f, 'backend', [purchaseEvent('ord_bearer')], {
      authorization: `Bearer ${collectToken}`,
    });
    expect(answer.status).toBe(202);
    expect(answer.json.accepted).toBe(1);
  });

  it('accepts a signed request once, and refuses it replayed', async () => {
    const body = JSON.stringify([purchaseEvent('ord_signed')]);
    const headers = sign(hmacKey, body);
    const first = await collect(f, 'signed', body, headers);
    expect(first.status).toBe(202);
    const before = await storedCounts(f);
    const replay = await collect(f, 'signed', body, headers);
    expectError(replay, 401, 'UNAUTHORIZED');
    expect(replay.json.error.message).toContain('already used');
    expect(await storedCounts(f)).toEqual(before);
    // Re-signed with a new timestamp, the same event is a duplicate, not an error.
    const resigned = await collect(f, 'signed', body, sign(hmacKey, body, Math.floor(Date.now() / 1000) + 1));
    expect(resigned.status).toBe(200);
    expect(resigned.json.duplicates).toBe(1);
  });

  it('answers CORS preflights for allowed origins and refuses the others', async () => {
    const preflight = (slug: string, origin: string) =>
      checkedFetch(f, `/collect/${slug}`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      });
    const allowed = await preflight('shop', 'https://shop.example');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(allowed.headers.get('access-control-allow-methods')).toContain('POST');
    expect(allowed.headers.get('access-control-allow-headers')).toContain('content-type');
    expect(allowed.headers.get('vary')).toContain('Origin');
    const wildcard = await preflight('shop', 'https://eu.brand.example');
    expect(wildcard.headers.get('access-control-allow-origin')).toBe('https://eu.brand.example');
    const refused = await preflight('shop', 'https://evil.example');
    expect(refused.status).toBe(403);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    // A public beacon source with no list: any origin.
    expect((await preflight('beacon', 'https://anyone.example')).status).toBe(204);
    expect((await preflight('no-such-source', 'https://shop.example')).status).toBe(404);

    const sent = await collect(f, 'shop', [purchaseEvent('ord_cors')], { origin: 'https://shop.example' });
    expect(sent.status).toBe(202);
    expect(sent.headers.get('access-control-allow-origin')).toBe('https://shop.example');
    expect(sent.headers.get('access-control-expose-headers')).toContain('x-request-id');
  });

  it('lists deliveries with filters, replays them, and shows the buffer depth', async () => {
    const pipe = await f.pipes.pipes.findByName('beacon-pipe');
    await collect(f, 'beacon', [purchaseEvent('ord_filter_1'), purchaseEvent('ord_filter_2')]);
    const byEvent = await call(f, 'GET', `/api/pipes/${pipe!.id}/deliveries?event_id=ord_filter_2`);
    expect(byEvent.json.data.map((d: { event_id: string }) => d.event_id)).toEqual(['ord_filter_2']);
    const pending = await call(f, 'GET', `/api/pipes/${pipe!.id}/deliveries?status=pending,retrying&limit=1`);
    expect(pending.json.data).toHaveLength(1);
    expect(pending.json.next_cursor).toEqual(expect.any(String));
    const next = await call(
      f,
      'GET',
      `/api/pipes/${pipe!.id}/deliveries?status=pending&limit=1&cursor=${pending.json.next_cursor}`,
    );
    expect(next.json.data[0].id).not.toBe(pending.json.data[0].id);
    const future = await call(f, 'GET', `/api/pipes/${pipe!.id}/deliveries?since=2999-01-01T00:00:00Z`);
    expect(future.json.data).toEqual([]);
    expectError(
      await call(f, 'GET', `/api/pipes/${pipe!.id}/deliveries?status=lost`),
      400,
      'VALIDATION_FAILED',
    );
    expectError(
      await call(f, 'GET', `/api/pipes/${pipe!.id}/deliveries?since=yesterday`),
      400,
      'VALIDATION_FAILED',
    );
    expectError(await call(f, 'GET', '/api/pipes/pip_nope/deliveries'), 404, 'NOT_FOUND');
    expectError(await call(f, 'GET', '/api/event-deliveries/evd_nope'), 404, 'NOT_FOUND');

    const replay = await call(f, 'POST', `/api/pipes/${pipe!.id}/replay`, {
      body: { statuses: ['failed'], dry_run: true },
    });
    expect(replay.status).toBe(200);
    expect(replay.json).toMatchObject({ dry_run: true, count: 0, ids: [] });
    expectError(
      await call(f, 'POST', `/api/pipes/${pipe!.id}/replay`, { body: { statuses: ['nope'] } }),
      400,
      'VALIDATION_FAILED',
    );

    const stats = await call(f, 'GET', '/api/stats');
    const row = stats.json.deliveries.find(
      (r: { pipe_id: string; status: string }) => r.pipe_id === pipe!.id && r.status === 'pending',
    );
    expect(row.count).toBeGreaterThanOrEqual(2);
    expect(stats.json.engine.running).toBe(true);

    // The backlog by destination, from the index of live deliveries: the same pending ones.
    const backlog = await call(f, 'GET', '/api/backlog');
    expect(backlog.status).toBe(200);
    const live = backlog.json.data.find(
      (r: { destination_id: string }) => r.destination_id === pipe!.destination_id,
    );
    expect(live.count).toBeGreaterThanOrEqual(row.count);
  });

  it('serves an OpenAPI 3.1 document generated from the validation schemas', async () => {
    const answer = await call(f, 'GET', '/openapi.json', { key: null });
    expect(answer.status).toBe(200);
    const doc = answer.json;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers).toEqual([{ url: prefix }]);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/collect/{slug}',
        '/api/sources',
        '/api/sources/{id}',
        '/api/event-types/{id}/versions',
        '/api/secrets/{id}/value',
        '/api/event-destinations/{id}/secrets',
        '/api/event-destinations/{id}/toggle',
        '/api/pipes/{id}/toggle',
        '/api/pipes/{id}/revert',
        '/api/pipes/{id}/deliveries',
        '/api/pipes/{id}/replay',
        '/api/event-deliveries/{id}',
        '/api/stats',
        '/healthz',
      ]),
    );
    const source = doc.components.schemas.SourceInput;
    expect(source.required).toEqual(['name', 'slug']);
    expect(source.properties.slug.pattern).toBe('^[a-z0-9][a-z0-9_-]*$');
    expect(doc.components.schemas.Secret.properties).not.toHaveProperty('value');
    expect(doc.components.schemas.SecretInput.required).toContain('value');
    expect(doc.components.schemas.Delivery.required).toEqual(
      expect.arrayContaining(['pipe_id', 'event_id', 'delivered_at']),
    );
    expect(doc.paths['/api/sources'].post.security).toEqual([{ apiKey: [] }]);
    expect(doc.paths['/collect/{slug}'].post.requestBody.content).toHaveProperty('text/plain');
    const operationIds = Object.values(doc.paths).flatMap((item) =>
      Object.values(item as Record<string, { operationId: string }>).map((op) => op.operationId),
    );
    expect(new Set(operationIds).size).toBe(operationIds.length);
    expect(operationIds.every((id) => /^[a-z]+[A-Za-z0-9]*$/.test(id))).toBe(true);
    const statusParam = doc.paths['/api/pipes/{id}/deliveries'].get.parameters.find(
      (p: { name: string }) => p.name === 'status',
    );
    expect(statusParam.description).toContain('pending');
  });

  it('answers /healthz, and leaves the host application its own routes', async () => {
    const health = await call(f, 'GET', '/healthz', { key: null });
    expect(health.status).toBe(200);
    expect(health.json).toEqual({ status: 'ok', running: true });
    const head = await checkedFetch(f, '/healthz', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    const host = await fetch(`${f.origin}/host-route`);
    expect(await host.json()).toEqual({ host: true });
    expectError(await call(f, 'GET', '/not-a-route'), 404, 'NOT_FOUND');
  });

  it('creates an API key in the database, serves requests with it, and refuses it once revoked', async () => {
    const created = await call(f, 'POST', '/api/api-keys', { body: { name: 'ci-reader', scope: 'read' } });
    expect(created.status).toBe(201);
    const { token, id } = created.json as { token: string; id: string };
    expect(token).toMatch(/^opk_/);
    const listed = await call(f, 'GET', '/api/api-keys');
    expect(listed.json.data.map((k: { name: string }) => k.name)).toContain('ci-reader');
    expect(listed.text).not.toContain(token);
    expect((await call(f, 'GET', `/api/api-keys/${id}`)).text).not.toContain(token);
    expect((await call(f, 'GET', '/api/sources', { key: token })).status).toBe(200);
    const write = await call(f, 'POST', '/api/sources', {
      key: token,
      body: { name: 'No', slug: 'no-write' },
    });
    expectError(write, 403, 'FORBIDDEN');
    expect(write.json.error.message).toContain('ci-reader');
    const revoked = await call(f, 'DELETE', `/api/api-keys/${id}`);
    expect(revoked.status).toBe(200);
    expect(revoked.json.revoked_at).toEqual(expect.any(String));
    expectError(await call(f, 'GET', '/api/sources', { key: token }), 401, 'UNAUTHORIZED');
    expectError(
      await call(f, 'POST', '/api/api-keys', { body: { name: 'x', scope: 'admin' } }),
      400,
      'VALIDATION_FAILED',
    );
  });

  it('reads the audit trail with filters and a cursor', async () => {
    const source = await call(f, 'POST', '/api/sources', { body: { name: 'Trail', slug: 'trail' } });
    await call(f, 'PATCH', `/api/sources/${source.json.id}`, { body: { name: 'Trail 2' } });
    await call(f, 'PUT', `/api/sources/${source.json.id}/toggle`);
    const page = await call(f, 'GET', `/api/audit?entity_id=${source.json.id}&actor=ops&limit=2`, {
      key: readKey.token,
    });
    expect(page.status).toBe(200);
    expect(page.json.data.map((e: { action: string }) => e.action)).toEqual(['toggle', 'update']);
    const rest = await call(
      f,
      'GET',
      `/api/audit?entity_id=${source.json.id}&cursor=${page.json.next_cursor}`,
    );
    expect(rest.json.data.map((e: { action: string }) => e.action)).toEqual(['create']);
    expect(rest.json.next_cursor).toBeNull();
    expectError(await call(f, 'GET', '/api/audit?since=yesterday'), 400, 'VALIDATION_FAILED');
  });

  it('manages an alert channel without ever showing its URL, and tests it', async () => {
    const url = `${f.meta.url}/hooks/slack/T000-secret-path`;
    const created = await call(f, 'POST', '/api/alert-channels', {
      body: { name: 'ops-slack', type: 'slack', url },
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ name: 'ops-slack', type: 'slack', enabled: true });
    const id = created.json.id as string;
    const tested = await call(f, 'POST', `/api/alert-channels/${id}/test`);
    expect(tested.status).toBe(200);
    expect(tested.json).toMatchObject({ ok: true, status: 200 });
    expect(f.meta.requests.some((r) => r.url === '/hooks/slack/T000-secret-path')).toBe(true);
    const toggled = await call(f, 'PUT', `/api/alert-channels/${id}/toggle`);
    expect(toggled.json.enabled).toBe(false);
    const answers = [
      created,
      tested,
      toggled,
      await call(f, 'GET', '/api/alert-channels'),
      await call(f, 'GET', `/api/alert-channels/${id}/versions`),
      await call(f, 'PATCH', `/api/alert-channels/${id}`, {
        body: { url: `${url}-rotated`, cooldown_seconds: -5 },
      }),
      await call(f, 'POST', '/api/alert-channels', { body: { name: 'ops-slack', type: 'slack', url } }),
    ];
    expect(answers.map((a) => a.status)).toEqual([201, 200, 200, 200, 200, 400, 409]);
    for (const answer of answers) expect(answer.text).not.toContain('T000-secret-path');
    expect(f.logger.lines.join('\n')).not.toContain('T000-secret-path');
    expect((await call(f, 'DELETE', `/api/alert-channels/${id}`)).status).toBe(204);
  });

  it('rotates a secret value with PUT /api/secrets/:id/value and refuses a missing value', async () => {
    const secret = await call(f, 'POST', '/api/secrets', { body: { key: 'ROTATE_ME', value: accessToken } });
    expect(secret.json.value_version).toBe(1);
    const rotated = await call(f, 'PUT', `/api/secrets/${secret.json.id}/value`, {
      body: { value: rotatedToken },
    });
    expect(rotated.json).toMatchObject({ id: secret.json.id, value_version: 2 });
    expectError(
      await call(f, 'PUT', `/api/secrets/${secret.json.id}/value`, { body: {} }),
      400,
      'VALIDATION_FAILED',
    );
    expectError(
      await call(f, 'PUT', '/api/secrets/sec_nope/value', { body: { value: 'abcdef' } }),
      404,
      'NOT_FOUND',
    );
    expect((await f.pipes.secrets.get(secret.json.id)).value_version).toBe(2);
  });
});
