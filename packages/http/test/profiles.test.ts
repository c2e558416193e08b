/** `/api/profiles` over HTTP: search by a raw identifier or its digest, read one, refuse bad input. */
import { createHash } from 'node:crypto';
import type { Pipes, Profile } from '@openpipes/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkedFetch } from './client.js';
import { privacyKey, readKey, writeKey } from './servers.js';
import { type ServedLoginEngine, serveLoginEngine } from './sqlite-engine.js';

const email = 'Jane.Doe@Shop-Profiles.test';
const digest = createHash('sha256').update(email.toLowerCase()).digest('hex');

describe('/api/profiles', () => {
  let engine: ServedLoginEngine;
  let pipes: Pipes;
  let base: string;

  beforeAll(async () => {
    engine = await serveLoginEngine('http-profiles');
    ({ pipes, base } = engine);
    const at = new Date().toISOString();
    await pipes.ingest('web', [
      { event_type: 'login', event_time: at, event_payload: { anonymous_id: 'anon-1' } },
    ]);
    await pipes.ingest('web', [
      { event_type: 'login', event_time: at, event_payload: { user_id: 'u-1', email } },
    ]);
    await pipes.ingest('web', [
      { event_type: 'login', event_time: at, event_payload: { user_id: 'u-1', anonymous_id: 'anon-1' } },
    ]);
  });
  afterAll(async () => {
    await engine.stop();
  });

  const search = (body: unknown, key: { token: string } = privacyKey) =>
    checkedFetch({ base }, '/api/profiles/search', {
      method: 'POST',
      headers: { authorization: `Bearer ${key.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('finds a profile by a raw email or its digest, shows digests only, and the merged id answers the survivor', async () => {
    const byRaw = await search({ identifiers: { email } });
    expect(byRaw.status).toBe(200);
    const [profile] = (byRaw.json as { data: Profile[] }).data;
    expect(profile?.identifiers.map((i) => i.kind).sort()).toEqual(['anonymous_id', 'email', 'user_id']);
    expect(profile?.identifiers.find((i) => i.kind === 'email')?.value).toMatchObject({ sha256: digest });
    expect(byRaw.text).not.toContain(email);
    expect(byRaw.text.toLowerCase()).not.toContain(email.toLowerCase());

    const byDigest = await search({ identifiers: { email: digest.toUpperCase() } });
    expect((byDigest.json as { data: Profile[] }).data.map((p) => p.id)).toEqual([profile?.id]);

    const merged = profile?.merged[0]?.id;
    expect(merged).toBeDefined();
    const one = await checkedFetch({ base }, `/api/profiles/${merged}`, {
      headers: { authorization: `Bearer ${privacyKey.token}` },
    });
    expect(one.status).toBe(200);
    expect((one.json as Profile).id).toBe(profile?.id);
    expect(engine.logger.lines.join('\n')).not.toContain(email);
  });

  it('refuses read and write keys with 403: profiles are personal data (the privacy scope)', async () => {
    for (const key of [readKey, writeKey]) {
      const found = await search({ identifiers: { email } }, key);
      expect(found.status).toBe(403);
      expect((found.json as { error: { code: string; message: string } }).error).toMatchObject({
        code: 'FORBIDDEN',
        message: expect.stringContaining('privacy scope'),
      });
      expect(found.text).not.toContain(email);
      const one = await checkedFetch({ base }, '/api/profiles/prf_01KQS6WB82ADCZH8C0DH3F9MJ5', {
        headers: { authorization: `Bearer ${key.token}` },
      });
      expect(one.status).toBe(403);
    }
  });

  it('answers nothing found with an empty list, and 404 for an unknown id', async () => {
    const none = await search({ identifiers: { user_id: 'nobody' } });
    expect(none.json).toEqual({ data: [] });
    const missing = await checkedFetch({ base }, '/api/profiles/prf_01KQS6WB82ADCZH8C0DH3F9MJ5', {
      headers: { authorization: `Bearer ${privacyKey.token}` },
    });
    expect(missing.status).toBe(404);
    expect((missing.json as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });

  it.each([
    ['no identifiers', { identifiers: {} }],
    ['an unknown kind', { identifiers: { shoe_size: '42' } }],
    ['a value too long', { identifiers: { email: 'x'.repeat(600) } }],
    ['too many values', { identifiers: { user_id: Array.from({ length: 21 }, (_, i) => `u${i}`) } }],
    ['a field beside identifiers', { identifiers: { user_id: 'u-1' }, extra: true }],
    ['not an object', ['u-1']],
  ])('refuses %s with VALIDATION_FAILED', async (_, body) => {
    const answer = await search(body);
    expect(answer.status).toBe(400);
    expect((answer.json as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');
  });

  it('needs an API key', async () => {
    const answer = await checkedFetch({ base }, '/api/profiles/search', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ identifiers: { email } }),
    });
    expect(answer.status).toBe(401);
  });
});
