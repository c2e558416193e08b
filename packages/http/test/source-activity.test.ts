/**
 * A source's recent events and rejections over real HTTP, on both stores: what collect accepted
 * comes back from `GET /api/sources/{id}/events`, what it refused (per event, or the whole body)
 * from `GET /api/sources/{id}/rejections` with the errors the collect answer gave, newest first,
 * paged, with a huge event cut to the log's limit. Read scope suffices; bad queries are 400s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, collect } from './client.js';
import { type Fixture, readKey, type StoreName, startFixture } from './servers.js';

const stores: StoreName[] = ['sqlite', 'postgres'];
const now = () => new Date().toISOString();

describe.each(stores)("a source's events and rejections over HTTP, on %s", (store) => {
  let f: Fixture;
  let sourceId: string;
  const read = { key: readKey.token };

  beforeAll(async () => {
    f = await startFixture('node', {}, { store });
    const source = await call(f, 'POST', '/api/sources', { body: { name: 'Web', slug: 'web' } });
    sourceId = source.json.id;
    await call(f, 'POST', '/api/event-types', {
      body: {
        name: 'purchase',
        schema: { type: 'object', required: ['value'], properties: { value: { type: 'number' } } },
      },
    });
  });
  afterAll(async () => {
    await f?.close();
  });

  it('lists what collect accepted and what it refused, newest first, with the errors it answered', async () => {
    const good = { event_type: 'purchase', event_time: now(), event_payload: { value: 12 } };
    const bad = { event_type: 'purchase', event_time: now(), event_payload: { value: 'twelve' } };
    const answer = await collect(f, 'web', [good, bad]);
    expect(answer.status).toBe(202);
    const refused = answer.json.results[1];
    expect(refused.status).toBe('rejected');
    const notJson = await collect(f, 'web', '{"event_type": purchase');
    expect(notJson.status).toBe(400);

    const events = await call(f, 'GET', `/api/sources/${sourceId}/events`, read);
    expect(events.status).toBe(200);
    expect(events.json.data).toHaveLength(1);
    expect(events.json.data[0]).toMatchObject({ source_id: sourceId, event_payload: { value: 12 } });
    expect(events.json.data[0].id).toBe(answer.json.results[0].id);

    const rejections = await call(f, 'GET', `/api/sources/${sourceId}/rejections`, read);
    expect(rejections.status).toBe(200);
    const [whole, perEvent] = rejections.json.data;
    expect(whole).toMatchObject({
      source_id: sourceId,
      error: { code: notJson.json.error.code, message: notJson.json.error.message },
      event: '{"event_type": purchase',
      truncated: false,
    });
    expect(perEvent).toMatchObject({ error: refused.error, truncated: false });
    expect(JSON.parse(perEvent.event)).toEqual(bad);
  });

  it('pages with next_cursor and cuts a huge event to 4 KB', async () => {
    const huge = { event_type: 'purchase', event_time: now(), event_payload: { value: 'x'.repeat(300_000) } };
    expect((await collect(f, 'web', huge)).status).toBe(400);
    const first = await call(f, 'GET', `/api/sources/${sourceId}/rejections?limit=1`, read);
    expect(first.json.data[0].truncated).toBe(true);
    expect(Buffer.byteLength(first.json.data[0].event)).toBeLessThanOrEqual(4096);
    expect(first.json.next_cursor).toBe(first.json.data[0].id);
    const next = await call(
      f,
      'GET',
      `/api/sources/${sourceId}/rejections?limit=1&cursor=${first.json.next_cursor}`,
      read,
    );
    expect(next.json.data).toHaveLength(1);
    expect(next.json.data[0].id < first.json.data[0].id).toBe(true);
  });

  it('answers hostile bodies with 400 and logs each within its bounds', async () => {
    const before = (await call(f, 'GET', `/api/sources/${sourceId}/rejections?limit=100`, read)).json.data
      .length;
    const fields: Record<string, unknown> = { event_type: 'purchase', event_time: now(), event_payload: {} };
    for (let i = 0; i < 30; i++) fields[`${'\u0001'.repeat(500)}${i}`] = 1;
    const bodies: Array<string | Uint8Array> = [
      new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), // {"\xff\xfe":1}: not UTF-8
      '{"event_type":"purchase","event_time":"2026-01-01T00:00:00Z","event_payload":{"a":"\\u0000"}}',
      '{"event_type":"purchase","event_time":"2026-01-01T00:00:00Z","event_payload":{"a":"\\ud800"}}',
      `${'['.repeat(5000)}${']'.repeat(5000)}`,
      JSON.stringify(fields),
    ];
    const codes: string[] = [];
    for (const body of bodies) {
      const answer = await collect(f, 'web', body);
      expect(answer.status).toBe(400);
      codes.push(answer.json.error.code);
    }
    const log = await call(f, 'GET', `/api/sources/${sourceId}/rejections?limit=100`, read);
    expect(log.json.data.length - before).toBe(bodies.length);
    const newest = log.json.data.slice(0, bodies.length);
    expect(newest.map((e: { error: { code: string } }) => e.error.code)).toEqual(codes.reverse());
    for (const entry of newest) {
      expect(Buffer.byteLength(JSON.stringify(entry.error), 'utf8')).toBeLessThanOrEqual(4096);
      expect(Buffer.byteLength(entry.event, 'utf8')).toBeLessThanOrEqual(4096);
      expect(entry.event).not.toContain('\u0000');
    }
  });

  it('answers at most 100 issues however many unknown fields a body or an event holds', async () => {
    const wrapper: Record<string, unknown> = { events: [] };
    const event: Record<string, unknown> = { event_type: 'purchase', event_time: now(), event_payload: {} };
    for (let i = 0; i < 3000; i++) {
      wrapper[`w${i}`] = 1;
      event[`e${i}`] = 1;
    }
    const whole = await collect(f, 'web', wrapper);
    expect(whole.status).toBe(400);
    expect(whole.json.error.details.issues).toHaveLength(100);
    const perEvent = await collect(f, 'web', [event]);
    expect(perEvent.status).toBe(400);
    const [refused] = perEvent.json.error.details.results;
    expect(refused.error.issues).toHaveLength(100);
    expect(refused.error.message).toContain('(and 2997 more)');
  });

  it('refuses a bad limit, a cursor of another kind, an unknown source and no key', async () => {
    const base = `/api/sources/${sourceId}`;
    expect((await call(f, 'GET', `${base}/events?limit=0`, read)).status).toBe(400);
    expect((await call(f, 'GET', `${base}/events?cursor=${sourceId}`, read)).status).toBe(400);
    expect((await call(f, 'GET', `${base}/rejections?cursor=evt_nope`, read)).status).toBe(400);
    expect((await call(f, 'GET', `${base}/rejections?since=1`, read)).status).toBe(400);
    const missing = '/api/sources/src_01ARZ3NDEKTSV4RRFFQ69G5FAV/events';
    expect((await call(f, 'GET', missing, read)).status).toBe(404);
    expect((await call(f, 'GET', `${base}/rejections`, { key: null })).status).toBe(401);
  });
});
