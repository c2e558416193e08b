/** Store conformance: migrations, entities and their versions. */
import { describe, expect, it } from 'vitest';
import { newId } from '../../ids.js';
import type { AuditEntry } from '../../schemas.js';
import { at, entity, expectCode, type StoreCases, t0 } from './fixtures.js';

// long-function: one list of it() cases over the store the adapter hands in; every store adapter runs it, the contract's executable spec
export function entityCases(t: StoreCases): void {
  describe('migrations', () => {
    it('can run again on a migrated store without changing anything', async () => {
      await t.store.insertEntity({ entity: entity('source', 'web'), actor: null });
      await t.store.migrate();
      expect(await t.store.findEntity({ kind: 'source', uniqueKey: 'web' })).not.toBeNull();
    });
  });

  // long-function: one list of it() cases over the store the adapter hands in; every store adapter runs it, the contract's executable spec
  describe('entities', () => {
    it('inserts, gets, finds by unique key and lists in id order', async () => {
      const a = entity('source', 'a', { slug: 'a' });
      const b = entity('source', 'b', { slug: 'b' });
      await t.store.insertEntity({ entity: a, actor: 'alice' });
      await t.store.insertEntity({ entity: b, actor: null });
      expect(await t.store.getEntity({ kind: 'source', id: a.id })).toEqual(a);
      expect(await t.store.getEntity({ kind: 'pipe', id: a.id })).toBeNull();
      expect((await t.store.findEntity({ kind: 'source', uniqueKey: 'b' }))?.id).toBe(b.id);
      expect(await t.store.findEntity({ kind: 'source', uniqueKey: 'zzz' })).toBeNull();
      expect((await t.store.listEntities({ kind: 'source', limit: 10 })).map((e) => e.id)).toEqual([
        a.id,
        b.id,
      ]);
      expect(
        (await t.store.listEntities({ kind: 'source', limit: 10, after: a.id })).map((e) => e.id),
      ).toEqual([b.id]);
      expect(await t.store.listEntities({ kind: 'source', limit: 1 })).toHaveLength(1);
    });

    it('refuses a second entity with the same unique key of the same kind, but not of another kind', async () => {
      await t.store.insertEntity({ entity: entity('source', 'web'), actor: null });
      await expectCode(t.store.insertEntity({ entity: entity('source', 'web'), actor: null }), 'CONFLICT');
      await t.store.insertEntity({ entity: entity('pipe', 'web'), actor: null });
      await t.store.insertEntity({ entity: entity('pipe', null), actor: null });
      await t.store.insertEntity({ entity: entity('pipe', null), actor: null });
      expect(await t.store.listEntities({ kind: 'pipe', limit: 10 })).toHaveLength(3);
    });

    it('updates with optimistic versions and keeps every version', async () => {
      const e = entity('pipe', 'p1', { transform: 'v1' });
      await t.store.insertEntity({ entity: e, actor: 'alice' });
      const rev0 = await t.store.configRevision();
      await t.store.updateEntity({
        entity: { ...e, data: { name: 'p1', transform: 'v2' }, updated_at: at(5) },
        expectedVersion: 1,
        actor: 'bob',
      });
      expect(await t.store.configRevision()).toBeGreaterThan(rev0);
      const stored = await t.store.getEntity({ kind: 'pipe', id: e.id });
      expect(stored?.version).toBe(2);
      expect(stored?.data.transform).toBe('v2');
      expect(stored?.updated_at).toBe(at(5));
      await expectCode(
        t.store.updateEntity({
          entity: { ...e, data: { transform: 'stale' } },
          expectedVersion: 1,
          actor: null,
        }),
        'CONFLICT',
      );
      await expectCode(
        t.store.updateEntity({ entity: entity('pipe', 'ghost'), expectedVersion: 1, actor: null }),
        'NOT_FOUND',
      );
      const versions = await t.store.listEntityVersions({ kind: 'pipe', id: e.id });
      expect(versions.map((v) => [v.version, v.data.transform, v.actor])).toEqual([
        [1, 'v1', 'alice'],
        [2, 'v2', 'bob'],
      ]);
      expect((await t.store.getEntityVersion({ kind: 'pipe', id: e.id, version: 1 }))?.data.transform).toBe(
        'v1',
      );
      expect(await t.store.getEntityVersion({ kind: 'pipe', id: e.id, version: 9 })).toBeNull();
    });

    it('refuses an update that takes a unique key already in use', async () => {
      const a = entity('destination', 'meta');
      const b = entity('destination', 'tiktok');
      await t.store.insertEntity({ entity: a, actor: null });
      await t.store.insertEntity({ entity: b, actor: null });
      await expectCode(
        t.store.updateEntity({ entity: { ...b, unique_key: 'meta' }, expectedVersion: 1, actor: null }),
        'CONFLICT',
      );
      expect((await t.store.getEntity({ kind: 'destination', id: b.id }))?.unique_key).toBe('tiktok');
    });

    it('deletes an entity but keeps its version history, and frees its unique key', async () => {
      const e = entity('source', 'web');
      await t.store.insertEntity({ entity: e, actor: null });
      expect(await t.store.deleteEntity({ kind: 'source', id: e.id })).toBe(true);
      expect(await t.store.deleteEntity({ kind: 'source', id: e.id })).toBe(false);
      expect(await t.store.getEntity({ kind: 'source', id: e.id })).toBeNull();
      expect(await t.store.listEntityVersions({ kind: 'source', id: e.id })).toHaveLength(1);
      await t.store.insertEntity({ entity: entity('source', 'web'), actor: null });
    });

    it("deletes a secret together with its current value, and no other secret's value", async () => {
      const gone = entity('secret', 'GONE_TOKEN');
      const kept = entity('secret', 'KEPT_TOKEN');
      await t.store.insertEntity({ entity: gone, actor: null });
      await t.store.insertEntity({ entity: kept, actor: null });
      await t.store.putSecretValue({ secretId: gone.id, ciphertext: 'v1.gone', now: at(0) });
      await t.store.putSecretValue({ secretId: kept.id, ciphertext: 'v1.kept', now: at(0) });
      await t.store.retireSecretValue({ secretId: gone.id, key: 'GONE_TOKEN', now: at(1) });
      expect(await t.store.deleteEntity({ kind: 'secret', id: gone.id })).toBe(true);
      expect(Object.fromEntries(await t.store.getSecretValues({ secretIds: [gone.id, kept.id] }))).toEqual({
        [kept.id]: 'v1.kept',
      });
      // Retired values stay (to redact) until retention destroys them.
      expect((await t.store.listRetiredSecretValues({})).map((r) => r.ciphertext)).toEqual(['v1.gone']);
      // Deleting an entity of another kind with the same id touches no secret value.
      await t.store.putSecretValue({ secretId: gone.id, ciphertext: 'v1.again', now: at(2) });
      expect(await t.store.deleteEntity({ kind: 'source', id: gone.id })).toBe(false);
      expect((await t.store.getSecretValues({ secretIds: [gone.id] })).get(gone.id)).toBe('v1.again');
    });

    it('writes the audit entry in the same call as the entity change', async () => {
      const e = entity('source', 'web');
      const audit: AuditEntry = {
        id: newId('audit', t0),
        actor: 'key_ops',
        action: 'create',
        entity_kind: 'source',
        entity_id: e.id,
        before: null,
        after: e.data,
        request_id: 'req-1',
        created_at: at(0),
      };
      await t.store.insertEntity({ entity: e, actor: 'key_ops', audit });
      // A failed write leaves no audit entry behind.
      await t.store
        .insertEntity({
          entity: entity('source', 'web'),
          actor: null,
          audit: { ...audit, id: newId('audit', t0) },
        })
        .catch(() => {});
      expect(await t.store.listAudit({ limit: 10 })).toEqual([audit]);
    });
  });
}
