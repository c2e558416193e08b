/** Store conformance: secrets' encrypted values, retired copies and their destruction. */
import { describe, expect, it } from 'vitest';
import { newId } from '../../ids.js';
import type { AuditEntry } from '../../schemas.js';
import { at, entity, type StoreCases, t0 } from './fixtures.js';

export function secretValueCases(t: StoreCases): void {
  describe('secret values', () => {
    it('stores, replaces and returns encrypted values by secret id', async () => {
      await t.store.putSecretValue({ secretId: 'sec_a', ciphertext: 'v1.one', now: at(0) });
      await t.store.putSecretValue({ secretId: 'sec_b', ciphertext: 'v1.two', now: at(0) });
      await t.store.putSecretValue({ secretId: 'sec_a', ciphertext: 'v1.three', now: at(1) });
      const values = await t.store.getSecretValues({ secretIds: ['sec_a', 'sec_b', 'sec_missing'] });
      expect(Object.fromEntries(values)).toEqual({ sec_a: 'v1.three', sec_b: 'v1.two' });
      expect((await t.store.getSecretValues({ secretIds: [] })).size).toBe(0);
    });

    it('retires a copy of the current value, oldest first, and keeps it after the secret is deleted', async () => {
      const secret = entity('secret', 'META_ACCESS_TOKEN');
      await t.store.insertEntity({ entity: secret, actor: null });
      expect(
        await t.store.retireSecretValue({ secretId: secret.id, key: 'META_ACCESS_TOKEN', now: at(0) }),
      ).toBe(false);
      await t.store.putSecretValue({ secretId: secret.id, ciphertext: 'v1.old', now: at(0) });
      expect(
        await t.store.retireSecretValue({ secretId: secret.id, key: 'META_ACCESS_TOKEN', now: at(5) }),
      ).toBe(true);
      await t.store.putSecretValue({ secretId: secret.id, ciphertext: 'v1.middle', now: at(5) });
      await t.store.retireSecretValue({ secretId: secret.id, key: 'META_ACCESS_TOKEN', now: at(9) });
      // The current value is untouched by retiring it.
      expect(Object.fromEntries(await t.store.getSecretValues({ secretIds: [secret.id] }))).toEqual({
        [secret.id]: 'v1.middle',
      });
      await t.store.deleteEntity({ kind: 'secret', id: secret.id });
      expect((await t.store.getSecretValues({ secretIds: [secret.id] })).size).toBe(0);

      const retired = await t.store.listRetiredSecretValues({});
      expect(retired.map(({ id: _id, ...rest }) => rest)).toEqual([
        { secret_id: secret.id, key: 'META_ACCESS_TOKEN', ciphertext: 'v1.old', retired_at: at(5) },
        { secret_id: secret.id, key: 'META_ACCESS_TOKEN', ciphertext: 'v1.middle', retired_at: at(9) },
      ]);
      expect(new Set(retired.map((r) => r.id)).size).toBe(2);
      const before = await t.store.listRetiredSecretValues({ retiredBefore: at(9) });
      expect(before.map((r) => r.ciphertext)).toEqual(['v1.old']);
    });

    it('destroys a retired value together with its audit entry, once', async () => {
      await t.store.putSecretValue({ secretId: 'sec_r', ciphertext: 'v1.gone', now: at(0) });
      await t.store.retireSecretValue({ secretId: 'sec_r', key: 'K', now: at(1) });
      const [row] = await t.store.listRetiredSecretValues({});
      const audit: AuditEntry = {
        id: newId('audit', t0),
        actor: 'retention',
        action: 'destroy_retired_value',
        entity_kind: 'secret',
        entity_id: 'sec_r',
        before: { key: 'K', retired_at: at(1) },
        after: null,
        request_id: null,
        created_at: at(2),
      };
      expect(await t.store.destroyRetiredSecretValue({ id: row!.id, audit })).toBe(true);
      expect(await t.store.listRetiredSecretValues({})).toEqual([]);
      expect(await t.store.listAudit({ limit: 10 })).toEqual([audit]);
      // Again (another process got there first), and ids that never existed: nothing, no entry.
      const again = { ...audit, id: newId('audit', t0 + 1) };
      expect(await t.store.destroyRetiredSecretValue({ id: row!.id, audit: again })).toBe(false);
      expect(await t.store.destroyRetiredSecretValue({ id: 'not-an-id', audit: again })).toBe(false);
      expect(await t.store.listAudit({ limit: 10 })).toEqual([audit]);
    });
  });
}
