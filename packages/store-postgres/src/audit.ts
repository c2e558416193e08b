/** The audit log on PostgreSQL. */
import type { AuditEntry, Store } from '@openpipes/core';
import { type AuditRowText, jsonOrNull, toAuditEntry } from '@openpipes/core/store-kit';
import { type RawBuilder, sql, type Transaction } from 'kysely';
import type { PgContext } from './connection.js';

/** Writes one audit entry inside the caller's transaction (nothing when `entry` is undefined). */
export async function insertAudit(
  trx: Transaction<Record<string, never>>,
  T: PgContext['T'],
  entry: AuditEntry | undefined,
): Promise<void> {
  if (!entry) return;
  await sql`
    INSERT INTO ${T('audit')} (id, actor, action, entity_kind, entity_id, before, after, request_id, created_at)
    VALUES (${entry.id}, ${entry.actor}, ${entry.action}, ${entry.entity_kind}, ${entry.entity_id},
      ${jsonOrNull(entry.before)}::jsonb, ${jsonOrNull(entry.after)}::jsonb, ${entry.request_id}, ${entry.created_at})
  `.execute(trx);
}

/** The store's audit methods. */
export function auditMethods({
  db,
  T,
  guard,
  tx,
  insertAudit,
}: PgContext): Pick<Store, 'appendAudit' | 'listAudit'> {
  return {
    appendAudit: ({ entry }) =>
      guard(async () => {
        await tx((trx) => insertAudit(trx, entry));
      }),

    listAudit: (query) =>
      guard(async () => {
        const filters: RawBuilder<unknown>[] = [];
        if (query.entityKind) filters.push(sql`entity_kind = ${query.entityKind}`);
        if (query.entityId) filters.push(sql`entity_id = ${query.entityId}`);
        if (query.actor) filters.push(sql`actor = ${query.actor}`);
        if (query.since) filters.push(sql`created_at >= ${query.since}::timestamptz`);
        if (query.until) filters.push(sql`created_at < ${query.until}::timestamptz`);
        if (query.cursor) filters.push(sql`id < ${query.cursor}`);
        const { rows } = await sql<AuditRowText>`
          SELECT id, actor, action, entity_kind, entity_id, before::text AS before, after::text AS after,
            request_id, created_at
          FROM ${T('audit')}
          WHERE ${filters.length > 0 ? sql.join(filters, sql` AND `) : sql`TRUE`}
          ORDER BY id DESC LIMIT ${query.limit}
        `.execute(db);
        return rows.map(toAuditEntry);
      }),
  };
}
