/**
 * Sources' write keys over the REST API (issue 18), on a real server (port 0) and a real SQLite file:
 * several per source, shown once, listed by prefix, revoked by id or prefix, audited, and never
 * stored or echoed whole. Every answer is checked against the OpenAPI document.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from './client.js';
import { type Fixture, startFixture } from './servers.js';

describe('write keys', () => {
  let f: Fixture;
  let sourceId: string;

  beforeAll(async () => {
    f = await startFixture('node');
    sourceId = (await f.pipes.sources.create({ name: 'Web', slug: 'web' })).id;
  });
  afterAll(async () => {
    await f?.close();
  });

  it('creates several keys, lists prefixes only, revokes by prefix and by id, and audits each change', async () => {
    const first = await call(f, 'POST', `/api/sources/${sourceId}/write-key`);
    const second = await call(f, 'POST', `/api/sources/${sourceId}/write-key`);
    expect(first.status, first.text).toBe(201);
    expect(second.status).toBe(201);
    const keyA: string = first.json.write_key;
    const keyB: string = second.json.write_key;
    expect(keyA).toMatch(/^opw_[A-Za-z0-9_-]{43}$/);
    expect(keyB).not.toBe(keyA);
    expect(first.json.prefix).toBe(keyA.slice(0, 12));

    // Both work at once.
    expect(await f.pipes.writeKeys.verify(keyA)).toEqual({ id: first.json.id, source_id: sourceId });
    expect(await f.pipes.writeKeys.verify(keyB)).toEqual({ id: second.json.id, source_id: sourceId });

    const listed = await call(f, 'GET', `/api/sources/${sourceId}/write-keys`);
    expect(listed.status).toBe(200);
    expect(listed.json.data.map((k: { prefix: string }) => k.prefix)).toEqual([
      first.json.prefix,
      second.json.prefix,
    ]);
    expect(listed.text).not.toContain(keyA);
    expect(listed.text).not.toContain(keyB);

    const byPrefix = await call(f, 'DELETE', `/api/sources/${sourceId}/write-keys/${first.json.prefix}`);
    expect(byPrefix.status, byPrefix.text).toBe(200);
    expect(byPrefix.json.revoked_at).toEqual(expect.any(String));
    expect(await f.pipes.writeKeys.verify(keyA)).toBeNull();
    expect(await f.pipes.writeKeys.verify(keyB)).not.toBeNull();
    // Idempotent.
    expect((await call(f, 'DELETE', `/api/sources/${sourceId}/write-keys/${first.json.id}`)).status).toBe(
      200,
    );

    const byId = await call(f, 'DELETE', `/api/sources/${sourceId}/write-keys/${second.json.id}`);
    expect(byId.status).toBe(200);
    expect(await f.pipes.writeKeys.verify(keyB)).toBeNull();

    const audit = await f.pipes.audit.list({ entity_kind: 'write_key' });
    expect(audit.data.map((e) => e.action).sort()).toEqual(['create', 'create', 'revoke', 'revoke']);
    expect(audit.data.every((e) => e.actor === 'ops')).toBe(true);

    // Neither the key nor its digest is in what the store keeps as data, versions or audit.
    const stored = JSON.stringify([
      await f.pipes.store.listEntities({ kind: 'write_key', limit: 100 }).then((rs) => rs.map((r) => r.data)),
      audit.data,
    ]);
    for (const key of [keyA, keyB]) expect(stored).not.toContain(key);
  });

  it('a key of another source, an unknown prefix or an unknown source is a 404; a read key may not create', async () => {
    const other = await f.pipes.sources.create({ name: 'App', slug: 'app' });
    const created = await call(f, 'POST', `/api/sources/${other.id}/write-key`);
    const wrongSource = await call(f, 'DELETE', `/api/sources/${sourceId}/write-keys/${created.json.prefix}`);
    expect({ status: wrongSource.status, code: wrongSource.json.error.code }).toEqual({
      status: 404,
      code: 'NOT_FOUND',
    });
    expect(await f.pipes.writeKeys.verify(created.json.write_key)).not.toBeNull();
    const unknown = await call(f, 'DELETE', `/api/sources/${sourceId}/write-keys/opw_nothing1`);
    expect(unknown.status).toBe(404);
    const noSource = await call(f, 'POST', '/api/sources/src_01ARZ3NDEKTSV4RRFFQ69G5FAV/write-key');
    expect(noSource.status).toBe(404);
    const garbage = await call(f, 'GET', '/api/sources/garbage/write-keys');
    expect(garbage.status).toBe(404);
    const readOnly = await call(f, 'POST', `/api/sources/${sourceId}/write-key`, {
      key: 'op_read_0123456789abcdef',
    });
    expect(readOnly.status).toBe(403);
  });
});
