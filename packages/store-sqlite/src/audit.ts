/** The audit log on SQLite. */
import type { AuditEntry, Store } from '@openpipes/core';
import { jsonOrNull, toAuditEntry } from '@openpipes/core/store-kit';
import type { Kysely } from 'kysely';
import type { SqliteContext } from './connection.js';
import type { DB } from './tables.js';

/** A writer of audit entries, for use inside the caller's transaction. */
export function auditWriter(qb: Kysely<DB>, run: SqliteContext['run']) {
  return (entry: AuditEntry | undefined) => {
    if (!entry) return;
    run(
      qb.insertInto('audit').values({
        id: entry.id,
        actor: entry.actor,
        action: entry.action,
        entity_kind: entry.entity_kind,
        entity_id: entry.entity_id,
        before: jsonOrNull(entry.before),
        after: jsonOrNull(entry.after),
        request_id: entry.request_id,
        created_at: entry.created_at,
      }),
    );
  };
}

/** The store's audit methods. */
export function auditMethods({
  qb,
  all,
  insertAudit,
}: SqliteContext): Pick<Store, 'appendAudit' | 'listAudit'> {
  return {
    async appendAudit({ entry }) {
      insertAudit(entry);
    },

    async listAudit(query) {
      let q = qb.selectFrom('audit').selectAll();
      if (query.entityKind) q = q.where('entity_kind', '=', query.entityKind);
      if (query.entityId) q = q.where('entity_id', '=', query.entityId);
      if (query.actor) q = q.where('actor', '=', query.actor);
      if (query.since) q = q.where('created_at', '>=', query.since);
      if (query.until) q = q.where('created_at', '<', query.until);
      if (query.cursor) q = q.where('id', '<', query.cursor);
      return all(q.orderBy('id', 'desc').limit(query.limit)).map(toAuditEntry);
    },
  };
}
