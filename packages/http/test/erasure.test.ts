/** `POST /api/erasure` and `GET /api/profiles/{id}/export` over HTTP (docs/erasure.md). */
import type { Pipes, Profile } from '@openpipes/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkedFetch } from './client.js';
import { privacyKey, readKey, writeKey } from './servers.js';
import { type ServedLoginEngine, serveLoginEngine } from './sqlite-engine.js';

const email = 'Jane.Export@Shop-Erasure.test';

describe('/api/erasure and /api/profiles/{id}/export', () => {
  let engine: ServedLoginEngine;
  let pipes: Pipes;
  let base: string;

  beforeAll(async () => {
    engine = await serveLoginEngine('http-erasure');
    ({ pipes, base } = engine);
    const at = new Date().toISOString();
    await pipes.ingest('web', [
      {
        event_type: 'login',
        event_id: 'pv-jane',
        event_time: at,
        event_payload: { anonymous_id: 'anon-jane' },
      },
    ]);
    await pipes.ingest('web', [
      {
        event_type: 'login',
        event_id: 'login-jane',
        event_time: at,
        event_payload: { anonymous_id: 'anon-jane', user_id: 'u-jane', email },
      },
      { event_type: 'login', event_id: 'login-bob', event_time: at, event_payload: { user_id: 'u-bob' } },
    ]);
  });
  afterAll(async () => {
    await engine.stop();
  });

  const call = (path: string, key: { token: string } = readKey, body?: unknown) =>
    checkedFetch({ base }, path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${key.token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it('exports a person, refuses export and erasure to read and write keys, erases with a privacy key, audited without the email', async () => {
    const found = await call('/api/profiles/search', privacyKey, { identifiers: { email } });
    const [profile] = (found.json as { data: Profile[] }).data;
    expect(profile).toBeDefined();

    for (const key of [readKey, writeKey])
      expect((await call(`/api/profiles/${profile!.id}/export`, key)).status).toBe(403);
    const exported = await call(`/api/profiles/${profile!.id}/export`, privacyKey);
    expect(exported.status).toBe(200);
    const data = exported.json as {
      events: Array<{ event_id: string }>;
      identifiers: Array<{ kind: string }>;
    };
    expect(data.events.map((e) => e.event_id)).toEqual(['pv-jane', 'login-jane']);
    expect(data.identifiers.map((i) => i.kind).sort()).toEqual(['anonymous_id', 'email', 'user_id']);

    // Erasure needs the privacy scope: a read key and a write key are both refused.
    for (const key of [readKey, writeKey]) {
      const refused = await call('/api/erasure', key, { identifiers: { email } });
      expect(refused.status).toBe(403);
    }

    const erased = await call('/api/erasure', privacyKey, { identifiers: { email } });
    expect(erased.status).toBe(200);
    expect(erased.json).toMatchObject({ events: 2, deliveries: 0, compacted: true });
    expect((erased.json as { profile_ids: string[] }).profile_ids).toContain(profile!.id);

    expect((await call(`/api/profiles/${profile!.id}/export`, privacyKey)).status).toBe(404);
    const bob = await call('/api/profiles/search', privacyKey, { identifiers: { user_id: 'u-bob' } });
    expect((bob.json as { data: Profile[] }).data).toHaveLength(1);

    const audit = await call('/api/audit', readKey);
    const entry = (audit.json as { data: Array<{ action: string; actor: string | null }> }).data.find(
      (e) => e.action === 'erase',
    );
    expect(entry?.actor).toBeTruthy();
    expect(audit.text.toLowerCase()).not.toContain(email.toLowerCase());
    expect(engine.logger.lines.join('\n').toLowerCase()).not.toContain(email.toLowerCase());
  });

  it('answers zeros when nobody holds the identifiers, and refuses an empty request', async () => {
    const none = await call('/api/erasure', privacyKey, { identifiers: { user_id: 'nobody' } });
    expect(none.json).toMatchObject({ profiles: 0, events: 0 });
    const bad = await call('/api/erasure', privacyKey, { identifiers: {} });
    expect(bad.status).toBe(400);
  });

  it('a junk identifier (null, true, undefined) erases nobody: other people’s rejections and state stay', async () => {
    const web = (await pipes.sources.list()).data.find((s) => s.slug === 'web')!;
    // Bob's refused event (an unknown event type) quotes null and true, as most JSON does.
    await pipes.ingest('web', [
      {
        event_type: 'signup',
        event_id: 'signup-bob',
        event_time: new Date().toISOString(),
        event_payload: { user_id: 'u-bob', coupon: null, newsletter: true, plan: 'undefined' },
      },
    ]);
    await pipes.store.setState({
      key: 'attack:probe',
      value: { note: 'null check passed: true' },
      now: new Date().toISOString(),
    });
    const before = (await pipes.sources.rejections(web.id, {})).data.length;
    expect(before).toBeGreaterThan(0);

    const erased = await call('/api/erasure', privacyKey, {
      identifiers: { user_id: ['null', 'true'], anonymous_id: 'undefined', external_id: 'false' },
    });
    expect(erased.status).toBe(200);
    expect(erased.json).toMatchObject({ profiles: 0, events: 0, rejections: 0, state: 0 });
    expect((await pipes.sources.rejections(web.id, {})).data).toHaveLength(before);
    expect(await pipes.store.getState({ key: 'attack:probe' })).toEqual({
      note: 'null check passed: true',
    });
  });
});
