/** The audit log on SQLite. */
import type { AuditEntry } from '@openpipes/core';
import { type AuditMethods, type SqliteTables, toAuditEntry, toAuditRow } from '@openpipes/core/store-kit';
import type { Kysely } from 'kysely';
import type { SqliteContext } from './connection.js';

/** A writer of audit entries, for use inside the caller's transaction. */
export function auditWriter(qb: Kysely<SqliteTables>, run: SqliteContext['run']) {
  return (entry: AuditEntry | undefined) => {
    if (!entry) return;
    run(qb.insertInto('audit').values(toAuditRow(entry)));
  };
}

/** The store's audit methods. */
export function auditMethods({ qb, all, insertAudit }: SqliteContext): AuditMethods {
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
