/** Store conformance: the audit log. */
import { describe, expect, it } from 'vitest';
import { newId } from '../../ids.js';
import type { AuditEntry } from '../../schemas.js';
import { at, type StoreCases, t0 } from './fixtures.js';

export function auditCases(t: StoreCases): void {
  describe('audit', () => {
    it('lists audit entries newest first with filters and a cursor', async () => {
      const entries: AuditEntry[] = ['alice', 'bob', 'alice'].map((actor, i) => ({
        id: newId('audit', t0 + i),
        actor,
        action: i === 0 ? 'create' : 'update',
        entity_kind: i === 2 ? 'pipe' : 'source',
        entity_id: i === 2 ? 'pip_1' : 'src_1',
        before: i === 0 ? null : { name: 'a' },
        after: { name: 'b' },
        request_id: null,
        created_at: at(i * 1000),
      }));
      for (const entry of entries) await t.store.appendAudit({ entry });
      expect((await t.store.listAudit({ limit: 10 })).map((e) => e.id)).toEqual(
        entries.map((e) => e.id).reverse(),
      );
      expect((await t.store.listAudit({ actor: 'alice', limit: 10 })).map((e) => e.id)).toEqual([
        entries[2]!.id,
        entries[0]!.id,
      ]);
      expect(await t.store.listAudit({ entityKind: 'pipe', entityId: 'pip_1', limit: 10 })).toEqual([
        entries[2],
      ]);
      expect(
        (await t.store.listAudit({ since: at(1000), until: at(2000), limit: 10 })).map((e) => e.id),
      ).toEqual([entries[1]!.id]);
      expect((await t.store.listAudit({ cursor: entries[1]!.id, limit: 10 })).map((e) => e.id)).toEqual([
        entries[0]!.id,
      ]);
    });
  });
}
