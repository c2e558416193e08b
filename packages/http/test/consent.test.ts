/**
 * A pipe's consent requirement over HTTP: set and changed through `/api/pipes`, refused with a
 * 400 that names the field when wrong, carried by config export and import, and visible on the
 * delivery records (`filter_reason`) — every answer checked against the OpenAPI document.
 */
import { waitFor } from '@openpipes/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, collect } from './client.js';
import { type Fixture, startFixture } from './servers.js';

describe('consent over HTTP', () => {
  let f: Fixture;
  let pipeId: string;

  beforeAll(async () => {
    f = await startFixture('node');
    await call(f, 'POST', '/api/sources', { body: { name: 'Web', slug: 'web' } });
    await call(f, 'POST', '/api/event-types', { body: { name: 'purchase', schema: { type: 'object' } } });
    const destination = await call(f, 'POST', '/api/event-destinations', {
      body: {
        name: 'platform',
        send: `async function send({ events }) {
          const res = await fetch(${JSON.stringify(`${f.meta.url}/events`)}, {
            method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: events }),
          });
          return res.status >= 200 && res.status < 300 ? { outcome: 'delivered' } : { outcome: 'failed' };
        }`,
      },
    });
    expect(destination.status).toBe(201);
    await call(f, 'PUT', `/api/event-destinations/${destination.json.id}/toggle`, {
      body: { enabled: true },
    });
    const source = (await call(f, 'GET', '/api/sources')).json.data[0];
    const pipe = await call(f, 'POST', '/api/pipes', {
      body: {
        name: 'to-platform',
        source_id: source.id,
        destination_id: destination.json.id,
        transform: null,
        consent: { require: ['ad_user_data'] },
      },
    });
    expect(pipe.status).toBe(201);
    expect(pipe.json.consent).toEqual({ require: ['ad_user_data'], unknown: 'deny' });
    pipeId = pipe.json.id;
    await call(f, 'PUT', `/api/pipes/${pipeId}/toggle`, { body: { enabled: true } });
  });
  afterAll(() => f.close());

  it('refuses a requirement it cannot honour with a 400 naming the field', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ require: ['marketing'] }, /consent\.require\[0\]: a purpose is ad_storage, analytics_storage/],
      [{ require: [] }, /consent\.require: name at least one purpose, or set consent to null/],
      [{ require: ['ad_storage'], unknown: 'maybe' }, /consent\.unknown/],
      [{ require: ['tcf_purpose_1'], tcf_vendor_id: 0 }, /consent\.tcf_vendor_id/],
      [{ require: ['ad_storage'], requires: ['x'] }, /requires/],
      ['GRANTED', /consent/],
    ];
    for (const [consent, message] of cases) {
      const answer = await call(f, 'PATCH', `/api/pipes/${pipeId}`, { body: { consent } });
      expect(answer.status, JSON.stringify(consent)).toBe(400);
      expect(answer.json.error.code).toBe('VALIDATION_FAILED');
      expect(answer.json.error.message).toMatch(message);
    }
    expect((await call(f, 'GET', `/api/pipes/${pipeId}`)).json.consent).toEqual({
      require: ['ad_user_data'],
      unknown: 'deny',
    });
  });

  it('records an event without the consent as filtered for consent, and sends the one with it', async () => {
    const at = new Date().toISOString();
    const answer = await collect(f, 'web', [
      {
        event_type: 'purchase',
        event_id: 'ok',
        event_time: at,
        event_payload: { consent: { ad_user_data: 'GRANTED' } },
      },
      {
        event_type: 'purchase',
        event_id: 'no',
        event_time: at,
        event_payload: { consent: { ad_user_data: 'DENIED' } },
      },
    ]);
    expect(answer.status).toBe(202);
    type Row = { event_id: string; status: string; filter_reason: string | null };
    const records = await waitFor(
      async () => {
        const rows: Row[] = (await call(f, 'GET', `/api/pipes/${pipeId}/deliveries`)).json.data;
        return rows.filter((r) => r.status === 'delivered' || r.status === 'filtered').length === 2
          ? rows
          : null;
      },
      15_000,
      'both deliveries final',
    );
    const byId = new Map(records.map((r) => [r.event_id, r]));
    expect(byId.get('ok')).toMatchObject({ status: 'delivered', filter_reason: null });
    expect(byId.get('no')).toMatchObject({ status: 'filtered', filter_reason: 'consent' });
    const filtered = await call(f, 'GET', `/api/pipes/${pipeId}/deliveries?filter_reason=consent`);
    expect(filtered.json.data.map((r: Row) => r.event_id)).toEqual(['no']);
    const sent = f.meta.requests.flatMap((r) => (r.json as { data: Array<{ event_id: string }> }).data);
    expect(sent.map((e) => e.event_id)).toEqual(['ok']);
  });

  it('documents the pipe requirement and the record field in the OpenAPI document', async () => {
    const doc = (await call(f, 'GET', '/openapi.json')).json;
    const schemas = doc.components.schemas;
    const text = JSON.stringify(schemas);
    expect(text).toContain('filter_reason');
    expect(text).toContain('tcf_vendor_id');
  });

  it('carries the requirement through config export and import', async () => {
    const exported = await call(f, 'GET', '/api/config/export');
    expect(exported.status).toBe(200);
    const pipe = exported.json.pipes.find((p: { name: string }) => p.name === 'to-platform');
    expect(pipe.consent).toEqual({ require: ['ad_user_data'], unknown: 'deny' });
    pipe.consent = { require: ['ad_user_data', 'tcf_purpose_7'], unknown: 'allow', tcf_vendor_id: 755 };
    const imported = await call(f, 'POST', '/api/config/import', { body: exported.json });
    expect(imported.status).toBe(200);
    expect((await call(f, 'GET', `/api/pipes/${pipeId}`)).json.consent).toEqual({
      require: ['ad_user_data', 'tcf_purpose_7'],
      unknown: 'allow',
      tcf_vendor_id: 755,
    });
  });
});
